"""The fragment index of a recorded file, read from its box headers."""

from __future__ import annotations

import os
from pathlib import Path

import av
import pytest

from vigil.media.mp4 import file_boxes
from vigil.playback.fragments import FragmentCache, NotFragmented, read_fragment_index


@pytest.fixture
def segment(tmp_path: Path, sample_mp4: bytes) -> Path:
    path = tmp_path / "segment.mp4"
    path.write_bytes(sample_mp4)
    return path


def test_fragments_cover_the_file_from_the_init_part_to_the_index(segment: Path) -> None:
    index = read_fragment_index(segment)
    boxes = file_boxes(segment).boxes
    moov = next(b for b in boxes if b.type == "moov")
    assert index.init_length == moov.end
    with av.open(str(segment)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        assert index.timescale == stream.time_base.denominator
        keyframe_dts = [p.dts for p in container.demux(stream) if p.is_keyframe]
    # One fragment per keyframe (every second at 10 fps, -g 10), back to back.
    assert [f.decode_time for f in index.fragments] == keyframe_dts
    assert all(f.keyframe for f in index.fragments)
    assert index.fragments[0].offset == index.init_length
    for before, after in zip(index.fragments, index.fragments[1:], strict=False):
        assert before.offset + before.size == after.offset
        assert before.decode_time + before.duration == after.decode_time
    mfra = next(b for b in boxes if b.type == "mfra")
    assert index.fragments[-1].offset + index.fragments[-1].size == mfra.offset
    total = sum(f.duration for f in index.fragments) / index.timescale
    assert total == pytest.approx(2.0)


def test_a_torn_tail_is_left_out(segment: Path) -> None:
    whole = read_fragment_index(segment)
    last = whole.fragments[-1]
    os.truncate(segment, last.offset + last.size // 2)
    torn = read_fragment_index(segment)
    assert torn.fragments == whole.fragments[:-1]


def test_files_that_are_not_fragmented_mp4_are_refused(tmp_path: Path, segment: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00" + b"x" * 100)
    with pytest.raises(NotFragmented):
        read_fragment_index(junk)
    os.truncate(segment, read_fragment_index(segment).init_length + 4)
    with pytest.raises(NotFragmented):
        read_fragment_index(segment)


def test_the_cache_reads_a_file_once_until_it_changes(segment: Path) -> None:
    cache = FragmentCache(capacity=2)
    first = cache.get(segment)
    assert cache.get(segment) is first
    last = first.fragments[-1]
    os.truncate(segment, last.offset + 10)  # changed on disk: read again
    assert len(cache.get(segment).fragments) == len(first.fragments) - 1
    assert len(cache) == 2


def test_the_cache_forgets_indexes_unused_for_a_while(tmp_path: Path, segment: Path) -> None:
    now = [0.0]
    cache = FragmentCache(capacity=10, max_idle_seconds=60, clock=lambda: now[0])
    copies = [tmp_path / f"{n}.mp4" for n in range(3)]
    for copy in copies:
        copy.write_bytes(segment.read_bytes())
    first = cache.get(copies[0])
    now[0] = 30
    cache.get(copies[1])
    now[0] = 50
    assert cache.get(copies[0]) is first  # used again: its hour starts again
    now[0] = 100  # the second unused for 70 s, the first for 50
    cache.get(copies[2])
    assert len(cache) == 2
    assert cache.get(copies[0]) is first
    assert len(cache) == 2  # the second one was the one forgotten


def test_every_fragment_knows_where_its_decode_time_lies(segment: Path) -> None:
    index = read_fragment_index(segment)
    data = segment.read_bytes()
    assert [track for track, _ in index.timescales] == [1]  # the sample is video only
    for fragment in index.fragments:
        [tfdt] = fragment.decode_times
        assert tfdt.track_id == 1
        assert fragment.offset < tfdt.offset < fragment.offset + fragment.size
        value = int.from_bytes(data[tfdt.offset : tfdt.offset + tfdt.width], "big")
        assert value == fragment.decode_time
