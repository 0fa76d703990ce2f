"""Recorded playback: fragment index of segment files, HLS VOD playlists, timeline previews,
frames at any recorded instant."""
