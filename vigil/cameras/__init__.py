"""Cameras as users manage them: stored by the application server, recorded by a node."""
