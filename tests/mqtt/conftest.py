"""A real broker (the one on 127.0.0.1:1883, else a Mosquitto this session starts), a
listener, and running services that publish to it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import pytest

from vigil.app import Services, start_services, stop_services
from vigil.mqtt.settings import MqttSettings
from vigil.settings import Settings


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def broker_port() -> Iterator[int]:
    if _listening(1883):
        yield 1883
        return
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    process = subprocess.Popen(
        [binary, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert process.poll() is None, "mosquitto exited"
            assert time.monotonic() < deadline, "mosquitto did not start listening"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def mqtt_settings(broker_port: int) -> MqttSettings:
    """Settings with topics of this test's own, so parallel runs never see each other."""
    tag = uuid.uuid4().hex[:10]
    return MqttSettings(
        enabled=True,
        port=broker_port,
        topic_prefix=f"vigiltest-{tag}",
        discovery_prefix=f"hatest-{tag}",
        client_id=f"vigil-{tag}",
        reconnect_min_seconds=0.2,
        reconnect_max_seconds=1,
    )


@dataclass
class Seen:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Listener:
    """Everything published under the test's prefixes, as it arrives."""

    client: aiomqtt.Client
    messages: list[Seen] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(
        self, topic: str, check: Callable[[Seen], bool] = lambda _: True, timeout: float = 20
    ) -> Seen:
        async with asyncio.timeout(timeout):
            while True:
                for message in self.messages:
                    if message.topic == topic and check(message):
                        return message
                self.arrived.clear()
                await self.arrived.wait()

    def on(self, topic: str) -> list[bytes]:
        return [m.payload for m in self.messages if m.topic == topic]


async def _collect(client: aiomqtt.Client, listener: Listener) -> None:
    async for message in client.messages:
        payload = message.payload if isinstance(message.payload, bytes) else b""
        listener.messages.append(Seen(message.topic.value, payload, message.retain))
        listener.arrived.set()


@contextlib.asynccontextmanager
async def listening(settings: MqttSettings) -> AsyncIterator[Listener]:
    async with aiomqtt.Client("127.0.0.1", settings.port, identifier=uuid.uuid4().hex) as client:
        listener = Listener(client)
        await client.subscribe(f"{settings.topic_prefix}/#", qos=1)
        await client.subscribe(f"{settings.discovery_prefix}/#", qos=1)
        task = asyncio.create_task(_collect(client, listener))
        try:
            yield listener
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
async def listener(mqtt_settings: MqttSettings) -> AsyncIterator[Listener]:
    async with listening(mqtt_settings) as started:
        yield started
    await clear_retained(mqtt_settings)


async def clear_retained(settings: MqttSettings) -> None:
    """Leave the broker as the test found it: no retained messages under its prefixes."""
    async with listening(settings) as leftover:
        await asyncio.sleep(0.3)
        for topic in {m.topic for m in leftover.messages if m.retain}:
            await leftover.client.publish(topic, b"", qos=1, retain=True)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    # SQLite only: MQTT adds nothing the database backends could disagree on.
    return f"sqlite+aiosqlite:///{tmp_path / 'vigil.db'}"


@pytest.fixture
async def mqtt_services(settings: Settings, mqtt_settings: MqttSettings) -> AsyncIterator[Services]:
    settings.mqtt = mqtt_settings
    running = await start_services(settings)
    await running.auth.users.create_org("Test school")
    try:
        yield running
    finally:
        if running.mqtt is not None:  # the test may have stopped them itself
            await stop_services(running)


def configs(listener: Listener, settings: MqttSettings, key: str) -> dict[str, bytes]:
    """The latest discovery config per topic for one camera (empty: removed)."""
    prefix = f"{settings.discovery_prefix}/"
    found: dict[str, bytes] = {}
    for message in listener.messages:
        if message.topic.startswith(prefix) and f"/{key}_" in message.topic:
            found[message.topic] = message.payload
    return found
