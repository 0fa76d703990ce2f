"""The application side's view of a node on another machine: :class:`NodeSide` over the bus.

Each call is a request to the node's subject (``vigil.link.nats.node_server`` answers it).
A read larger than what the bus carries in one message goes as several requests at once,
each under the server's payload limit; the caller still sees one ``read_file``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pydantic_core
from nats.aio.client import Client
from pydantic import TypeAdapter

from vigil.link.messages import CameraConfig, CutOrder, CutState, SourceProbe
from vigil.link.nats.live import LEASE_SECONDS, LiveMirror, Variant
from vigil.link.nats.subjects import check_node_name, node_call
from vigil.link.nats.wire import call
from vigil.link.protocol import H264Part, MediaNotFound, check_read
from vigil.node.transcode import TranscodeLimit
from vigil.playback.fragments import FragmentIndex

if TYPE_CHECKING:
    from vigil.node.live import LiveStream

# Room left in a message for its headers and the protocol's own lines.
_HEADROOM = 16 << 10
# How long each kind of call may take: reads are quick, pictures decode a frame, a
# conversion to H.264 runs ffmpeg over the whole file.
_QUICK_SECONDS = 10.0
_PICTURE_SECONDS = 30.0
_CONVERT_SECONDS = 600.0

_INDEXES: TypeAdapter[list[FragmentIndex | None]] = TypeAdapter(list[FragmentIndex | None])
_TRIPLE: TypeAdapter[tuple[int, int, int]] = TypeAdapter(tuple[int, int, int])
_PAIR: TypeAdapter[tuple[int, int]] = TypeAdapter(tuple[int, int])


class NatsNodeSide:
    """A :class:`vigil.link.protocol.NodeSide` for the node named ``name``."""

    def __init__(self, client: Client, name: str, seconds: float = _QUICK_SECONDS) -> None:
        self.name = check_node_name(name)
        self._client = client
        self._seconds = seconds
        self._mirrors: dict[tuple[int, Variant], LiveMirror] = {}
        self._refused: dict[int, tuple[float, TranscodeLimit]] = {}  # camera: when, why
        self._closing: set[asyncio.Task[None]] = set()

    async def _call(self, method: str, seconds: float | None = None, **args: Any) -> bytes:
        return await call(
            self._client, node_call(self.name, method), args, seconds or self._seconds
        )

    def _piece(self) -> int:
        """The most bytes one reply carries on this bus."""
        return max(1, self._client.max_payload - _HEADROOM)

    async def apply_camera(self, config: CameraConfig) -> None:
        await self._call("apply_camera", config=config)

    async def remove_camera(self, camera_id: int, delete_footage: bool) -> None:
        await self._call("remove_camera", camera_id=camera_id, delete_footage=delete_footage)

    async def delete_files(self, paths: list[str]) -> None:
        await self._call("delete_files", paths=paths)

    def live_stream(self, camera_id: int, sub: bool = False) -> LiveStream | None:
        return self._mirror(camera_id, "sub" if sub else "main")

    def transcoded_stream(self, camera_id: int) -> LiveStream | None:
        refused = self._refused.get(camera_id)
        if refused is not None and time.monotonic() - refused[0] < LEASE_SECONDS:
            raise refused[1]  # as the node said moments ago, until the next try
        return self._mirror(camera_id, "h264")

    def _mirror(self, camera_id: int, variant: Variant) -> LiveStream:
        """This side's copy of the camera's live stream, fed from the bus while needed."""
        key = (camera_id, variant)
        mirror = self._mirrors.get(key)
        if mirror is None:
            mirror = self._mirrors[key] = LiveMirror(
                self._client, self.name, camera_id, variant, self._seconds, self._idle
            )
        return mirror.stream

    def _idle(self, mirror: LiveMirror) -> None:
        key = (mirror.camera_id, mirror.variant)
        if self._mirrors.get(key) is mirror:
            del self._mirrors[key]
        if mirror.refused is not None:
            self._refused[mirror.camera_id] = (time.monotonic(), mirror.refused)
        task = asyncio.get_running_loop().create_task(mirror.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def recording_file(self, path: str) -> Any:
        raise MediaNotFound(f"{path} is on node {self.name}, not on this machine")

    async def file_size(self, path: str) -> int:
        return int(pydantic_core.from_json(await self._call("file_size", path=path)))

    async def read_file(self, path: str, first: int, last: int, shift_us: int = 0) -> bytes:
        return await self._read("read_file", first, last, path=path, shift_us=shift_us)

    async def fragment_indexes(self, paths: list[str]) -> list[FragmentIndex | None]:
        return _INDEXES.validate_json(await self._call("fragment_indexes", paths=paths))

    async def frame(self, path: str, offset_ms: int) -> bytes:
        return await self._call("frame", _PICTURE_SECONDS, path=path, offset_ms=offset_ms)

    async def preview(self, path: str) -> bytes:
        return await self._call("preview", _PICTURE_SECONDS, path=path)

    async def convert_h264(self, path: str, video_codec: str | None) -> tuple[int, int]:
        reply = await self._call(
            "convert_h264", _CONVERT_SECONDS, path=path, video_codec=video_codec
        )
        return _PAIR.validate_json(reply)

    async def read_h264(self, path: str, part: H264Part, first: int, last: int) -> bytes:
        return await self._read("read_h264", first, last, path=path, part=part)

    async def _read(self, method: str, first: int, last: int, **args: Any) -> bytes:
        """Bytes ``[first, last]`` in pieces the bus carries, asked for all at once."""
        check_read(first, last)
        piece = self._piece()
        ends = [
            (start, min(start + piece, last + 1) - 1) for start in range(first, last + 1, piece)
        ]
        parts = await asyncio.gather(
            *(self._call(method, first=a, last=b, **args) for a, b in ends)
        )
        # A piece shorter than asked is the file's end: what follows it is not there.
        whole = bytearray()
        for (a, b), part in zip(ends, parts, strict=True):
            whole += part
            if len(part) < b - a + 1:
                break
        return bytes(whole)

    async def start_cut(self, key: str, order: CutOrder) -> CutState:
        return CutState.model_validate_json(await self._call("start_cut", key=key, order=order))

    async def cut_state(self, key: str) -> CutState:
        return CutState.model_validate_json(await self._call("cut_state", key=key))

    async def read_cut(self, key: str, first: int, last: int) -> bytes:
        return await self._read("read_cut", first, last, key=key)

    def cut_file(self, key: str) -> Any:
        raise MediaNotFound(f"cut {key} is on node {self.name}, not on this machine")

    async def drop_cut(self, key: str) -> None:
        await self._call("drop_cut", key=key)

    async def disk_usage(self) -> tuple[int, int, int]:
        return _TRIPLE.validate_json(await self._call("disk_usage"))

    async def probe_source(
        self, url: str, username: str | None, password: str | None, timeout_seconds: float
    ) -> SourceProbe:
        reply = await self._call(
            "probe_source",
            timeout_seconds + _QUICK_SECONDS,
            url=url,
            username=username,
            password=password,
            timeout_seconds=timeout_seconds,
        )
        return SourceProbe.model_validate_json(reply)
