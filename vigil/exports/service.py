"""Export jobs: accept a request, run it in the background, keep the result until deleted.

Exports live in ``<data_dir>/exports/<id>/``, outside the recordings folder, so retention
never sees them. A small pool of workers (one by default: an export is disk-bound) takes
queued exports in order; each runs one ffmpeg per camera, one camera after the other.

With several application instances, any of them runs an export: a worker claims it in
one statement, so exactly one does, and says every few seconds that it still runs it; an
export whose instance falls silent is queued again and taken up by another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vigil import __version__
from vigil.exports.ffmpeg import FfmpegFailed
from vigil.exports.job import (
    CameraJob,
    FootageGone,
    covered_ms,
    cut_source,
    export_camera,
    fetch,
    pin_sources,
)
from vigil.exports.manifest import (
    CUSTODY_FILES,
    ExportedFile,
    Manifest,
    sha256_file,
    write_manifest,
)
from vigil.exports.media import UnreadableMedia
from vigil.link.messages import CutOrder
from vigil.link.protocol import LinkUnavailable, MediaNotFound, NodeSide
from vigil.media.ffmpeg import version_line
from vigil.nodes.registry import NodeRegistry, UnknownNode
from vigil.store.cameras import CameraNotFound, CameraStore
from vigil.store.database import DatabaseUnavailable
from vigil.store.exports import ExportNotFound, ExportStore
from vigil.store.models import Camera, Export, Segment
from vigil.store.segments import SegmentIndex
from vigil.tasks import cancel, every
from vigil.timeutil import iso, now_ms

log = logging.getLogger(__name__)

ExportStatus = Literal["queued", "running", "done", "failed"]
# An export is at most a day of footage: 24 h of a 4 Mbit/s camera is ~43 GB per camera.
MAX_RANGE_MS = 24 * 3_600_000
_WORK = ".work"
_PROGRESS_EVERY_S = 0.5
# A running export says so every _BEAT_S; one silent for _ABANDONED_MS has lost its
# instance and is queued again; every instance looks for those every _SWEEP_S.
_BEAT_S = 10.0
_ABANDONED_MS = 60_000
_SWEEP_S = 30.0
_CUT_RESTARTS = 2  # a node that restarts mid-cut is asked again, this many times


class NoFootage(Exception):
    """Cameras without any recording in the requested range."""

    def __init__(self, cameras: Sequence[Camera], start_ms: int, end_ms: int) -> None:
        names = ", ".join(f"{c.id} ({c.name})" for c in cameras)
        noun = "camera" if len(cameras) == 1 else "cameras"
        super().__init__(f"no footage of {noun} {names} from {iso(start_ms)} to {iso(end_ms)}")
        self.camera_ids = [c.id for c in cameras]
        self.start_ms = start_ms
        self.end_ms = end_ms


class ExportFileNotFound(Exception):
    def __init__(self, export_id: int, name: str) -> None:
        super().__init__(f"export {export_id} has no file named {name!r}")
        self.export_id = export_id
        self.name = name


@dataclass(frozen=True, slots=True)
class ExportRequest:
    camera_ids: list[int]
    start_ms: int
    end_ms: int
    burn_in: bool
    title: str | None
    org_id: int
    requested_by: str
    requested_by_id: int | None = None


class ExportService:
    def __init__(
        self,
        store: ExportStore,
        cameras: CameraStore,
        segments: SegmentIndex,
        nodes: NodeRegistry,
        root: Path,
        ffmpeg: str,
        workers: int = 1,
        runner: str | None = None,
    ) -> None:
        """``runner`` names this application instance in the exports it runs; it should
        stay the same across restarts (by default: the host's name), so that a restarted
        instance takes up its own unfinished exports at once."""
        self.store = store
        self._cameras = cameras
        self._segments = segments
        self._nodes = nodes
        self.root = root
        self._ffmpeg = ffmpeg
        self._workers = workers
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._running: dict[int, asyncio.Task[None]] = {}
        self._waiting: set[int] = set()  # in the queue
        self.runner = runner or socket.gethostname()

    # -- life cycle
    async def start(self) -> None:
        """Queue again what this instance's previous run (or a dead instance) left
        unfinished, take up what is queued, then start the workers."""
        self.root.mkdir(parents=True, exist_ok=True)
        await self._sweep()
        for n in range(self._workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"exports-{n}"))
        self._tasks.append(
            asyncio.create_task(
                every(_SWEEP_S, self._sweep, log, "exports sweep"), name="exports-sweep"
            )
        )

    async def stop(self) -> None:
        """Stop the workers; an export cut short is queued again at the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    # -- requests
    async def create(self, request: ExportRequest) -> Export:
        """Check cameras and footage, record the export, queue it. CameraNotFound, NoFootage."""
        cameras = [await self._cameras.get(cid) for cid in request.camera_ids]
        without = [
            c
            for c in cameras
            if not await self._segments.in_range(c.id, request.start_ms, request.end_ms)
        ]
        if without:
            raise NoFootage(without, request.start_ms, request.end_ms)
        export = await self.store.create(
            Export(
                title=request.title,
                org_id=request.org_id,
                camera_ids=list(request.camera_ids),
                start_ms=request.start_ms,
                end_ms=request.end_ms,
                burn_in=request.burn_in,
                status="queued",
                progress=0.0,
                requested_by=request.requested_by,
                requested_by_id=request.requested_by_id,
                created_at=now_ms(),
                files=[],
            )
        )
        self._waiting.add(export.id)
        self._queue.put_nowait(export.id)
        log.info("export %d queued by %s", export.id, request.requested_by)
        return export

    async def delete(self, export_id: int) -> None:
        """Delete an export's files and record; one in progress is cancelled first."""
        await self.store.get(export_id)
        task = self._running.get(export_id)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(shutil.rmtree, self.folder(export_id), True)
        await self.store.delete(export_id)
        log.info("export %d deleted", export_id)

    def folder(self, export_id: int) -> Path:
        return self.root / str(export_id)

    def file(self, export: Export, name: str) -> Path:
        """A file of a finished export, by name; ExportFileNotFound for anything else."""
        names = {f["name"] for f in export.files}
        if export.status == "done":
            names.update(CUSTODY_FILES)
        if name not in names:
            raise ExportFileNotFound(export.id, name)
        path = self.folder(export.id) / name
        if not path.is_file():
            raise ExportFileNotFound(export.id, name)
        return path

    # -- the work
    async def _work(self) -> None:
        while True:
            export_id = await self._queue.get()
            self._waiting.discard(export_id)
            task = asyncio.create_task(self._run(export_id), name=f"export-{export_id}")
            self._running[export_id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():  # the worker itself is stopping: stop the job too
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    raise
            except Exception:
                log.exception("export %d: unexpected error", export_id)
                with contextlib.suppress(Exception):
                    await self._fail(export_id, "an unexpected error occurred; it has been logged")
            finally:
                self._running.pop(export_id, None)

    async def _run(self, export_id: int) -> None:
        if not await self.store.claim(export_id, self.runner):
            return  # deleted, or another instance took it
        try:
            export = await self.store.get(export_id)
        except ExportNotFound:
            return  # deleted just now
        # What an abandoned run of it left (here, or on another instance's shared disk).
        await asyncio.to_thread(shutil.rmtree, self.folder(export_id), True)
        log.info("export %d: started", export_id)
        beating = asyncio.create_task(self._beat(export_id), name=f"export-{export_id}-beat")
        try:
            files = await self._export(export)
        except (
            FootageGone,
            FfmpegFailed,
            UnreadableMedia,
            CameraNotFound,
            UnknownNode,
            CutFailed,
        ) as exc:
            await self._fail(export_id, str(exc))
            return
        except LinkUnavailable as exc:
            await self._fail(export_id, f"a media node is not reachable now: {exc}")
            return
        except OSError as exc:
            await self._fail(export_id, f"cannot write the export: {exc.strerror or exc}")
            return
        finally:
            await cancel(beating)
            await asyncio.to_thread(shutil.rmtree, self.folder(export_id) / _WORK, True)
        await self.store.update(
            export_id,
            status="done",
            progress=1.0,
            finished_at=now_ms(),
            files=[
                {
                    "camera_id": f.camera_id,
                    "camera_name": f.camera_name,
                    "name": f.name,
                    "size": f.size,
                    "sha256": f.sha256,
                    "first_instant": f.first_instant,
                    "last_instant": f.last_instant,
                }
                for f in files
            ],
        )
        log.info("export %d: done, %d files", export_id, len(files))

    async def _beat(self, export_id: int) -> None:
        while True:
            await asyncio.sleep(_BEAT_S)
            try:
                await self.store.beat(export_id, self.runner)
            except DatabaseUnavailable as exc:
                log.warning("export %d: still running, not said: %s", export_id, exc)

    async def _sweep(self) -> None:
        """Queue again the exports nobody runs any more, and take up every queued one this
        instance has not: one asked of an instance that died before running it, too."""
        abandoned = await self.store.requeue_abandoned(self.runner, now_ms() - _ABANDONED_MS)
        if abandoned:
            log.warning("exports %s: abandoned by their runner, queued again", abandoned)
        for export in await self.store.with_status("queued"):
            if export.id not in self._waiting and export.id not in self._running:
                self._waiting.add(export.id)
                self._queue.put_nowait(export.id)

    async def _fail(self, export_id: int, reason: str) -> None:
        log.warning("export %d failed: %s", export_id, reason)
        folder = self.folder(export_id)
        await asyncio.to_thread(shutil.rmtree, folder, True)
        await self.store.update(export_id, status="failed", error=reason, finished_at=now_ms())

    async def _export(self, export: Export) -> list[ExportedFile]:
        """Each camera's part cut where its footage is: on its node, which this instance
        then takes the file from, or (for a camera that moved between nodes within the
        range) here, from copies of its segments."""
        folder = self.folder(export.id)
        work = folder / _WORK
        await asyncio.to_thread(shutil.rmtree, work, True)
        folder.mkdir(parents=True, exist_ok=True)
        parts: list[CameraJob | _NodeCut] = []
        try:
            await self._prepare(export, work, parts)
            files = await self._cut(export, folder, work, parts)
        finally:
            for part in parts:
                if isinstance(part, _NodeCut):
                    await part.drop()
        manifest = Manifest(
            export_id=export.id,
            title=export.title,
            requested_start=iso(export.start_ms),
            requested_end=iso(export.end_ms),
            exported_by=export.requested_by,
            exported_at=iso(now_ms()),
            burn_in=export.burn_in,
            vigil_version=__version__,
            ffmpeg_version="; ".join(sorted(await self._versions(parts))),
            files=files,
        )
        await asyncio.to_thread(write_manifest, folder, manifest)
        return files

    async def _versions(self, parts: Sequence[CameraJob | _NodeCut]) -> set[str]:
        """The ffmpeg versions that cut the parts: the nodes' and, for a part cut here,
        this instance's (one, unless the nodes run different ones)."""
        versions = {p.ffmpeg_version for p in parts if isinstance(p, _NodeCut)}
        if not all(isinstance(p, _NodeCut) for p in parts) or None in versions:
            versions.add(await asyncio.to_thread(version_line, self._ffmpeg))
        return {v for v in versions if v is not None}

    async def _prepare(self, export: Export, work: Path, parts: list[CameraJob | _NodeCut]) -> None:
        """Each camera's part into ``parts``, its sources pinned (a node pins a cut's as it
        starts it): every camera's before any ffmpeg runs."""
        for camera_id in export.camera_ids:
            camera = await self._cameras.get(camera_id)
            segments = await self._segments.in_range(camera_id, export.start_ms, export.end_ms)
            if len({s.node for s in segments}) == 1:
                order = CutOrder(
                    camera_id=camera.id,
                    camera_name=camera.name,
                    start_ms=export.start_ms,
                    end_ms=export.end_ms,
                    burn_in=export.burn_in,
                    sources=[cut_source(s) for s in segments],
                )
                key = f"export-{export.id}-camera-{camera.id}"
                cut = _NodeCut(key, self._node_of(segments[0]), order)
                parts.append(cut)
                await cut.start()
                continue
            sources = await pin_sources(segments, self._node_of, work / str(camera_id))
            parts.append(
                CameraJob(
                    camera.id, camera.name, export.start_ms, export.end_ms, sources, export.burn_in
                )
            )

    async def _cut(
        self, export: Export, folder: Path, work: Path, parts: list[CameraJob | _NodeCut]
    ) -> list[ExportedFile]:
        """Each part's file in ``folder``, one after the other, the export's progress
        published as they go."""
        total_ms = sum(p.planned_ms for p in parts if isinstance(p, _NodeCut) or p.sources) or 1
        done_ms = 0
        progress = 0.0

        def report(seconds: float) -> None:
            nonlocal progress
            progress = max(progress, min((done_ms + seconds * 1000) / total_ms, 0.99))

        async def publish() -> None:
            published = 0.0
            while True:
                await asyncio.sleep(_PROGRESS_EVERY_S)
                if progress > published:
                    published = progress
                    await self.store.update(export.id, progress=round(published, 4))

        publisher = asyncio.create_task(publish(), name=f"export-{export.id}-progress")
        files: list[ExportedFile] = []
        try:
            for part in parts:
                if isinstance(part, _NodeCut):
                    out = await part.finish(folder, report)
                else:
                    out = await export_camera(
                        part, work / str(part.camera_id), folder, self._ffmpeg, report
                    )
                files.append(out)
                done_ms += part.planned_ms
                report(0)
        finally:
            await cancel(publisher)
        return files

    def _node_of(self, segment: Segment) -> NodeSide:
        return self._nodes.node(segment.node)  # UnknownNode: the export fails, saying so


class CutFailed(Exception):
    """A node could not cut a camera's part; the message says why."""


class _NodeCut:
    """A camera's part of an export, cut by the node that recorded it (``vigil.node.cuts``)
    and copied here once done."""

    def __init__(self, key: str, node: NodeSide, order: CutOrder) -> None:
        self.key = key
        self._node = node
        self._order = order
        self.ffmpeg_version: str | None = None  # once done
        first, last = order.sources[0], order.sources[-1]
        self.planned_ms = covered_ms(order.start_ms, order.end_ms, first.start_ms, last.end_ms)

    async def start(self) -> None:
        await self._node.start_cut(self.key, self._order)

    async def finish(self, folder: Path, report: Callable[[float], None]) -> ExportedFile:
        """Wait for the cut, then bring its file into ``folder`` (moved, from a node in
        this process; else copied through the link and checked against its hash)."""
        state = await self._node.cut_state(self.key)
        restarts = 0
        while state.state != "done":
            if state.state == "failed":
                raise CutFailed(
                    state.error or f"the node could not cut camera {self._order.camera_id}"
                )
            if state.state == "unknown":  # the node restarted: its cuts went with it
                restarts += 1
                if restarts > _CUT_RESTARTS:
                    raise CutFailed(f"the node lost the cut of camera {self._order.camera_id}")
                state = await self._node.start_cut(self.key, self._order)
                continue
            report(state.seconds)
            await asyncio.sleep(_PROGRESS_EVERY_S)
            state = await self._node.cut_state(self.key)
        assert state.file is not None
        file = state.file
        self.ffmpeg_version = state.ffmpeg_version
        target = folder / file.name
        try:
            local = self._node.cut_file(self.key)
        except MediaNotFound:
            try:
                await fetch(self._node.read_cut, self.key, file.size, target)
            except MediaNotFound as exc:  # the node restarted meanwhile
                raise CutFailed(f"the node lost the cut of {file.name}: {exc}") from None
            if await asyncio.to_thread(sha256_file, target) != file.sha256:
                raise CutFailed(f"the copy of {file.name} does not match the node's") from None
        else:
            await asyncio.to_thread(shutil.move, local, target)
        return file

    async def drop(self) -> None:
        """Best effort: a node away keeps the cut until it restarts."""
        try:
            await self._node.drop_cut(self.key)
        except (LinkUnavailable, ValueError) as exc:
            log.warning("cut %s not dropped: %s", self.key, exc)
