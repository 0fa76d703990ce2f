"""Per-label filters that drop detections too unsure, too small or too large to matter."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.detect.types import Detection


class ObjectFilter(BaseModel):
    """What a detection of one label must be to count; areas are fractions of the frame."""

    model_config = ConfigDict(extra="forbid")

    min_score: float = Field(default=0.5, ge=0.0, le=1.0)
    min_area: float = Field(default=0.0, ge=0.0, le=1.0)
    max_area: float = Field(default=1.0, ge=0.0, le=1.0)
    min_ratio: float = Field(
        default=0.0, ge=0.0, le=100.0, description="minimum width / height (normalised)"
    )
    max_ratio: float | None = Field(
        default=None, gt=0.0, le=100.0, description="maximum width / height"
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> ObjectFilter:
        if self.min_area > self.max_area:
            raise ValueError(f"min_area {self.min_area} is above max_area {self.max_area}")
        if self.max_ratio is not None and self.min_ratio > self.max_ratio:
            raise ValueError(f"min_ratio {self.min_ratio} is above max_ratio {self.max_ratio}")
        return self

    def passes(self, detection: Detection) -> bool:
        """Whether the detection is sure, large and shaped enough to keep."""
        box = detection.box
        if detection.score < self.min_score or not (self.min_area <= box.area <= self.max_area):
            return False
        height = box.y2 - box.y1
        ratio = (box.x2 - box.x1) / height if height > 0 else float("inf")
        return self.min_ratio <= ratio and (self.max_ratio is None or ratio <= self.max_ratio)


DEFAULT_FILTER = ObjectFilter()


def filter_detections(
    detections: Iterable[Detection],
    filters: Mapping[str, ObjectFilter],
    *,
    labels: Collection[str] | None = None,
    default: ObjectFilter = DEFAULT_FILTER,
) -> list[Detection]:
    """The detections of wanted labels (None: all) that pass their label's filter."""
    kept = []
    for detection in detections:
        if labels is not None and detection.label not in labels:
            continue
        if filters.get(detection.label, default).passes(detection):
            kept.append(detection)
    return kept
