"""Exports end to end: simulator footage, real ffmpeg, the API, the manifest, retention."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import subprocess
from pathlib import Path
from typing import Any

import av
import httpx
import psutil
from typer.testing import CliRunner

from tests.exports.conftest import AddFootage, Recording, first_packets, wait_export
from vigil.app import Services
from vigil.cli import cli
from vigil.exports.manifest import MANIFEST, MANIFEST_SHA256, SHA256SUMS
from vigil.media.mp4 import file_boxes
from vigil.settings import Settings
from vigil.sim.framecode import read_frame_code
from vigil.timeutil import iso, parse_instant

FPS = 10  # tests/conftest.py SMALL_CLIP: 10 fps, a keyframe a second, a 20 s loop
LOOP_FRAMES = 200


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def video_seconds(path: Path, kind: str = "video") -> float:
    """Seconds of video (or audio) a player plays: first frame's start to last frame's end
    (PyAV, demux; frames an edit list hides left out)."""
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        assert stream.time_base is not None
        packets = [p for p in container.demux(stream) if p.pts is not None and not p.is_discard]
        first = min(p.pts for p in packets if p.pts is not None)
        end = max(p.pts + (p.duration or 0) for p in packets if p.pts is not None)
        return float((end - first) * stream.time_base)


def shown_frame_codes(path: Path) -> list[int]:
    """The simulator's frame code of every frame a player shows, in order."""
    with av.open(str(path)) as container:
        return [read_frame_code(frame) for frame in container.decode(video=0)]


def codecs(path: Path) -> tuple[str, str | None]:
    with av.open(str(path)) as container:
        audio = container.streams.audio
        return (
            container.streams.video[0].codec_context.name,
            audio[0].codec_context.name if audio else None,
        )


def first_frame(path: Path) -> list[bytes]:
    """Rows of the first frame's luma (Y) plane."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0)).reformat(format="yuv420p")
        plane = frame.planes[0]
        data = bytes(plane)
        return [
            data[row * plane.line_size : row * plane.line_size + frame.width]
            for row in range(frame.height)
        ]


def difference(a: list[bytes], b: list[bytes], rows: slice, columns: slice) -> float:
    """Mean absolute luma difference of two frames over a region."""
    pairs = [
        (x, y)
        for row_a, row_b in zip(a[rows], b[rows], strict=True)
        for x, y in zip(row_a[columns], row_b[columns], strict=True)
    ]
    return sum(abs(x - y) for x, y in pairs) / len(pairs)


def verify(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["export", "verify", str(folder)])
    return result.exit_code, result.output


async def export(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body = {**body, "start": iso(body["start"]), "end": iso(body["end"])}
    response = await client.post("/api/exports", json=body)
    assert response.status_code == 202, response.text
    created = dict(response.json())
    assert response.headers["location"] == f"/api/exports/{created['id']}"
    assert created["status"] in ("queued", "running")
    done = await wait_export(client, created["id"])
    assert done["status"] == "done", done["error"]
    return done


async def test_a_30_second_export_from_a_connections_first_segment_is_cut_to_the_frame(
    client: httpx.AsyncClient,
    settings: Settings,
    add_footage: AddFootage,
    recordings: list[Recording],
) -> None:
    camera = await add_footage(0, name="Front door")
    first_file, second_file = (recordings[0].root / s.path for s in recordings[0].segments[:2])
    # The first segment of the connection: the recorder joined mid-GOP, the camera's keyframe
    # came without a timestamp and is stamped at zero, lasting until the next frame's stamp.
    (_, lead), (_, frame) = await asyncio.to_thread(first_packets, first_file, 2)
    assert lead > 1.5 * frame, "the recorder did not join the camera mid-GOP"
    # Mid-segment, between keyframes (1 s apart), in that first segment.
    start = camera.segments[0].start_ms + 1300
    end = start + 30_000
    done = await export(client, camera_ids=[camera.id], start=start, end=end, title="Case 42")

    assert done["progress"] == 1
    assert done["requested_by"] == "admin"
    [entry] = done["files"]
    folder = settings.data_dir / "exports" / str(done["id"])
    path = folder / entry["name"]
    assert not path.is_relative_to(settings.recordings_dir)

    # What a player sees: H.264 + AAC, 30 s to the frame, moov before mdat.
    assert codecs(path) == ("h264", "aac")
    assert abs(video_seconds(path) - 30) <= 1 / FPS, video_seconds(path)
    assert abs(video_seconds(path, "audio") - 30) <= 1 / FPS, video_seconds(path, "audio")
    boxes = [box.type for box in file_boxes(path).boxes]
    assert boxes.index("moov") < boxes.index("mdat")
    first = parse_instant(entry["first_instant"])
    last = parse_instant(entry["last_instant"])
    assert start <= first < start + 1000 // FPS
    assert abs(last - end) < 1000 // FPS

    # The frames at both ends are the ones the manifest names, read off the picture: the
    # frame code at an instant counts on from the second segment's first frame (a keyframe
    # stamped right, its segment's start), ten a second. Every frame between is there.
    reference = camera.segments[1].start_ms
    reference_code = (await asyncio.to_thread(shown_frame_codes, second_file))[0]

    def code_at(instant: int) -> int:
        return (reference_code + round((instant - reference) * FPS / 1000)) % LOOP_FRAMES

    codes = await asyncio.to_thread(shown_frame_codes, path)
    assert codes[0] == code_at(first)
    assert codes[-1] == code_at(last - 1000 // FPS)
    assert all((b - a) % LOOP_FRAMES == 1 for a, b in itertools.pairwise(codes)), codes
    assert len(codes) == round((last - first) * FPS / 1000)

    # Downloads: the whole file, and a byte range.
    whole = await client.get(entry["url"])
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.content == path.read_bytes()
    part = await client.get(entry["url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole.content[100:200]

    # The manifest: served byte for byte, naming camera, range, sources and hashes.
    served = await client.get(f"/api/exports/{done['id']}/manifest")
    assert served.status_code == 200
    assert served.content == (folder / MANIFEST).read_bytes()
    manifest = served.json()
    assert manifest["export_id"] == done["id"]
    assert manifest["title"] == "Case 42"
    assert manifest["exported_by"] == "admin"
    assert (manifest["requested_start"], manifest["requested_end"]) == (iso(start), iso(end))
    assert manifest["ffmpeg_version"].startswith("ffmpeg version")
    assert manifest["vigil_version"]
    [described] = manifest["files"]
    assert (described["camera_id"], described["camera_name"]) == (camera.id, "Front door")
    assert described["sha256"] == entry["sha256"] == sha256(path)
    assert described["size"] == path.stat().st_size
    assert described["re_encoded"] is False
    assert described["gaps"] == []
    originals = {iso(s.start_ms): s for s in recordings[0].segments}
    assert len(described["sources"]) >= 15
    for source in described["sources"]:
        original = recordings[0].root / originals[source["start"]].path
        assert source["sha256"] == sha256(original)
        assert source["size"] == original.stat().st_size

    # Standard tools and Vigil agree that it is intact...
    for listing in (MANIFEST_SHA256, SHA256SUMS):
        subprocess.run(["sha256sum", "--quiet", "-c", listing], cwd=folder, check=True)
    code, output = verify(folder)
    assert code == 0, output

    # ...and both notice one changed byte, naming the file.
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert (
        subprocess.run(["sha256sum", "-c", SHA256SUMS], cwd=folder, capture_output=True).returncode
        == 1
    )
    code, output = verify(folder)
    assert code == 1
    assert f"MISMATCH {entry['name']}" in output


async def test_two_cameras_give_two_files_and_the_list_is_newest_first(
    client: httpx.AsyncClient, settings: Settings, add_footage: AddFootage
) -> None:
    first_camera = await add_footage(0)
    second_camera = await add_footage(1)
    start = max(first_camera.start_ms, second_camera.start_ms) + 4000
    one = await export(client, camera_ids=[first_camera.id], start=start, end=start + 5000)
    both = await export(
        client, camera_ids=[first_camera.id, second_camera.id], start=start, end=start + 5000
    )

    assert [f["camera_id"] for f in both["files"]] == [first_camera.id, second_camera.id]
    folder = settings.data_dir / "exports" / str(both["id"])
    for entry in both["files"]:
        path = folder / entry["name"]
        assert codecs(path) == ("h264", "aac")
        assert abs(video_seconds(path) - 5) <= 1.0
    assert len({f["name"] for f in both["files"]}) == 2
    listed = (await client.get("/api/exports")).json()
    assert [e["id"] for e in listed] == [both["id"], one["id"]]
    assert verify(folder)[0] == 0


async def test_a_gap_in_the_range_stays_a_gap_in_time(
    client: httpx.AsyncClient, settings: Settings, add_footage: AddFootage
) -> None:
    camera = await add_footage(0, skip=(4,))  # segment 4 (2 s) lost: the camera dropped
    start = camera.segments[1].start_ms
    end = start + 10_000
    done = await export(client, camera_ids=[camera.id], start=start, end=end)

    [entry] = done["files"]
    path = settings.data_dir / "exports" / str(done["id"]) / entry["name"]
    # The file spans the whole range: the frames after the gap keep their recorded instants.
    assert abs(video_seconds(path) - 10) <= 0.3
    manifest = (await client.get(f"/api/exports/{done['id']}/manifest")).json()
    [gap] = manifest["files"][0]["gaps"]
    seconds = (parse_instant(gap["end"]) - parse_instant(gap["start"])) / 1000
    assert abs(seconds - 2) <= 0.3


async def test_burn_in_re_encodes_with_the_name_and_time_drawn(
    client: httpx.AsyncClient, settings: Settings, add_footage: AddFootage
) -> None:
    camera = await add_footage(0, name="Gate 100% \\ yard")
    start = camera.segments[2].start_ms
    body = {"camera_ids": [camera.id], "start": start, "end": start + 6000}
    plain = await export(client, **body)
    burnt = await export(client, **body, burn_in=True)

    plain_path = settings.data_dir / "exports" / str(plain["id"]) / plain["files"][0]["name"]
    burnt_path = settings.data_dir / "exports" / str(burnt["id"]) / burnt["files"][0]["name"]
    assert codecs(burnt_path) == ("h264", "aac")
    assert abs(video_seconds(burnt_path) - 6) <= 1.0, video_seconds(burnt_path)
    # Same instant, same picture but for the label in the top-left corner.
    original, labelled = first_frame(plain_path), first_frame(burnt_path)
    corner = difference(original, labelled, slice(0, 40), slice(0, 160))
    rest = difference(original, labelled, slice(120, 240), slice(0, 320))
    assert corner > 20, (corner, rest)
    assert rest < 8, (corner, rest)
    manifest = (await client.get(f"/api/exports/{burnt['id']}/manifest")).json()
    assert manifest["burn_in"] is True
    assert manifest["files"][0]["re_encoded"] is True
    assert verify(burnt_path.parent)[0] == 0


async def test_bad_requests_are_problems_naming_what_is_wrong(
    client: httpx.AsyncClient, add_footage: AddFootage
) -> None:
    camera = await add_footage(0, name="Porch")
    start = camera.start_ms

    async def post(**body: Any) -> httpx.Response:
        return await client.post("/api/exports", json=body)

    unknown = await post(camera_ids=[camera.id, 999_999], start=start / 1000, end=start / 1000 + 5)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "999999" in unknown.json()["detail"]

    backwards = await post(camera_ids=[camera.id], start=start / 1000 + 5, end=start / 1000)
    assert backwards.status_code == 422
    assert "end must be after start" in backwards.json()["detail"]

    too_long = await post(camera_ids=[camera.id], start=start / 1000, end=start / 1000 + 86_401)
    assert too_long.status_code == 422
    assert "24 hours" in too_long.json()["detail"]

    twice = await post(camera_ids=[camera.id, camera.id], start=start / 1000, end=start / 1000 + 5)
    assert twice.status_code == 422

    empty_from, empty_to = start - 7_200_000, start - 3_600_000
    nothing = await post(camera_ids=[camera.id], start=iso(empty_from), end=iso(empty_to))
    assert nothing.status_code == 404
    problem = nothing.json()
    assert problem["type"] == "urn:vigil:problem:no-footage"
    assert "Porch" in problem["detail"]
    assert iso(empty_from) in problem["detail"]
    assert iso(empty_to) in problem["detail"]

    assert (await client.get("/api/exports")).json() == []
    missing = await client.get("/api/exports/12345")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:vigil:problem:export-not-found"


async def test_delete_removes_files_and_record_and_only_export_files_are_served(
    client: httpx.AsyncClient, settings: Settings, add_footage: AddFootage
) -> None:
    camera = await add_footage(0)
    done = await export(
        client, camera_ids=[camera.id], start=camera.start_ms, end=camera.start_ms + 4000
    )
    export_id = done["id"]
    folder = settings.data_dir / "exports" / str(export_id)
    for name in (SHA256SUMS, MANIFEST_SHA256):
        assert (await client.get(f"/api/exports/{export_id}/files/{name}")).status_code == 200
    for trick in ("..%2F..%2Fvigil.db", "%2E%2E", ".work", "concat.txt", "x.mp4", "..%2F1"):
        response = await client.get(f"/api/exports/{export_id}/files/{trick}")
        assert response.status_code == 404, trick

    assert (await client.delete(f"/api/exports/{export_id}")).status_code == 204
    assert not folder.exists()
    assert (await client.get(f"/api/exports/{export_id}")).status_code == 404
    assert (await client.get(done["files"][0]["url"])).status_code == 404
    assert (await client.delete(f"/api/exports/{export_id}")).status_code == 404


async def test_deleting_a_running_export_cancels_it_and_leaves_nothing(
    client: httpx.AsyncClient, settings: Settings, add_footage: AddFootage
) -> None:
    camera = await add_footage(0)
    body = {
        "camera_ids": [camera.id],
        "start": iso(camera.start_ms),
        "end": iso(camera.end_ms),
        "burn_in": True,
    }
    created = (await client.post("/api/exports", json=body)).json()
    assert (await client.delete(f"/api/exports/{created['id']}")).status_code == 204
    assert not (settings.data_dir / "exports" / str(created["id"])).exists()
    assert (await client.get("/api/exports")).json() == []
    ffmpegs = [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]
    assert ffmpegs == []


async def test_exports_survive_retention_even_below_the_free_space_floor(
    client: httpx.AsyncClient, services: Services, settings: Settings, add_footage: AddFootage
) -> None:
    camera = await add_footage(0)
    done = await export(
        client, camera_ids=[camera.id], start=camera.start_ms, end=camera.start_ms + 6000
    )
    folder = settings.data_dir / "exports" / str(done["id"])

    assert services.node is not None
    total, _, _ = await services.node.disk_usage()
    services.node.retention.min_free_bytes = total + 1  # a floor no disk can meet
    report = await services.node.enforce_retention()

    assert report.by_free_space == len(camera.segments) - 1  # all but the newest went
    assert verify(folder)[0] == 0
    assert (await client.get(f"/api/exports/{done['id']}")).json()["status"] == "done"
    assert (await client.get(done["files"][0]["url"])).status_code == 200
