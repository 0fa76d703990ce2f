"""Clip exports: a time range of one or more cameras, one MP4 each, with a manifest."""
