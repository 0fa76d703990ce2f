"""The outbox drains a backlog in the order it was written, one call per run of one kind."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vigil.link.messages import MotionSpan, SegmentRecord
from vigil.node.outbox import Outbox


class RecordingApp:
    """The application side of the link, as far as the outbox calls it: what arrived."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[int]]] = []

    async def segments_recorded(self, node: str, segments: list[SegmentRecord]) -> None:
        self.calls.append(("recorded", [s.start_ms for s in segments]))

    async def motion_reported(self, node: str, spans: list[MotionSpan]) -> None:
        self.calls.append(("motion", [s.start_ms for s in spans]))


def _segment(at: int) -> SegmentRecord:
    return SegmentRecord(camera_id=1, path=f"1/{at}.mp4", start_ms=at, end_ms=at + 1, size=1)


def _motion(at: int) -> MotionSpan:
    return MotionSpan(camera_id=1, start_ms=at, end_ms=at + 1)


async def test_a_backlog_of_mixed_kinds_is_delivered_in_order_and_then_nothing_waits(
    tmp_path: Path,
) -> None:
    # A node that fell behind (or an outage): segments and motion interleaved, and runs.
    app = RecordingApp()
    outbox = Outbox(tmp_path / "outbox", app, "edge", retry_seconds=1)  # type: ignore[arg-type]
    expected: list[tuple[str, list[int]]] = []
    for at in range(0, 600, 2):
        outbox.recorded([_segment(at)])
        outbox.motion([_motion(at + 1)])
        expected += [("recorded", [at]), ("motion", [at + 1])]
    for at in range(600, 610):
        outbox.recorded([_segment(at)])
    expected.append(("recorded", list(range(600, 610))))

    assert outbox.pending() == 610
    assert await outbox.flush()

    assert app.calls == expected
    assert outbox.pending() == 0


async def test_segments_wait_for_each_other_and_motion_takes_them_along(tmp_path: Path) -> None:
    # Cameras that started together finish their segments together: one transaction for
    # them all, not one each; motion (an alert) is not held back by that wait.
    app = RecordingApp()
    outbox = Outbox(tmp_path / "outbox", app, "edge", retry_seconds=1, gather_seconds=0.5)  # type: ignore[arg-type]
    delivering = asyncio.create_task(outbox.run())
    try:
        outbox.recorded([_segment(0)])
        await asyncio.sleep(0.2)
        outbox.recorded([_segment(10)])
        assert app.calls == []  # still gathering
        await asyncio.wait_for(outbox.wait_delivered(), 2)
        assert app.calls == [("recorded", [0, 10])]

        outbox.recorded([_segment(20)])
        outbox.motion([_motion(21)])
        await asyncio.sleep(0.1)  # well within the gather time
        assert app.calls[1:] == [("recorded", [20]), ("motion", [21])]
    finally:
        delivering.cancel()
