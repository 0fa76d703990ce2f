"""The media node: recorders for its cameras, the outbox, retention; the node side of the link."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

from vigil.detect.objects import DetectorError, DetectorPool, DetectorSpec
from vigil.detect.settings import DetectionSettings
from vigil.link.messages import (
    CameraActivity,
    CameraConfig,
    CameraState,
    CameraStatus,
    CutOrder,
    CutState,
    SegmentRecord,
    SourceProbe,
)
from vigil.link.protocol import AppSide, H264Part, LinkUnavailable
from vigil.media.ffmpeg import find_ffmpeg
from vigil.node.configs import ConfigCopy, node_box
from vigil.node.cuts import Cuts
from vigil.node.detect_stream import DetectStream
from vigil.node.detection import CameraDetection, DetectionHealth
from vigil.node.ffmpeg import detect_from_sub
from vigil.node.layout import SNAPSHOTS_DIR, RecordingsLayout, remove_segment_file
from vigil.node.live import LiveStream
from vigil.node.media import RecordedMedia
from vigil.node.on_demand import UNREPORTED, OnDemandStream
from vigil.node.outbox import Outbox
from vigil.node.reconcile import reconcile_camera
from vigil.node.recorder import CameraRecorder
from vigil.node.retention import Retention, RetentionReport
from vigil.node.source_probe import probe_source
from vigil.node.transcode import Transcodes, same_source
from vigil.playback.fragments import FragmentIndex
from vigil.playback.transcode import RecordedH264
from vigil.secrets import SecretBox
from vigil.settings import NodeSettings, RetentionSettings
from vigil.tasks import cancel
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

# How long a stopping node waits for its cameras' last statuses to reach the application.
_LAST_STATUS_SECONDS = 2.0
# Which node holds each of these cameras now, and under which assignment (absent: unknown).
Holders = Callable[[list[int]], Awaitable[Mapping[int, tuple[str, int]]]]

# Changing any of these restarts the camera's ffmpeg; other fields apply in place.
_RESTART_FIELDS = ("main_url", "username", "password", "segment_seconds", "enabled", "recording")


def _same_detect(old: CameraConfig, new: CameraConfig) -> bool:
    """Whether the detect output of the camera's ffmpeg stays as it is."""
    if old.detect != new.detect:
        return False
    # Detection reading the sub stream: the recording ffmpeg has it as its second input.
    return not detect_from_sub(new) or old.sub_url == new.sub_url


class MediaNode:
    """Implements :class:`vigil.link.protocol.NodeSide` and drives one recorder per camera."""

    def __init__(
        self,
        settings: NodeSettings,
        retention: RetentionSettings,
        app: AppSide,
        recordings_dir: Path,
        state_dir: Path,
        box: SecretBox | None = None,
        holders: Holders | None = None,
    ) -> None:
        """``box`` encrypts the node's copy of its cameras' configuration: the caller's
        choice of key (the installation's, in one process with the application server);
        by default the node's own key file in ``state_dir``. ``holders`` says, without the
        application side, which node holds each camera now and under which assignment (the
        bus's record of them): the fence for a node that runs from its copy."""
        self.name = settings.name
        self._holders = holders
        self._settings = settings
        self._retention_interval = retention.interval_seconds
        self._app = app
        recordings_dir.mkdir(parents=True, exist_ok=True)
        self.layout = RecordingsLayout(recordings_dir)
        self.media: RecordedMedia  # once ffmpeg is found (below)
        self.copy = ConfigCopy(state_dir, box if box is not None else node_box(state_dir))
        # Set when the application side may have changed cameras the node could not hear of.
        self._resync_wanted = asyncio.Event()
        self._resync_task: asyncio.Task[None] | None = None
        # While a resync runs: the cameras the application side set meanwhile (newer than
        # the list the resync fetched, so that list must not undo them).
        self._pushed: set[int] | None = None
        self._started = False  # from then on every change is saved to the copy
        self.outbox = Outbox(
            state_dir / "outbox",
            app,
            self.name,
            settings.outbox_retry_seconds,
            on_back=self._resync_wanted.set,
        )
        self.retention = Retention(
            self.name, app, self.outbox, self.layout, retention.min_free_bytes
        )
        self.ffmpeg = find_ffmpeg(settings.ffmpeg)
        converter = RecordedH264(state_dir / "h264", self.ffmpeg, settings.max_transcodes)
        self.media = RecordedMedia(self.layout, converter)
        self.cuts = Cuts(state_dir / "cuts", self.layout, self.ffmpeg)
        self._configs: dict[int, CameraConfig] = {}
        self._recorders: dict[int, CameraRecorder] = {}
        self._live: dict[int, LiveStream] = {}
        self._subs: dict[int, OnDemandStream] = {}
        self._mains: dict[int, OnDemandStream] = {}  # live view on demand (node.live)
        self._transcodes = Transcodes(self.ffmpeg, settings)
        self._detect: dict[int, DetectStream] = {}
        self._detection: dict[int, CameraDetection] = {}
        self._pool: DetectorPool | None = None
        self._pool_error: str | None = None
        self._pool_lock = asyncio.Lock()
        self._last_status: dict[int, CameraStatus] = {}
        self._unsent_status: set[int] = set()
        self._status_sender: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    # -- life cycle
    async def start(self) -> None:
        """Deliver what the last run left, reconcile disk and index, start recording: the
        cameras the application side has, or while it is away those of the node's copy."""
        await self.cuts.open()
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
        await self.outbox.flush()  # events the last run ended, if it could, go first
        # Whatever the last run left open it cannot end any more (it was killed).
        self.outbox.interrupted(now_ms())
        configs, told = await self._starting_configs()
        for config in configs:  # what the last run was recording when it ended, kept
            recorder = self._new_recorder(config)
            await recorder.recover_incoming()
            if told:  # reconciliation needs the index; without it, the next start does it
                await self.outbox.flush()  # reconcile must see the recovered segment's row
                await self._reconcile(config.id)
        await self.outbox.flush()
        # From its copy: not the cameras moved to another node while it was taken for dead.
        lost = set() if told else await self._lost(configs)
        configs = [config for config in configs if config.id not in lost]
        for config in configs:
            await self._apply(config)
        async with self._lock:
            self._started = True
            # Once, whole (a start cut short leaves the last complete copy); from the copy,
            # only if the application side came back meanwhile and set a camera.
            if told or lost or self._configs != {c.id: c for c in configs}:
                await self._save_copy()
        self._tasks.append(asyncio.create_task(self._retention_loop(), name="retention"))
        self._resync_task = asyncio.create_task(self._resync_loop(), name="resync")

    async def _starting_configs(self) -> tuple[list[CameraConfig], bool]:
        """The cameras to start, and whether they come from the application side."""
        try:
            return await self._app.camera_configs(self.name), True
        except LinkUnavailable as exc:
            configs = await asyncio.to_thread(self.copy.load)
            log.warning(
                "the application server is unavailable (%s): the node records from its local "
                "copy of the configuration of %d cameras, and applies what changed meanwhile "
                "once it is back",
                exc,
                len(configs),
            )
            self._resync_wanted.set()
            return configs, False

    async def _reconcile(self, camera_id: int) -> None:
        try:
            await reconcile_camera(camera_id, self.name, self.layout, self._app, self.outbox)
        except LinkUnavailable:
            log.warning(
                "camera %s: disk and index not reconciled, the application server went away; "
                "the next start does it",
                camera_id,
            )

    async def stop(self) -> None:
        """Stop every recorder (each finishes its segment) and detection (each ends its
        events), deliver the outbox, end tasks."""
        if self._resync_task is not None:  # first: it must start no camera from now on
            self._resync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resync_task
            self._resync_task = None
        async with self._lock:
            recorders = list(self._recorders.values())
            self._recorders.clear()
            detections = list(self._detection.values())
            self._detection.clear()
        await asyncio.gather(*(d.stop() for d in detections))
        await asyncio.gather(*(r.stop() for r in recorders))
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        for live in self._live.values():
            live.close()
        self._live.clear()
        for detect in self._detect.values():
            detect.close()
        self._detect.clear()
        streams = [*self._subs.values(), *self._mains.values()]
        self._subs.clear()
        self._mains.clear()
        await asyncio.gather(*(stream.close() for stream in streams))
        await self._transcodes.close()
        await self.cuts.close()
        with contextlib.suppress(Exception):
            await self.outbox.flush()
        sender = self._status_sender  # the recorders' last statuses: a moment to go
        if sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(sender), _LAST_STATUS_SECONDS)
            await cancel(sender)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def statuses(self) -> list[CameraStatus]:
        return [self._with_detection(r.status) for r in self._recorders.values()]

    # -- NodeSide
    async def apply_camera(self, config: CameraConfig) -> None:
        if self._pushed is not None:
            self._pushed.add(config.id)
        await self._apply(config)

    async def _apply(self, config: CameraConfig) -> None:
        async with self._lock:
            old = self._configs.get(config.id)
            self._configs[config.id] = config
            if self._started:
                await self._save_copy()
            recorder = self._recorders.get(config.id)
            same = old is not None and all(
                getattr(old, f) == getattr(config, f) for f in _RESTART_FIELDS
            )
            sub_same = same and old is not None and old.sub_url == config.sub_url
            if old is not None and not (config.enabled and same_source(old, config)):
                await self._transcodes.remove(config.id)  # its viewers reconnect
            if not self._live_on_demand(config) or (
                old is not None and not same_source(old, config)
            ):
                await self._close_main(config.id)  # its viewers reconnect
            if old is not None and not _same_detect(old, config):
                same = False
            sub = self._subs.get(config.id)
            if sub is not None and not sub_same:
                del self._subs[config.id]
                await sub.close()  # its viewers reconnect to the new sub stream
            if recorder is not None and same:
                recorder.config = config
                await self._apply_detection(config)
                self._keep_sub_stream(config)
                return
            if recorder is not None:
                await recorder.stop()
                del self._recorders[config.id]
                await self.outbox.flush()  # its last segment is indexed before we answer
            # An enabled camera's ffmpeg runs for live view even when it does not record.
            if config.enabled:
                live = None
                if self._live_on_demand(config):
                    self._close_live(config.id)  # its viewers reconnect, to the stream on demand
                else:
                    live = self._live.setdefault(config.id, LiveStream(config.id))
                recorder = self._new_recorder(config, live, self._detect_stream(config))
                self._recorders[config.id] = recorder
                recorder.start()
                await self._apply_detection(config)
                self._keep_sub_stream(config)
            else:
                await self._close_on_demand(config.id)
                await self._stop_detection(config.id)
                self._close_live(config.id)
                self._close_detect(config.id)
                # Said before the command returns: whoever disabled it sees it disabled.
                disabled = CameraStatus(
                    camera_id=config.id, state=CameraState.DISABLED, changed_ms=now_ms()
                )
                self._last_status[config.id] = disabled
                sender = self._status_sender  # an older status in flight lands first
                if sender is not None and not sender.done():
                    await asyncio.shield(sender)
                with contextlib.suppress(LinkUnavailable):
                    await self._app.report_status(self.name, disabled)

    async def remove_camera(self, camera_id: int, delete_footage: bool) -> None:
        if self._pushed is not None:
            self._pushed.add(camera_id)
        await self._remove(camera_id, delete_footage)

    async def _remove(self, camera_id: int, delete_footage: bool) -> None:
        async with self._lock:
            self._configs.pop(camera_id, None)
            recorder = self._recorders.pop(camera_id, None)
            if self._started:
                await self._save_copy()
        await self._stop_detection(camera_id)
        if recorder is not None:
            await recorder.stop()
        self._close_live(camera_id)
        self._close_detect(camera_id)
        self._last_status.pop(camera_id, None)
        await self._close_on_demand(camera_id)
        await self._transcodes.remove(camera_id)
        if delete_footage:
            await asyncio.to_thread(shutil.rmtree, self.layout.camera_dir(camera_id), True)
            snapshots = self.layout.root / SNAPSHOTS_DIR / str(camera_id)
            await asyncio.to_thread(shutil.rmtree, snapshots, True)

    # -- the copy of the configuration, and catching up with the application side
    async def _save_copy(self) -> None:
        """Make the copy what the node runs now. Called holding ``_lock``: saves land in
        the order of the changes. A failed save is said and survived: the change itself
        is applied, and the next one saves again."""
        try:
            await asyncio.to_thread(self.copy.save, list(self._configs.values()))
        except OSError as exc:
            log.error(
                "the node's copy of its camera configuration could not be saved (%s): a start "
                "while the application server is away would use an older one",
                exc,
            )

    async def _resync_loop(self) -> None:
        """Each time the application side may have changed cameras unheard (the node
        started from its copy, or the outbox found it back after an outage), ask it for
        the node's cameras until it answers once, and apply what differs."""
        while True:
            await self._resync_wanted.wait()
            self._resync_wanted.clear()
            try:
                await self.resync()
            except LinkUnavailable:
                self._resync_wanted.set()
                await self.fence()  # the bus may be back before the application side
            except Exception:
                log.exception("catching up with the application server's cameras failed")
                self._resync_wanted.set()
            if self._resync_wanted.is_set():
                await asyncio.sleep(self._settings.outbox_retry_seconds)

    async def _lost(self, configs: Iterable[CameraConfig]) -> set[int]:
        """Which of ``configs`` another node holds now under a higher assignment (moved
        while this node was away); none if the holders cannot be asked."""
        configs = list(configs)
        if self._holders is None or not configs:
            return set()
        try:
            holders = await self._holders([config.id for config in configs])
        except LinkUnavailable as exc:
            log.debug("camera assignments not read: %s", exc)
            return set()
        lost = set()
        for config in configs:
            holder = holders.get(config.id)
            if holder is not None and holder[0] != self.name and holder[1] > config.assignment:
                log.warning(
                    "camera %s moved to node %s while this node was away: not recorded "
                    "here, its footage kept", config.id, holder[0],
                )  # fmt: skip
                lost.add(config.id)
        return lost

    async def fence(self) -> int:
        """Stop the cameras that moved to another node while this one could not be told
        (it was taken for dead): they must not be recorded twice. How many stopped."""
        lost = await self._lost(self._configs.values())
        for camera_id in lost:
            await self._remove(camera_id, delete_footage=False)
        return len(lost)

    async def resync(self) -> None:
        """Apply the application side's list of the node's cameras: start those added,
        restart or change those changed, stop those removed. LinkUnavailable if it is away.

        A camera no longer in the list is stopped and its footage left where it is: it may
        have moved to another node (failover), and what it recorded here is indexed as
        this node's and plays from here; absence from a list is no order to delete (a
        database restored from an older backup lacks cameras too), unlike the removal the
        application side sends when it deletes a camera."""
        self._pushed = set()
        removed = changed = 0
        try:
            wanted = {c.id: c for c in await self._app.camera_configs(self.name)}
            # Each checked just before it is applied (no await in between): a camera the
            # application side sets meanwhile keeps what it set.
            for camera_id in [i for i in self._configs if i not in wanted]:
                if camera_id not in self._pushed:
                    await self._remove(camera_id, delete_footage=False)
                    removed += 1
                    log.warning(
                        "camera %s is no longer this node's (moved to another node, or "
                        "deleted, while it could not be told): stopped, its footage kept",
                        camera_id,
                    )
            for config in wanted.values():
                if self._configs.get(config.id) != config and config.id not in self._pushed:
                    await self._apply(config)
                    changed += 1
        finally:
            self._pushed = None
        if removed or changed:
            log.info(
                "the application server's cameras applied: %d added or changed, %d removed",
                changed,
                removed,
            )

    async def delete_files(self, paths: list[str]) -> None:
        for key in paths:
            remove_segment_file(self.layout.path(key), self.layout.root)

    def live_stream(self, camera_id: int, sub: bool = False) -> LiveStream | None:
        config = self._configs.get(camera_id)
        if config is not None and config.enabled:
            if sub and config.sub_url:
                return self._sub_stream(config).stream
            if self._live_on_demand(config):
                return self._main_stream(config).stream
        return self._live.get(camera_id)

    def transcoded_stream(self, camera_id: int) -> LiveStream | None:
        config = self._configs.get(camera_id)
        if config is None or not config.enabled:
            return None
        return self._transcodes.stream(config)

    def _keep_sub_stream(self, config: CameraConfig) -> None:
        """With ``node.sub_streams = "always"``, an enabled camera's sub stream runs unwatched."""
        if config.sub_url and self._settings.sub_streams == "always":
            self._sub_stream(config).keep_running()

    def _sub_stream(self, config: CameraConfig) -> OnDemandStream:
        if config.id not in self._subs:
            assert config.sub_url is not None
            self._subs[config.id] = self._on_demand(config, config.sub_url, "sub stream")
        return self._subs[config.id]

    def _live_on_demand(self, config: CameraConfig) -> bool:
        """Whether the camera's live view is an ffmpeg of its own, run while watched
        (``node.live = "on_demand"``), rather than an output of its recording ffmpeg."""
        return config.enabled and config.recording and self._settings.live == "on_demand"

    def _main_stream(self, config: CameraConfig) -> OnDemandStream:
        if config.id not in self._mains:
            self._mains[config.id] = self._on_demand(config, config.main_url, "live view")
        return self._mains[config.id]

    def _on_demand(self, config: CameraConfig, url: str, what: str) -> OnDemandStream:
        camera_id = config.id

        def camera_streams() -> bool:
            recorder = self._recorders.get(camera_id)
            return recorder is not None and recorder.status.state is CameraState.STREAMING

        return OnDemandStream(config, url, self._live_only_recorder, what, camera_streams)

    async def _close_main(self, camera_id: int) -> None:
        main = self._mains.pop(camera_id, None)
        if main is not None:
            await main.close()

    async def _close_on_demand(self, camera_id: int) -> None:
        """End the camera's sub stream and its live view on demand (it is off or gone)."""
        sub = self._subs.pop(camera_id, None)
        if sub is not None:
            await sub.close()
        await self._close_main(camera_id)

    def detect_frames(self, camera_id: int) -> DetectStream | None:
        """The camera's frames for detection; None unless it is enabled with detection on."""
        return self._detect.get(camera_id)

    def detection_settings(self, camera_id: int) -> DetectionSettings | None:
        """The settings (zones, masks, labels) the camera's running detection uses; None
        unless its detection is running."""
        detection = self._detection.get(camera_id)
        return None if detection is None else detection.settings

    def detection_health(self, camera_id: int) -> DetectionHealth | None:
        """What the camera's detection says now (frames processed and dropped, detector
        errors); None unless its detection is running."""
        detection = self._detection.get(camera_id)
        return None if detection is None else detection.health

    def recording_file(self, path: str) -> Path:
        return self.layout.path(path)

    async def file_size(self, path: str) -> int:
        return await self.media.file_size(path)

    async def read_file(self, path: str, first: int, last: int, shift_us: int = 0) -> bytes:
        return await self.media.read_file(path, first, last, shift_us)

    async def fragment_indexes(self, paths: list[str]) -> list[FragmentIndex | None]:
        return await self.media.fragment_indexes(paths)

    async def frame(self, path: str, offset_ms: int) -> bytes:
        return await self.media.frame(path, offset_ms)

    async def preview(self, path: str) -> bytes:
        return await self.media.preview(path)

    async def convert_h264(self, path: str, video_codec: str | None) -> tuple[int, int]:
        return await self.media.convert_h264(path, video_codec)

    async def read_h264(self, path: str, part: H264Part, first: int, last: int) -> bytes:
        return await self.media.read_h264(path, part, first, last)

    async def start_cut(self, key: str, order: CutOrder) -> CutState:
        return self.cuts.start(key, order)

    async def cut_state(self, key: str) -> CutState:
        return self.cuts.state(key)

    async def read_cut(self, key: str, first: int, last: int) -> bytes:
        return await self.cuts.read(key, first, last)

    def cut_file(self, key: str) -> Path:
        return self.cuts.local_file(key)

    async def drop_cut(self, key: str) -> None:
        await self.cuts.drop(key)

    async def disk_usage(self) -> tuple[int, int, int]:
        usage = await asyncio.to_thread(shutil.disk_usage, self.layout.root)
        return usage.total, usage.used, usage.free

    async def probe_source(
        self, url: str, username: str | None, password: str | None, timeout_seconds: float
    ) -> SourceProbe:
        return await probe_source(url, username, password, timeout_seconds)

    # -- RecorderSink
    async def segment_finished(self, record: SegmentRecord) -> None:
        self.outbox.recorded([record])

    async def status_changed(self, status: CameraStatus) -> None:
        self._last_status[status.camera_id] = status
        self._report_status(status.camera_id)

    def _report_status(self, camera_id: int) -> None:
        """Tell the application side the camera's newest status, in the background: a
        recorder says its status after every segment it places, and an application side
        that is slow or away must not hold up the recording. Of a camera's statuses only
        the newest waits its turn; one the application side does not take is not sent
        again (the next replaces it)."""
        self._unsent_status.add(camera_id)
        if self._status_sender is None or self._status_sender.done():
            self._status_sender = asyncio.create_task(self._send_statuses(), name="statuses")

    async def _send_statuses(self) -> None:
        while self._unsent_status:
            camera_id = min(self._unsent_status)
            self._unsent_status.discard(camera_id)
            status = self._last_status.get(camera_id)
            if status is None:
                continue  # removed meanwhile
            with contextlib.suppress(LinkUnavailable):
                await self._app.report_status(self.name, self._with_detection(status))

    # -- detection
    def _with_detection(self, status: CameraStatus) -> CameraStatus:
        """The recorder's status with what detection says added."""
        detection = self._detection.get(status.camera_id)
        if detection is None:
            return status
        health = detection.health
        return status.model_copy(
            update={
                "detection": health.state,
                "detection_error": health.error,
                "detector_errors": health.detector_errors,
                "detect_frames_dropped": health.dropped,
            }
        )

    async def _detection_health_changed(self, camera_id: int) -> None:
        if camera_id in self._last_status:
            self._report_status(camera_id)

    async def _apply_detection(self, config: CameraConfig) -> None:
        """Start, restart or stop the camera's detection to match ``config``."""
        settings = config.detection if config.detect is not None else None
        running = self._detection.get(config.id)
        if running is not None and settings is not None and running.settings == settings:
            return
        await self._stop_detection(config.id)
        stream = self._detect.get(config.id)
        if settings is None or stream is None:
            return
        detection = CameraDetection(
            config.id,
            settings,
            stream,
            self._detector_pool,
            lambda: self._pool_error,
            self.layout,
            self.outbox,
            self._send_activity,
            lambda: self._detection_health_changed(config.id),
        )
        self._detection[config.id] = detection
        detection.start()

    async def _stop_detection(self, camera_id: int) -> None:
        detection = self._detection.pop(camera_id, None)
        if detection is not None:
            await detection.stop()
            await self._detection_health_changed(camera_id)

    async def _send_activity(self, activity: CameraActivity) -> None:
        with contextlib.suppress(LinkUnavailable):
            await self._app.camera_activity(self.name, activity)

    async def _detector_pool(self) -> DetectorPool | None:
        """The object detector shared by the node's cameras, started on first use; None
        (with ``_pool_error`` saying why) if it cannot start: cameras then detect motion."""
        async with self._pool_lock:
            if self._pool is None and self._pool_error is None:
                settings = self._settings
                spec = DetectorSpec(settings.detector, dict(settings.detector_options))
                pool = DetectorPool(spec, workers=settings.detector_workers)
                try:
                    await pool.start()
                except (DetectorError, OSError) as e:
                    self._pool_error = f"object detector {settings.detector!r} unavailable: {e}"
                    log.error("%s; cameras detect motion only", self._pool_error)
                else:
                    self._pool = pool
                    log.info(
                        "object detector %r running in %d workers",
                        settings.detector,
                        settings.detector_workers,
                    )
            return self._pool

    # -- retention
    async def enforce_retention(self) -> RetentionReport:
        report = await self.retention.run(list(self._configs.values()))
        if report.by_mode or report.by_age or report.by_size or report.by_free_space:
            log.info(
                "retention deleted %d segments around no event, %d by age, %d by size cap, "
                "%d for free space (%d bytes)",
                report.by_mode,
                report.by_age,
                report.by_size,
                report.by_free_space,
                report.bytes_freed,
            )
        return report

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(self._retention_interval)
            try:
                await self.enforce_retention()
            except LinkUnavailable:
                log.warning("retention postponed: the application server is unavailable")
            except Exception:
                log.exception("retention pass failed")

    def _new_recorder(
        self,
        config: CameraConfig,
        live: LiveStream | None = None,
        detect: DetectStream | None = None,
    ) -> CameraRecorder:
        return CameraRecorder(
            config, self.layout, self.ffmpeg, self._settings, self, live=live, detect=detect
        )

    def _detect_stream(self, config: CameraConfig) -> DetectStream | None:
        """The stream a restarted recorder feeds: subscribers stay across ffmpeg restarts."""
        if config.detect is None:
            self._close_detect(config.id)
            return None
        return self._detect.setdefault(config.id, DetectStream(config.id))

    def _live_only_recorder(self, config: CameraConfig, live: LiveStream) -> CameraRecorder:
        return CameraRecorder(
            config, self.layout, self.ffmpeg, self._settings, UNREPORTED, live=live
        )

    def _close_detect(self, camera_id: int) -> None:
        detect = self._detect.pop(camera_id, None)
        if detect is not None:
            detect.close()

    def _close_live(self, camera_id: int) -> None:
        live = self._live.pop(camera_id, None)
        if live is not None:
            live.close()
