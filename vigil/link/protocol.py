"""The two sides of the link, as protocols: what a node asks of the application server, and
what the application server asks of a node."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vigil.link.messages import (
    CameraActivity,
    CameraConfig,
    CameraStatus,
    EventRecord,
    MotionSpan,
    ProbeFailure,
    SegmentRecord,
    SourceProbe,
    StoredSegment,
)

if TYPE_CHECKING:
    from vigil.node.live import LiveStream


class LinkUnavailable(Exception):
    """The other side cannot be reached now; the caller keeps the message and retries."""


class ProbeFailed(Exception):
    """A camera's stream could not be opened; the message names the host, never the
    credentials."""

    def __init__(self, kind: ProbeFailure, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class AppSide(Protocol):
    """Calls a node makes to the application server. All are idempotent."""

    async def camera_configs(self, node: str) -> list[CameraConfig]: ...

    async def segments_recorded(self, node: str, segments: list[SegmentRecord]) -> None: ...

    async def segments_removed(self, node: str, paths: list[str]) -> None: ...

    async def report_status(self, node: str, status: CameraStatus) -> None: ...

    async def indexed_paths(self, node: str, camera_id: int) -> set[str]: ...

    async def oldest_segments(
        self,
        node: str,
        camera_id: int | None,
        before_ms: int | None,
        limit: int,
        keep_events_after_ms: int | None = None,
    ) -> list[StoredSegment]:
        """Unprotected segments oldest first, never a camera's newest one; with
        ``keep_events_after_ms``, none around an event going on at or after that time."""
        ...

    async def camera_bytes(self, node: str, camera_id: int) -> int: ...

    async def events_reported(self, node: str, events: list[EventRecord]) -> None:
        """Events opened, changed or ended (through the outbox: none is lost)."""
        ...

    async def events_interrupted(self, node: str, before_ms: int) -> None:
        """The node starts afresh: events of its cameras that opened before ``before_ms``
        and are still open will never be ended by it (it stopped without ending them, e.g.
        killed); end each where it was last seen (through the outbox)."""
        ...

    async def motion_reported(self, node: str, spans: list[MotionSpan]) -> None:
        """Finished stretches of motion (through the outbox)."""
        ...

    async def camera_activity(self, node: str, activity: CameraActivity) -> None:
        """What a camera sees now; best effort (a lost one is replaced by the next)."""
        ...


class NodeSide(Protocol):
    """Calls the application server makes to a node."""

    async def apply_camera(self, config: CameraConfig) -> None:
        """Start, restart or stop recording a camera to match ``config``."""
        ...

    async def remove_camera(self, camera_id: int, delete_footage: bool) -> None: ...

    async def delete_files(self, paths: list[str]) -> None: ...

    def live_stream(self, camera_id: int, sub: bool = False) -> LiveStream | None:
        """The camera's live media, of its sub stream if asked and it has one (same-box only;
        a remote node relays its packets). None while the camera is disabled."""
        ...

    def transcoded_stream(self, camera_id: int) -> LiveStream | None:
        """The camera's live media converted to H.264, for browsers that cannot decode what
        it sends; started by its first viewer (same-box only). None while the camera is
        disabled; ``vigil.node.transcode.TranscodeLimit`` when the node runs as many as
        ``node.max_transcodes`` allows."""
        ...

    def recording_file(self, path: str) -> Path:
        """Local file of a recorded segment (same-box only; a remote node streams bytes)."""
        ...

    def disk_usage(self) -> tuple[int, int, int]:
        """(total, used, free) bytes of the node's recordings storage."""
        ...

    async def probe_source(
        self, url: str, username: str | None, password: str | None, timeout_seconds: float
    ) -> SourceProbe:
        """Open ``url`` from the node (which can reach the camera) and say what it sends;
        :class:`ProbeFailed` if it cannot, within ``timeout_seconds``."""
        ...
