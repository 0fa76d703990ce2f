"""One router per resource, mounted under :data:`API_PREFIX`."""

API_PREFIX = "/api"
