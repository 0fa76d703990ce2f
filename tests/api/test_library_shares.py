"""Sharing through the API: the groups an editor shares with, a link's page address, its
file links signed once the password is given (a player needs no password header, and its
range requests never count as guesses), links listed per item or event, and why a link no
longer works: withdrawn or expired."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI

from tests.api.test_library import classes, photo, uploaded  # noqa: F401 - fixtures
from tests.conftest import SecretWatch
from tests.library.media_samples import rotated_jpeg
from tests.people import make_user, signed_in
from vigil.app import Services
from vigil.settings import Settings
from vigil.timeutil import now_ms

PASSWORD = "open sesame 42"


async def test_groups_to_share_with_are_listed_for_editors_by_name(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    classes: dict[str, int],  # noqa: F811
) -> None:
    await make_user(services, "teacher", "operator")
    async with signed_in(app, "teacher") as teacher:
        groups = (await teacher.get("/api/library/groups")).json()
    assert groups == [{"id": classes["3A"], "name": "3A"}, {"id": classes["3B"], "name": "3B"}]
    # Names only: who is in a class is for admins (GET /api/user-groups).
    assert (await client.get("/api/library/groups")).json() == groups


async def test_a_shared_video_plays_from_signed_links_without_its_password(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    photo: bytes,  # noqa: F811
    secret_watch: SecretWatch,
    tmp_path: Path,
) -> None:
    item = await uploaded(client, services, photo, title="Prize giving")
    second = rotated_jpeg(tmp_path / "other.jpg", offset="+05:00").read_bytes()
    other = await uploaded(client, services, second, title="Other")
    made = await client.post(
        "/api/library/shares", json={"item_id": item["id"], "days": 1, "password": PASSWORD}
    )
    assert made.status_code == 201, made.text
    link = made.json()
    token = link["url"].rsplit("/", 1)[1]
    secret_watch.add(token)
    assert link["page_url"] == f"/s/{token}"
    # The page itself is for anyone: it carries nothing of the library.
    page = await anonymous.get(link["page_url"])
    assert page.status_code == 200
    assert "Prize giving" not in page.text

    shared = await anonymous.get(link["url"], headers={"Share-Password": PASSWORD})
    assert shared.status_code == 200, shared.text
    assert shared.json()["kind"] == "item"
    (entry,) = shared.json()["items"]
    original = entry["files"]["original"]
    assert parse_qs(urlsplit(original).query)["sig"]
    # A player's requests: no password, ranges, many at once; none is a password guess.
    parts = await asyncio.gather(
        *(
            anonymous.get(original, headers={"Range": f"bytes={n * 10}-{n * 10 + 9}"})
            for n in range(20)
        )
    )
    assert [p.status_code for p in parts] == [206] * 20
    assert b"".join(p.content for p in parts) == photo[:200]
    whole = await anonymous.get(original)
    assert whole.content == photo
    assert whole.headers["content-disposition"].startswith("attachment")
    thumb = await anonymous.get(entry["files"]["thumb"])
    assert thumb.headers["content-type"] == "image/jpeg"

    # The signature is for this link and this item: not another item, nor altered.
    sig = parse_qs(urlsplit(original).query)["sig"][0]
    base = link["url"] + f"/items/{other['id']}/original"
    for wrong in (f"{base}?sig={sig}", original[:-3] + "AAA", original.split("?")[0] + "?sig=x"):
        refused = await anonymous.get(wrong)
        assert refused.status_code == 401, wrong
        assert refused.json()["type"] == "urn:vigil:problem:share-password"
    # A signed link does not stand in for the password on the share itself.
    assert (await anonymous.get(f"{link['url']}?sig={sig}")).status_code == 401

    # Listed with its item, not with others; withdrawn, its files stop at once.
    listed = (await client.get("/api/library/shares", params={"item_id": item["id"]})).json()
    assert [s["id"] for s in listed] == [link["id"]]
    assert listed[0]["page_url"] is None  # shown once
    assert (await client.get("/api/library/shares", params={"item_id": other["id"]})).json() == []
    assert (await client.delete(f"/api/library/shares/{link['id']}")).status_code == 204
    gone = await anonymous.get(original)
    assert gone.status_code == 410
    assert gone.json()["reason"] == "withdrawn"
    assert "withdrawn" in gone.json()["detail"]


async def test_an_event_share_lists_its_items_and_an_expired_link_says_so(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    photo: bytes,  # noqa: F811
) -> None:
    event = await client.post(
        "/api/library/events", json={"name": "Sports day", "start": "2026-06-01T09:00:00Z"}
    )
    event_id = event.json()["id"]
    await uploaded(client, services, photo, title="Start line", event_id=str(event_id))
    made = (await client.post("/api/library/shares", json={"event_id": event_id, "days": 1})).json()
    shared = (await anonymous.get(made["url"])).json()
    assert (shared["kind"], shared["title"]) == ("event", "Sports day")
    assert [i["title"] for i in shared["items"]] == ["Start line"]
    listed = await client.get("/api/library/shares", params={"event_id": event_id})
    assert [s["id"] for s in listed.json()] == [made["id"]]

    await services.library.store.update_share(1, made["id"], expires_at=now_ms() - 1)
    expired = await anonymous.get(made["url"])
    assert expired.status_code == 410
    assert expired.json()["detail"] == "This share link has expired."
    assert expired.json()["reason"] == "expired"
    files = await anonymous.get(shared["items"][0]["files"]["thumb"])
    assert files.status_code == 410
