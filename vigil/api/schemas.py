"""What the API takes in and gives back. Inputs refuse unknown fields; outputs never carry a
password, only whether one is set."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vigil.api.camera_urls import split_stream_url
from vigil.api.types import Instant, Name, NodeName, SiteId, Timestamp, no_control_characters
from vigil.auth.permissions import Permission
from vigil.detect.settings import DetectionSettings
from vigil.link.messages import CameraState, CameraStatus, RecordMode
from vigil.settings import CameraDefaults
from vigil.store.cameras import CameraFields, detection_of
from vigil.store.models import Camera, Segment


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    pass


StreamUrlText = Annotated[
    str,
    Field(
        max_length=2000,
        description="rtsp, rtsps, http or https; credentials in it move to username/password",
        examples=["rtsp://192.168.1.20:554/stream1"],
    ),
]
# The camera's own credentials, as ffmpeg sends them: not stripped, one line.
StreamUsername = Annotated[
    str, StringConstraints(max_length=200), AfterValidator(no_control_characters)
]
StreamPassword = Annotated[SecretStr, Field(max_length=200, description="write-only")]
SegmentSeconds = Annotated[float, Field(ge=1, le=600)]
RetentionDays = Annotated[float, Field(gt=0, le=36_500, description="null: no age limit")]
RetentionBytes = Annotated[int, Field(gt=0, le=2**62, description="null: no size cap")]


class CameraRules(Input):
    """Checks shared by create and update, and the moving of URL credentials."""

    if TYPE_CHECKING:  # fields of both subclasses
        username: str | None
        password: SecretStr | None
        detection: DetectionSettings | None

    @field_validator("main_url", "sub_url", check_fields=False)
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None:
            split_stream_url(value)
        return value

    @field_validator("password", check_fields=False)
    @classmethod
    def _printable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            no_control_characters(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _move_credentials(self) -> Self:
        for field in ("main_url", "sub_url"):
            text = getattr(self, field, None)
            if text is None:
                continue
            parsed = split_stream_url(text)
            setattr(self, field, parsed.url)
            given = self.model_fields_set
            if parsed.username is not None:
                if "username" in given and self.username != parsed.username:
                    raise ValueError(f"the user name in {field} differs from username")
                self.username = parsed.username
            if parsed.password is not None:
                if "password" in given and self._password() != parsed.password:
                    raise ValueError(f"the password in {field} differs from password")
                self.password = SecretStr(parsed.password)
        return self

    def _password(self) -> str | None:
        return self.password.get_secret_value() if self.password is not None else None

    def credentials(self) -> tuple[str | None, str | None]:
        """The user name and password given, the password in clear (for the node only)."""
        return self.username or None, self._password()

    def _values(self) -> dict[str, Any]:
        """The fields given, by :class:`CameraFields` name, the password in clear."""
        values = self.model_dump(exclude_unset=True)
        if "password" in values:
            values["password"] = self._password()
        if values.get("username") == "":
            values["username"] = None
        if "detection" in values:  # the model itself: dumped to JSON by the store
            values["detection"] = self.detection
        return values


PINNED_NODE = (
    "the media node it records on whenever that node is alive and not draining (elsewhere "
    "meanwhile, and back after); null: wherever there is room"
)


class CameraCreate(CameraRules):
    name: Name
    main_url: StreamUrlText
    sub_url: StreamUrlText | None = None
    username: StreamUsername | None = None
    password: StreamPassword | None = None
    enabled: bool = True
    recording: bool = True
    segment_seconds: SegmentSeconds | None = Field(
        default=None, description="default: the server's cameras.segment_seconds"
    )
    retention_days: RetentionDays | None = Field(
        default=None, description="default: the server's cameras.retention_days; null: no limit"
    )
    retention_max_bytes: RetentionBytes | None = None
    site_id: SiteId | None = Field(default=None, description="one of the organisation's sites")
    record_mode: RecordMode = Field(
        default=RecordMode.CONTINUOUS,
        description="continuous: keep everything; events: keep only footage around events",
    )
    event_retention_days: RetentionDays | None = Field(
        default=None,
        description="default: the server's cameras.event_retention_days; null: no limit",
    )
    detection: DetectionSettings | None = Field(
        default=None, description="motion and object detection, zones, events; null: off"
    )
    pinned_node: NodeName | None = Field(default=None, description=PINNED_NODE)

    @model_validator(mode="after")
    def _events_need_detection(self) -> Self:
        check_record_mode(self.record_mode, self.detection)
        return self

    def fields(self, defaults: CameraDefaults) -> CameraFields:
        values = self._values()
        values.setdefault("retention_days", defaults.retention_days)
        values.setdefault("event_retention_days", defaults.event_retention_days)
        if values.get("segment_seconds") is None:
            values["segment_seconds"] = defaults.segment_seconds
        return CameraFields(**values)


class CameraUpdate(CameraRules):
    """A partial update: only the fields given change; null clears an optional field."""

    name: Name | None = None
    main_url: StreamUrlText | None = None
    sub_url: StreamUrlText | None = None
    username: StreamUsername | None = None
    password: StreamPassword | None = None
    enabled: bool | None = None
    recording: bool | None = None
    segment_seconds: SegmentSeconds | None = None
    retention_days: RetentionDays | None = None
    retention_max_bytes: RetentionBytes | None = None
    site_id: SiteId | None = Field(default=None, description="null: on no site")
    record_mode: RecordMode | None = None
    event_retention_days: RetentionDays | None = None
    detection: DetectionSettings | None = Field(
        default=None, description="replaces the camera's detection settings; null: off"
    )
    pinned_node: NodeName | None = Field(default=None, description=PINNED_NODE)

    @field_validator("name", "main_url", "enabled", "recording", "segment_seconds", "record_mode")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The changed fields, by :class:`CameraFields` name."""
        return self._values()


class CameraProbe(CameraRules):
    """A stream to test before a camera is added: its URL and the credentials it wants."""

    main_url: StreamUrlText
    username: StreamUsername | None = None
    password: StreamPassword | None = None


class StoredCameraProbe(CameraRules):
    """Testing a stored camera: its own URL and credentials unless others are given."""

    main_url: StreamUrlText | None = Field(
        default=None, description="another URL to test (e.g. a sub stream); default: main_url"
    )
    username: StreamUsername | None = None
    password: StreamPassword | None = None


def check_record_mode(mode: RecordMode, detection: DetectionSettings | None) -> None:
    """Keeping only event footage needs something that makes events."""
    if mode is RecordMode.EVENTS and (detection is None or not detection.enabled):
        raise ValueError("record_mode 'events' needs detection enabled")


class CameraStatusOut(Output):
    state: CameraState
    last_error: str | None
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    bitrate_bps: int | None
    uptime_seconds: float | None = Field(description="time streaming without a break")
    since: Timestamp | None = Field(description="when the camera entered this state")
    restarts: int
    detection: str = Field(
        description="off, starting, running, or motion_only (no object detector: see "
        "detection_error)"
    )
    detection_error: str | None = Field(description="why objects are not being detected")
    detector_errors: int = Field(description="frames whose object detection failed")
    detect_frames_dropped: int = Field(description="frames detection had no time for")

    @classmethod
    def build(cls, status: CameraStatus, now_ms: int) -> CameraStatusOut:
        streaming = status.state == CameraState.STREAMING and status.streaming_since_ms
        since = status.streaming_since_ms if streaming else status.changed_ms
        return cls(
            state=status.state,
            last_error=status.last_error,
            video_codec=status.video_codec,
            audio_codec=status.audio_codec,
            width=status.width,
            height=status.height,
            fps=status.fps,
            bitrate_bps=status.bitrate_bps,
            uptime_seconds=max(now_ms - since, 0) / 1000 if streaming and since else None,
            since=since or None,
            restarts=status.restarts,
            detection=status.detection,
            detection_error=status.detection_error,
            detector_errors=status.detector_errors,
            detect_frames_dropped=status.detect_frames_dropped,
        )


class CameraOut(Output):
    id: int
    name: str
    main_url: str
    sub_url: str | None
    username: str | None
    has_password: bool
    enabled: bool
    recording: bool
    segment_seconds: float
    retention_days: float | None
    retention_max_bytes: int | None
    record_mode: RecordMode
    event_retention_days: float | None
    detection: DetectionSettings | None
    node: str = Field(description="the media node recording it now")
    pinned_node: str | None = Field(description=PINNED_NODE)
    site_id: int | None
    created_at: Timestamp
    updated_at: Timestamp
    status: CameraStatusOut
    permissions: list[Permission] = Field(
        description="what you may do with this camera (pages show only these actions)"
    )

    @classmethod
    def build(
        cls, camera: Camera, status: CameraStatusOut, permissions: frozenset[Permission]
    ) -> CameraOut:
        return cls(
            id=camera.id,
            name=camera.name,
            main_url=camera.main_url,
            sub_url=camera.sub_url,
            username=camera.username,
            has_password=camera.password_encrypted is not None,
            enabled=camera.enabled,
            recording=camera.recording,
            segment_seconds=camera.segment_seconds,
            retention_days=camera.retention_days,
            retention_max_bytes=camera.retention_max_bytes,
            record_mode=RecordMode(camera.record_mode),
            event_retention_days=camera.event_retention_days,
            detection=detection_of(camera),
            node=camera.node,
            pinned_node=camera.pinned_node,
            site_id=camera.site_id,
            created_at=camera.created_at,
            updated_at=camera.updated_at,
            status=status,
            permissions=sorted(permissions),
        )


class SegmentOut(Output):
    id: int
    camera_id: int
    start: Timestamp
    end: Timestamp
    duration_seconds: float
    size: int
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    protected: bool
    motion: bool = Field(description="motion was seen while it was recorded")
    path: str = Field(description="storage key under the recordings folder")
    url: str = Field(description="where to download the file")

    @classmethod
    def build(cls, seg: Segment, url: str) -> SegmentOut:
        return cls(
            id=seg.id,
            camera_id=seg.camera_id,
            start=seg.start_ms,
            end=seg.end_ms,
            duration_seconds=(seg.end_ms - seg.start_ms) / 1000,
            size=seg.size,
            video_codec=seg.video_codec,
            audio_codec=seg.audio_codec,
            width=seg.width,
            height=seg.height,
            fps=seg.fps,
            protected=seg.protected,
            motion=seg.motion,
            path=seg.path,
            url=url,
        )


class IntervalOut(Output):
    start: Timestamp
    end: Timestamp


class RecordingsOut(Output):
    camera_id: int
    start: Timestamp
    end: Timestamp
    segments: list[SegmentOut]
    spans: list[IntervalOut] = Field(description="continuous recording, clipped to the range")
    gaps: list[IntervalOut] = Field(description="no recording, up to the range's end or now")
    total_bytes: int


class TimeRange(Input):
    start: Instant
    end: Instant

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: int, info: ValidationInfo) -> int:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("end must be after start")
        return end


class SegmentChange(Input):
    protected: bool


class ProtectedCount(Output):
    segments: int = Field(description="segments whose protection was set")


class CameraStorage(Output):
    camera_id: int
    segments: int
    bytes: int
    oldest: Timestamp | None
    newest: Timestamp | None


class StorageOut(Output):
    total_bytes: int | None = Field(description="size of the recordings disk")
    used_bytes: int | None
    free_bytes: int | None
    recordings_bytes: int
    bytes_per_day: float | None = Field(description="recording rate over the last day")
    days_left: float | None = Field(description="free space divided by the recording rate")
    min_free_bytes: int = Field(description="retention keeps at least this much free")
    cameras: list[CameraStorage]


class Health(Output):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
    version: str
