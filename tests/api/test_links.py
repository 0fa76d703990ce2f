"""Signed media links: players and <video> tags reach media without cookies, for a few
minutes, for one user and one camera or export, and only while that user may."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.api.conftest import AddCamera, Footage
from tests.conftest import TEST_ORG
from tests.people import grant, make_user
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.auth.tokens import MediaKind
from vigil.store.audit import AuditFilter
from vigil.store.models import CameraGroup, User
from vigil.timeutil import iso


def _type(response: httpx.Response) -> str:
    return str(response.json()["type"]).rsplit(":", 1)[-1]


async def test_links_from_the_api_work_without_cookies(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, footage: Footage
) -> None:
    cid, base = footage.camera_id, footage.base_ms
    listed = (await client.get(f"/api/cameras/{cid}/recordings")).json()
    file_url = listed["segments"][0]["url"]
    assert "?token=" in file_url
    downloaded = await anonymous.get(file_url)
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == "video/mp4"

    timeline = (await client.get(f"/api/cameras/{cid}/timeline")).json()
    preview = await anonymous.get(timeline["previews"][0]["url"])
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/jpeg"

    # The playlist fetched through a link hands the same link to every file it names.
    token = file_url.split("?token=", 1)[1]
    params = {"start": iso(base), "end": iso(base + 4000), "token": token}
    playlist = await anonymous.get(f"/api/cameras/{cid}/vod.m3u8", params=params)
    assert playlist.status_code == 200
    uri = next(line for line in playlist.text.splitlines() if line.startswith("files/"))
    assert "?token=" in uri
    assert (await anonymous.get(f"/api/cameras/{cid}/{uri}")).status_code == 200

    # Without the link, nothing.
    assert (await anonymous.get(file_url.split("?")[0])).status_code == 401


async def test_tampered_expired_and_misused_links_are_refused(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    footage: Footage,
    add_camera: AddCamera,
    services: Services,
    admin: User,
) -> None:
    cid = footage.camera_id
    other = (await add_camera(enabled=False))["id"]
    signer = services.auth.signer
    file_path = f"/api/cameras/{cid}/segments/1/file"
    good = signer.sign(admin.id, MediaKind.RECORDINGS, cid)
    assert (await anonymous.get(file_path, params={"token": good})).status_code == 200

    payload, _, mac = good.rpartition(".")
    user, kind, target, expires = payload.split(".")
    refused = {
        "tampered signature": f"{payload}.{mac[::-1]}",
        "longer life": f"{user}.{kind}.{target}.{int(expires) + 3600}.{mac}",
        "another user": f"{int(user) + 1}.{kind}.{target}.{expires}.{mac}",
        "expired": signer.sign(admin.id, MediaKind.RECORDINGS, cid, now=time.time() - 3600),
        "another camera": signer.sign(admin.id, MediaKind.RECORDINGS, other),
        "live, not recordings": signer.sign(admin.id, MediaKind.LIVE, cid),
        "garbage": "not-a-link",
        "over-long": "1." * 300,
    }
    for why, token in refused.items():
        response = await anonymous.get(file_path, params={"token": token})
        assert response.status_code == 401, why
        assert _type(response) == "not-authenticated", why
        assert token not in response.text, why

    # Forged and misused links are in the camera's organisation's log, sampled: the first
    # of each reason in a minute; expired ones (the normal end of a link) are not.
    refusals = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["link.refused"]))
    assert {e.outcome for e in refusals} == {"denied"}
    assert sorted(e.detail["reason"] for e in refusals) == [
        "altered or malformed",
        "used for something else",
    ]
    assert all(e.user_id is None and e.ip for e in refusals)

    # A link opens media routes only: never the rest of the API.
    assert (await anonymous.get("/api/cameras", params={"token": good})).status_code == 401
    assert (
        await anonymous.get(f"/api/cameras/{cid}/recordings", params={"token": good})
    ).status_code == 401


async def test_a_thousand_tampered_links_add_a_bounded_number_of_audit_rows(
    anonymous: httpx.AsyncClient, footage: Footage, services: Services, admin: User
) -> None:
    """Anyone can send tampered links by the thousand: each is refused, but the audit log
    of the camera's organisation grows by a few sampled rows, not a row each; the next row
    after the window says how many went unwritten."""
    cid = footage.camera_id
    good = services.auth.signer.sign(admin.id, MediaKind.RECORDINGS, cid)
    payload, _, mac = good.rpartition(".")
    path = f"/api/cameras/{cid}/segments/1/file"

    async def tampered(i: int) -> int:
        forged = f"{payload}.{mac[:-4]}{i:04d}"
        return (await anonymous.get(path, params={"token": forged})).status_code

    statuses = []
    for start in range(0, 1000, 50):  # 20 waves of 50 at once
        statuses += await asyncio.gather(*(tampered(i) for i in range(start, start + 50)))
    assert statuses == [401] * 1000
    rows = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["link.refused"]))
    assert len(rows) == 1
    assert rows[0].detail["reason"] == "altered or malformed"

    # Once the window has passed, the next refusal is written with the count it stood for.
    services.auth.refusals.window_seconds = 0.0
    assert await tampered(1000) == 401
    rows = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["link.refused"]))
    assert len(rows) == 2
    assert rows[0].detail["unwritten_before"] == 999


async def test_a_link_dies_with_the_access_it_was_made_from(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    footage: Footage,
    services: Services,
) -> None:
    cid = footage.camera_id
    viewer = await make_user(services, "parent", "viewer")
    await grant(services, TEST_ORG, [cid], {Permission.VIEW_RECORDINGS}, viewer.id)
    token = services.auth.signer.sign(viewer.id, MediaKind.RECORDINGS, cid)
    frame = f"/api/cameras/{cid}/frame.jpg"
    params = {"at": iso(footage.base_ms + 500), "token": token}
    shown = await anonymous.get(frame, params=params)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/jpeg"
    entries = await services.auth.audit.query(
        TEST_ORG, AuditFilter(user_id=viewer.id, actions=["recording.view"])
    )
    assert [e.target for e in entries] == [f"camera:{cid}"]

    # The viewer may not see live: a live link made for them does not open it either.
    live = services.auth.signer.sign(viewer.id, MediaKind.LIVE, cid)
    snapshot = await anonymous.get(f"/api/cameras/{cid}/snapshot.jpg", params={"token": live})
    assert snapshot.status_code == 403

    # Rights taken away: the camera is as if it did not exist for that link.
    for group in await services.auth.access.of_org(CameraGroup, TEST_ORG):
        await services.auth.access.delete(CameraGroup, TEST_ORG, group.id)
    services.auth.forget_access()
    gone = await anonymous.get(frame, params=params)
    assert gone.status_code == 404
    assert _type(gone) == "camera-not-found"

    # A disabled account's links stop at once.
    await grant(services, TEST_ORG, [cid], {Permission.VIEW_RECORDINGS}, viewer.id)
    assert (await anonymous.get(frame, params=params)).status_code == 200
    await services.auth.users.update(TEST_ORG, viewer.id, {"disabled": True})
    services.auth.forget_user(viewer.id)
    assert (await anonymous.get(frame, params=params)).status_code == 401


async def test_export_files_are_reached_by_link(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, services: Services, admin: User
) -> None:
    other = await make_user(services, "clerk", "operator")
    token = services.auth.signer.sign(other.id, MediaKind.EXPORT, 1)
    # No export 1 for anyone: a link for it answers as if it did not exist.
    response = await anonymous.get("/api/exports/1/manifest", params={"token": token})
    assert response.status_code == 404
    camera_link = services.auth.signer.sign(admin.id, MediaKind.RECORDINGS, 1)
    response = await anonymous.get("/api/exports/1/manifest", params={"token": camera_link})
    assert response.status_code == 401
