"""A node's side of the link over NATS: what it asks the application server, and what it
reports.

Questions go as requests that one application instance answers. What the outbox delivers
(segments, events, motion) is stored on the ``REPORTS_STREAM`` instead: a report is
delivered once the stream has it, whether or not an application instance is up, and the
outbox deletes its file only then. Queries carry the stream sequence of the node's last
report, so that an answer includes everything the node reported before asking (retention
judges the index right after its own deletions), as with the in-process link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from pydantic import BaseModel, TypeAdapter

from vigil.link.messages import (
    CameraActivity,
    CameraConfig,
    CameraStatus,
    EventRecord,
    MotionSpan,
    SegmentRecord,
    StoredSegment,
)
from vigil.link.nats import wire
from vigil.link.nats.connection import Bus
from vigil.link.nats.subjects import REPORTS_STREAM, app_call, check_node_name, report
from vigil.link.protocol import LinkUnavailable

# Which of a query's arguments names the node's last report (see ``app_server``).
REPORTED = "reported"
# Room left in a message for its headers and the stream's own.
HEADROOM = 4096


class PathsPage(BaseModel):
    """Some of a camera's indexed paths, in order; ``more`` if others follow them."""

    paths: list[str]
    more: bool


_CONFIGS = TypeAdapter(list[CameraConfig])
_SEGMENTS = TypeAdapter(list[StoredSegment])
_BYTES = TypeAdapter(int)


def message_id(subject: str, body: bytes) -> str:
    """What the stream knows a report by: the same report sent again (the outbox retrying
    after a lost acknowledgement) is stored once within the stream's duplicate window."""
    return hashlib.sha256(subject.encode() + b"\n" + body).hexdigest()


class NatsAppSide:
    """An :class:`~vigil.link.protocol.AppSide` for the node ``node``, over ``client``
    (connected as that node); each call waits at most ``seconds``."""

    def __init__(self, client: Client | Bus, node: str, seconds: float) -> None:
        self._bus = client
        self._node = check_node_name(node)
        self._seconds = seconds
        self._reported = 0  # the stream sequence of this node's last report

    @property
    def _client(self) -> Client:
        """The connection; LinkUnavailable while a :class:`Bus` has none yet."""
        return self._bus.client if isinstance(self._bus, Bus) else self._bus

    # -- questions
    async def camera_configs(self, node: str) -> list[CameraConfig]:
        return _CONFIGS.validate_json(await self._ask(node, "camera_configs", {}))

    async def indexed_paths(self, node: str, camera_id: int) -> set[str]:
        # A camera's paths can outgrow one message: they come a page at a time, in order.
        paths: set[str] = set()
        after: str | None = None
        while True:
            args = {"camera_id": camera_id, "after": after, REPORTED: self._reported}
            page = PathsPage.model_validate_json(await self._ask(node, "indexed_paths", args))
            paths.update(page.paths)
            if not page.more or not page.paths:
                return paths
            after = page.paths[-1]

    async def oldest_segments(
        self,
        node: str,
        camera_id: int | None,
        before_ms: int | None,
        limit: int,
        keep_events_after_ms: int | None = None,
    ) -> list[StoredSegment]:
        args = {
            "camera_id": camera_id,
            "before_ms": before_ms,
            "limit": limit,
            "keep_events_after_ms": keep_events_after_ms,
            REPORTED: self._reported,
        }
        return _SEGMENTS.validate_json(await self._ask(node, "oldest_segments", args))

    async def camera_bytes(self, node: str, camera_id: int) -> int:
        args = {"camera_id": camera_id, REPORTED: self._reported}
        return _BYTES.validate_json(await self._ask(node, "camera_bytes", args))

    # -- best effort: a lost one is replaced by the next
    async def report_status(self, node: str, status: CameraStatus) -> None:
        await self._tell(node, "report_status", {"status": status})

    async def camera_activity(self, node: str, activity: CameraActivity) -> None:
        await self._tell(node, "camera_activity", {"activity": activity})

    async def _tell(self, node: str, method: str, args: Mapping[str, Any]) -> None:
        """A best-effort call: LinkUnavailable at once while the bus is away, not after the
        call's time. A recorder reports its status after every segment it places: waiting
        out ``seconds`` each time would hold its segments back for as long as the bus is
        down (and keep the node from stopping)."""
        if not self._client.is_connected:
            raise LinkUnavailable("the bus is away")
        await self._ask(node, method, args)

    # -- reports, kept on the stream until an application instance has applied them
    async def segments_recorded(self, node: str, segments: list[SegmentRecord]) -> None:
        await self._report(node, "segments_recorded", "segments", segments)

    async def segments_removed(self, node: str, paths: list[str]) -> None:
        await self._report(node, "segments_removed", "paths", paths)

    async def events_reported(self, node: str, events: list[EventRecord]) -> None:
        await self._report(node, "events_reported", "events", events)

    async def events_interrupted(self, node: str, before_ms: int) -> None:
        await self._publish(node, "events_interrupted", {"before_ms": before_ms})

    async def motion_reported(self, node: str, spans: list[MotionSpan]) -> None:
        await self._report(node, "motion_reported", "spans", spans)

    def _own(self, node: str) -> str:
        if node != self._node:
            # The bus would refuse it anyway (a node speaks only for itself), and silently.
            raise ValueError(f"this link speaks for node {self._node!r}, not {node!r}")
        return node

    async def _ask(self, node: str, method: str, args: Mapping[str, Any]) -> bytes:
        subject = app_call(self._own(node), method)
        return await wire.call(self._client, subject, args, self._seconds)

    async def _report(
        self, node: str, method: str, name: str, items: Sequence[BaseModel | str]
    ) -> None:
        """Report ``items`` as one message, or in order as several if one would not fit."""
        body = wire.encode({name: items})
        if len(body) <= self._client.max_payload - HEADROOM or len(items) < 2:
            await self._publish(node, method, {name: items}, body)
            return
        half = len(items) // 2
        await self._report(node, method, name, items[:half])
        await self._report(node, method, name, items[half:])

    async def _publish(
        self, node: str, method: str, args: Mapping[str, Any], body: bytes | None = None
    ) -> None:
        """Store one report on the stream; returns once the stream has it."""
        subject = report(self._own(node), method)
        body = wire.encode(args) if body is None else body
        headers = {"Nats-Msg-Id": message_id(subject, body)}
        try:
            # A plain request to the report's subject (never the JetStream API, which a
            # node may not use): the stream's acknowledgement comes to the node's inbox.
            ack = await self._client.jetstream(timeout=self._seconds).publish(
                subject, body, timeout=self._seconds, stream=REPORTS_STREAM, headers=headers
            )
        except nats.js.errors.NoStreamResponseError as exc:
            raise LinkUnavailable(
                f"no stream keeps {subject}: the application server has not set up the bus"
            ) from exc
        except nats.errors.TimeoutError as exc:
            raise LinkUnavailable(
                f"the bus did not confirm {subject} in {self._seconds:g} s"
            ) from exc
        except nats.js.errors.APIError as exc:
            raise LinkUnavailable(f"the bus refused {subject}: {exc.description}") from exc
        except nats.errors.MaxPayloadError as exc:
            raise LinkUnavailable(
                f"{subject}: one item of {len(body)} bytes, more than the bus carries in a "
                f"message ({self._client.max_payload})"
            ) from exc
        except nats.errors.Error as exc:  # closed, or reconnecting with a full buffer
            raise LinkUnavailable(f"could not report {subject}: {exc!r}") from exc
        self._reported = max(self._reported, ack.seq)
