"""Keeping the fuzz run signed in: the few requests that would take its own credentials or
admins away are answered by a guard, not the server."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tests.fuzz.server_errors import Asgi, Receive, Scope, Send
from vigil.api.security import SESSION_COOKIE


@dataclass(slots=True)
class Fuzzer:
    """Who the run acts as: an admin's API key with every scope, and another admin's
    browser session (only a session may use ``/api/me``), once signed in."""

    key_user_id: int
    key: str
    key_id: int
    session_user_id: int
    session: str = ""
    session_id: int = 0
    csrf: str = ""

    def refuses(self, method: str, path: str, headers: dict[bytes, bytes]) -> bool:
        """Whether a request made with the run's credentials would lock the run out: revoke
        its key, end its session, demote, disable or delete one of its admins. The server
        allows each of these to another admin, and the fuzz makes other admins; after one,
        every request would test only the sign-in."""
        by_key = headers.get(b"authorization") == f"Bearer {self.key}".encode()
        cookies = headers.get(b"cookie", b"").decode("latin-1")
        by_session = bool(self.session) and f"{SESSION_COOKIE}={self.session}" in cookies
        if not (by_key or by_session):
            return False
        admins = {f"/api/users/{self.key_user_id}", f"/api/users/{self.session_user_id}"}
        return (method, path) in {
            *(("PATCH", admin) for admin in admins),
            *(("DELETE", admin) for admin in admins),
            ("DELETE", f"/api/keys/{self.key_id}"),
            ("DELETE", f"/api/users/{self.session_user_id}/sessions"),
            ("POST", "/api/auth/logout"),
            ("DELETE", "/api/me/sessions"),
            ("DELETE", f"/api/me/sessions/{self.session_id}"),
        }


class Guard:
    """ASGI middleware: answers 403 to what ``Fuzzer.refuses``; the app gets the rest."""

    def __init__(self, app: Asgi, fuzzer: Fuzzer) -> None:
        self.app = app
        self.fuzzer = fuzzer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.fuzzer.refuses(
            scope["method"], scope["path"], dict(scope["headers"])
        ):
            body = {
                "type": "urn:vigil:problem:fuzz-guard",
                "title": "Forbidden",
                "status": 403,
                "detail": "The fuzz run keeps its own key, session and admins.",
            }
            headers = [(b"content-type", b"application/problem+json")]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        await self.app(scope, receive, send)
