"""The contract of a node's media reads (``NodeSide``: sizes, byte ranges, fragment indexes,
frames, previews), which the application side relays instead of opening recording files.

Every implementation of the link runs these: ``node_side`` yields each, the in-process one
(the media node itself) and the one over NATS (the node answering on a real nats-server, the
application side asking through it).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
from PIL import Image

from tests.backends import SQLITE_ONLY
from tests.link.conftest import APP_PASSWORD, answering
from vigil.api.relay import relay_file
from vigil.app import Services
from vigil.exports.media import video_span
from vigil.link.messages import CutOrder, CutSource, CutState
from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.node_client import NatsNodeSide
from vigil.link.nats.subjects import APP_USER
from vigil.link.protocol import READ_LIMIT, LinkUnavailable, MediaNotFound, NodeSide, read_whole
from vigil.node.layout import segment_key
from vigil.playback.fragments import FragmentCache, read_fragment_index
from vigil.playback.retime import read_range_shifted
from vigil.settings import Settings
from vigil.timeutil import iso

pytestmark = SQLITE_ONLY  # nothing here touches the database


@pytest.fixture(params=["in-process", "nats"])
async def node_side(request: pytest.FixtureRequest, services: Services) -> AsyncIterator[NodeSide]:
    node = services.nodes.node(services.node.name)
    if request.param == "in-process":
        yield node
        return
    bus: NatsServer = request.getfixturevalue("nats_server")
    name = services.node.name
    app_client = await connect(bus.url, APP_USER, APP_PASSWORD, name="app")
    remote = NatsNodeSide(app_client, name)
    async with answering(bus, name, node, remote):
        yield remote
    await app_client.close()


@pytest.fixture
def recorded(settings: Settings, sample_mp4: bytes) -> tuple[str, Path]:
    """A segment file where the node keeps it: (its key, its path)."""
    key = segment_key(1, 1_796_000_000_000)
    path = settings.recordings_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sample_mp4)
    return key, path


@pytest.fixture
def large(settings: Settings) -> tuple[str, bytes]:
    """A file of 2.5 reads' worth of random bytes: (its key, its bytes)."""
    key = "1/2026-12-06/19/large.bin"
    data = os.urandom(READ_LIMIT * 5 // 2)
    path = settings.recordings_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return key, data


async def test_sizes_and_byte_ranges_are_the_files_own(
    node_side: NodeSide, recorded: tuple[str, Path], sample_mp4: bytes
) -> None:
    key, _ = recorded
    size = len(sample_mp4)
    assert await node_side.file_size(key) == size
    assert await node_side.read_file(key, 0, 99) == sample_mp4[:100]
    assert await node_side.read_file(key, 100, 4099) == sample_mp4[100:4100]
    assert await node_side.read_file(key, size - 10, size + 500) == sample_mp4[-10:]
    assert await node_side.read_file(key, size, size + 10) == b""
    with pytest.raises(ValueError, match="at most"):
        await node_side.read_file(key, 0, READ_LIMIT)  # one byte over a read
    with pytest.raises(ValueError, match="a read of bytes 10-9"):
        await node_side.read_file(key, 10, 9)


@pytest.mark.parametrize(
    "key",
    [
        "1/2026-12-06/19/never-recorded.mp4",
        "../vigil.db",
        "1/../../vigil.db",
        "/etc/passwd",
        "1/2026-12-06",  # a folder
        "1/x\x00.mp4",
        "",
    ],
)
async def test_a_key_that_is_no_recording_is_not_found_whatever_it_tries(
    node_side: NodeSide, recorded: tuple[str, Path], settings: Settings, key: str
) -> None:
    (settings.data_dir / "vigil.db").touch()  # beside the recordings: out of reach
    with pytest.raises(MediaNotFound):
        await node_side.file_size(key)
    with pytest.raises(MediaNotFound):
        await node_side.read_file(key, 0, 10)
    with pytest.raises(MediaNotFound):
        await node_side.preview(key)
    with pytest.raises(MediaNotFound):
        await node_side.frame(key, 0)
    assert await node_side.fragment_indexes([key]) == [None]


async def test_a_file_removed_after_its_size_was_read_is_not_found(
    node_side: NodeSide, recorded: tuple[str, Path]
) -> None:
    key, path = recorded
    assert await node_side.file_size(key) > 0
    path.unlink()  # retention, between two reads
    with pytest.raises(MediaNotFound):
        await node_side.read_file(key, 0, 10)


async def test_fragment_indexes_are_those_of_the_files(
    node_side: NodeSide, recorded: tuple[str, Path], settings: Settings
) -> None:
    key, path = recorded
    damaged, gone = key.replace(".mp4", "-damaged.mp4"), key.replace(".mp4", "-gone.mp4")
    (settings.recordings_dir / damaged).write_bytes(b"\0\0\0\x08free" * 10)
    found = await node_side.fragment_indexes([key, gone, damaged, key])
    expected = read_fragment_index(path)
    assert found == [expected, None, None, expected]
    assert len(expected.fragments) == 2  # two seconds, a keyframe a second


async def test_moved_decode_times_read_in_pieces_make_the_whole_file(
    node_side: NodeSide, recorded: tuple[str, Path], sample_mp4: bytes
) -> None:
    key, path = recorded
    shift = 3_600_000_000
    whole = read_range_shifted(FragmentCache(), path, 0, len(sample_mp4) - 1, shift).body
    assert len(whole) == len(sample_mp4)
    assert whole != sample_mp4
    index = read_fragment_index(path)
    # Cut inside a decode time field: each read moves its own part of the field.
    field = index.fragments[1].decode_times[0]
    cut = field.offset + field.width // 2
    head = await node_side.read_file(key, 0, cut - 1, shift)
    tail = await node_side.read_file(key, cut, len(sample_mp4) - 1, shift)
    assert head + tail == whole


async def test_a_frame_and_a_preview_are_pictures_of_the_recording(
    node_side: NodeSide, recorded: tuple[str, Path]
) -> None:
    key, path = recorded
    first, later = [Image.open(io.BytesIO(await node_side.frame(key, ms))) for ms in (0, 1500)]
    assert (later.format, later.size) == ("JPEG", (160, 120))
    assert first.tobytes() != later.tobytes()  # the test picture moves
    preview = await node_side.preview(key)
    assert Image.open(io.BytesIO(preview)).format == "JPEG"
    assert path.with_suffix(".jpg").read_bytes() == preview  # kept beside the file
    assert await node_side.preview(key) == preview


async def test_the_app_relays_ranges_of_a_file_larger_than_one_read(
    node_side: NodeSide, large: tuple[str, bytes]
) -> None:
    key, data = large
    size = len(data)

    async def body(range_header: str | None) -> tuple[int, dict[str, str], bytes]:
        response = await relay_file(node_side, key, range_header, media_type="video/mp4")
        chunks = [response.body] if hasattr(response, "body") else []
        if not chunks:
            chunks = [bytes(c) async for c in response.body_iterator]  # type: ignore[attr-defined]
        return response.status_code, dict(response.headers), b"".join(chunks)

    status, headers, whole = await body(None)
    assert (status, whole) == (200, data)
    assert headers["content-length"] == str(size)
    across = f"bytes={READ_LIMIT - 5}-{2 * READ_LIMIT + 5}"
    status, headers, part = await body(across)
    assert status == 206
    assert part == data[READ_LIMIT - 5 : 2 * READ_LIMIT + 6]
    assert headers["content-range"] == f"bytes {READ_LIMIT - 5}-{2 * READ_LIMIT + 5}/{size}"
    assert (await body("bytes=-100"))[2] == data[-100:]
    status, headers, _ = await body(f"bytes={size}-")
    assert (status, headers["content-range"]) == (416, f"bytes */{size}")
    assert await read_whole(node_side, key, size) == data
    with pytest.raises(MediaNotFound):
        await read_whole(node_side, key, size - 1)


async def test_a_recording_converted_to_h264_reads_back_in_two_parts(
    node_side: NodeSide, recorded: tuple[str, Path], tmp_path: Path
) -> None:
    key, path = recorded
    init_size, media_size = await node_side.convert_h264(key, "hevc")  # libx264, as for H.265
    assert await node_side.convert_h264(key, "hevc") == (init_size, media_size)  # kept
    init = await node_side.read_h264(key, "init", 0, init_size - 1)
    media = await node_side.read_h264(key, "media", 0, media_size - 1)
    assert (len(init), len(media)) == (init_size, media_size)
    joined = tmp_path / "joined.mp4"
    joined.write_bytes(init + media)
    with av.open(str(joined)) as converted, av.open(str(path)) as original:
        assert converted.streams.video[0].codec_context.name == "h264"
        frames = sum(1 for _ in converted.decode(video=0))
        assert frames == sum(1 for _ in original.decode(video=0)) == 20
    with pytest.raises(MediaNotFound):
        await node_side.convert_h264("1/../../vigil.db", "hevc")


CUT = "export-1-camera-1"
START = 1_796_000_000_000  # the recorded segment's start


def cut_order(key: str, start_ms: int, end_ms: int) -> CutOrder:
    source = CutSource(path=key, start_ms=START, end_ms=START + 2000, height=None)
    return CutOrder(
        camera_id=1,
        camera_name="Gate",
        start_ms=start_ms,
        end_ms=end_ms,
        burn_in=False,
        sources=[source],
    )


async def cut_done(node_side: NodeSide, key: str) -> CutState:
    for _ in range(200):
        state = await node_side.cut_state(key)
        if state.state != "running":
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"cut {key} still running")


async def test_a_cut_is_made_on_the_node_and_reads_back_whole(
    node_side: NodeSide, recorded: tuple[str, Path], tmp_path: Path
) -> None:
    key, _ = recorded
    order = cut_order(key, START + 500, START + 1500)
    assert (await node_side.start_cut(CUT, order)).state in ("running", "done")
    assert (await node_side.start_cut(CUT, order)).state in ("running", "done")  # the same one
    state = await cut_done(node_side, CUT)
    assert state.state == "done", state.error
    assert state.file is not None
    assert [s.storage_key for s in state.file.sources] == [key]
    data = b""
    while len(data) < state.file.size:
        data += await node_side.read_cut(CUT, len(data), len(data) + READ_LIMIT - 1)
    assert hashlib.sha256(data).hexdigest() == state.file.sha256
    cut = tmp_path / state.file.name
    cut.write_bytes(data)
    # It starts at the instant asked for, covers the range, and says what a player shows.
    span = video_span(cut)
    assert state.file.first_instant == iso(START + 500)
    assert state.file.last_instant == iso(START + 500 + span.duration_ms)
    assert span.duration_ms >= 1000
    await node_side.drop_cut(CUT)
    assert (await node_side.cut_state(CUT)).state == "unknown"
    with pytest.raises(MediaNotFound):
        await node_side.read_cut(CUT, 0, 10)


async def test_a_cut_says_why_it_failed_and_takes_only_a_cuts_key(
    node_side: NodeSide, recorded: tuple[str, Path]
) -> None:
    order = cut_order("1/2026-12-06/19/never-recorded.mp4", START, START + 1000)
    await node_side.start_cut(CUT, order)
    state = await cut_done(node_side, CUT)
    assert (state.state, state.error) == ("failed", "no footage of camera 1 is left in the range")
    escaping = cut_order("1/../../vigil.db", START, START + 1000)
    await node_side.start_cut("export-2-camera-1", escaping)
    assert (await cut_done(node_side, "export-2-camera-1")).state == "failed"
    for bad in ("../recordings", "", "Export-1", "a/b", "x" * 81):
        with pytest.raises(ValueError, match="not a cut's key"):
            await node_side.start_cut(bad, cut_order(recorded[0], START, START + 1000))
        with pytest.raises(ValueError, match="not a cut's key"):
            await node_side.cut_state(bad)
    await node_side.drop_cut(CUT)


async def test_a_node_away_from_the_bus_is_unavailable_not_missing(
    services: Services, nats_server: NatsServer, recorded: tuple[str, Path]
) -> None:
    key, _ = recorded
    name = services.node.name
    app_client = await connect(nats_server.url, APP_USER, APP_PASSWORD, name="app")
    remote = NatsNodeSide(app_client, name, seconds=2)
    try:
        started = asyncio.get_running_loop().time()
        for read in (
            remote.file_size(key),
            remote.read_file(key, 0, READ_LIMIT - 1),
            remote.preview(key),
            remote.fragment_indexes([key]),
        ):
            with pytest.raises(LinkUnavailable, match="no one answers"):
                await read
        assert asyncio.get_running_loop().time() - started < 2  # said at once, not timed out
    finally:
        await app_client.close()
