"""The publisher on a real broker: events, states, availability, commands, a broker away."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import sys
import textwrap

import pytest
from pydantic import SecretStr

from tests.mqtt.conftest import Listener, free_port, listening
from vigil.mqtt.publisher import Command, MqttPublisher
from vigil.mqtt.settings import MqttSettings


async def test_events_and_states_arrive_on_their_topics(
    mqtt_settings: MqttSettings, listener: Listener
) -> None:
    publisher = MqttPublisher(mqtt_settings)
    await publisher.start()
    prefix = mqtt_settings.topic_prefix
    try:
        await listener.wait_for(f"{prefix}/available", lambda m: m.payload == b"online")
        event = {"id": 1, "label": "person", "score": 0.87, "zones": ["driveway"], "end": None}
        publisher.publish_event("new", event)
        publisher.publish_snapshot("Front door", "person", b"\xff\xd8jpeg\xff\xd9")
        publisher.publish_occupancy("Front door", "person", 2)
        publisher.publish_motion("Front door", True)
        publisher.publish_status("Front door", "streaming")
        ended = {**event, "end": "2025-01-01T00:00:01.234Z"}
        publisher.publish_event("end", ended, event)

        seen = await listener.wait_for(f"{prefix}/events")
        assert json.loads(seen.payload) == {"type": "new", "before": event, "after": event}
        last = await listener.wait_for(
            f"{prefix}/events", lambda m: json.loads(m.payload)["type"] == "end"
        )
        assert json.loads(last.payload) == {"type": "end", "before": event, "after": ended}
        snapshot = await listener.wait_for(f"{prefix}/front_door/person/snapshot")
        assert snapshot.payload == b"\xff\xd8jpeg\xff\xd9"
        assert (await listener.wait_for(f"{prefix}/front_door/person")).payload == b"2"
        assert (await listener.wait_for(f"{prefix}/front_door/motion")).payload == b"ON"
        assert (await listener.wait_for(f"{prefix}/front_door/status")).payload == b"streaming"
        assert [json.loads(p)["type"] for p in listener.on(f"{prefix}/events")] == ["new", "end"]
    finally:
        await publisher.stop()
    # A clean stop says so, and is not mistaken for a crash.
    await listener.wait_for(f"{prefix}/available", lambda m: m.payload == b"offline")
    assert publisher.dropped == 0


WILL_CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    from vigil.mqtt.publisher import MqttPublisher
    from vigil.mqtt.settings import MqttSettings

    async def main():
        publisher = MqttPublisher(MqttSettings.model_validate_json(sys.argv[1]))
        await publisher.start()
        await publisher.connected.wait()
        print("connected", flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
    """
)


async def test_a_crashed_server_is_reported_offline_by_its_last_will(
    mqtt_settings: MqttSettings, listener: Listener
) -> None:
    available = f"{mqtt_settings.topic_prefix}/available"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WILL_CLIENT,
        mqtt_settings.model_dump_json(),
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 60) == b"connected\n"
        await listener.wait_for(available, lambda m: m.payload == b"online")
        process.kill()  # no DISCONNECT: the broker sees the connection drop
        await process.wait()
        offline = await listener.wait_for(available, lambda m: m.payload == b"offline")
        assert offline.topic == available
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_switching_detection_over_mqtt_reaches_the_app(
    mqtt_settings: MqttSettings, listener: Listener
) -> None:
    detecting = {"front_door": True}
    received: list[Command] = []

    async def switch(command: Command) -> bool | None:
        received.append(command)
        if command.camera_slug not in detecting:
            return None
        detecting[command.camera_slug] = command.on
        return command.on

    publisher = MqttPublisher(mqtt_settings, switch)
    await publisher.start()
    prefix = mqtt_settings.topic_prefix
    state = f"{prefix}/front_door/detect/state"
    try:
        await publisher.connected.wait()
        await listener.client.publish(f"{prefix}/front_door/detect/set", "OFF", qos=1)
        assert (await listener.wait_for(state)).payload == b"OFF"
        assert detecting == {"front_door": False}
        await listener.client.publish(f"{prefix}/front_door/detect/set", "ON", qos=1)
        await listener.wait_for(state, lambda m: m.payload == b"ON")
        await listener.client.publish(f"{prefix}/front_door/recordings/set", "off", qos=1)
        # Nonsense and unknown cameras change nothing and are not answered.
        await listener.client.publish(f"{prefix}/front_door/detect/set", "maybe", qos=1)
        await listener.client.publish(f"{prefix}/garage/detect/set", "ON", qos=1)
        await listener.client.publish(f"{prefix}/front_door/detect/set", "OFF", qos=1)
        await listener.wait_for(state, lambda _: listener.on(state) == [b"OFF", b"ON", b"OFF"])
        assert received == [
            Command("front_door", "detect", False),
            Command("front_door", "detect", True),
            Command("front_door", "recordings", False),
            Command("garage", "detect", True),
            Command("front_door", "detect", False),
        ]
        assert listener.on(f"{prefix}/garage/detect/state") == []
        # The state is retained: a client arriving later knows detection is off.
        async with listening(mqtt_settings) as later:
            assert (await later.wait_for(state, lambda m: m.retain)).payload == b"OFF"
    finally:
        await publisher.stop()


async def test_publishing_with_the_broker_away_neither_blocks_nor_leaks_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = MqttSettings(
        enabled=True,
        port=free_port(),  # nothing listens here
        username="vigil",
        password=SecretStr("s3cret-broker-pass"),
        queue_size=50,
        reconnect_min_seconds=0.05,
        reconnect_max_seconds=0.1,
    )
    publisher = MqttPublisher(settings)
    caplog.set_level(logging.DEBUG)
    await publisher.start()
    try:
        for index in range(2000):
            publisher.publish_event("update", {"label": "person", "n": index})
        # The queue holds 50.
        assert publisher.dropped == 2000 - 50
        await asyncio.sleep(0.5)  # some reconnection attempts
        assert not publisher.connected.is_set()
    finally:
        await publisher.stop()
    assert "MQTT broker 127.0.0.1" in caplog.text
    assert "s3cret-broker-pass" not in caplog.text
    assert "s3cret" not in repr(settings)


async def start_mosquitto(port: int) -> asyncio.subprocess.Process:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = await asyncio.create_subprocess_exec(
        binary, "-p", str(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return process


async def test_the_publisher_comes_back_after_the_broker_restarts() -> None:
    port = free_port()
    settings = MqttSettings(
        enabled=True, port=port, reconnect_min_seconds=0.1, reconnect_max_seconds=0.5
    )
    broker = await start_mosquitto(port)
    publisher = MqttPublisher(settings)
    await publisher.start()
    try:
        await asyncio.wait_for(publisher.connected.wait(), 20)
        broker.kill()
        await broker.wait()
        async with asyncio.timeout(20):
            while publisher.connected.is_set():
                await asyncio.sleep(0.05)
        broker = await start_mosquitto(port)
        await asyncio.wait_for(publisher.connected.wait(), 20)
        # Connected again: messages flow, and the broker (which forgot) hears "online" again.
        async with listening(settings) as listener:
            await listener.wait_for("vigil/available", lambda m: m.payload == b"online")
            publisher.publish_motion("cam", True)
            await listener.wait_for("vigil/cam/motion")
    finally:
        await publisher.stop()
        broker.kill()
        await broker.wait()
