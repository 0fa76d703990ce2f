"""Polygon zones on a camera's picture, and which zones an object is in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.detect.types import Box, Label, ZoneName

Point = tuple[float, float]


class Zone(BaseModel):
    """An area of the picture (normalised polygon) with the objects that count in it."""

    model_config = ConfigDict(extra="forbid")

    name: ZoneName
    polygon: list[Point] = Field(
        max_length=100, description="corners as (x, y) fractions of the frame, 0..1"
    )
    labels: set[Label] | None = Field(
        default=None, max_length=100, description="labels that count; None: any"
    )
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    min_seconds: float = Field(
        default=0.0, ge=0.0, le=3600, description="time an object must stay in the zone to enter it"
    )

    @field_validator("polygon")
    @classmethod
    def _check_polygon(cls, polygon: list[Point]) -> list[Point]:
        if len(polygon) < 3:
            raise ValueError(f"a zone needs at least 3 points, got {len(polygon)}")
        for index, (x, y) in enumerate(polygon):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(
                    f"point {index} ({x}, {y}) is outside the frame: "
                    "coordinates are fractions of the frame from 0 to 1"
                )
        return polygon

    def admits(self, label: str, score: float) -> bool:
        """Whether an object of this label and score counts in this zone."""
        return (self.labels is None or label in self.labels) and score >= self.min_score

    def contains(self, box: Box) -> bool:
        """Whether the box's anchor (bottom centre: where a person stands) is inside."""
        return point_in_polygon(anchor(box), self.polygon)


def anchor(box: Box) -> Point:
    """The point of a box that places it on the ground: the middle of its bottom edge."""
    return ((box.x1 + box.x2) / 2, box.y2)


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd ray casting; points on an edge count as inside."""
    x, y = point
    inside = False
    count = len(polygon)
    for i in range(count):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % count]
        if _on_segment(x, y, x1, y1, x2, y2):
            return True
        if (y1 > y) != (y2 > y):
            crossing = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < crossing:
                inside = not inside
    return inside


def _on_segment(x: float, y: float, x1: float, y1: float, x2: float, y2: float) -> bool:
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    if abs(cross) > 1e-12:
        return False
    return min(x1, x2) - 1e-12 <= x <= max(x1, x2) + 1e-12 and (
        min(y1, y2) - 1e-12 <= y <= max(y1, y2) + 1e-12
    )


def zones_containing(box: Box, zones: Iterable[Zone]) -> list[Zone]:
    """The zones whose polygon holds the box's anchor, whatever their label filters."""
    return [zone for zone in zones if zone.contains(box)]
