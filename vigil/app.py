"""Composition root: settings in, running services out, started and stopped in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field

from vigil import __version__
from vigil.auth.service import AuthService
from vigil.auth.throttle import Throttle
from vigil.cameras.service import CameraService
from vigil.events.service import EventService
from vigil.exports.service import ExportService
from vigil.library.search import SearchIndex
from vigil.library.service import LibraryService
from vigil.library.storage import Lifecycle, Tiered
from vigil.library.tus import Uploads
from vigil.link.local import LocalLink
from vigil.media.ffmpeg import find_ffmpeg
from vigil.mqtt.bridge import MqttBridge
from vigil.mqtt.publisher import Command, MqttPublisher
from vigil.node.node import MediaNode
from vigil.nodes.registry import NodeRegistry
from vigil.secrets import SecretBox
from vigil.settings import LibrarySettings, Settings
from vigil.store.cameras import CameraNotFound, CameraStore
from vigil.store.database import Database
from vigil.store.events import EventStore
from vigil.store.exports import ExportStore
from vigil.store.library import LibraryStore
from vigil.store.migrate import upgrade
from vigil.store.nodes import NodeStore
from vigil.store.segments import SegmentIndex

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    """Everything the API needs, built once and handed down."""

    settings: Settings
    db: Database
    cameras: CameraService
    segments: SegmentIndex
    nodes: NodeRegistry
    node: MediaNode | None
    exports: ExportService
    auth: AuthService
    events: EventService
    library: LibraryService
    uploads: Uploads
    mqtt: MqttPublisher | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def secret_box(settings: Settings) -> SecretBox:
    if settings.secret_key:
        return SecretBox(settings.secret_key)
    return SecretBox.from_key_file(settings.state_dir / "secret.key")


async def open_database(settings: Settings) -> Database:
    """Connect, then migrate to the newest schema. Raises DatabaseUnavailable."""
    db = Database(settings.database_url)
    try:
        await db.check()
        await asyncio.to_thread(upgrade, settings.database_url)
    except BaseException:
        await db.close()
        raise
    return db


async def start_services(settings: Settings, with_node: bool = True) -> Services:
    # Before anything is opened: an unusable ffmpeg is a clear error (FfmpegUnusable).
    ffmpeg = find_ffmpeg(settings.node.ffmpeg)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = await open_database(settings)
    segments = SegmentIndex(db)
    box = secret_box(settings)
    store = CameraStore(db, box)
    registry = NodeRegistry(store, segments)
    cameras = CameraService(store, registry, settings.node.name, NodeStore(db))
    events = EventService(EventStore(db), registry, store)
    registry.events = events  # before the node starts: it reports what it left pending
    node = None
    if with_node:
        node = MediaNode(
            settings.node,
            settings.retention,
            LocalLink(registry),
            settings.recordings_dir,
            settings.state_dir / "node",
            box=box,  # the installation's key: one process, one key
        )
        registry.attach(node.name, node)
        await node.start()
    exports = ExportService(
        ExportStore(db),
        store,
        segments,
        registry,
        settings.data_dir / "exports",
        ffmpeg,
        runner=instance_name(settings),
    )
    await exports.start()
    auth = AuthService(settings.auth, db, box)
    library = await start_library(settings, db, store)
    uploads = Uploads(
        db,
        settings.data_dir / "uploads",
        max_size=settings.library.max_upload_bytes,
        lifetime_ms=round(settings.library.upload_expiry_hours * 3_600_000),
    )
    services = Services(
        settings, db, cameras, segments, registry, node, exports, auth, events, library, uploads
    )
    services.tasks.append(
        asyncio.create_task(
            library_housekeeping(library, uploads, settings.library),
            name="library-housekeeping",
        )
    )
    services.tasks.append(
        asyncio.create_task(
            events.run_expiry(settings.retention.interval_seconds), name="event-retention"
        )
    )
    if settings.mqtt.enabled:
        services.mqtt = await start_mqtt(services)
    return services


def instance_name(settings: Settings) -> str:
    """This application instance's name in the work it claims (exports, library
    processing): the same across its restarts, different from the other instances'."""
    return f"{socket.gethostname()}:{settings.server.port}"


async def start_library(settings: Settings, db: Database, cameras: CameraStore) -> LibraryService:
    """The media library: its stores (local or S3, hot and cold), search, processing."""

    async def camera_name(camera_id: int) -> str | None:
        with contextlib.suppress(CameraNotFound):
            return (await cameras.get(camera_id)).name
        return None

    stores = Tiered.from_settings(settings.library.storage, settings.data_dir)
    library = LibraryService(
        LibraryStore(db),
        stores,
        SearchIndex(db),
        settings.data_dir / "library-work",
        camera_name,
        Lifecycle.from_settings(settings.library.storage, stores),
        Throttle.of_guesses_at("link", settings.auth),
        runner=instance_name(settings),
    )
    await library.start()
    return library


async def library_housekeeping(
    library: LibraryService, uploads: Uploads, settings: LibrarySettings
) -> None:
    """Now and then: note storage use, move old items to the cold store, drop uploads
    nobody finished."""
    while True:
        try:
            await library.sample_usage()
            moved = await library.move_cold()
            if moved:
                log.info("library lifecycle moved %d items to the cold store", moved)
            await uploads.sweep()
        except Exception:
            log.exception("library housekeeping failed")
        await asyncio.sleep(settings.housekeeping_minutes * 60)


async def start_mqtt(services: Services) -> MqttPublisher:
    """Publish cameras, their status, switches, events and activity; the broker may come later."""

    async def on_command(command: Command) -> bool | None:
        return await bridge.command(command)

    publisher = MqttPublisher(services.settings.mqtt, on_command, sw_version=__version__)
    bridge = MqttBridge(
        publisher, services.cameras, services.nodes, services.auth.audit, services.events
    )
    services.cameras.on_change = bridge.announce
    services.nodes.on_status = bridge.status_changed
    services.events.listeners.append(bridge.relay.event_changed)
    services.events.activity_listeners.append(bridge.activity)
    await bridge.announce()
    # Only starts a task: connecting (and reconnecting) happens in the background.
    await publisher.start()
    return publisher


async def stop_services(services: Services) -> None:
    for task in services.tasks:
        task.cancel()
    await asyncio.gather(*services.tasks, return_exceptions=True)
    await services.library.stop()
    if services.mqtt is not None:
        await services.mqtt.stop()  # first, so "offline" goes out while all else still runs
    await services.exports.stop()
    if services.node is not None:
        await services.node.stop()
        services.nodes.detach(services.node.name)
    await services.db.close()
