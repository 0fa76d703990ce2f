"""Exports cut on the node that recorded the footage (DESIGN: everything media lives on the
node): each camera's part of an export is cut by ffmpeg where its segments are
(:func:`vigil.exports.job.export_camera`), and the application side reads the finished MP4
through the link.

A cut is known by a key the application side chooses (``export-7-camera-3``). Asking
again for a cut that runs or is done changes nothing, so an export taken up by another
application instance finds its cut going on. Cuts live in ``<root>/<key>/``; the
application side drops each once it has its file, and a node that starts clears what an
earlier run left.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from pathlib import Path

from vigil.exports.ffmpeg import FfmpegFailed
from vigil.exports.job import CameraJob, FootageGone, export_camera, pin_local
from vigil.exports.media import UnreadableMedia
from vigil.link.messages import CutOrder, CutState
from vigil.link.protocol import MediaNotFound, check_read
from vigil.media.ffmpeg import version_line
from vigil.node.layout import RecordingsLayout
from vigil.tasks import cancel

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_WORK = "work"


def check_cut_key(key: str) -> str:
    """``key`` if it names a cut (a folder of its own, nothing else); ValueError if not."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a cut's key: {key!r}")
    return key


class Cuts:
    """The cuts a node makes, in ``root``."""

    def __init__(self, root: Path, layout: RecordingsLayout, ffmpeg: str) -> None:
        self._root = root
        self._layout = layout
        self._ffmpeg = ffmpeg
        self._states: dict[str, CutState] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # One ffmpeg at a time: a cut is disk-bound. Each pins its sources first, so that
        # retention cannot take them while it waits its turn.
        self._turn = asyncio.Lock()

    async def open(self) -> None:
        """Clear what an earlier run left: its cuts ended with it."""
        await asyncio.to_thread(shutil.rmtree, self._root, True)
        self._root.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        for key in list(self._tasks):
            await cancel(self._tasks.pop(key))

    def start(self, key: str, order: CutOrder) -> CutState:
        """Start cutting ``order`` as ``key``, unless a cut of that key runs or is done."""
        state = self.state(key)
        if state.state in ("running", "done"):
            return state
        self._states[key] = CutState(state="running")
        self._tasks[key] = asyncio.create_task(self._run(key, order), name=f"cut-{key}")
        return self._states[key]

    def state(self, key: str) -> CutState:
        return self._states.get(check_cut_key(key), CutState(state="unknown"))

    async def read(self, key: str, first: int, last: int) -> bytes:
        """Bytes ``[first, last]`` of the finished cut's file (fewer at its end)."""
        check_read(first, last)
        path = self._file(key)

        def read() -> bytes:
            with path.open("rb") as f:
                f.seek(first)
                return f.read(last - first + 1)

        return await asyncio.to_thread(read)

    def local_file(self, key: str) -> Path:
        """The finished cut's file, for an application side on this machine to move."""
        return self._file(key)

    async def drop(self, key: str) -> None:
        """Stop the cut if it runs, and delete it."""
        task = self._tasks.pop(check_cut_key(key), None)
        await cancel(task)
        self._states.pop(key, None)
        await asyncio.to_thread(shutil.rmtree, self._root / key, True)

    def _file(self, key: str) -> Path:
        state = self.state(key)
        if state.state != "done" or state.file is None:
            raise MediaNotFound(f"cut {key} is {state.state}, not done")
        path = self._root / key / state.file.name
        if not path.is_file():
            raise MediaNotFound(f"cut {key}: its file is gone")
        return path

    async def _run(self, key: str, order: CutOrder) -> None:
        folder = self._root / key
        work = folder / _WORK
        seconds = 0.0

        def progress(done: float) -> None:
            nonlocal seconds
            seconds = done
            self._states[key] = CutState(state="running", seconds=seconds)

        try:
            await asyncio.to_thread(shutil.rmtree, folder, True)
            sources = await asyncio.to_thread(pin_local, order.sources, self._layout.path, work)
            job = CameraJob(
                order.camera_id,
                order.camera_name,
                order.start_ms,
                order.end_ms,
                sources,
                order.burn_in,
            )
            async with self._turn:
                file = await export_camera(job, work, folder, self._ffmpeg, progress)
        except (FootageGone, FfmpegFailed, UnreadableMedia, ValueError) as exc:
            self._states[key] = CutState(state="failed", error=str(exc))
        except OSError as exc:
            self._states[key] = CutState(
                state="failed", error=f"cannot write the cut: {exc.strerror or exc}"
            )
        else:
            version = await asyncio.to_thread(version_line, self._ffmpeg)
            self._states[key] = CutState(
                state="done", seconds=seconds, file=file, ffmpeg_version=version
            )
            log.info("cut %s: done, %d bytes", key, file.size)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
            self._tasks.pop(key, None)
