"""Where to run object detection next: motion and moving objects, as squares for the model."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vigil.detect.tracker import TrackedObject
from vigil.detect.types import Box


def pad(box: Box, fraction: float) -> Box:
    """The box grown by ``fraction`` of its size on every side."""
    dx, dy = (box.x2 - box.x1) * fraction, (box.y2 - box.y1) * fraction
    return Box(box.x1 - dx, box.y1 - dy, box.x2 + dx, box.y2 + dy)


def union(a: Box, b: Box) -> Box:
    return Box(min(a.x1, b.x1), min(a.y1, b.y1), max(a.x2, b.x2), max(a.y2, b.y2))


def overlaps(a: Box, b: Box) -> bool:
    return a.x1 < b.x2 and b.x1 < a.x2 and a.y1 < b.y2 and b.y1 < a.y2


def merge_overlapping(boxes: Iterable[Box]) -> list[Box]:
    """Replace every group of overlapping boxes with the box around the group."""
    merged: list[Box] = []
    for box in boxes:
        while True:
            partner = next((m for m in merged if overlaps(m, box)), None)
            if partner is None:
                break
            merged.remove(partner)
            box = union(partner, box)
        merged.append(box)
    return merged


def square(box: Box, frame_aspect: float, min_side: float = 0.0) -> Box:
    """The smallest square (in pixels) around the box, moved, not cut, to fit in the frame.

    ``frame_aspect`` is width / height; sides are in fractions of the frame height. A box
    larger than the largest square that fits is clamped to the frame instead.
    """
    width_h = (box.x2 - box.x1) * frame_aspect  # width in frame heights
    height_h = box.y2 - box.y1
    largest = min(1.0, frame_aspect)
    side = max(width_h, height_h, min(min_side, largest))
    if side > largest:
        return clamp(box)
    cx, cy = box.center
    half_w, half_h = side / frame_aspect / 2, side / 2
    x1 = min(max(cx - half_w, 0.0), 1.0 - 2 * half_w)
    y1 = min(max(cy - half_h, 0.0), 1.0 - 2 * half_h)
    return Box(max(0.0, x1), max(0.0, y1), min(1.0, x1 + 2 * half_w), min(1.0, y1 + 2 * half_h))


def clamp(box: Box) -> Box:
    return Box(max(0.0, box.x1), max(0.0, box.y1), min(1.0, box.x2), min(1.0, box.y2))


def regions_to_detect(
    motion_boxes: Sequence[Box],
    tracked: Iterable[TrackedObject],
    frame_aspect: float,
    *,
    padding: float = 0.15,
    min_side: float = 0.25,
) -> list[Box]:
    """Squares covering motion and moving tracked objects, merged where they overlap.

    Stationary objects are left out: nothing near them moves, so there is nothing new to
    see (the tracker keeps them while they are not looked at). Squares suit a square model
    input such as 300 x 300 without distortion; ``min_side`` (frame heights) keeps some
    context around small things.
    """
    boxes = [pad(b, padding) for b in motion_boxes]
    boxes += [pad(obj.box, padding) for obj in tracked if not obj.stationary]
    regions = [clamp(b) for b in boxes if b.x2 > b.x1 and b.y2 > b.y1]
    # Squaring can make neighbours overlap again: repeat until the set is stable.
    for _ in range(len(regions) + 1):
        squares = [square(r, frame_aspect, min_side) for r in merge_overlapping(regions)]
        if len(merge_overlapping(squares)) == len(squares):
            return squares
        regions = squares
    return regions
