"""The concat script: each file lands at its recorded instant, nothing overlaps."""

from __future__ import annotations

import pytest

from vigil.exports.concat import Piece, concat_script, timeline_us


def test_contiguous_segments_start_on_the_frame_and_end_by_length() -> None:
    pieces = [Piece("a.mp4", 10_000, 12_000), Piece("b.mp4", 12_000, 14_000)]
    # The first frame to show starts 1.000011 s into a.mp4 (a 90 kHz clock), rounded down.
    script = concat_script(pieces, inpoint_us=1_000_011)
    assert script.splitlines() == [
        "ffconcat version 1.0",
        "file 'a.mp4'",
        "inpoint 1.000011",
        "outpoint 2.000000",
        "duration 0.999989",  # b.mp4 still lands at its instant, 2 s after a.mp4's start
        "file 'b.mp4'",
    ]
    # The range's end (13.5 s) is a length for ffmpeg's -t, from the first frame on.
    assert timeline_us(pieces, 1_000_011, end_ms=13_500) == 2_499_989


def test_a_gap_keeps_the_next_file_at_its_instant() -> None:
    pieces = [Piece("a.mp4", 0, 2_000), Piece("b.mp4", 5_000, 7_000)]
    lines = concat_script(pieces, inpoint_us=0).splitlines()
    # a ends at 2 s but b starts at 5 s on the export's timeline: 3 s of gap, kept.
    assert lines[2:4] == ["outpoint 2.000000", "duration 5.000000"]
    assert lines[-1] == "file 'b.mp4'"


def test_names_are_quoted_for_ffconcat() -> None:
    script = concat_script([Piece("it's.mp4", 0, 1_000)], 0)
    assert "file 'it'\\''s.mp4'" in script


def test_nothing_to_concatenate_is_an_error() -> None:
    with pytest.raises(ValueError, match="nothing"):
        concat_script([], 0)
