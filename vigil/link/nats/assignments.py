"""Camera assignments on the bus: the fence that keeps a node that was taken for dead from
recording a camera twice.

Whenever the application side places or moves a camera, it puts the camera's node and
assignment number (which counts the camera's moves) into a key-value bucket. A node that
runs from its own copy of its cameras (the application side is away) reads the bucket, a
key at a time, and drops every camera that another node now holds under a higher number.
The bucket lives on the bus, so the fence holds while every application instance is down.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import KeyValueConfig, StorageType
from pydantic import BaseModel, ValidationError

from vigil.link.nats.subjects import ASSIGNMENTS_BUCKET, assignment_get
from vigil.link.protocol import LinkUnavailable

log = logging.getLogger(__name__)


class Assignment(BaseModel):
    node: str
    assignment: int


class Assignments:
    """The application side's writes to the bucket."""

    def __init__(self, client: Client) -> None:
        self._js = client.jetstream()

    async def start(self) -> None:
        # Direct gets: nodes read single keys without JetStream's management subjects.
        config = KeyValueConfig(
            bucket=ASSIGNMENTS_BUCKET, history=1, storage=StorageType.FILE, direct=True
        )
        await self._js.create_key_value(config)

    async def put(self, camera_id: int, node: str, assignment: int) -> None:
        """Say that ``node`` holds the camera now. A write the bus does not take is said and
        survived: the application side's own answer still fences the node once it is
        back; only a node starting while every application instance is away goes by this."""
        value = Assignment(node=node, assignment=assignment).model_dump_json().encode()
        try:
            kv = await self._js.key_value(ASSIGNMENTS_BUCKET)
            await kv.put(str(camera_id), value)
        except (NatsError, OSError, TimeoutError) as exc:
            log.warning("camera %s: its assignment to %s not on the bus: %s", camera_id, node, exc)


async def holders(client: Client, camera_ids: list[int]) -> Mapping[int, tuple[str, int]]:
    """Who holds each camera now, and under which assignment; a camera never put in the
    bucket is absent. LinkUnavailable if the bus does not answer."""
    found: dict[int, tuple[str, int]] = {}
    for camera_id in camera_ids:
        try:
            msg = await client.request(assignment_get(camera_id), b"", timeout=2)
        except (NatsError, OSError, TimeoutError) as exc:
            raise LinkUnavailable(f"camera assignments: {exc}") from exc
        headers = msg.headers or {}
        if headers.get("Status") or headers.get("KV-Operation") in ("DEL", "PURGE"):
            continue  # 404: never assigned on the bus; a deleted camera's marker
        try:
            held = Assignment.model_validate_json(msg.data)
        except ValidationError:
            log.warning("camera %s: its assignment on the bus is unreadable", camera_id)
            continue
        found[camera_id] = (held.node, held.assignment)
    return found
