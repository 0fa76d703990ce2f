"""The contract of the application side as a node sees it (``AppSide``): its cameras, the
index of what it recorded, its events and motion. Every implementation of the link runs
it: in one process (``LocalLink``) and over NATS (``NatsAppSide`` to an ``AppServer``).

After a report returns, the node's next question sees it: retention judges the index right
after its own deletions, whichever link it uses. Below the contract, what only the bus
does: reports wait on its stream for an application instance, and for the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import nats.js.errors
import pytest
from nats.aio.client import Client

from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.link.conftest import APP_PASSWORD, NODE_PASSWORDS
from vigil.app import Services
from vigil.link.local import LocalLink
from vigil.link.messages import (
    BoxAt,
    CameraActivity,
    CameraState,
    CameraStatus,
    EventKind,
    EventRecord,
    EventStage,
    MotionSpan,
    SegmentRecord,
)
from vigil.link.nats import app_server as app_server_module
from vigil.link.nats import wire
from vigil.link.nats.app_client import NatsAppSide
from vigil.link.nats.app_server import AppServer, set_up_reports
from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.subjects import APP_USER, REPORTS_STREAM, app_call, report
from vigil.link.protocol import AppSide, LinkUnavailable
from vigil.node.layout import segment_key
from vigil.node.outbox import Outbox
from vigil.store.cameras import CameraFields
from vigil.store.database import DatabaseUnavailable
from vigil.store.events import EventFilter
from vigil.store.models import Event
from vigil.timeutil import now_ms

NODE = "local"  # the services' own node (settings.node.name)
SECONDS = 5.0  # a call's timeout over the bus
RETRY = 0.2  # a report the database could not take comes back after this long
# Small pages, so that a few hundred paths take several answers over the bus.
REPLY_BYTES = 2000
BASE = 1_796_000_000_000


async def until(what: str, check: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def fresh_reports(app_client: Client) -> None:
    """No stream and no consumer: what an earlier test left does not reach this one."""
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await app_client.jetstream().delete_stream(REPORTS_STREAM)


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing goes wrong unnoticed: no error logged but a report dropped on purpose."""
    yield
    errors = [
        r.getMessage()
        for r in caplog.get_records("call")
        if r.levelno >= logging.ERROR and "cannot be read" not in r.getMessage()
    ]
    assert errors == []


@contextlib.asynccontextmanager
async def app_server(client: Client, app: AppSide) -> AsyncIterator[AppServer]:
    server = AppServer(client, app, retry_seconds=RETRY, reply_bytes=REPLY_BYTES)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(params=["in-process", "nats"])
async def app_side(
    request: pytest.FixtureRequest, services: Services, nats_server: NatsServer
) -> AsyncIterator[AppSide]:
    if request.param == "in-process":
        yield LocalLink(services.nodes)
        return
    app = await connect(nats_server.url, APP_USER, APP_PASSWORD, name="test-app")
    node = await connect(nats_server.url, NODE, NODE_PASSWORDS[NODE], name="test-node")
    await fresh_reports(app)
    try:
        async with app_server(app, services.nodes):
            asking = NatsAppSide(node, NODE, SECONDS)
            await _answered(lambda: asking.camera_bytes(NODE, 0))  # routed to it by now
            yield asking
    finally:
        await node.close()
        await app.close()


async def add_camera(services: Services, password: str | None = None) -> int:
    fields = CameraFields(
        name="Gate", main_url="rtsp://127.0.0.1:9/x", password=password, enabled=False
    )
    return (await services.cameras.create(fields, org_id=TEST_ORG)).id


def segment(camera_id: int, n: int, size: int = 1000) -> SegmentRecord:
    start = BASE + n * 2000
    return SegmentRecord(
        camera_id=camera_id,
        path=segment_key(camera_id, start),
        start_ms=start,
        end_ms=start + 2000,
        size=size,
        video_codec="h264",
    )


def event(camera_id: int, uid: str, stage: EventStage, start: int, boxes: int = 2) -> EventRecord:
    ended = stage is EventStage.END
    return EventRecord(
        uid=uid,
        camera_id=camera_id,
        stage=stage,
        kind=EventKind.OBJECT,
        label="person",
        score=0.9,
        start_ms=start,
        end_ms=start + 5000 if ended else None,
        last_ms=start + (5000 if ended else 1000),
        boxes=[
            BoxAt(time_ms=start + i, x1=0.1, y1=0.2, x2=0.3, y2=0.4 + i / (10 * boxes))
            for i in range(boxes)
        ],
    )


async def events_of(services: Services, camera_id: int) -> dict[str, Event]:
    found = await services.events.store.find(
        EventFilter(org_id=TEST_ORG, camera_ids=[camera_id], limit=1000)
    )
    return {e.uid: e for e in found}


async def indexed(services: Services, camera_id: int) -> list[str]:
    return [s.path for s in await services.segments.in_range(camera_id, 0, BASE * 2)]


# -- the contract
@SQLITE_ONLY
async def test_a_camera_added_is_in_its_nodes_configs(
    app_side: AppSide, services: Services
) -> None:
    assert await app_side.camera_configs(NODE) == []
    camera_id = await add_camera(services, password="hunter2-camera")
    [config] = await app_side.camera_configs(NODE)
    assert (config.id, config.name, config.enabled) == (camera_id, "Gate", False)
    # The node needs it to reach the camera: it crosses (and never into a log line).
    assert config.password == "hunter2-camera"


async def test_segments_reported_are_indexed_once_and_seen_by_the_next_question(
    app_side: AppSide, services: Services
) -> None:
    camera_id = await add_camera(services)
    first, second = segment(camera_id, 0, size=1000), segment(camera_id, 1, size=3000)
    await app_side.segments_recorded(NODE, [first])
    await app_side.segments_recorded(NODE, [first, second])  # the first again
    assert await app_side.indexed_paths(NODE, camera_id) == {first.path, second.path}
    assert await app_side.camera_bytes(NODE, camera_id) == 4000
    assert await indexed(services, camera_id) == [first.path, second.path]
    # Retention's candidates: oldest first, never the camera's newest.
    [oldest] = await app_side.oldest_segments(NODE, camera_id, None, 10)
    assert (oldest.path, oldest.start_ms, oldest.size) == (first.path, first.start_ms, 1000)


async def test_segments_removed_leave_the_index_in_the_order_reported(
    app_side: AppSide, services: Services
) -> None:
    camera_id = await add_camera(services)
    records = [segment(camera_id, n) for n in range(4)]
    await app_side.segments_recorded(NODE, records[:3])
    await app_side.segments_removed(NODE, [records[0].path])
    # Recorded, removed, recorded again and removed again: the last word stands.
    await app_side.segments_recorded(NODE, [records[1], records[3]])
    await app_side.segments_removed(NODE, [records[1].path])
    assert await app_side.indexed_paths(NODE, camera_id) == {records[2].path, records[3].path}
    assert await app_side.camera_bytes(NODE, camera_id) == 2000
    assert await indexed(services, camera_id) == [records[2].path, records[3].path]


@SQLITE_ONLY
async def test_every_indexed_path_comes_back_however_many(
    app_side: AppSide, services: Services
) -> None:
    camera_id = await add_camera(services)
    records = [segment(camera_id, n) for n in range(300)]  # pages of about 50 over the bus
    await app_side.segments_recorded(NODE, records)
    assert await app_side.indexed_paths(NODE, camera_id) == {r.path for r in records}
    assert await app_side.indexed_paths(NODE, camera_id + 1) == set()


async def test_events_reported_are_stored_and_end_where_the_node_says(
    app_side: AppSide, services: Services
) -> None:
    camera_id = await add_camera(services)
    start = now_ms() - 60_000
    ends, ended = (event(camera_id, "ends", s, start) for s in (EventStage.NEW, EventStage.END))
    await app_side.events_reported(NODE, [ends])
    await app_side.events_reported(NODE, [ended])
    await app_side.events_reported(NODE, [event(camera_id, "left-open", EventStage.NEW, start)])
    await app_side.events_reported(NODE, [ended])  # again
    # The node restarts: what its last run left open will never be ended by it.
    await app_side.events_interrupted(NODE, now_ms())
    await app_side.camera_bytes(NODE, camera_id)  # the node's next question: all applied
    stored = await events_of(services, camera_id)
    assert sorted(stored) == ["ends", "left-open"]
    done, left = stored["ends"], stored["left-open"]
    assert (done.start_ms, done.end_ms, done.label, len(done.boxes)) == (
        start, start + 5000, "person", 2,
    )  # fmt: skip
    assert (left.start_ms, left.end_ms) == (start, start + 1000)  # where it was last seen


async def test_motion_reported_is_kept_once(app_side: AppSide, services: Services) -> None:
    camera_id = await add_camera(services)
    spans = [
        MotionSpan(camera_id=camera_id, start_ms=BASE + 500, end_ms=BASE + 1500),
        MotionSpan(camera_id=camera_id, start_ms=BASE + 4000, end_ms=BASE + 9000),
    ]
    await app_side.motion_reported(NODE, spans)
    await app_side.motion_reported(NODE, spans)  # sent again
    await app_side.motion_reported(NODE, spans[1:] + spans[:1])  # again, otherwise batched
    await app_side.camera_bytes(NODE, camera_id)
    assert await services.events.store.motion_in_range(camera_id, BASE, BASE + 10_000) == [
        (BASE + 500, BASE + 1500),
        (BASE + 4000, BASE + 9000),
    ]


@SQLITE_ONLY
async def test_a_report_larger_than_a_bus_message_is_stored_whole(
    app_side: AppSide, services: Services
) -> None:
    camera_id = await add_camera(services)
    # 60 events of 400 boxes: about 2 MiB, twice what the bus carries in a message.
    start = now_ms() - 60_000
    events = [event(camera_id, f"big-{n}", EventStage.END, start, boxes=400) for n in range(60)]
    await app_side.events_reported(NODE, events)
    # The question waits for the reports to be applied; on a loaded box that can outlast
    # its wait, and the answer is "unavailable, ask again", as a node does.
    for _ in range(15):
        try:
            await app_side.camera_bytes(NODE, camera_id)
            break
        except LinkUnavailable:
            continue
    stored = await events_of(services, camera_id)
    assert sorted(stored) == sorted(e.uid for e in events)
    assert {len(e.boxes) for e in stored.values()} == {400}


@SQLITE_ONLY
async def test_what_a_camera_does_now_reaches_the_application(
    app_side: AppSide, services: Services
) -> None:
    camera_id = await add_camera(services)
    status = CameraStatus(camera_id=camera_id, state=CameraState.STREAMING, video_codec="h264")
    await app_side.report_status(NODE, status)
    assert services.nodes.status(camera_id) == status
    activity = CameraActivity(
        camera_id=camera_id, time_ms=now_ms(), motion=True, objects={"person": 2}
    )
    await app_side.camera_activity(NODE, activity)
    assert services.events.current_activity(camera_id) == activity


# -- over the bus only: its own behaviour, whatever the database (SQLite only)
@pytest.fixture
async def bus(app_client: Client) -> Client:
    """The application's client, on a bus with no reports stream yet."""
    await fresh_reports(app_client)
    return app_client


async def stream_messages(app_client: Client) -> int:
    info = await app_client.jetstream().stream_info(REPORTS_STREAM)
    return int(info.state.messages)


@SQLITE_ONLY
async def test_without_an_application_server_questions_fail_at_once_and_reports_clearly(
    bus: Client, node_client: Client
) -> None:
    side = NatsAppSide(node_client, NODE, seconds=2)
    started = time.monotonic()
    with pytest.raises(LinkUnavailable, match="no one answers"):
        await side.camera_configs(NODE)
    with pytest.raises(LinkUnavailable, match=r"no stream keeps vigil\.report\.local\."):
        await side.segments_recorded(NODE, [segment(1, 0)])
    assert time.monotonic() - started < 2
    with pytest.raises(ValueError, match="speaks for node 'local', not 'node-a'"):
        await side.camera_configs("node-a")


@SQLITE_ONLY
async def test_reports_wait_on_the_stream_until_an_application_server_starts(
    bus: Client, node_client: Client, services: Services
) -> None:
    await set_up_reports(bus.jetstream())  # an application server ran once, then stopped
    camera_id = await add_camera(services)
    side = NatsAppSide(node_client, NODE, SECONDS)
    record = segment(camera_id, 0)
    await side.segments_recorded(NODE, [record])
    await side.segments_recorded(NODE, [record])  # sent again: stored once
    await side.motion_reported(
        NODE, [MotionSpan(camera_id=camera_id, start_ms=BASE, end_ms=BASE + 100)]
    )
    assert await stream_messages(bus) == 2
    assert await indexed(services, camera_id) == []

    async with app_server(bus, services.nodes):

        async def applied() -> bool:
            return await stream_messages(bus) == 0

        await until("the waiting reports applied", applied)
    assert await indexed(services, camera_id) == [record.path]
    motion = await services.events.store.motion_in_range(camera_id, 0, BASE * 2)
    assert motion == [(BASE, BASE + 100)]


@SQLITE_ONLY
async def test_reports_wait_while_the_database_is_away(
    bus: Client,
    node_client: Client,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    camera_id = await add_camera(services)
    tried: list[int] = []

    @contextlib.asynccontextmanager
    async def away() -> AsyncIterator[None]:
        tried.append(now_ms())
        raise DatabaseUnavailable("the database is unavailable: connection refused")
        yield  # an async generator, as Database.write is

    side = NatsAppSide(node_client, NODE, SECONDS)
    records = [segment(camera_id, n) for n in range(3)]
    async with app_server(bus, services.nodes):
        monkeypatch.setattr(services.db, "write", away)
        for record in records:
            await side.segments_recorded(NODE, [record])  # the stream has them: delivered

        async def retried() -> bool:
            return len(tried) >= 3

        await until("the first report tried again", retried)
        assert await stream_messages(bus) == 3  # none lost, none applied
        with pytest.raises(LinkUnavailable, match="not applied yet"):
            await side.indexed_paths(NODE, camera_id)
        monkeypatch.undo()
        assert await side.indexed_paths(NODE, camera_id) == {r.path for r in records}
    assert await indexed(services, camera_id) == [r.path for r in records]
    said = [r.getMessage() for r in caplog.records if r.name.startswith("vigil.link.nats")]
    assert sum("reports wait on the bus" in line for line in said) == 1  # once, not per retry
    assert any("applying reports again" in line for line in said)
    assert not [r for r in caplog.records if r.exc_info], "no traceback while it is away"


@SQLITE_ONLY
async def test_a_report_that_cannot_be_read_is_dropped_and_holds_up_nothing(
    bus: Client, node_client: Client, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    camera_id = await add_camera(services)
    side = NatsAppSide(node_client, NODE, SECONDS)
    async with app_server(bus, services.nodes):
        js = node_client.jetstream()
        await js.publish(report(NODE, "segments_recorded"), b'{"segments": "many"}')
        await js.publish(report(NODE, "segments_recorded"), b"not json")
        await js.publish(report(NODE, "delete_everything"), b"{}")
        record = segment(camera_id, 0)
        await side.segments_recorded(NODE, [record])
        assert await side.indexed_paths(NODE, camera_id) == {record.path}
        assert await stream_messages(bus) == 0
    dropped = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(dropped) == 3
    assert "no report named 'delete_everything'" in dropped[2].getMessage()


@SQLITE_ONLY
async def test_a_node_is_who_its_subject_says(
    bus: Client, nats_server: NatsServer, node_client: Client, services: Services
) -> None:
    camera_id = await add_camera(services)
    node_a = await connect(nats_server.url, "node-a", NODE_PASSWORDS["node-a"], name="node-a")
    try:
        async with app_server(bus, services.nodes):
            asking = NatsAppSide(node_a, "node-a", SECONDS)
            assert await _answered(lambda: asking.camera_configs("node-a")) == []
            assert len(await NatsAppSide(node_client, NODE, SECONDS).camera_configs(NODE)) == 1
            # An argument naming another node is no argument at all.
            subject = app_call(NODE, "camera_bytes")
            args = {"camera_id": camera_id, "node": "node-a"}
            with pytest.raises(ValueError, match="no argument named node"):
                await wire.call(node_client, subject, args, SECONDS)
    finally:
        await node_a.close()


async def _answered(ask: Callable[[], Awaitable[Any]]) -> Any:
    """The first answer to ``ask``: a node's first question may come before the server has
    routed the application side's new subscription to it (no responders), as the
    outbox's retry covers."""
    for _ in range(50):
        try:
            return await ask()
        except LinkUnavailable:
            await asyncio.sleep(0.1)
    raise AssertionError("the application side does not answer")


class Unhurried:
    """The application side as an instance on a machine of its own reaches it: each call
    takes a while, a different while each time."""

    def __init__(self, app: AppSide) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._app, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(random.uniform(0, 0.01))
            return await method(*args, **kwargs)

        return call


@SQLITE_ONLY
async def test_two_application_instances_apply_reports_in_the_order_sent(
    bus: Client, nats_server: NatsServer, node_client: Client, services: Services
) -> None:
    await set_up_reports(bus.jetstream())
    camera_id = await add_camera(services)
    side = NatsAppSide(node_client, NODE, SECONDS)
    records = [segment(camera_id, n) for n in range(30)]
    # A backlog (the application was away): each segment recorded, then removed, but the last.
    for record in records:
        await side.segments_recorded(NODE, [record])
        if record is not records[-1]:
            await side.segments_removed(NODE, [record.path])
    other = await connect(nats_server.url, APP_USER, APP_PASSWORD, name="test-app-2")
    try:
        async with (
            app_server(bus, cast(AppSide, Unhurried(services.nodes))),
            app_server(other, cast(AppSide, Unhurried(services.nodes))),
        ):
            assert await side.indexed_paths(NODE, camera_id) == {records[-1].path}
    finally:
        await other.close()
    assert await indexed(services, camera_id) == [records[-1].path]


class Held:
    """The application side behind an instance that takes ``seconds`` over each report
    (a slow database), or never returns from one (``seconds=None``: the instance hangs,
    then dies); it counts the reports it was handed."""

    def __init__(self, app: AppSide, seconds: float | None) -> None:
        self._app = app
        self._seconds = seconds
        self.handed = 0

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._app, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if name == "segments_recorded":
                self.handed += 1
                await asyncio.sleep(self._seconds if self._seconds is not None else 3600)
            return await method(*args, **kwargs)

        return call


@SQLITE_ONLY
async def test_a_report_held_by_a_slow_instance_is_applied_once_and_one_that_died_by_another(
    bus: Client,
    nats_server: NatsServer,
    node_client: Client,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_server_module, "ACK_WAIT_SECONDS", 1.0)
    await set_up_reports(bus.jetstream())
    camera_id = await add_camera(services)
    side = NatsAppSide(node_client, NODE, SECONDS)
    other = await connect(nats_server.url, APP_USER, APP_PASSWORD, name="test-app-2")
    slow = Held(services.nodes, seconds=3.0)  # three times as long as the bus waits
    hung = Held(services.nodes, seconds=None)
    try:
        # Slow: the report stays the slow instance's, though the other one is idle.
        async with app_server(other, cast(AppSide, slow)):
            await side.segments_recorded(NODE, [segment(camera_id, 0)])

            async def taken() -> bool:
                return slow.handed == 1

            await until("the slow instance takes the report", taken)
            idle = Held(services.nodes, seconds=0)
            async with app_server(bus, cast(AppSide, idle)):

                async def slow_applied() -> bool:
                    return await indexed(services, camera_id) == [segment(camera_id, 0).path]

                await until("the slow instance applies it", slow_applied)
            assert (slow.handed, idle.handed) == (1, 0)

        # Died: an instance hangs over a report, then its connection is cut.
        dying = await connect(nats_server.url, APP_USER, APP_PASSWORD, name="test-app-3")
        hanging = AppServer(dying, cast(AppSide, hung), retry_seconds=RETRY)
        await hanging.start()
        await side.segments_recorded(NODE, [segment(camera_id, 1)])

        async def hangs() -> bool:
            return hung.handed == 1

        await until("the hanging instance takes the report", hangs)
        await dying.close()
        cut = time.monotonic()
        async with app_server(bus, services.nodes):

            async def applied() -> bool:
                return len(await indexed(services, camera_id)) == 2

            await until("another instance applies it", applied)
            assert time.monotonic() - cut < 5
        await hanging.stop()
    finally:
        await other.close()


@SQLITE_ONLY
async def test_a_nodes_outbox_delivers_over_the_bus_once_it_can(
    bus: Client, node_client: Client, services: Services, tmp_path: Path
) -> None:
    camera_id = await add_camera(services)
    side = NatsAppSide(node_client, NODE, SECONDS)
    outbox = Outbox(tmp_path / "outbox", side, NODE, retry_seconds=RETRY)
    record = segment(camera_id, 0)
    outbox.recorded([record])
    assert not await outbox.flush()  # no stream yet: the bus is not set up
    assert outbox.pending() == 1
    async with app_server(bus, services.nodes):
        assert await outbox.flush()
        assert outbox.pending() == 0  # its file deleted once the stream had it
        assert await side.indexed_paths(NODE, camera_id) == {record.path}
    assert await indexed(services, camera_id) == [record.path]
