"""Object detectors behind one protocol: SSD MobileNet (default), HOG, ONNX, remote service."""

from vigil.detect.objects.base import (
    DEFAULT_DETECTOR,
    DetectorError,
    ModelError,
    ObjectDetector,
    ServiceError,
    UnknownDetectorError,
    WorkerDiedError,
    available_detectors,
    create_detector,
    register_detector,
)
from vigil.detect.objects.pool import DetectorPool, DetectorSpec, WorkerTimeoutError

__all__ = [
    "DEFAULT_DETECTOR",
    "DetectorError",
    "DetectorPool",
    "DetectorSpec",
    "ModelError",
    "ObjectDetector",
    "ServiceError",
    "UnknownDetectorError",
    "WorkerDiedError",
    "WorkerTimeoutError",
    "available_detectors",
    "create_detector",
    "register_detector",
]
