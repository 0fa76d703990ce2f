"""``vigil node``, ``vigil app`` and ``vigil bus``: the application server and media nodes as
separate processes on separate machines, joined by the bus.

A node dials out (it listens on no port): it answers the application side's calls on its
own subjects, reports through JetStream and beats into the nodes' bucket. Each application
instance answers the nodes, applies their reports and attaches every node that beats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from vigil import allocator
from vigil.cameras.placement import Placement
from vigil.link.nats.app_client import NatsAppSide
from vigil.link.nats.app_server import AppServer
from vigil.link.nats.assignments import Assignments, holders
from vigil.link.nats.connection import Bus
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.leader import Leadership
from vigil.link.nats.liveness import Beat, Heartbeat, NodeWatcher
from vigil.link.nats.node_client import NatsNodeSide
from vigil.link.nats.node_server import NodeServer
from vigil.link.nats.subjects import APP_USER, check_node_name
from vigil.settings import Settings
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)


class BusNotConfigured(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} needs the bus: set bus.url and bus.password (VIGIL_BUS__URL, "
            "VIGIL_BUS__PASSWORD)"
        )


@contextlib.asynccontextmanager
async def _until_signalled() -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _password(settings: Settings, what: str) -> str:
    if not settings.bus.url or settings.bus.password is None:
        raise BusNotConfigured(what)
    return settings.bus.password.get_secret_value()


def _bus(settings: Settings, user: str, what: str) -> Bus:
    """This process's connection to the bus, as ``user``."""
    return Bus(
        settings.bus.url,
        user,
        _password(settings, what),
        f"{what.replace(' ', '-')}-{user}",
        ca_file=settings.bus.tls_ca_file,
    )


async def run_node(settings: Settings) -> None:
    """Record this node's cameras and serve their media to the application side. The node
    starts whether or not the bus is there (from its copy of its cameras, if the
    application side cannot be asked) and joins the bus when it can."""
    from vigil.app import secret_box
    from vigil.media.ffmpeg import find_ffmpeg
    from vigil.node.node import MediaNode

    find_ffmpeg(settings.node.ffmpeg)  # FfmpegUnusable before anything starts
    name = check_node_name(settings.node.name)
    bus = _bus(settings, name, "vigil node")
    await bus.start()  # a refused password ends here; an absent bus is tried again
    node = MediaNode(
        settings.node,
        settings.retention,
        NatsAppSide(bus, name, settings.bus.call_timeout_seconds),
        settings.recordings_dir,
        settings.state_dir / "node",
        box=secret_box(settings),
        holders=lambda cameras: holders(bus.client, cameras),
    )
    started = now_ms()

    async def beat() -> Beat:
        total, _, free = await node.disk_usage()
        cameras = sorted(status.camera_id for status in node.statuses())
        return Beat(
            started_ms=started,
            cameras=cameras,
            capacity=settings.node.max_cameras,
            disk_total=total,
            disk_free=free,
            sent_ms=now_ms(),
        )

    server: NodeServer | None = None
    heartbeat: Heartbeat | None = None

    async def join() -> None:
        """Once on the bus: answer the application side, and beat."""
        nonlocal server, heartbeat
        client = await bus.connected()
        # Cameras that moved while this node was taken for dead stop before anything else.
        await node.fence()
        server = NodeServer(client, name, node)
        await server.start()
        heartbeat = Heartbeat(client, name, settings.bus.heartbeat_seconds, beat)
        heartbeat.start()
        log.info("node %s on the bus at %s", name, settings.bus.url)

    async with _until_signalled() as stop:
        await node.start()
        joining = asyncio.create_task(join(), name="join-bus")
        # As the application's server does: freed C memory back to the system (allocator).
        trimming = asyncio.create_task(allocator.trim_every(), name="trim")
        try:
            await stop.wait()
        finally:
            trimming.cancel()
            joining.cancel()
            if heartbeat is not None:
                await _bounded("heartbeat", heartbeat.stop())
            await node.stop()  # recorders finish their segments, the outbox delivers
            if server is not None:
                await _bounded("answering the application", server.stop())
            await _bounded("bus connection", bus.close())


async def run_app(settings: Settings) -> None:
    """The API and the pages, the database and the nodes' reports; no media here."""
    from vigil.api.app import create_app
    from vigil.app import start_services, stop_services
    from vigil.server import serve_http

    bus = _bus(settings, APP_USER, "vigil app")
    await bus.start()  # a refused password ends here; an absent bus is waited for
    client = await bus.connected()
    services = await start_services(settings, with_node=False)
    assignments = Assignments(client)
    await assignments.start()
    services.cameras.on_assign = assignments.put
    seconds = settings.bus.call_timeout_seconds
    server = AppServer(client, services.nodes)
    watcher = NodeWatcher(
        client,
        services.nodes,
        lambda node: NatsNodeSide(client, node, seconds),
        settings.bus.node_dead_seconds,
    )
    me = f"{socket.gethostname()}:{settings.server.port}:{os.getpid()}"
    leadership = Leadership(client, me)
    placement = Placement(
        services.cameras,
        lambda: {name: beat.capacity for name, beat in watcher.alive().items()},
        lambda: leadership.leading,
        services.segments.newest_end,
        settings.bus.node_dead_seconds,
        recording=lambda: {name: beat.cameras for name, beat in watcher.alive().items()},
    )
    moving = asyncio.create_task(_every(1.0, placement.check), name="placement")
    try:
        # Made first: it holds the loop for a moment (seconds on a loaded box), which
        # would let a leadership just taken lapse.
        api = create_app(settings, services)
        await server.start()
        await watcher.start()
        await leadership.start()
        log.info("Vigil at http://%s:%d/", settings.server.host, settings.server.port)
        await serve_http(settings, services, api)
    finally:
        moving.cancel()
        await _bounded("hand-overs", placement.stop())
        # Each step bounded: a bus gone quiet must not keep the process from ending.
        await _bounded("leadership", leadership.stop())
        await _bounded("node watcher", watcher.stop())
        await _bounded("answering nodes", server.stop())
        await stop_services(services)
        await _bounded("bus connection", bus.close())


async def _bounded(what: str, step: Awaitable[object], seconds: float = 10.0) -> None:
    """Await a step of stopping, giving up on it after ``seconds``."""
    try:
        await asyncio.wait_for(step, seconds)
    except TimeoutError:
        log.warning("stopping: %s took more than %g s; going on", what, seconds)
    except Exception as exc:
        log.warning("stopping: %s failed: %s", what, exc)


async def _every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("%s failed", getattr(job, "__qualname__", job))


async def run_bus(settings: Settings, folder: Path, host: str, port: int) -> None:
    """A nats-server for the application and the nodes named in ``bus.node_passwords``."""
    if settings.bus.password is None:
        raise BusNotConfigured("vigil bus")
    passwords = {
        check_node_name(node): secret.get_secret_value()
        for node, secret in settings.bus.node_passwords.items()
    }
    server = NatsServer(
        folder,
        settings.bus.password.get_secret_value(),
        passwords,
        host,
        port,
        tls_cert_file=settings.bus.tls_cert_file,
        tls_key_file=settings.bus.tls_key_file,
    )
    async with _until_signalled() as stop:
        await asyncio.to_thread(server.start)
        try:
            log.info("bus at %s for %d node(s)", server.url, len(passwords))
            await stop.wait()
        finally:
            await asyncio.to_thread(server.stop)
