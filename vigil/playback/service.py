"""Playlists over indexed segments, from the fragment indexes their nodes give."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from vigil.playback.fragments import FragmentIndex
from vigil.playback.playlist import RecordedFile, vod_playlist
from vigil.store.segments import SegmentRow

# The fragment indexes of some files of one node (its ``NodeSide.fragment_indexes``), and a
# segment's URI in a playlist.
Indexes = Callable[[str, list[str]], Awaitable[list[FragmentIndex | None]]]
Address = Callable[[SegmentRow], str]


async def playlist(
    rows: Sequence[SegmentRow],
    indexes: Indexes,
    address: Address,
    start_ms: int,
    end_ms: int,
    one_timeline: bool = True,
) -> str | None:
    """An HLS VOD playlist of [start, end), or None if no recorded fragment falls in it; each
    node is asked once for the indexes of its files. ``one_timeline``: see
    :func:`vigil.playback.playlist.vod_playlist`."""
    by_node: dict[str, list[int]] = {}
    for n, row in enumerate(rows):
        by_node.setdefault(row.node, []).append(n)
    found: list[FragmentIndex | None] = [None] * len(rows)
    for node, numbers in by_node.items():
        answers = await indexes(node, [rows[n].path for n in numbers])
        for n, index in zip(numbers, answers, strict=True):
            found[n] = index
    files = [
        RecordedFile(row, index, address(row))
        for row, index in zip(rows, found, strict=True)
        if index is not None
    ]
    return vod_playlist(files, start_ms, end_ms, one_timeline=one_timeline)
