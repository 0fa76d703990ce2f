"""Authentication: users, passwords, second factor, sessions, API keys and permissions."""
