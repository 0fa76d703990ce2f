"""Recordings through the API: the timeline of a range, downloads, evidence lock."""

from __future__ import annotations

import httpx

from tests.api.conftest import AddCamera, Footage, unsigned
from tests.conftest import Seed
from vigil.settings import Settings
from vigil.timeutil import iso, now_ms

PROBLEM = "application/problem+json"


def interval(start_ms: int, end_ms: int) -> dict[str, str]:
    return {"start": iso(start_ms), "end": iso(end_ms)}


async def test_timeline_of_a_range_with_a_hole(
    client: httpx.AsyncClient, footage: Footage, sample_mp4: bytes
) -> None:
    cid, base = footage.camera_id, footage.base_ms
    response = await client.get(
        f"/api/cameras/{cid}/recordings",
        params={"start": iso(base - 1000), "end": iso(base + 20_000)},
    )
    assert response.status_code == 200
    timeline = response.json()
    assert timeline["camera_id"] == cid
    assert (timeline["start"], timeline["end"]) == (iso(base - 1000), iso(base + 20_000))
    segments = timeline["segments"]
    assert [s["start"] for s in segments] == [iso(r.start_ms) for r in footage.records]
    first = segments[0]
    assert first["end"] == iso(base + 2000)
    assert first["duration_seconds"] == 2.0
    assert first["size"] == len(sample_mp4)
    assert (first["video_codec"], first["width"], first["height"]) == ("h264", 160, 120)
    assert first["protected"] is False
    assert first["path"] == footage.records[0].path
    assert first["url"].startswith(f"/api/cameras/{cid}/segments/{first['id']}/file?token=")
    assert timeline["spans"] == [
        interval(base, base + 4000),
        interval(base + 10_000, base + 12_000),
    ]
    assert timeline["gaps"] == [
        interval(base - 1000, base),
        interval(base + 4000, base + 10_000),
        interval(base + 12_000, base + 20_000),
    ]
    assert timeline["total_bytes"] == 3 * len(sample_mp4)


async def test_times_in_every_accepted_form(client: httpx.AsyncClient, footage: Footage) -> None:
    cid, base = footage.camera_id, footage.base_ms
    start, end = base - 1000, base + 20_000
    forms = [
        {"start": iso(start), "end": iso(end)},  # ...Z
        {"start": str(start // 1000), "end": str(end // 1000)},  # epoch seconds
        {"start": f"{start / 1000:.3f}", "end": iso(end).replace("Z", "+00:00")},
        {"start": iso(start).removesuffix("Z"), "end": str(end // 1000)},  # naive: UTC
        {"start": iso(start + 7_200_000).replace("Z", "+02:00"), "end": iso(end)},  # offset
    ]
    answers = [
        (await client.get(f"/api/cameras/{cid}/recordings", params=params)).json()
        for params in forms
    ]
    for params, answer in zip(forms, answers, strict=True):
        assert (answer["start"], answer["end"]) == (iso(start), iso(end)), params
        assert unsigned(answer) == unsigned(answers[0])
    assert len(answers[0]["segments"]) == 3


async def test_default_range_is_the_last_day(
    client: httpx.AsyncClient, add_camera: AddCamera, seed: Seed
) -> None:
    cid = (await add_camera(enabled=False))["id"]
    now = now_ms()
    await seed(cid, [(now - 30 * 3_600_000, now - 30 * 3_600_000 + 2000)])  # too old
    await seed(cid, [(now - 3_600_000, now - 3_600_000 + 2000)])
    body = (await client.get(f"/api/cameras/{cid}/recordings")).json()
    assert len(body["segments"]) == 1
    assert body["segments"][0]["start"] == iso(now - 3_600_000)
    assert body["end"] >= iso(now)


async def test_gaps_stop_at_now(client: httpx.AsyncClient, add_camera: AddCamera) -> None:
    cid = (await add_camera(enabled=False))["id"]
    now = now_ms()
    params = {"start": iso(now - 60_000), "end": iso(now + 3_600_000)}
    body = (await client.get(f"/api/cameras/{cid}/recordings", params=params)).json()
    [gap] = body["gaps"]
    assert gap["start"] == iso(now - 60_000)
    assert gap["end"] < iso(now + 60_000)  # the future is not missing footage


async def test_bad_ranges_are_refused(client: httpx.AsyncClient, footage: Footage) -> None:
    url = f"/api/cameras/{footage.camera_id}/recordings"
    cases = [
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "query.end", "after"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "query.end", "31 days"),
        ({"start": "yesterday"}, "query.start", "ISO 8601"),
        ({"end": "nan"}, "query.end", "ISO 8601"),
        ({"end": "1e300"}, "query.end", "from 1970 to 9999"),
    ]
    for params, location, words in cases:
        response = await client.get(url, params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == PROBLEM
        [error] = response.json()["errors"]
        assert error["location"] == location
        assert words in error["detail"]


async def test_segment_metadata_and_download(
    client: httpx.AsyncClient, footage: Footage, sample_mp4: bytes, add_camera: AddCamera
) -> None:
    cid = footage.camera_id
    timeline = (await client.get(f"/api/cameras/{cid}/recordings")).json()
    first = timeline["segments"][0]
    meta = await client.get(f"/api/cameras/{cid}/segments/{first['id']}")
    assert unsigned(meta.json()) == unsigned(first)

    download = await client.get(first["url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert download.headers["accept-ranges"] == "bytes"
    assert download.content == sample_mp4

    part = await client.get(first["url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == sample_mp4[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(sample_mp4)}"

    other = (await add_camera(enabled=False))["id"]
    for url in (
        f"/api/cameras/{cid}/segments/987654",
        f"/api/cameras/{cid}/segments/987654/file",
        f"/api/cameras/{other}/segments/{first['id']}",  # another camera's segment
        f"/api/cameras/{other}/segments/{first['id']}/file",
    ):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == PROBLEM


async def test_missing_file_is_404(
    client: httpx.AsyncClient, footage: Footage, settings: Settings
) -> None:
    record = footage.records[0]
    (settings.recordings_dir / record.path).unlink()
    response = await client.get(f"/api/cameras/{footage.camera_id}/files/{record.path}")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_download_by_path_serves_only_indexed_files(
    client: httpx.AsyncClient,
    footage: Footage,
    sample_mp4: bytes,
    settings: Settings,
    add_camera: AddCamera,
) -> None:
    cid = footage.camera_id
    key = footage.records[0].path
    ok = await client.get(f"/api/cameras/{cid}/files/{key}")
    assert ok.status_code == 200
    assert ok.content == sample_mp4

    # Files that exist but must never be served: beside and above the recordings folder,
    # and one in the camera's folder that the index does not know.
    (settings.recordings_dir / "secret.txt").write_text("nope")
    (settings.data_dir / "secret.txt").write_text("nope")
    stray = settings.recordings_dir / str(cid) / "stray.mp4"
    stray.write_bytes(sample_mp4)
    other = (await add_camera(enabled=False))["id"]
    # httpx removes literal "/../" before sending; "%2e%2e" reaches the app as "..",
    # exactly as a literal ".." from another client would.
    for path in (
        f"/api/cameras/{cid}/files/%2e%2e/secret.txt",
        f"/api/cameras/{cid}/files/{cid}/%2e%2e/%2e%2e/secret.txt",
        f"/api/cameras/{cid}/files/{cid}/..%2f..%2fsecret.txt",
        f"/api/cameras/{cid}/files/%2E%2E%2Fsecret.txt",
        f"/api/cameras/{cid}/files/{settings.data_dir / 'secret.txt'}",
        f"/api/cameras/{cid}/files/%2F{str(settings.data_dir / 'secret.txt')[1:]}",
        f"/api/cameras/{cid}/files/{cid}/stray.mp4",
        f"/api/cameras/{cid}/files/{cid}/%2e%2e/{key}",  # the right file, by a detour
        f"/api/cameras/{cid}/files/{key}%00",
        f"/api/cameras/{cid}/files/{'a/' * 400}x.mp4",
        f"/api/cameras/{other}/files/{key}",  # another camera's file
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM
        assert "nope" not in response.text
        assert str(settings.data_dir) not in response.json()["detail"]


async def test_protect_and_release_a_range(client: httpx.AsyncClient, footage: Footage) -> None:
    cid, base = footage.camera_id, footage.base_ms
    protect = await client.post(
        f"/api/cameras/{cid}/recordings/protect", json=interval(base + 1000, base + 3000)
    )
    assert protect.status_code == 200
    assert protect.json() == {"segments": 2}
    window = {"start": iso(base), "end": iso(base + 20_000)}
    timeline = (await client.get(f"/api/cameras/{cid}/recordings", params=window)).json()
    assert [s["protected"] for s in timeline["segments"]] == [True, True, False]

    # Epoch seconds work in bodies too.
    release = await client.post(
        f"/api/cameras/{cid}/recordings/unprotect",
        json={"start": base / 1000, "end": (base + 2000) / 1000},
    )
    assert release.json() == {"segments": 1}
    timeline = (await client.get(f"/api/cameras/{cid}/recordings", params=window)).json()
    assert [s["protected"] for s in timeline["segments"]] == [False, True, False]

    nothing = await client.post(
        f"/api/cameras/{cid}/recordings/protect", json=interval(base - 60_000, base - 30_000)
    )
    assert nothing.json() == {"segments": 0}


async def test_protect_needs_a_valid_range(client: httpx.AsyncClient, footage: Footage) -> None:
    url = f"/api/cameras/{footage.camera_id}/recordings/protect"
    for body, locations in (
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, {"body.end"}),
        ({"start": "2026-01-01T00:00:00Z"}, {"body.end"}),
        ({"start": True, "end": "2026-01-01T00:00:00Z"}, {"body.start"}),
        ({"start": 1, "end": 2, "camera": 3}, {"body.camera"}),
    ):
        response = await client.post(url, json=body)
        assert response.status_code == 422, body
        assert {e["location"] for e in response.json()["errors"]} == locations


async def test_protect_one_segment(client: httpx.AsyncClient, footage: Footage) -> None:
    cid = footage.camera_id
    window = interval(footage.base_ms, footage.base_ms + 20_000)
    timeline = (await client.get(f"/api/cameras/{cid}/recordings", params=window)).json()
    seg = timeline["segments"][2]
    url = f"/api/cameras/{cid}/segments/{seg['id']}"
    locked = await client.patch(url, json={"protected": True})
    assert locked.status_code == 200
    assert unsigned(locked.json()) == {**unsigned(seg), "protected": True}
    assert (await client.get(url)).json()["protected"] is True
    assert (await client.patch(url, json={"protected": False})).json()["protected"] is False
    bad = await client.patch(url, json={"protected": "maybe"})
    assert bad.status_code == 422
    missing = await client.patch(f"/api/cameras/{cid}/segments/987654", json={"protected": True})
    assert missing.status_code == 404
