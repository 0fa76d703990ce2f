"""Messages that cross the app ⇄ node link. Plain, serialisable, times in epoch ms."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DetectConfig(Message):
    """The small raw frames a camera's ffmpeg hands detection: rate, size, which stream."""

    fps: int = Field(5, ge=1, le=30)
    width: int = Field(320, ge=16, le=3840)
    height: int = Field(180, ge=16, le=2160)
    prefer_sub: bool = True  # decode the sub stream, when the camera has one, not the main

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        # yuv420p halves both dimensions for its colour planes.
        if value % 2:
            raise ValueError("must be even")
        return value


class CameraConfig(Message):
    """What a node must know to record one camera. ``password`` is clear text: it only
    travels inside the process or over the link's encrypted channel, never to a log."""

    id: int
    name: str
    main_url: str
    sub_url: str | None = None
    username: str | None = None
    password: str | None = None
    enabled: bool = True
    recording: bool = True
    segment_seconds: float = 10.0
    retention_days: float | None = None
    retention_max_bytes: int | None = None
    detect: DetectConfig | None = None  # None: no frames for detection (nothing decoded)

    def __repr__(self) -> str:
        return f"CameraConfig(id={self.id}, name={self.name!r})"

    __str__ = __repr__


class SegmentRecord(Message):
    """A finished recording file, as the node indexes it."""

    camera_id: int
    path: str
    start_ms: int
    end_ms: int
    size: int
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None


class StoredSegment(Message):
    """A segment as the index knows it (for retention and reconciliation)."""

    id: int
    camera_id: int
    path: str
    start_ms: int
    end_ms: int
    size: int


class CameraState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    OFFLINE = "offline"
    ERROR = "error"
    DISABLED = "disabled"


class CameraStatus(Message):
    camera_id: int
    state: CameraState
    last_error: str | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate_bps: int | None = None
    streaming_since_ms: int | None = None
    changed_ms: int = 0
    restarts: int = 0
