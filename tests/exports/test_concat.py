"""The concat script: each file lands at its recorded instant, nothing overlaps."""

from __future__ import annotations

import pytest

from vigil.exports.concat import Piece, concat_script


def test_contiguous_segments_trimmed_at_both_ends() -> None:
    pieces = [Piece("a.mp4", 10_000, 12_000), Piece("b.mp4", 12_000, 14_000)]
    script = concat_script(pieces, first_ms=11_000, end_ms=13_500)
    assert script.splitlines() == [
        "ffconcat version 1.0",
        "file 'a.mp4'",
        "inpoint 1.001",  # just past the keyframe: it may lie anywhere in [1.000, 1.001) s
        "outpoint 2.000",
        "duration 1.000",
        "file 'b.mp4'",
        "outpoint 1.500",
    ]


def test_a_gap_keeps_the_next_file_at_its_instant() -> None:
    pieces = [Piece("a.mp4", 0, 2_000), Piece("b.mp4", 5_000, 7_000)]
    lines = concat_script(pieces, first_ms=0, end_ms=7_000).splitlines()
    # a ends at 2 s but b starts at 5 s on the export's timeline: 3 s of gap, kept.
    assert lines[2:4] == ["outpoint 2.000", "duration 5.000"]
    assert lines[-1] == "file 'b.mp4'"


def test_names_are_quoted_for_ffconcat() -> None:
    script = concat_script([Piece("it's.mp4", 0, 1_000)], 0, 1_000)
    assert "file 'it'\\''s.mp4'" in script


def test_nothing_to_concatenate_is_an_error() -> None:
    with pytest.raises(ValueError, match="nothing"):
        concat_script([], 0, 1)
