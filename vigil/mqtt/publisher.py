"""One broker connection for the whole server: events, states and commands over MQTT.

Callers never wait for the broker: every publish goes into a bounded queue that one task
drains while connected; when the queue is full (the broker is away) messages are dropped
and counted. The connection comes back by itself with growing delays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiomqtt

from vigil.mqtt.discovery import CameraDevice, DiscoveryMessage, discovery_messages
from vigil.mqtt.settings import MqttSettings
from vigil.mqtt.topics import OFF, OFFLINE, ON, ONLINE, SWITCHES, Switch, Topics, slug

log = logging.getLogger(__name__)

# How long stop() waits for the connection to close once cancelled.
_CLOSE_SECONDS = 5.0

EventKind = Literal["new", "update", "end"]
Payload = str | bytes | int


@dataclass(frozen=True, slots=True)
class Command:
    """A switch someone flipped over MQTT: detection or recording, on a camera."""

    camera_slug: str
    what: Switch
    on: bool


# The app turns the switch and answers with the state that holds now (None: no such camera).
CommandHandler = Callable[[Command], Awaitable[bool | None]]


@dataclass(frozen=True, slots=True)
class _Outgoing:
    topic: str
    payload: Payload
    retain: bool


class MqttPublisher:
    """Publishes to one broker and hands commands from it to the app."""

    def __init__(
        self,
        settings: MqttSettings,
        on_command: CommandHandler | None = None,
        *,
        sw_version: str = "",
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.dropped = 0
        self.published = 0
        self.connected = asyncio.Event()
        self._on_command = on_command
        self._sw_version = sw_version
        self._queue: asyncio.Queue[_Outgoing] = asyncio.Queue(settings.queue_size)
        self._discovery: list[DiscoveryMessage] = []
        # Per camera slug, the retained topics published for it: what forget() must empty.
        self._retained: dict[str, set[str]] = {}
        self._task: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt")

    async def stop(self, flush_seconds: float = 2.0) -> None:
        """Send what is queued (for a little while), say "offline", and disconnect."""
        if self._task is None:
            return
        client = self._client
        if client is not None and self.connected.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_seconds):
                    await self._queue.join()
                    await client.publish(self.topics.available, OFFLINE, qos=1, retain=True)
        self._task.cancel()
        try:
            # Closing the connection waits on the broker: a server that stops must not hang
            # on one that no longer answers.
            async with asyncio.timeout(_CLOSE_SECONDS):
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        except TimeoutError:
            log.warning("MQTT broker did not close the connection in %g s; left", _CLOSE_SECONDS)
        self._task = None

    # What the app publishes; none of these waits for the broker.

    def publish_event(
        self,
        kind: EventKind,
        after: Mapping[str, Any],
        before: Mapping[str, Any] | None = None,
    ) -> None:
        """An event opened, changed or ended, as Frigate tells it: ``{type, before, after}``.

        ``before`` is the event as last told (the event itself when that is not known).
        """
        body = {"type": kind, "before": after if before is None else before, "after": after}
        self._put(self.topics.events, json.dumps(body, default=str))

    def publish_snapshot(self, camera: str, label: str, jpeg: bytes) -> None:
        """The best picture of the camera's latest event of the label (retained)."""
        self._put_state(camera, self.topics.snapshot(slug(camera), label), jpeg)

    def publish_status(self, camera: str, status: str) -> None:
        self._put_state(camera, self.topics.status(slug(camera)), status)

    def publish_occupancy(self, camera: str, label: str, count: int) -> None:
        """How many objects of the label the camera sees now."""
        self._put_state(camera, self.topics.label(slug(camera), label), count)

    def publish_motion(self, camera: str, on: bool) -> None:
        self._put_state(camera, self.topics.motion(slug(camera)), ON if on else OFF)

    def publish_switch(self, camera: str, what: Switch, on: bool) -> None:
        """The state of a camera's detection or recording switch."""
        self._put_state(camera, self.topics.state(slug(camera), what), ON if on else OFF)

    def clear_detection(self, camera: str, labels: Iterable[str], *, motion: bool) -> None:
        """Empty a camera's label counts, and motion if asked: their sensors were removed."""
        cam = slug(camera)
        topics = [self.topics.label(cam, label) for label in labels]
        self._clear(cam, [self.topics.motion(cam), *topics] if motion else topics)

    def forget(self, camera: str) -> None:
        """Clear every retained state of a camera (it was renamed or deleted).

        Its status and switch states always; its motion, counts and snapshots as far as
        this server published them since it started.
        """
        cam = slug(camera)
        fixed = [self.topics.status(cam), *(self.topics.state(cam, s) for s in SWITCHES)]
        self._clear(cam, sorted({*fixed, *self._retained.pop(cam, ())}))

    def _put_state(self, camera: str, topic: str, payload: Payload) -> None:
        self._retained.setdefault(slug(camera), set()).add(topic)
        self._put(topic, payload, retain=True)

    def _clear(self, cam: str, topics: Iterable[str]) -> None:
        # An empty retained message deletes the retained one: newcomers find nothing.
        known = self._retained.get(cam, set())
        for topic in topics:
            known.discard(topic)
            self._put(topic, b"", retain=True)

    def announce(self, cameras: Iterable[CameraDevice]) -> None:
        """Set the cameras Home Assistant discovers; sent now and on every (re)connection.

        Cameras announced before and missing now are removed (an empty retained config).
        """
        before = {message.topic for message in self._discovery}
        self._discovery = discovery_messages(
            cameras,
            self.topics,
            discovery_prefix=self.settings.discovery_prefix,
            node_id=self.settings.client_id,
            sw_version=self._sw_version,
        )
        if self.settings.discovery:
            for topic in sorted(before - {message.topic for message in self._discovery}):
                self._put(topic, b"", retain=True)
            self._send_discovery()

    def _send_discovery(self) -> None:
        for message in self._discovery:
            self._put(message.topic, json.dumps(message.payload), retain=True)

    def _put(self, topic: str, payload: Payload, retain: bool = False) -> None:
        try:
            self._queue.put_nowait(_Outgoing(topic, payload, retain))
        except asyncio.QueueFull:
            self.dropped += 1

    # The connection.

    async def _run(self) -> None:
        settings = self.settings
        delay = settings.reconnect_min_seconds
        while True:
            reason = "connection closed"
            try:
                await self._session()
            except (aiomqtt.MqttError, OSError) as error:
                reason = str(error)
            if self.connected.is_set():
                delay = settings.reconnect_min_seconds  # it worked for a while: start over
            self.connected.clear()
            self._client = None
            # The password never reaches a log line: only the address and the reason.
            log.warning(
                "MQTT broker %s:%d: %s; retrying in %.1f s",
                settings.host,
                settings.port,
                reason,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, settings.reconnect_max_seconds)

    async def _session(self) -> None:
        settings = self.settings
        password = settings.password.get_secret_value() if settings.password else None
        async with aiomqtt.Client(
            settings.host,
            settings.port,
            identifier=settings.client_id,
            username=settings.username,
            password=password,
            keepalive=settings.keepalive_seconds,
            will=aiomqtt.Will(self.topics.available, OFFLINE, qos=1, retain=True),
        ) as client:
            self._client = client
            await client.subscribe(f"{self.topics.prefix}/+/+/set", qos=1)
            # Home Assistant says "online" when it (re)starts: it wants discovery again.
            await client.subscribe(f"{settings.discovery_prefix}/status")
            await client.publish(self.topics.available, ONLINE, qos=1, retain=True)
            if settings.discovery:
                self._send_discovery()
            self.connected.set()
            log.info("MQTT connected to %s:%d", settings.host, settings.port)
            tasks = [
                asyncio.create_task(self._drain(client)),
                asyncio.create_task(self._listen(client)),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                task.result()  # the connection's error, if that is what ended it

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            message = await self._queue.get()
            try:
                await client.publish(message.topic, message.payload, qos=0, retain=message.retain)
                self.published += 1
            except aiomqtt.MqttError:
                self.dropped += 1
                raise
            finally:
                self._queue.task_done()

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = message.topic.value
            payload = message.payload
            text = payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)
            if topic == f"{self.settings.discovery_prefix}/status":
                if text == "online" and self.settings.discovery:
                    self._send_discovery()
                continue
            parsed = self.topics.parse_command(topic)
            if parsed is None or text.upper() not in (ON, OFF):
                log.info("MQTT: ignored %r on %s", text[:40], topic)
                continue
            await self._command(Command(parsed[0], parsed[1], text.upper() == ON))

    async def _command(self, command: Command) -> None:
        if self._on_command is None:
            return
        try:
            state = await self._on_command(command)
        except Exception:
            # A failing handler must not take the connection down with it.
            log.exception("MQTT command %s failed", command)
            return
        if state is not None:
            self.publish_switch(command.camera_slug, command.what, state)


__all__ = ["Command", "CommandHandler", "EventKind", "MqttPublisher"]
