"""What a camera detects, as a user sets it: frames, motion, objects, zones, events.

One model, stored with the camera, sent to its node and validated at the API, so a zone
with two points or a score of 1.5 is refused (422) before anything runs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.detect.filters import ObjectFilter
from vigil.detect.motion import MotionSettings
from vigil.detect.tracker import TrackerSettings
from vigil.detect.types import Label
from vigil.detect.zones import Zone

DEFAULT_LABELS = frozenset({"person", "car", "dog", "cat"})


class PipelineSettings(BaseModel):
    """What one camera detects, and where; the object detector itself is the shared pool's."""

    model_config = ConfigDict(extra="forbid")

    motion: MotionSettings = Field(default_factory=MotionSettings)
    object_detection: bool = True
    labels: set[Label] = Field(
        default_factory=lambda: set(DEFAULT_LABELS), min_length=1, max_length=100
    )
    filters: dict[Label, ObjectFilter] = Field(default_factory=dict, max_length=100)
    zones: list[Zone] = Field(default_factory=list, max_length=50)
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    nms_iou: float = Field(
        default=0.5, gt=0.0, le=1.0, description="overlap at which two boxes are one object"
    )
    motion_merge_ms: int = Field(
        default=1000,
        ge=0,
        le=600_000,
        description="motion frames closer than this make one interval",
    )

    @field_validator("zones")
    @classmethod
    def _unique_zone_names(cls, zones: list[Zone]) -> list[Zone]:
        names = [zone.name for zone in zones]
        if len(set(names)) != len(names):
            raise ValueError("zone names must be unique")
        return zones


class DetectionSettings(PipelineSettings):
    """A camera's detection: the frames its ffmpeg hands over, the pipeline, and events.

    Events: an object of a wanted label opens one when it qualifies (its filter's score, and
    when the camera has zones, entering one); with ``motion_events`` motion opens one too.
    An event closes ``quiet_seconds`` after its last qualifying activity; its footage is
    the event's time widened by ``pre_seconds`` and ``post_seconds``.
    """

    enabled: bool = True
    fps: int = Field(5, ge=1, le=30, description="frames a second analysed")
    width: int = Field(320, ge=16, le=3840, description="width of the analysed frames")
    height: int = Field(180, ge=16, le=2160, description="height of the analysed frames")
    prefer_sub: bool = Field(True, description="analyse the sub stream when there is one")
    motion_events: bool = Field(False, description="motion alone opens events")
    pre_seconds: float = Field(5.0, ge=0, le=300, description="footage kept before an event")
    post_seconds: float = Field(5.0, ge=0, le=300, description="footage kept after an event")
    quiet_seconds: float = Field(
        5.0, ge=0.5, le=600, description="an event ends this long after its last activity"
    )
    max_event_seconds: float = Field(
        600.0, ge=10, le=86_400, description="a longer event is ended and a new one opened"
    )

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:  # yuv420p halves both dimensions for its colour planes
            raise ValueError("must be even")
        return value
