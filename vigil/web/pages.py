"""Server-rendered pages. The full web UI comes later; today, a status page, the live page,
signing in (``auth_pages``) and /docs."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from vigil import __version__
from vigil.api.deps import ServicesDep
from vigil.link.messages import CameraState
from vigil.timeutil import now_ms
from vigil.web import auth_pages, live_page
from vigil.web.auth_pages import NO_STORE, account_bar, page_user, sign_in_first

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil</title>
<meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/vigil.css">
</head><body class="page">
{account}
<h1>Vigil <small>{version} · {org}</small></h1>
{notice}
<p>{count} cameras, {recorded} recorded. API: <a href="/docs">interactive documentation</a>,
<a href="/api/cameras">cameras</a>, <a href="/api/storage">storage</a>.</p>
<div class="table-scroll"><table><thead><tr><th>Camera</th><th>State</th><th>Stream</th>
<th>Recorded</th><th>Uptime</th><th>Last error</th></tr></thead><tbody>{rows}</tbody></table></div>
</body></html>"""

# Our own page around the vendored Swagger UI: FastAPI's get_swagger_ui_html starts it with
# an inline script, which the Content-Security-Policy refuses; static/docs.js starts it here.
_DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/vendor/swagger-ui/favicon-32x32.png">
</head><body>
<div id="swagger-ui" data-openapi="/openapi.json"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script type="module" src="/static/docs.js"></script>
</body></html>"""


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} PB"


def _duration(ms: int) -> str:
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


_MFA_NOTICE = (
    '<p class="notice">Your organisation requires two-factor sign-in: enrol an authenticator '
    "app (<code>POST /api/me/mfa/totp</code>) to see its cameras.</p>"
)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, services: ServicesDep) -> Response:
    """The state of every camera the signed-in user may see, refreshed every few seconds."""
    principal = await page_user(request, services)
    if principal is None:
        return await sign_in_first(request, services)
    allowed = {} if principal.mfa_pending else await services.auth.camera_permissions(principal)
    cameras = [
        camera
        for camera in await services.cameras.store.list(org_id=principal.org_id)
        if camera.id in allowed
    ]
    usage = {u.camera_id: u for u in await services.segments.usage() if u.camera_id in allowed}
    rows = []
    now = now_ms()
    for camera in cameras:
        status = services.nodes.status(camera.id)
        stream = ""
        if status.width and status.height:
            stream = f"{status.video_codec} {status.width}x{status.height} {status.fps or 0:g} fps"
        recorded = usage.get(camera.id)
        uptime = ""
        if status.state == CameraState.STREAMING and status.streaming_since_ms:
            uptime = _duration(now - status.streaming_since_ms)
        rows.append(
            f'<tr><td><a href="/cameras/{camera.id}">{escape(camera.name)}</a></td>'
            f'<td class="state state-{status.state.value}">{status.state.value}</td>'
            f"<td>{escape(stream)}</td>"
            f"<td>{_size(recorded.bytes) if recorded else '—'}</td><td>{uptime}</td>"
            f"<td>{escape(status.last_error or '')}</td></tr>"
        )
    total = sum(u.bytes for u in usage.values())
    org = await services.auth.users.org(principal.org_id)
    html = _PAGE.format(
        account=account_bar(principal),
        version=__version__,
        org=escape(org.name),
        notice=_MFA_NOTICE if principal.mfa_pending else "",
        count=len(rows),
        recorded=_size(total),
        rows="".join(rows),
    )
    return HTMLResponse(html, headers=NO_STORE)


@router.get("/docs", response_class=HTMLResponse)
async def docs() -> HTMLResponse:
    """Swagger UI from the vendored bundle: it works with no internet access. Public: it
    documents the API and shows no data (calls from it use the browser's session)."""
    return HTMLResponse(_DOCS)


def install_pages(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(auth_pages.router)
    app.include_router(live_page.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
