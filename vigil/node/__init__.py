"""The media node: talks to cameras, records them, keeps its storage within its rules."""
