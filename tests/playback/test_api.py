"""Playlists, timeline, previews and frames through the API, over seeded fMP4 footage."""

from __future__ import annotations

import io
import re
import shutil
from typing import Any

import av
import httpx

from tests.api.conftest import AddCamera, Footage
from vigil.app import Services
from vigil.link.messages import CameraConfig, EventKind, EventRecord, EventStage, MotionSpan
from vigil.node.layout import segment_key
from vigil.node.reconcile import reconcile_camera
from vigil.playback.fragments import read_fragment_index
from vigil.settings import Settings
from vigil.timeutil import iso

PROBLEM = "application/problem+json"
HOUR = 3_600_000


LINK = re.compile(r"\?token=[\w.\-]+")


def without_links(playlist: str) -> str:
    """The playlist with its URIs' signed links taken out; every URI must carry one."""
    uris = [line for line in playlist.splitlines() if line.startswith(("files/", "#EXT-X-MAP"))]
    assert uris
    assert all(LINK.search(uri) for uri in uris), "every URI carries a signed link"
    return LINK.sub("", playlist)


def media_lines(playlist: str) -> list[tuple[float, str, str]]:
    """(EXTINF seconds, BYTERANGE, URI) of each media segment."""
    lines = playlist.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("#EXTINF:"):
            seconds = float(line.removeprefix("#EXTINF:").rstrip(","))
            assert lines[i + 1].startswith("#EXT-X-BYTERANGE:")
            found.append((seconds, lines[i + 1].split(":", 1)[1], lines[i + 2]))
    return found


async def test_playlist_points_into_the_recorded_files(
    client: httpx.AsyncClient, footage: Footage, settings: Settings
) -> None:
    cid, base = footage.camera_id, footage.base_ms
    params = {"start": iso(base), "end": iso(base + 20_000)}
    response = await client.get(f"/api/cameras/{cid}/vod.m3u8", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apple.mpegurl"
    text = without_links(response.text)
    lines = text.splitlines()
    assert lines[:2] == ["#EXTM3U", "#EXT-X-VERSION:7"]
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-START" not in text  # the range starts on a keyframe
    index = read_fragment_index(settings.recordings_dir / footage.records[0].path)
    maps = [line for line in lines if line.startswith("#EXT-X-MAP:")]
    assert maps == [
        f'#EXT-X-MAP:URI="files/{r.path}",BYTERANGE="{index.init_length}@0"'
        for r in footage.records
    ]
    # Each 2 s file is one media segment from its first fragment to its last, laid on one
    # timeline: the second file 2 s on (its timestamps restart at zero), the third 6 s later
    # again (the hole in the recording).
    last = index.fragments[-1]
    whole = f"{last.offset + last.size - index.init_length}@{index.init_length}"
    shifts = ["", "&shift=2000000", "&shift=10000000"]
    assert media_lines(text) == [
        (2.0, whole, f"files/{r.path}{shift}")
        for r, shift in zip(footage.records, shifts, strict=True)
    ]
    assert "#EXT-X-TARGETDURATION:2" in lines
    assert [line.split(":", 1)[1] for line in lines if "PROGRAM-DATE-TIME" in line] == [
        iso(r.start_ms) for r in footage.records
    ]
    # hls.js still re-syncs at every file after the first.
    assert text.count("#EXT-X-DISCONTINUITY\n#EXT-X-MAP") == 2

    # The byte ranges are what the file route serves; shifted, every track's decode time moves.
    uri = f"/api/cameras/{cid}/files/{footage.records[1].path}"
    size, offset = (int(n) for n in whole.split("@"))
    ranged = {"Range": f"bytes={offset}-{offset + size - 1}"}
    part = await client.get(uri, headers=ranged)
    assert part.status_code == 206
    assert part.content[4:8] == b"moof"
    moved = await client.get(uri, params={"shift": 2_000_000}, headers=ranged)
    assert moved.status_code == 206
    assert moved.headers["content-range"] == part.headers["content-range"]
    assert len(moved.content) == len(part.content)
    original, shifted = bytearray(part.content), bytearray(moved.content)
    for fragment in index.fragments:
        [tfdt] = fragment.decode_times  # the sample footage has video only
        at = slice(tfdt.offset - offset, tfdt.offset - offset + tfdt.width)
        before = int.from_bytes(original[at], "big")
        after = int.from_bytes(shifted[at], "big")
        assert (before, after) == (fragment.decode_time, fragment.decode_time + 2 * index.timescale)
        original[at] = shifted[at] = bytes(tfdt.width)
    assert shifted == original  # nothing else changed


async def test_playlist_starts_at_the_keyframe_before_the_instant(
    client: httpx.AsyncClient, footage: Footage, settings: Settings
) -> None:
    cid, base = footage.camera_id, footage.base_ms
    start = base + 3500  # 1.5 s into the second file: its second fragment, one second long
    params = {"start": iso(start), "end": iso(base + 11_000)}
    text = without_links((await client.get(f"/api/cameras/{cid}/vod.m3u8", params=params)).text)
    index = read_fragment_index(settings.recordings_dir / footage.records[1].path)
    second = index.fragments[1]
    [first, then] = media_lines(text)
    assert first == (1.0, f"{second.size}@{second.offset}", f"files/{footage.records[1].path}")
    # The next file after the hole: 6 s after the end of the first (2 s into its own time).
    assert then[2] == f"files/{footage.records[2].path}&shift=8000000"
    assert "#EXT-X-START:TIME-OFFSET=0.500,PRECISE=YES" in text
    assert f"#EXT-X-PROGRAM-DATE-TIME:{iso(base + 3000)}" in text


async def test_playlist_refuses_bad_ranges(
    client: httpx.AsyncClient, footage: Footage, add_camera: AddCamera
) -> None:
    cid, base = footage.camera_id, footage.base_ms
    url = f"/api/cameras/{cid}/vod.m3u8"
    hole = {"start": iso(base + 5000), "end": iso(base + 9000)}
    response = await client.get(url, params=hole)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert iso(base + 5000) in response.json()["detail"]
    assert iso(base + 9000) in response.json()["detail"]
    for params, words in (
        ({"start": iso(base), "end": iso(base - 1000)}, "after"),
        ({"start": iso(base - 40 * 24 * HOUR), "end": iso(base)}, "31 days"),
    ):
        response = await client.get(url, params=params)
        assert response.status_code == 422, params
        assert words in response.json()["detail"]
    response = await client.get("/api/cameras/987654/vod.m3u8", params=hole)
    assert response.status_code == 404
    assert response.json()["camera_id"] == 987654


async def test_a_deleted_file_is_left_out_of_the_playlist(
    client: httpx.AsyncClient, footage: Footage, settings: Settings
) -> None:
    (settings.recordings_dir / footage.records[1].path).unlink()
    params = {"start": iso(footage.base_ms), "end": iso(footage.base_ms + 20_000)}
    text = (await client.get(f"/api/cameras/{footage.camera_id}/vod.m3u8", params=params)).text
    assert footage.records[1].path not in text
    assert len(media_lines(text)) == 2


async def test_timeline_gives_spans_gaps_and_previews_made_once(
    client: httpx.AsyncClient, footage: Footage, settings: Settings
) -> None:
    cid, base = footage.camera_id, footage.base_ms
    params = {"start": iso(base - 1000), "end": iso(base + 20_000)}
    response = await client.get(f"/api/cameras/{cid}/timeline", params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["spans"] == [
        {"start": iso(base), "end": iso(base + 4000)},
        {"start": iso(base + 10_000), "end": iso(base + 12_000)},
    ]
    assert body["gaps"] == [
        {"start": iso(base - 1000), "end": iso(base)},
        {"start": iso(base + 4000), "end": iso(base + 10_000)},
        {"start": iso(base + 12_000), "end": iso(base + 20_000)},
    ]
    assert body["events"] == []
    assert [p["time"] for p in body["previews"]] == [iso(r.start_ms) for r in footage.records]

    url = body["previews"][0]["url"]
    sidecar = (settings.recordings_dir / footage.records[0].path).with_suffix(".jpg")
    assert not sidecar.exists()  # made on first request, not before
    first = await client.get(url)
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/jpeg"
    assert jpeg_size(first.content) == (160, 120)
    made = sidecar.stat().st_mtime_ns
    second = await client.get(url)
    assert second.content == first.content
    assert sidecar.stat().st_mtime_ns == made  # served from disk, not made again
    assert (await client.get(f"/api/cameras/{cid}/segments/987654/preview.jpg")).status_code == 404


async def test_previews_go_with_their_segments(
    client: httpx.AsyncClient, footage: Footage, settings: Settings, services: Services
) -> None:
    cid = footage.camera_id
    params = {"start": iso(footage.base_ms), "end": iso(footage.base_ms + 20_000)}
    previews = (await client.get(f"/api/cameras/{cid}/timeline", params=params)).json()
    for preview in previews["previews"]:
        assert (await client.get(preview["url"])).status_code == 200
    segment = settings.recordings_dir / footage.records[0].path
    assert segment.with_suffix(".jpg").is_file()
    assert services.node is not None
    await services.node.delete_files([footage.records[0].path])  # as retention and orphans do
    assert not segment.exists()
    assert not segment.with_suffix(".jpg").exists()
    # The other segments keep theirs.
    assert (settings.recordings_dir / footage.records[1].path).with_suffix(".jpg").is_file()


def jpeg_size(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


async def test_frame_at_a_recorded_instant(client: httpx.AsyncClient, footage: Footage) -> None:
    cid, base = footage.camera_id, footage.base_ms
    response = await client.get(f"/api/cameras/{cid}/frame.jpg", params={"at": iso(base + 2500)})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert jpeg_size(response.content) == (160, 120)
    other = await client.get(f"/api/cameras/{cid}/frame.jpg", params={"at": iso(base + 3900)})
    assert other.content != response.content  # testsrc moves: another instant, another picture
    missing = await client.get(f"/api/cameras/{cid}/frame.jpg", params={"at": iso(base + 6000)})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert iso(base + 6000) in missing.json()["detail"]
    bad = await client.get(f"/api/cameras/{cid}/frame.jpg", params={"at": "soon"})
    assert bad.status_code == 422
    assert re.search("ISO 8601", bad.json()["detail"])


async def test_timeline_spreads_previews_over_the_range(
    client: httpx.AsyncClient, footage: Footage
) -> None:
    cid, base = footage.camera_id, footage.base_ms
    params = {"start": iso(base), "end": iso(base + 20_000), "previews": 2}
    body = (await client.get(f"/api/cameras/{cid}/timeline", params=params)).json()
    # Two slices of 10 s: the first segment of each.
    assert [p["time"] for p in body["previews"]] == [iso(base), iso(base + 10_000)]
    params["previews"] = 0
    assert (await client.get(f"/api/cameras/{cid}/timeline", params=params)).status_code == 422


async def test_reconciliation_leaves_previews_alone(
    client: httpx.AsyncClient, footage: Footage, settings: Settings, services: Services
) -> None:
    cid = footage.camera_id
    params = {"start": iso(footage.base_ms), "end": iso(footage.base_ms + 20_000)}
    [preview, *_] = (await client.get(f"/api/cameras/{cid}/timeline", params=params)).json()[
        "previews"
    ]
    assert (await client.get(preview["url"])).status_code == 200
    node = services.node
    assert node is not None
    result = await reconcile_camera(cid, node.name, node.layout, services.nodes, node.outbox)
    assert (result.indexed, result.dropped_rows, result.removed_files) == (0, 0, 0)
    assert (settings.recordings_dir / footage.records[0].path).with_suffix(".jpg").is_file()


async def test_retention_deletes_previews_with_their_segments(
    client: httpx.AsyncClient, footage: Footage, settings: Settings, services: Services
) -> None:
    cid = footage.camera_id
    params = {"start": iso(footage.base_ms), "end": iso(footage.base_ms + 20_000)}
    body = (await client.get(f"/api/cameras/{cid}/timeline", params=params)).json()
    for preview in body["previews"]:
        assert (await client.get(preview["url"])).status_code == 200
    assert services.node is not None
    aged = CameraConfig(id=cid, name="aged", main_url="rtsp://127.0.0.1:9/x", retention_days=0.01)
    report = await services.node.retention.run([aged])
    assert report.by_age == 2  # never the newest segment
    files = [settings.recordings_dir / r.path for r in footage.records]
    assert [(f.exists(), f.with_suffix(".jpg").exists()) for f in files] == [
        (False, False),
        (False, False),
        (True, True),
    ]


async def test_timeline_shows_the_events_and_motion_of_the_range(
    client: httpx.AsyncClient, footage: Footage, services: Services
) -> None:
    cid, base = footage.camera_id, footage.base_ms

    def event(uid: str, start: int, end: int | None) -> EventRecord:
        return EventRecord(
            uid=uid, camera_id=cid, stage=EventStage.NEW, kind=EventKind.OBJECT,
            label="person", score=0.9, zones=["gate"], start_ms=start, end_ms=end,
            last_ms=end or start,
        )  # fmt: skip

    await services.nodes.events_reported(
        "local",
        [event("before", base - 60_000, base - 50_000), event("a", base + 1000, base + 3000),
         event("open", base + 11_000, None)],
    )  # fmt: skip
    await services.nodes.motion_reported(
        "local",
        [MotionSpan(camera_id=cid, start_ms=base + 500, end_ms=base + 3500),
         MotionSpan(camera_id=cid, start_ms=base - 9000, end_ms=base - 8000)],
    )  # fmt: skip
    params = {"start": iso(base), "end": iso(base + 20_000)}
    body = (await client.get(f"/api/cameras/{cid}/timeline", params=params)).json()
    assert [(e["start"], e["end"], e["label"]) for e in body["events"]] == [
        (iso(base + 1000), iso(base + 3000), "person"),
        (iso(base + 11_000), None, "person"),
    ]
    assert body["motion"] == [{"start": iso(base + 500), "end": iso(base + 3500)}]
    # The segments the motion overlaps are marked, the others not.
    segments = (await client.get(f"/api/cameras/{cid}/recordings", params=params)).json()
    marked = [s["start"] for s in segments["segments"] if s["motion"]]
    assert marked == [iso(r.start_ms) for r in footage.records if r.start_ms < base + 3500]


async def test_timeline_spans_follow_retention_protection_and_reconciliation(
    client: httpx.AsyncClient, footage: Footage, settings: Settings, services: Services
) -> None:
    cid, base = footage.camera_id, footage.base_ms
    params = {"start": iso(base), "end": iso(base + 20_000)}
    node = services.node
    assert node is not None

    async def timeline_and_segments() -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
        body = (await client.get(f"/api/cameras/{cid}/timeline", params=params)).json()
        listed = (await client.get(f"/api/cameras/{cid}/recordings", params=params)).json()
        return [(s["start"], s["end"]) for s in body["spans"]], listed["segments"]

    spans, segments = await timeline_and_segments()
    assert spans == [(iso(base), iso(base + 4000)), (iso(base + 10_000), iso(base + 12_000))]
    # The first segment protected: retention by age takes the second only (never the newest).
    protect = {"protected": True}
    url = f"/api/cameras/{cid}/segments/{segments[0]['id']}"
    assert (await client.patch(url, json=protect)).status_code == 200
    aged = CameraConfig(id=cid, name="aged", main_url="rtsp://127.0.0.1:9/x", retention_days=0.01)
    assert (await node.retention.run([aged])).by_age == 1
    await node.outbox.flush()
    spans, _ = await timeline_and_segments()
    assert spans == [(iso(base), iso(base + 2000)), (iso(base + 10_000), iso(base + 12_000))]

    # After a crash: the newest file is lost, and one written just before it was never
    # indexed (it fills the hole retention made). Reconciliation mends both.
    folder = settings.recordings_dir
    (folder / footage.records[2].path).unlink()
    found = segment_key(cid, base + 2000)
    shutil.copyfile(folder / footage.records[0].path, folder / found)
    result = await reconcile_camera(cid, node.name, node.layout, services.nodes, node.outbox)
    assert (result.indexed, result.dropped_rows) == (1, 1)
    await node.outbox.flush()
    spans, segments = await timeline_and_segments()
    assert [s["start"] for s in segments] == [iso(base), iso(base + 2000)]
    assert spans == [(iso(base), segments[1]["end"])]
