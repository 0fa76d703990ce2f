"""A node's cuts leave nothing behind: one dropped while it runs stops, and what a run
killed mid-cut left is cleared when the node starts again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vigil.link.messages import CutOrder, CutSource
from vigil.media.ffmpeg import find_ffmpeg
from vigil.node.cuts import Cuts
from vigil.node.layout import RecordingsLayout, segment_key

START = 1_796_000_000_000


def footage(root: Path, sample_mp4: bytes, count: int) -> list[CutSource]:
    """``count`` 2-second segments one after the other, each the sample."""
    sources = []
    for n in range(count):
        key = segment_key(1, START + n * 2000)
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(sample_mp4)
        sources.append(
            CutSource(path=key, start_ms=START + n * 2000, end_ms=START + n * 2000 + 2000)
        )
    return sources


async def test_a_cut_dropped_while_it_runs_stops_and_leaves_nothing(
    tmp_path: Path, sample_mp4: bytes
) -> None:
    recordings = tmp_path / "recordings"
    sources = footage(recordings, sample_mp4, 60)
    cuts = Cuts(tmp_path / "cuts", RecordingsLayout(recordings), find_ffmpeg())
    await cuts.open()
    order = CutOrder(
        camera_id=1, camera_name="Gate", start_ms=START, end_ms=START + 120_000,
        burn_in=True, sources=sources,
    )  # fmt: skip
    cuts.start("export-1-camera-1", order)
    while not (tmp_path / "cuts" / "export-1-camera-1" / "work").is_dir():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # ffmpeg is at it
    assert cuts.state("export-1-camera-1").state == "running"
    await cuts.drop("export-1-camera-1")
    assert cuts.state("export-1-camera-1").state == "unknown"
    assert list((tmp_path / "cuts").iterdir()) == []
    assert all((recordings / s.path).is_file() for s in sources)  # the recordings stay
    await cuts.close()


async def test_what_a_killed_run_left_is_cleared_at_the_next_start(tmp_path: Path) -> None:
    left = tmp_path / "cuts" / "export-3-camera-2" / "work"
    left.mkdir(parents=True)
    (left / "000000.mp4").write_bytes(b"half")
    cuts = Cuts(tmp_path / "cuts", RecordingsLayout(tmp_path / "recordings"), "ffmpeg")
    await cuts.open()
    assert list((tmp_path / "cuts").iterdir()) == []
    assert cuts.state("export-3-camera-2").state == "unknown"
