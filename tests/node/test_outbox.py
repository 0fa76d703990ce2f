"""The outbox drains a backlog in the order it was written, one call per run of one kind."""

from __future__ import annotations

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
