"""The object detector protocol, its errors, and the registry that builds detectors by name."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from vigil.detect.types import Bgr, Detection

ENTRY_POINT_GROUP = "vigil.object_detectors"
"""Third-party packages add detectors under this entry-point group: name = "module:factory"."""


class DetectorError(Exception):
    """A detector could not be built or could not answer; the camera goes on without it."""


class UnknownDetectorError(DetectorError):
    """No detector is registered under the name asked for."""


class ModelError(DetectorError):
    """A model or label file is missing, corrupt or does not load."""


class ServiceError(DetectorError):
    """An external detection service timed out, failed or answered garbage."""


class WorkerDiedError(DetectorError):
    """The worker process running the detector died during the call (it has been replaced)."""


@runtime_checkable
class ObjectDetector(Protocol):
    """Finds objects in one BGR image; boxes are normalised to that image."""

    name: str
    max_batch: int
    """How many images one model call can take (1: the model runs one image at a time)."""

    def detect(self, image: Bgr) -> list[Detection]:
        """Objects in `image` scoring at least the detector's minimum score, best first."""
        ...

    def close(self) -> None:
        """Free what the detector holds (interpreter, session, HTTP connections)."""
        ...


DetectorFactory = Callable[..., ObjectDetector]

# Built-ins are named by import path so that choosing "hog" never imports onnxruntime.
_BUILTIN: dict[str, str] = {
    "ssd": "vigil.detect.objects.ssd:SsdMobileNetDetector",
    "hog": "vigil.detect.objects.hog:HogPeopleDetector",
    "onnx": "vigil.detect.objects.onnx:OnnxDetector",
    "remote": "vigil.detect.objects.remote:RemoteDetector",
}
_registered: dict[str, DetectorFactory] = {}

DEFAULT_DETECTOR = "ssd"


def register_detector(name: str, factory: DetectorFactory) -> None:
    """Make `factory(**options)` available as detector `name` (replaces one of that name)."""
    _registered[name] = factory


def available_detectors() -> list[str]:
    """Names that `create_detector` accepts."""
    names = set(_BUILTIN) | set(_registered)
    names |= {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def _load(path: str) -> DetectorFactory:
    module, _, attr = path.partition(":")
    factory: DetectorFactory = getattr(importlib.import_module(module), attr)
    return factory


def _factory(name: str) -> DetectorFactory:
    if name in _registered:
        return _registered[name]
    if name in _BUILTIN:
        return _load(_BUILTIN[name])
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        loaded: DetectorFactory = ep.load()
        return loaded
    known = ", ".join(available_detectors())
    raise UnknownDetectorError(f"unknown object detector {name!r} (known: {known})")


def create_detector(name: str = DEFAULT_DETECTOR, /, **options: Any) -> ObjectDetector:
    """Build the detector registered as `name` with its options; errors are DetectorError."""
    factory = _factory(name)
    try:
        return factory(**options)
    except DetectorError:
        raise
    except TypeError as e:  # a wrong option name or type from the settings
        raise DetectorError(f"object detector {name!r}: {e}") from e


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_model_file(path: Path, sha256: str | None = None) -> Path:
    """`path` if it exists (and matches `sha256` when given), else ModelError."""
    if not path.is_file():
        raise ModelError(f"model file {path} not found")
    if sha256 is not None and sha256_of(path) != sha256:
        raise ModelError(f"model file {path} does not match its sha256 {sha256}")
    return path


def read_labels(path: Path) -> dict[int, str]:
    """Class id → label from a label file.

    Two layouts: "id label" on each line (Coral's coco_labels.txt, ids with gaps), or one
    label a line where the line number (from 0) is the id (YOLO exports' names).
    Blank lines and "???" placeholders (TensorFlow's COCO map) name no class.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ModelError(f"label file {path} cannot be read: {e}") from e
    labels: dict[int, str] = {}
    numbered = all(
        line.split(maxsplit=1)[0].isdigit() and len(line.split(maxsplit=1)) == 2
        for line in lines
        if line.strip()
    )
    for index, line in enumerate(lines):
        text = line.strip()
        if numbered and text:
            head, label = text.split(maxsplit=1)
            index, text = int(head), label.strip()
        if text and text != "???":
            labels[index] = text
    if not labels:
        raise ModelError(f"label file {path} holds no labels")
    return labels
