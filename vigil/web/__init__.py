"""What a browser sees: the start page and the offline API documentation."""
