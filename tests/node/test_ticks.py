"""The node's one timer: every check due runs at the next tick, a cancelled one never, and a
waiter can be woken sooner."""

from __future__ import annotations

import asyncio
import time

from vigil.node.ticks import Ticks


async def test_checks_due_run_together_at_the_next_tick_and_a_cancelled_one_never() -> None:
    ticks = Ticks(0.2)
    ran: list[tuple[str, float]] = []
    began = time.monotonic()
    ticks.call(lambda: ran.append(("a", time.monotonic() - began)))
    await asyncio.sleep(0.05)
    ticks.call(lambda: ran.append(("b", time.monotonic() - began)))
    cancel = ticks.call(lambda: ran.append(("c", time.monotonic() - began)))
    cancel()
    await asyncio.sleep(0.4)
    assert [name for name, _ in ran] == ["a", "b"]
    assert all(0.15 < at < 0.35 for _, at in ran)  # one tick, not one timer each
    assert abs(ran[0][1] - ran[1][1]) < 0.01


async def test_a_failing_check_does_not_stop_the_others() -> None:
    ticks = Ticks(0.05)
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("a bug")

    ticks.call(broken)
    ticks.call(lambda: ran.append("after"))
    await asyncio.sleep(0.15)
    assert ran == ["after"]


async def test_a_waiter_is_woken_at_the_tick_or_sooner() -> None:
    ticks = Ticks(5.0)
    woken = ticks.waiter()
    woken.set_result(None)  # what a recorder's stop does: it does not wait for the tick
    await asyncio.wait_for(woken, 0.1)
    ticks = Ticks(0.05)
    await asyncio.wait_for(ticks.waiter(), 0.5)
