"""The audit log (admins): filter, page, export as CSV. Append-only: nothing here changes it."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field, StringConstraints

from vigil.api.deps import ServicesDep
from vigil.api.problems import problem_responses
from vigil.api.schemas import Output
from vigil.api.security import actor_of, admin
from vigil.api.types import AuditId, Instant, Name, Timestamp, UserId
from vigil.app import Services
from vigil.auth.permissions import Scope
from vigil.auth.principal import Principal
from vigil.store.audit import AuditFilter
from vigil.store.models import AuditEntry
from vigil.timeutil import iso, now_ms

router = APIRouter(tags=["audit"])

Auditor = Annotated[Principal, Depends(admin(Scope.AUDIT))]

PAGE_LIMIT = 1000
CSV_LIMIT = 100_000
# The CSV is read from the database this many entries at a time.
_CSV_BATCH = 1000
CSV_COLUMNS = (
    "id",
    "at",
    "user_id",
    "username",
    "api_key_id",
    "action",
    "outcome",
    "target",
    "detail",
    "ip",
    "user_agent",
)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection");
# tab and carriage return are on OWASP's list too.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Outcome = Literal["success", "failure", "denied"]
Action = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")]


class AuditEntryOut(Output):
    id: int
    at: Timestamp
    user_id: int | None = Field(description="who acted; null for an anonymous caller")
    username: str | None = Field(description="the name they gave, even if no such user exists")
    api_key_id: int | None = Field(description="the API key used, if any")
    action: str = Field(examples=["login", "camera.create"])
    outcome: Outcome
    target: str | None = Field(examples=["camera:3", "user:7"])
    detail: dict[str, Any]
    ip: str | None
    user_agent: str | None

    @classmethod
    def build(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            id=entry.id,
            at=entry.at,
            user_id=entry.user_id,
            username=entry.username,
            api_key_id=entry.api_key_id,
            action=entry.action,
            outcome=entry.outcome,
            target=entry.target,
            detail=entry.detail or {},
            ip=entry.ip,
            user_agent=entry.user_agent,
        )


class AuditPage(Output):
    entries: list[AuditEntryOut] = Field(description="newest first")
    next_before_id: int | None = Field(
        description="pass as before_id for the next (older) page; null: this is the last one"
    )


def audit_filter(
    user_id: Annotated[UserId | None, Query(description="who acted")] = None,
    username: Annotated[Name | None, Query(description="the name given, exactly")] = None,
    action: Annotated[
        list[Action] | None,
        Query(max_length=50, description="repeat for several: ?action=login&action=logout"),
    ] = None,
    outcome: Outcome | None = None,
    since: Annotated[Instant | None, Query(description="at or after this instant")] = None,
    until: Annotated[Instant | None, Query(description="before this instant")] = None,
    before_id: Annotated[
        AuditId | None, Query(description="entries older than this id (paging)")
    ] = None,
) -> AuditFilter:
    """The filters both routes take; the organisation is always the caller's own."""
    return AuditFilter(
        user_id=user_id,
        username=username,
        actions=tuple(action or ()),
        outcome=outcome,
        since_ms=since,
        until_ms=until,
        before_id=before_id,
    )


Filters = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("/audit", responses=problem_responses(401, 403, 422))
async def list_audit(
    principal: Auditor,
    services: ServicesDep,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 100,
) -> AuditPage:
    """Your organisation's audit log, newest first: who did what, when, from where."""
    entries = await services.auth.audit.query(
        principal.org_id, dataclasses.replace(filters, limit=limit)
    )
    return AuditPage(
        entries=[AuditEntryOut.build(e) for e in entries],
        next_before_id=entries[-1].id if len(entries) == limit else None,
    )


@router.get(
    "/audit.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "one row per entry, newest first"},
        **problem_responses(401, 403, 422),
    },
)
async def export_audit(
    principal: Auditor,
    request: Request,
    services: ServicesDep,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=CSV_LIMIT)] = CSV_LIMIT,
) -> StreamingResponse:
    """The same entries as ``GET /api/audit``, as a CSV download (a header row, then one row
    per entry, newest first). Cells a spreadsheet would run as a formula start with ``'``.
    The export is itself recorded ("audit.export")."""
    await services.auth.audit.record(
        actor_of(request, principal), "audit.export", filters=_given(filters), limit=limit
    )
    filename = f"vigil-audit-{iso(now_ms())[:10]}.csv"
    return StreamingResponse(
        _csv_rows(services, principal.org_id, filters, limit),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _given(filters: AuditFilter) -> dict[str, Any]:
    """The filters an export used, for its own audit entry."""
    given = dataclasses.asdict(filters)
    del given["limit"]
    return {k: list(v) if k == "actions" else v for k, v in given.items() if v not in (None, ())}


async def _csv_rows(
    services: Services, org_id: int, filters: AuditFilter, limit: int
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def lines(rows: Iterable[Iterable[object]]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        return buffer.getvalue()

    yield lines([CSV_COLUMNS])
    left = limit
    before_id = filters.before_id
    while left > 0:
        batch = min(left, _CSV_BATCH)
        page = await services.auth.audit.query(
            org_id, dataclasses.replace(filters, before_id=before_id, limit=batch)
        )
        if page:
            yield lines(_row(entry) for entry in page)
        if len(page) < batch:
            return
        left -= len(page)
        before_id = page[-1].id


def _row(entry: AuditEntry) -> list[object]:
    detail = json.dumps(entry.detail, sort_keys=True, ensure_ascii=False) if entry.detail else ""
    return [
        entry.id,
        iso(entry.at),
        _cell(entry.user_id),
        _cell(entry.username),
        _cell(entry.api_key_id),
        _cell(entry.action),
        _cell(entry.outcome),
        _cell(entry.target),
        _cell(detail),
        _cell(entry.ip),
        _cell(entry.user_agent),
    ]


def _cell(value: object) -> object:
    """``value`` as a spreadsheet shows it, never run as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
