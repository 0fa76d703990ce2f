"""Small helpers for the asyncio tasks that services keep running."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from vigil.store.database import DatabaseUnavailable


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended; nothing for None."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def every(
    seconds: float, work: Callable[[], Awaitable[object]], log: logging.Logger, what: str
) -> None:
    """Run ``work`` every ``seconds`` until cancelled; while the database is away it is
    said at debug level (``what`` not done) and tried again at the next turn."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except DatabaseUnavailable as exc:
            log.debug("%s not done: %s", what, exc)
