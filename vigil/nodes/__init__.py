"""Application-side view of media nodes: the registry that answers their link calls."""
