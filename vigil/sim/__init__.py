"""Simulated RTSP cameras for tests and demos: looping clips served by GStreamer's RTSP server.

Example::

    with SimulatedCameras(2, width=320, height=240, fps=10) as sim:
        sim.urls          # ["rtsp://127.0.0.1:PORT/cam1", ".../cam2"]
        sim.drop("cam1", 5)
"""

from vigil.sim.clips import ClipError, ClipParams, default_cache_dir, ensure_clip
from vigil.sim.runner import (
    CameraStatus,
    SimulatedCameras,
    SimulatorError,
    SimulatorUnavailable,
    check_available,
    run_sim,
)

__all__ = [
    "CameraStatus",
    "ClipError",
    "ClipParams",
    "SimulatedCameras",
    "SimulatorError",
    "SimulatorUnavailable",
    "check_available",
    "default_cache_dir",
    "ensure_clip",
    "run_sim",
]
