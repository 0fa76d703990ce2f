"""Media in one place: MP4 boxes (``mp4``), fragmented MP4 tracks and fragments (``fmp4``) and
which ffmpeg runs (``ffmpeg``), for the node, playback, exports and the library alike."""
