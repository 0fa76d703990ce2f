"""A node answering the application side's calls on the bus (the node's end of
:class:`vigil.link.nats.node_client.NatsNodeSide`).

Media reads answer with the bytes themselves; everything else with JSON. A call the node
cannot serve raises, and :mod:`vigil.link.nats.wire` carries the failure back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client
from pydantic import TypeAdapter

from vigil.link.messages import CameraConfig, CutOrder
from vigil.link.nats.live import LiveForwarder, Variant
from vigil.link.nats.subjects import check_node_name, node_call
from vigil.link.nats.wire import Handler, Responder, encode
from vigil.link.protocol import H264Part, NodeSide
from vigil.node.live import LiveStream

_PART: TypeAdapter[H264Part] = TypeAdapter(H264Part)
_VARIANT: TypeAdapter[Variant] = TypeAdapter(Variant)


class NodeServer:
    """Serves ``node``'s :class:`NodeSide` as ``name`` on the bus."""

    def __init__(self, client: Client, name: str, node: NodeSide) -> None:
        self._node = node
        handlers: dict[str, Handler] = {
            "apply_camera": self._apply_camera,
            "remove_camera": self._remove_camera,
            "delete_files": self._delete_files,
            "file_size": self._file_size,
            "read_file": self._read_file,
            "fragment_indexes": self._fragment_indexes,
            "frame": self._frame,
            "preview": self._preview,
            "convert_h264": self._convert_h264,
            "read_h264": self._read_h264,
            "start_cut": self._start_cut,
            "cut_state": self._cut_state,
            "read_cut": self._read_cut,
            "drop_cut": self._drop_cut,
            "disk_usage": self._disk_usage,
            "probe_source": self._probe_source,
            "live_watch": self._live_watch,
        }
        self._live = LiveForwarder(client, name, self._stream)
        prefix = node_call(check_node_name(name), "").removesuffix(".")
        self._responder = Responder(client, prefix, handlers)

    async def start(self) -> None:
        await self._responder.start()

    async def stop(self) -> None:
        await self._responder.stop()
        await self._live.stop()

    def _stream(self, camera_id: int, variant: Variant) -> LiveStream | None:
        if variant == "h264":
            return self._node.transcoded_stream(camera_id)
        return self._node.live_stream(camera_id, variant == "sub")

    async def _live_watch(self, _: str, args: Mapping[str, Any]) -> bytes:
        variant = _VARIANT.validate_python(args["variant"])
        return encode(self._live.watch(int(args["camera_id"]), variant, bool(args["fresh"])))

    async def _apply_camera(self, _: str, args: Mapping[str, Any]) -> bytes:
        await self._node.apply_camera(CameraConfig.model_validate(args["config"]))
        return b""

    async def _remove_camera(self, _: str, args: Mapping[str, Any]) -> bytes:
        await self._node.remove_camera(int(args["camera_id"]), bool(args["delete_footage"]))
        return b""

    async def _delete_files(self, _: str, args: Mapping[str, Any]) -> bytes:
        await self._node.delete_files([str(p) for p in args["paths"]])
        return b""

    async def _file_size(self, _: str, args: Mapping[str, Any]) -> bytes:
        return encode(await self._node.file_size(str(args["path"])))

    async def _read_file(self, _: str, args: Mapping[str, Any]) -> bytes:
        return await self._node.read_file(
            str(args["path"]), int(args["first"]), int(args["last"]), int(args["shift_us"])
        )

    async def _fragment_indexes(self, _: str, args: Mapping[str, Any]) -> bytes:
        return encode(await self._node.fragment_indexes([str(p) for p in args["paths"]]))

    async def _frame(self, _: str, args: Mapping[str, Any]) -> bytes:
        return await self._node.frame(str(args["path"]), int(args["offset_ms"]))

    async def _preview(self, _: str, args: Mapping[str, Any]) -> bytes:
        return await self._node.preview(str(args["path"]))

    async def _convert_h264(self, _: str, args: Mapping[str, Any]) -> bytes:
        codec = args["video_codec"]
        return encode(
            await self._node.convert_h264(str(args["path"]), None if codec is None else str(codec))
        )

    async def _read_h264(self, _: str, args: Mapping[str, Any]) -> bytes:
        part = _PART.validate_python(args["part"])
        return await self._node.read_h264(
            str(args["path"]), part, int(args["first"]), int(args["last"])
        )

    async def _start_cut(self, _: str, args: Mapping[str, Any]) -> bytes:
        order = CutOrder.model_validate(args["order"])
        return encode(await self._node.start_cut(str(args["key"]), order))

    async def _cut_state(self, _: str, args: Mapping[str, Any]) -> bytes:
        return encode(await self._node.cut_state(str(args["key"])))

    async def _read_cut(self, _: str, args: Mapping[str, Any]) -> bytes:
        return await self._node.read_cut(str(args["key"]), int(args["first"]), int(args["last"]))

    async def _drop_cut(self, _: str, args: Mapping[str, Any]) -> bytes:
        await self._node.drop_cut(str(args["key"]))
        return b""

    async def _disk_usage(self, _: str, args: Mapping[str, Any]) -> bytes:
        return encode(await self._node.disk_usage())

    async def _probe_source(self, _: str, args: Mapping[str, Any]) -> bytes:
        probe = await self._node.probe_source(
            str(args["url"]),
            args["username"],
            args["password"],
            float(args["timeout_seconds"]),
        )
        return encode(probe)
