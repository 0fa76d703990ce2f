"""People for tests: accounts of each role, signed-in HTTP clients, API keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import TEST_ORG, SecretWatch
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.auth.tokens import new_api_key, token_hash
from vigil.store.models import CameraGroup, Grant, User
from vigil.timeutil import now_ms

# Long enough, and not among the common passwords.
PASSWORD = "amber-lantern-quietly-47"
ADMIN = "admin"


async def make_user(
    services: Services,
    username: str,
    role: str,
    org_id: int = TEST_ORG,
    password: str = PASSWORD,
) -> User:
    password_hash = await services.auth.new_password_hash(password, username)
    return await services.auth.users.create(org_id, username, role, password_hash)


async def grant(
    services: Services,
    org_id: int,
    camera_ids: list[int],
    permissions: set[Permission],
    user_id: int,
) -> None:
    """Give one user ``permissions`` on ``camera_ids`` through a camera group of their own."""
    access = services.auth.access
    group = await access.add(
        CameraGroup(org_id=org_id, name=f"cameras for user {user_id}", camera_ids=camera_ids)
    )
    await access.add(
        Grant(
            org_id=org_id,
            camera_group_id=group.id,
            user_id=user_id,
            permissions=sorted(p.value for p in permissions),
        )
    )
    services.auth.forget_access()


async def api_key(
    services: Services, user: User, scopes: list[str], watch: SecretWatch | None = None
) -> str:
    key = new_api_key()
    await services.auth.keys.create(user.id, "test key", token_hash(key), scopes, now_ms(), None)
    if watch is not None:
        watch.add(key)
    return key


def watch_responses(watch: SecretWatch, reveal: tuple[str, ...] = ()) -> dict[str, Any]:
    """httpx event hooks that check every response body for the watched secrets, except
    on paths in ``reveal`` (which show a new secret once, by design)."""

    async def check(response: httpx.Response) -> None:
        await response.aread()
        if response.request.url.path.endswith(reveal) and reveal:
            return
        if response.headers.get("content-type", "").startswith(("application/", "text/")):
            watch.check(response.text, f"the response to {response.request.url.path}")

    return {"response": [check]}


@asynccontextmanager
async def signed_in(
    app: FastAPI,
    username: str,
    password: str = PASSWORD,
    watch: SecretWatch | None = None,
    reveal: tuple[str, ...] = ("/api/me/keys", "/api/me/mfa/totp"),
) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in through the API, sending the CSRF header on every request."""
    hooks = watch_responses(watch, reveal) if watch is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", event_hooks=hooks
    ) as http:
        response = await http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        if watch is not None:
            watch.add(password, http.cookies["vigil_session"])
        http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield http
