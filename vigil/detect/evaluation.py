"""Scoring a detector against labelled scenes: frame precision/recall and box recall."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vigil.detect.motion import MotionDetector, MotionResult, MotionSettings
from vigil.detect.scenes import Scene, SceneFrame, render
from vigil.detect.types import Box, Gray

# Ground truth counts as found by a box overlapping it this much, or containing its centre.
MATCH_IOU = 0.3


def found(truth: Box, boxes: Iterable[Box]) -> bool:
    """True when one of ``boxes`` covers ``truth``: IoU ≥ 0.3, or ``truth``'s centre inside."""
    cx, cy = truth.center
    return any(
        truth.iou(b) >= MATCH_IOU or (b.x1 <= cx <= b.x2 and b.y1 <= cy <= b.y2) for b in boxes
    )


@dataclass(slots=True)
class Tally:
    """Counts over frames: motion reported vs expected, and ground-truth boxes found."""

    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0
    boxes_found: int = 0
    boxes_total: int = 0

    def add(self, truth: SceneFrame, boxes: list[Box]) -> None:
        reported = bool(boxes)
        if truth.motion:
            self.true_positive += reported
            self.false_negative += not reported
        else:
            self.false_positive += reported
            self.true_negative += not reported
        for b in truth.boxes:
            self.boxes_total += 1
            self.boxes_found += found(b, boxes)

    def __iadd__(self, other: Tally) -> Tally:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    @property
    def precision(self) -> float:
        """Of the frames reported as motion, the fraction that were (1.0 when none reported)."""
        reported = self.true_positive + self.false_positive
        return self.true_positive / reported if reported else 1.0

    @property
    def recall(self) -> float:
        """Of the frames with motion, the fraction reported (1.0 when there were none)."""
        expected = self.true_positive + self.false_negative
        return self.true_positive / expected if expected else 1.0

    @property
    def box_recall(self) -> float:
        return self.boxes_found / self.boxes_total if self.boxes_total else 1.0


Detect = Callable[[Gray, float], list[Box]]


def run_scene(scene: Scene, width: int, height: int, detect: Detect) -> Tally:
    """Feed every frame of ``scene`` to ``detect`` and count how it did."""
    tally = Tally()
    for frame in render(scene, width, height):
        tally.add(frame, detect(frame.gray, frame.at))
    return tally


def vigil_detector(scene: Scene, settings: MotionSettings | None = None) -> Detect:
    """Vigil's motion detector set up for ``scene`` (its masks), as a ``Detect``."""
    base = settings or MotionSettings()
    detector = MotionDetector(base.model_copy(update={"masks": [list(m) for m in scene.masks]}))

    def detect(gray: Gray, at: float) -> list[Box]:
        result: MotionResult = detector.detect(gray, at)
        return result.boxes

    return detect
