"""What the detection stages pass each other: frames, boxes, detections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import StringConstraints

Gray = npt.NDArray[np.uint8]  # H x W, one byte a pixel (the Y plane)
Bgr = npt.NDArray[np.uint8]  # H x W x 3, OpenCV's channel order

_NO_CONTROLS = r"^[^\x00-\x1f\x7f-\x9f]+$"
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_NO_CONTROLS),
]
"""What a detector calls an object ("person", "car"), as a user names it in settings."""
ZoneName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_NO_CONTROLS),
]
"""A zone's name, as the user gives it: one line of text."""


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in normalised coordinates: 0..1 across the frame, (x1, y1) top left."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def iou(self, other: Box) -> float:
        """Intersection over union, 0..1."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Detection:
    """One object a detector found: a COCO-style label, its score (0..1) and its box."""

    label: str
    score: float
    box: Box
