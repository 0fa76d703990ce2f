"""One timer for the node's periodic checks, however many cameras it has.

Every recorder checks twice a second whether its ffmpeg has stalled, and every paused live
view whether its ffmpeg still streams. With a timer each, a node of 50 cameras woke its
event loop a few hundred times a second for nothing; with this, all the checks due run
together at each tick, and the loop wakes twice a second.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.5


class Ticks:
    """Runs callbacks at the next tick, every ``seconds`` while any is waiting."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._due: dict[int, Callable[[], object]] = {}
        self._keys = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def call(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Run ``callback`` at the next tick (within ``seconds``); returns its cancel."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests run one each): start afresh
            self._loop, self._due, self._timer = loop, {}, None
        key = next(self._keys)
        self._due[key] = callback
        if self._timer is None:
            self._timer = loop.call_later(self.seconds, self._tick)
        due = self._due

        def cancel() -> None:
            due.pop(key, None)

        return cancel

    def waiter(self) -> asyncio.Future[None]:
        """A future resolved at the next tick; resolve it yourself to wake its waiter sooner
        (e.g. when asked to stop)."""
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        self.call(wake)
        return woken

    def _tick(self) -> None:
        self._timer = None
        due, self._due = self._due, {}
        for callback in due.values():
            try:
                callback()
            except Exception:  # one check's bug must not starve the others
                log.exception("periodic check failed")


# The node's checks: stall watchdogs, paused live views.
TICKS = Ticks(CHECK_SECONDS)
