"""The first-run setup: done once, by one person, however many try at the same moment."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.conftest import TEST_ORG
from tests.people import PASSWORD
from vigil.app import Services


async def test_twenty_people_set_up_at_once_and_one_becomes_admin(
    app: FastAPI, services: Services
) -> None:
    async def set_up(i: int) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            body = {"organisation": f"School {i}", "username": f"head{i}", "password": PASSWORD}
            return await http.post("/api/auth/setup", json=body)

    answers = await asyncio.gather(*(set_up(i) for i in range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [403] * 19
    (winner,) = [a for a in answers if a.status_code == 201]
    for refused in (a for a in answers if a.status_code == 403):
        assert refused.json()["type"] == "urn:vigil:problem:setup-done"
        assert "vigil_session" not in refused.headers.get("set-cookie", "")

    people = await services.auth.users.of_org(TEST_ORG)
    assert [(p.username, p.role) for p in people] == [(winner.json()["user"]["username"], "admin")]
    assert await services.auth.users.count() == 1
    org = await services.auth.users.org(TEST_ORG)
    assert org.name == winner.json()["user"]["org"]["name"]
    assert [o.name for o in await services.auth.users.orgs()] == [org.name]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/api/auth/setup")).json() == {"needed": False}
        late = await http.post(
            "/api/auth/setup",
            json={"organisation": "Late", "username": "late", "password": PASSWORD},
        )
        assert late.status_code == 403


async def test_setup_stays_closed_once_claimed_even_if_everyone_is_removed(
    app: FastAPI, services: Services
) -> None:
    """An install whose people were all removed is not open to the next stranger: the
    command line (vigil users create-admin) brings an admin back."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        body = {"organisation": "Hill school", "username": "head", "password": PASSWORD}
        created = await http.post("/api/auth/setup", json=body)
        assert created.status_code == 201
        await services.auth.users.delete(TEST_ORG, created.json()["user"]["id"])
        assert await services.auth.users.count() == 0
        assert (await http.get("/api/auth/setup")).json() == {"needed": False}
        again = await http.post("/api/auth/setup", json={**body, "username": "stranger"})
        assert again.status_code == 403
