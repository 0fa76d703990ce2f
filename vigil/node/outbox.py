"""The node's outbox: index updates wait on disk until the application server has them.

Each message is one small JSON file, written atomically and deleted once delivered, so a
crash or an unreachable application server loses nothing and delivers nothing twice in a
way that matters (every link call is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vigil.link.messages import EventRecord, MotionSpan, SegmentRecord
from vigil.link.protocol import AppSide, LinkUnavailable
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

# Index updates wait this long for others before they are delivered: every camera finishes
# a segment every few seconds, mostly at about the same time as the others (they started
# together), so one transaction indexes a second's segments of every camera instead of one
# each. Events and motion do not wait (alerts are prompt) and take the waiting along.
GATHER_SECONDS = 1.0


class Outbox:
    def __init__(
        self,
        folder: Path,
        app: AppSide,
        node: str,
        retry_seconds: float,
        gather_seconds: float = GATHER_SECONDS,
        on_back: Callable[[], None] | None = None,
    ) -> None:
        self._folder = folder
        self._app = app
        self._node = node
        self._retry = retry_seconds
        self._gather = gather_seconds
        self._wake = asyncio.Event()
        self._prompt = asyncio.Event()  # something pending should not wait for the rest
        self._idle = asyncio.Event()
        self._counter = itertools.count()
        self._lock = asyncio.Lock()
        self._away_since: float | None = None  # when deliveries began to fail
        # Told when deliveries succeed again after an outage (the node then asks what
        # changed meanwhile); the outbox is the first to notice, as it calls all along.
        self._on_back = on_back
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.tmp"):
            stale.unlink()

    def pending(self) -> int:
        return sum(1 for _ in self._folder.glob("*.json"))

    # Index updates are not forced to disk: if the machine loses power before the kernel
    # writes one, start-up reconciliation finds the file without a row (or the row without
    # its file) and sends it again. Events and motion have nothing to be found again from,
    # so they are (an fsync each, which also holds up the event loop for a few ms).
    def recorded(self, segments: list[SegmentRecord]) -> None:
        self._put({"recorded": [s.model_dump() for s in segments]}, prompt=False, sync=False)

    def removed(self, paths: list[str]) -> None:
        self._put({"removed": paths}, prompt=False, sync=False)

    def events(self, events: list[EventRecord]) -> None:
        self._put({"events": [e.model_dump(mode="json") for e in events]})

    def motion(self, spans: list[MotionSpan]) -> None:
        self._put({"motion": [s.model_dump() for s in spans]})

    def interrupted(self, before_ms: int) -> None:
        """Events opened before ``before_ms`` will never be ended by this node."""
        self._put({"interrupted": [before_ms]})

    def _put(self, body: dict[str, object], prompt: bool = True, sync: bool = True) -> None:
        # Names sort in the order written: time, then a counter within this process.
        name = f"{now_ms():015d}-{os.getpid()}-{next(self._counter):09d}"
        tmp = self._folder / f"{name}.tmp"
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(body, handle)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        tmp.rename(self._folder / f"{name}.json")
        self._idle.clear()
        self._wake.set()
        if prompt:
            self._prompt.set()

    async def flush(self) -> bool:
        """Deliver everything pending now. False if the application server is unavailable.

        Consecutive messages of one kind go in one call (one database transaction)."""
        async with self._lock:
            # One listing serves every batch it holds (what is written meanwhile sorts after
            # it), and each file is read once: a backlog of mixed kinds (after an outage, or
            # on a node that fell behind) drains in linear time, not quadratic.
            while paths := sorted(self._folder.glob("*.json")):
                while paths:
                    batch = _leading_run(paths)
                    kind = next(iter(batch[0][1]))
                    try:
                        await self._deliver(kind, [item for _, b in batch for item in b[kind]])
                    except LinkUnavailable as exc:
                        self._away(str(exc), len(paths))
                        return False
                    for path, _ in batch:
                        path.unlink()
                    paths = paths[len(batch) :]
            self._idle.set()
        self._back()
        return True

    def _away(self, reason: str, waiting: int) -> None:
        """Said once an outage, not at every retry: what waits, and that it is kept."""
        if self._away_since is None:
            self._away_since = time.monotonic()
            log.warning(
                "the application server is unavailable (%s): %d index updates kept on disk, "
                "retrying every %g s",
                reason,
                waiting,
                self._retry,
            )

    def _back(self) -> None:
        if self._away_since is not None:
            log.info(
                "the application server is back after %.0f s: every kept update delivered",
                time.monotonic() - self._away_since,
            )
            self._away_since = None
            if self._on_back is not None:
                self._on_back()

    async def _deliver(self, kind: str, items: list[Any]) -> None:
        if kind == "recorded":
            records = [SegmentRecord(**r) for r in items]
            await self._app.segments_recorded(self._node, records)
        elif kind == "removed":
            await self._app.segments_removed(self._node, items)
        elif kind == "events":
            events = [EventRecord.model_validate(e) for e in items]
            await self._app.events_reported(self._node, events)
        elif kind == "motion":
            await self._app.motion_reported(self._node, [MotionSpan(**s) for s in items])
        elif kind == "interrupted":
            await self._app.events_interrupted(self._node, max(items))
        else:  # written by a newer version: keep it rather than lose it
            raise LinkUnavailable(f"unknown outbox message kind {kind!r}")

    async def wait_delivered(self) -> None:
        await self._idle.wait()

    async def run(self) -> None:
        """Deliver messages as they come; retry while the application server is away."""
        while True:
            await self._wake.wait()
            if not self._prompt.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._prompt.wait(), self._gather)
            self._wake.clear()
            self._prompt.clear()
            try:
                delivered = await self.flush()
            except Exception:
                log.exception("outbox delivery failed; will retry")
                delivered = False
            if not delivered:
                await asyncio.sleep(self._retry)
                self._wake.set()


def _leading_run(paths: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """The first messages in order that are all of the first one's kind (at most 500),
    read up to the first of another kind and no further."""
    run: list[tuple[Path, dict[str, Any]]] = []
    for path in paths[:500]:
        message = json.loads(path.read_text("utf-8"))
        if run and next(iter(message)) != next(iter(run[0][1])):
            break
        run.append((path, message))
    return run
