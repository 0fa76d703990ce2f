"""Media library: events, items, uploads, storage, search, sharing and quotas."""
