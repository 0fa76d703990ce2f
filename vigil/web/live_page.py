"""The live viewer page of one camera: a video element driven by ``static/live.js``."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vigil.api.deps import CameraId, ServicesDep
from vigil.store.cameras import CameraNotFound
from vigil.web.auth_pages import NO_STORE, account_bar, page_user, sign_in_first

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name} · live · Vigil</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/vigil.css">
</head><body class="viewer" data-mode="starting">
<header><a href="/">Vigil</a><strong>{name}</strong><small id="state">connecting…</small>
<small><a data-snapshot href="/api/cameras/{id}/snapshot.jpg">snapshot</a></small>
{account}</header>
<video data-camera="{id}" muted autoplay playsinline></video>
<script type="module" src="/static/live.js"></script>
</body></html>"""


@router.get("/cameras/{camera_id}", response_class=HTMLResponse)
async def live_page(camera_id: CameraId, request: Request, services: ServicesDep) -> Response:
    """Watch one camera live. Signed out: to the login page. A camera the user may not
    see answers 404, exactly like one that does not exist."""
    principal = await page_user(request, services)
    if principal is None:
        return await sign_in_first(request, services)
    if camera_id not in await services.auth.camera_permissions(principal):
        raise CameraNotFound(camera_id)
    camera = await services.cameras.store.get(camera_id)
    html = _PAGE.format(name=escape(camera.name), id=camera.id, account=account_bar(principal))
    return HTMLResponse(html, headers=NO_STORE)
