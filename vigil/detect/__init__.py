"""Detection: motion on every detect frame, objects where there is motion, tracks, zones."""
