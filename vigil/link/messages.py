"""Messages that cross the app ⇄ node link. Plain, serialisable, times in epoch ms."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.detect.settings import DetectionSettings
from vigil.exports.manifest import ExportedFile


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


class RecordMode(StrEnum):
    """What a recording camera keeps: everything, or only the footage around its events
    (the node records all along, so an event's pre-buffer exists, and deletes the rest)."""

    CONTINUOUS = "continuous"
    EVENTS = "events"


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
    record_mode: RecordMode = RecordMode.CONTINUOUS
    event_retention_days: float | None = None  # footage around events; None: no age limit
    detection: DetectionSettings | None = None  # None: nothing detected
    detect: DetectConfig | None = None  # None: no frames for detection (nothing decoded)
    # How many times the camera has moved between nodes: a node that learns of a higher
    # number on another node has lost the camera (fencing).
    assignment: int = 0

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
    detection: str = "off"  # off | starting | running | motion_only (no object detector)
    detection_error: str | None = None  # why objects are not detected, or the last failure
    detector_errors: int = 0  # frames whose object detection failed
    detect_frames_dropped: int = 0  # frames detection had no time for


class EventKind(StrEnum):
    OBJECT = "object"  # a tracked object of a wanted label
    MOTION = "motion"  # motion, on a camera set to motion events


class EventStage(StrEnum):
    NEW = "new"
    UPDATE = "update"
    END = "end"


class BoxAt(Message):
    """Where the event's object was at ``time_ms`` (normalised to the frame)."""

    time_ms: int
    x1: float
    y1: float
    x2: float
    y2: float


class EventSnapshot(Message):
    """The event's best picture, a clean JPEG on the node, and the object's box in it."""

    path: str  # storage key under the node's recordings folder
    time_ms: int
    score: float
    box: BoxAt | None = None  # None for motion events


class EventRecord(Message):
    """An event as its node last described it; later records of one ``uid`` replace it."""

    uid: str  # chosen by the node, unique: makes every report idempotent
    camera_id: int
    stage: EventStage
    kind: EventKind
    label: str  # "motion" for motion events
    score: float  # best so far (the motion score for motion events)
    zones: list[str] = Field(default_factory=list)  # entered, in order
    start_ms: int
    end_ms: int | None = None  # None while it lasts
    last_ms: int  # its last activity
    pre_ms: int = 0  # footage wanted before and after (the camera's buffers at the time)
    post_ms: int = 0
    boxes: list[BoxAt] = Field(default_factory=list)  # its path, thinned to a few hundred
    snapshot: EventSnapshot | None = None


class MotionSpan(Message):
    """A camera saw motion from ``start_ms`` until before ``end_ms``."""

    camera_id: int
    start_ms: int
    end_ms: int


class CameraActivity(Message):
    """What a camera sees right now, sent as it changes (not kept: the next one replaces
    it): motion, and how many objects of each wanted label are in sight."""

    camera_id: int
    time_ms: int
    motion: bool
    objects: dict[str, int] = Field(default_factory=dict)


class ProbeFailure(StrEnum):
    """Why a camera's stream could not be tested, in the words a user acts on."""

    UNREACHABLE = "unreachable"  # no route to the host, no such host, nothing listening
    REFUSED = "refused"  # the camera answered but would not give this stream (no such path)
    TIMEOUT = "timeout"  # no answer in time
    UNAUTHORISED = "unauthorised"  # the user name or password was refused
    NOT_A_STREAM = "not_a_stream"  # it answered with something that is not video


class VideoInfo(Message):
    codec: str  # ffmpeg's name: h264, hevc, mjpeg...
    profile: str | None = None  # "Main", "High"...
    width: int
    height: int
    fps: float | None = None


class AudioInfo(Message):
    codec: str
    sample_rate: int | None = None
    channels: int | None = None


class SourceProbe(Message):
    """What a camera's stream carries, as its node found when it opened it."""

    video: VideoInfo
    audio: AudioInfo | None = None


class CutSource(Message):
    """A recorded segment an export's cut reads."""

    path: str  # its storage key on the node
    start_ms: int
    end_ms: int
    height: int | None = None


class CutOrder(Message):
    """One camera's part of an export, for the node that recorded it to cut."""

    camera_id: int
    camera_name: str
    start_ms: int
    end_ms: int
    burn_in: bool
    sources: list[CutSource]


class CutState(Message):
    """Where a cut stands: ``seconds`` of it written so far; once done, its file (whose
    ``name`` the application side saves it under); once failed, why."""

    state: Literal["unknown", "running", "done", "failed"]
    seconds: float = 0.0
    error: str | None = None
    file: ExportedFile | None = None
    ffmpeg_version: str | None = None  # of the ffmpeg that cut it (for the manifest)
