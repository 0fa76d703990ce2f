"""What the fuzz run watches on the server's side: every 5xx answer and every exception that
escapes a route, with the operation it went to and whether that operation documents it."""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class Operations:
    """The OpenAPI document's operations: the server errors each documents, and the one a
    request goes to, named as schemathesis names it ("GET /api/cameras/{camera_id}")."""

    def __init__(self, openapi: dict[str, Any]) -> None:
        self.server_errors: dict[str, set[int]] = {
            f"{method.upper()} {template}": {int(s) for s in operation["responses"] if s[0] == "5"}
            for template, methods in openapi["paths"].items()
            for method, operation in methods.items()
        }
        templates = sorted(openapi["paths"], key=lambda t: (t.count("{"), -len(t)))
        # A parameter is one path segment, except the last one of a files route ("{path}").
        self._patterns = [(t, _pattern(t, "[^/]+")) for t in templates] + [
            (t, _pattern(t, ".+")) for t in sorted(templates, key=len, reverse=True)
        ]

    def name(self, method: str, path: str) -> str:
        for template, pattern in self._patterns:
            if pattern.match(path):
                return f"{method} {template}"
        return f"{method} {path}"


def _pattern(template: str, last: str) -> re.Pattern[str]:
    """``template``'s paths: each parameter one segment, the last one matching ``last``."""
    parts = re.split(r"\{[^}]+\}", template)
    pattern = "[^/]+".join(re.escape(part) for part in parts[:-1])
    return re.compile(pattern + (last if len(parts) > 1 else "") + re.escape(parts[-1]) + "$")


@dataclass(slots=True)
class ServerError:
    """One 5xx answer the server gave, or an exception it raised, with its request."""

    operation: str  # "GET /api/cameras/{camera_id}", as schemathesis labels operations
    method: str
    target: str  # path and query string, as sent
    status: int | None  # None: an exception escaped the app before it answered (a 500)
    documented: bool  # the operation declares this status (503 "no live picture", say)
    traceback: str | None = None


class ServerErrorLog:
    """ASGI middleware that writes each ``ServerError`` to ``path``, a line of JSON each."""

    def __init__(self, app: Asgi, path: Path, operations: Operations) -> None:
        self.app = app
        self.path = path
        self.operations = operations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: int | None = None

        async def sending(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            self._write(scope, status, traceback.format_exc())
            raise
        if status is not None and status >= 500:
            self._write(scope, status, None)

    def _write(self, scope: Scope, status: int | None, trace: str | None) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        operation = self.operations.name(scope["method"], scope["path"])
        error = ServerError(
            operation=operation,
            method=scope["method"],
            target=scope["path"] + (f"?{query}" if query else ""),
            status=status,
            documented=status in self.operations.server_errors.get(operation, set()),
            traceback=trace,
        )
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(error)) + "\n")


def read_server_errors(path: Path) -> list[ServerError]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ServerError(**json.loads(line)) for line in lines]
