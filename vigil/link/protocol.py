"""The two sides of the link, as protocols: what a node asks of the application server, and
what the application server asks of a node."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from vigil.link.messages import (
    CameraActivity,
    CameraConfig,
    CameraStatus,
    CutOrder,
    CutState,
    EventRecord,
    MotionSpan,
    ProbeFailure,
    SegmentRecord,
    SourceProbe,
    StoredSegment,
)

if TYPE_CHECKING:
    from vigil.node.live import LiveStream
    from vigil.playback.fragments import FragmentIndex


# The two parts of a recording converted to H.264: ftyp + moov, then its fragments.
H264Part = Literal["init", "media"]
# The most bytes one ``NodeSide.read_file`` asks for: under what a bus carries in a message.
READ_LIMIT = 1 << 20


class LinkUnavailable(Exception):
    """The other side cannot be reached now; the caller keeps the message and retries."""


class MediaNotFound(Exception):
    """A node has no such recording to serve: gone (retention), never there, unreadable,
    or a key outside its recordings. The application side answers 404."""


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
        """The camera's live media, of its sub stream if asked and it has one (from a node on
        another machine, a mirror fed over the bus while watched). None while the camera
        is disabled (in one process)."""
        ...

    def transcoded_stream(self, camera_id: int) -> LiveStream | None:
        """The camera's live media converted to H.264, for browsers that cannot decode what
        it sends; started by its first viewer (mirrored as above from another machine).
        None while the camera is disabled; ``vigil.node.transcode.TranscodeLimit`` when
        the node runs as many as ``node.max_transcodes`` allows."""
        ...

    def recording_file(self, path: str) -> Path:
        """Local file of a recorded segment, for exports to hard-link; MediaNotFound from a
        node on another machine (exports then copy it with the reads below)."""
        ...

    # What the node recorded, read through the link (vigil.node.media): a storage key each,
    # MediaNotFound when the node has no such file.
    async def file_size(self, path: str) -> int: ...

    async def read_file(self, path: str, first: int, last: int, shift_us: int = 0) -> bytes:
        """Bytes ``[first, last]`` (at most ``READ_LIMIT``, fewer at the
        file's end); with ``shift_us``, every fragment's decode times moved by that much."""
        ...

    async def fragment_indexes(self, paths: list[str]) -> list[FragmentIndex | None]:
        """Each file's fragment index, None for one gone or damaged."""
        ...

    async def frame(self, path: str, offset_ms: int) -> bytes:
        """The picture ``offset_ms`` into the file, full size, JPEG."""
        ...

    async def preview(self, path: str) -> bytes:
        """The file's small first picture for scrubbing, JPEG."""
        ...

    async def convert_h264(self, path: str, video_codec: str | None) -> tuple[int, int]:
        """The file converted to H.264 for browsers without its codec, made on first ask
        (``vigil.playback.transcode``): the sizes of its init part and of its fragments.
        ``ConversionFailed`` when it cannot be now."""
        ...

    async def read_h264(self, path: str, part: H264Part, first: int, last: int) -> bytes:
        """Bytes ``[first, last]`` (at most ``READ_LIMIT``) of a part of that conversion."""
        ...

    # Exports' cuts, made where the footage is (vigil.node.cuts): each known by the
    # application side's key; ValueError for a key that is not one.
    async def start_cut(self, key: str, order: CutOrder) -> CutState:
        """Start cutting ``order``, unless a cut of that key runs or is done already."""
        ...

    async def cut_state(self, key: str) -> CutState: ...

    async def read_cut(self, key: str, first: int, last: int) -> bytes:
        """Bytes ``[first, last]`` (at most ``READ_LIMIT``) of the finished cut's file;
        MediaNotFound unless it is done."""
        ...

    def cut_file(self, key: str) -> Path:
        """The finished cut's file, for an application side on the same machine to move;
        MediaNotFound from a node on another machine (its file is read as above)."""
        ...

    async def drop_cut(self, key: str) -> None:
        """Stop the cut if it runs, and delete it."""
        ...

    async def disk_usage(self) -> tuple[int, int, int]:
        """(total, used, free) bytes of the node's recordings storage."""
        ...

    async def probe_source(
        self, url: str, username: str | None, password: str | None, timeout_seconds: float
    ) -> SourceProbe:
        """Open ``url`` from the node (which can reach the camera) and say what it sends;
        :class:`ProbeFailed` if it cannot, within ``timeout_seconds``."""
        ...


def check_read(first: int, last: int) -> None:
    """A read of bytes ``[first, last]`` is one ``read_file`` or ``read_h264`` may make."""
    if first < 0 or last < first or last - first + 1 > READ_LIMIT:
        raise ValueError(f"a read of bytes {first}-{last} (at most {READ_LIMIT} at once)")


async def read_whole(node: NodeSide, path: str, most: int) -> bytes:
    """A small file of ``node`` (a snapshot, say) whole, read a chunk at a time;
    MediaNotFound if it is missing or larger than ``most`` bytes."""
    size = await node.file_size(path)
    if size > most:
        raise MediaNotFound(f"{path}: {size} bytes, more than {most}")
    chunks: list[bytes] = []
    at = 0
    while at < size:
        data = await node.read_file(path, at, min(at + READ_LIMIT, size) - 1)
        if not data:
            break
        chunks.append(data)
        at += len(data)
    return b"".join(chunks)
