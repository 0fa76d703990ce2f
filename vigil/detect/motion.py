"""Motion: what moved in a camera's detect frames, as boxes and a score, ignoring masked areas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vigil.detect.types import Box, Gray

Sensitivity = Literal["low", "medium", "high"]

# (pixel difference threshold, minimum contour area as a fraction of the frame)
SENSITIVITY_PRESETS: dict[Sensitivity, tuple[int, float]] = {
    "low": (25, 0.002),
    "medium": (15, 0.0008),
    "high": (10, 0.0003),
}

_DILATE_KERNEL = np.ones((3, 3), np.uint8)
# Boxes closer than this (fraction of the working height) are one moving thing.
_MERGE_GAP = 0.02


def validate_polygon(points: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    """The polygon as (x, y) pairs, or ValueError saying what is wrong with it."""
    if len(points) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(points)}")
    out: list[tuple[float, float]] = []
    for i, point in enumerate(points):
        if len(point) != 2:
            raise ValueError(f"point {i} must be an (x, y) pair, got {len(point)} numbers")
        x, y = float(point[0]), float(point[1])
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(
                f"point {i} ({x:g}, {y:g}) is outside the frame: "
                "coordinates are fractions of the width and height, from 0 to 1"
            )
        out.append((x, y))
    return out


# A polygon in normalised coordinates, checked: at least 3 points, all inside [0, 1].
Polygon = Annotated[
    list[tuple[float, float]], Field(max_length=100), AfterValidator(validate_polygon)
]


def polygon_mask(
    polygons: Sequence[Sequence[tuple[float, float]]], width: int, height: int
) -> Gray:
    """255 where motion counts, 0 inside any of ``polygons`` (a motion mask)."""
    mask = np.full((height, width), 255, np.uint8)
    for polygon in polygons:
        points = validate_polygon(polygon)
        pixels = np.array([[round(x * width), round(y * height)] for x, y in points], np.int32)
        cv2.fillPoly(mask, [pixels], 0)
    return mask


class MotionSettings(BaseModel):
    """How one camera's motion is detected; ``threshold``/``contour_area`` override the preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensitivity: Sensitivity = "medium"
    threshold: int | None = Field(default=None, ge=1, le=255)
    contour_area: float | None = Field(default=None, gt=0, lt=1)
    frame_alpha: float = Field(default=0.02, gt=0, le=1)
    frame_height: int = Field(default=180, ge=36, le=2160)
    improve_contrast: bool = True
    lightning_threshold: float = Field(default=0.7, gt=0, le=1)
    recalibrate_seconds: float = Field(default=1.0, ge=0, le=3600)
    masks: list[Polygon] = Field(default_factory=list, max_length=50)

    @property
    def pixel_threshold(self) -> int:
        """The pixel difference (0..255) at which a pixel counts as changed."""
        return self.threshold or SENSITIVITY_PRESETS[self.sensitivity][0]

    @property
    def min_area(self) -> float:
        """The smallest moving region reported, as a fraction of the frame."""
        return self.contour_area or SENSITIVITY_PRESETS[self.sensitivity][1]


@dataclass(frozen=True, slots=True)
class MotionResult:
    """One frame's motion: boxes of moving regions, the fraction of the frame moving, and
    whether the whole picture changed at once (lights, IR switch) so motion is not judged."""

    boxes: list[Box] = field(default_factory=list)
    score: float = 0.0
    global_change: bool = False

    @property
    def motion(self) -> bool:
        return bool(self.boxes)


def boxes_from_mask(changed: Gray, min_area: float) -> tuple[list[Box], float]:
    """Boxes of the changed regions of a binary mask at least ``min_area`` of the frame,
    merged where they touch, and the fraction of the frame they cover."""
    height, width = changed.shape
    dilated = cv2.dilate(changed, _DILATE_KERNEL, iterations=2)
    contours, _ = cv2.findContours(dilated, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_pixels = min_area * width * height
    rects: list[list[int]] = []
    covered = 0.0
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < min_pixels:
            continue
        covered += area
        x, y, w, h = cv2.boundingRect(contour)
        rects.append([x, y, x + w, y + h])
    merged = _merge(rects, gap=round(_MERGE_GAP * height))
    boxes = [Box(x1 / width, y1 / height, x2 / width, y2 / height) for x1, y1, x2, y2 in merged]
    return boxes, min(1.0, covered / (width * height))


def _merge(rects: list[list[int]], gap: int) -> list[list[int]]:
    """Union rectangles that overlap or lie within ``gap`` pixels, until none do."""
    merged = True
    while merged and len(rects) > 1:
        merged = False
        out: list[list[int]] = []
        for r in rects:
            for o in out:
                if (
                    r[0] <= o[2] + gap
                    and o[0] <= r[2] + gap
                    and r[1] <= o[3] + gap
                    and o[1] <= r[3] + gap
                ):
                    o[:] = [min(o[0], r[0]), min(o[1], r[1]), max(o[2], r[2]), max(o[3], r[3])]
                    merged = True
                    break
            else:
                out.append(list(r))
        rects = out
    return rects


def _levels(image: Gray, mask: Gray) -> tuple[int, int]:
    """The 5th and 95th percentile grey levels of the unmasked pixels."""
    hist = cv2.calcHist([image], [0], mask, [256], [0, 256]).ravel()
    cumulative = np.cumsum(hist)
    total = cumulative[-1]
    lo = int(np.searchsorted(cumulative, 0.05 * total))
    hi = int(np.searchsorted(cumulative, 0.95 * total))
    return lo, hi


def _u8(array: npt.NDArray[Any]) -> Gray:
    """OpenCV's result typed as what it is: its stubs only say "an array"."""
    return np.asarray(array, np.uint8)


_LEVELS = np.arange(256, dtype=np.float32)


def _match_levels(image: Gray, reference: Gray, mask: Gray) -> Gray:
    """``image`` with its grey levels stretched onto ``reference``'s, so that a change of
    light that happened slower than the background adapts does not read as motion."""
    lo, hi = _levels(image, mask)
    ref_lo, ref_hi = _levels(reference, mask)
    if hi - lo < 4 or ref_hi - ref_lo < 4:
        return image  # a flat picture: nothing to match, and the ratio would blow up noise
    scale = min(2.0, max(0.5, (ref_hi - ref_lo) / (hi - lo)))
    lut = np.clip((_LEVELS - lo) * scale + ref_lo + 0.5, 0, 255).astype(np.uint8)
    return _u8(cv2.LUT(image, lut))


class MotionDetector:
    """Motion of one camera: feed it every detect frame (the Y plane) with its time."""

    def __init__(self, settings: MotionSettings | None = None) -> None:
        self.settings = settings or MotionSettings()
        self._background: np.ndarray | None = None  # float32 running average
        self._mask: Gray = np.zeros((0, 0), np.uint8)
        self._valid = 1
        self._calibrate_until = float("-inf")

    @property
    def calibrating(self) -> bool:
        """True until the background is learnt, and for a moment after a global change."""
        return self._background is None or self._calibrate_until > float("-inf")

    def reset(self) -> None:
        """Forget the background, e.g. after the stream restarted or the camera moved."""
        self._background = None
        self._calibrate_until = float("-inf")

    def detect(self, frame: Gray, at: float) -> MotionResult:
        """The motion in ``frame`` (H x W grey) taken at ``at`` (seconds, any monotonic origin)."""
        s = self.settings
        image = self._prepare(frame)
        background = self._background
        if background is None or background.shape != image.shape:
            self._start(image)
            return MotionResult()
        if at < self._calibrate_until:
            # Exposure and white balance settle over several frames after lights or IR switch.
            background[:] = image
            return MotionResult(global_change=True)
        self._calibrate_until = float("-inf")
        reference = _u8(cv2.convertScaleAbs(background))
        threshold = s.pixel_threshold
        changed = self._changed(image, reference, threshold)
        if cv2.countNonZero(changed) > s.lightning_threshold * self._valid:
            background[:] = image
            self._calibrate_until = at + s.recalibrate_seconds
            return MotionResult(global_change=True)
        if s.improve_contrast:
            changed = self._changed(
                _match_levels(image, reference, self._mask), reference, threshold
            )
        boxes, score = boxes_from_mask(changed, s.min_area)
        cv2.accumulateWeighted(image, background, s.frame_alpha)
        return MotionResult(boxes=boxes, score=score)

    def _prepare(self, frame: Gray) -> Gray:
        """Downscaled to the working height and blurred, so noise and size don't matter."""
        height, width = frame.shape[:2]
        work_height = min(self.settings.frame_height, height)
        if work_height != height:
            size = (max(1, round(width * work_height / height)), work_height)
            frame = _u8(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        return _u8(cv2.GaussianBlur(frame, (5, 5), 0))

    def _start(self, image: Gray) -> None:
        height, width = image.shape
        self._background = image.astype(np.float32)
        self._mask = polygon_mask(self.settings.masks, width, height)
        self._valid = max(1, cv2.countNonZero(self._mask))
        self._calibrate_until = float("-inf")

    def _changed(self, image: Gray, reference: Gray, threshold: int) -> Gray:
        diff = cv2.absdiff(image, reference)
        _, changed = cv2.threshold(diff, threshold - 1, 255, cv2.THRESH_BINARY)
        return _u8(cv2.bitwise_and(changed, self._mask))
