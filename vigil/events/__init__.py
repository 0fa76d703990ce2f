"""Detection events on the application server: stored, listed, announced, expired."""
