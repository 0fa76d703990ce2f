"""The pages: the app at / (ES modules in static/app/, see docs/web.md), the single-camera
live page, signing in (``auth_pages``) and /docs."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from vigil.api.deps import ServicesDep
from vigil.web import auth_pages, live_page, share_page
from vigil.web.auth_pages import NO_STORE, page_user, sign_in_first
from vigil.web.modules import graph_json

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"

# The app (static/app/): a shell the modules fill from the public API. Nothing about the
# user's cameras is in the page itself; the modules' import graph is, for boot.js to preload
# the address's page.
_APP = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/vigil.css">
<link rel="modulepreload" href="/static/app/main.js">
<meta name="vigil-modules" content='{modules}'>
</head><body class="app">
<div id="app" class="shell"><p class="muted" role="status">Loading…</p></div>
<script type="module" src="/static/app/boot.js"></script>
<script type="module" src="/static/app/main.js"></script>
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


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, services: ServicesDep) -> Response:
    """The app: the live grid and the other pages. Signed out: to the login page."""
    if await page_user(request, services) is None:
        return await sign_in_first(request, services)
    # In single quotes: the JSON's own double quotes stay as they are (a third the size).
    modules = html.escape(graph_json(STATIC), quote=False).replace("'", "&#x27;")
    return HTMLResponse(_APP.replace("{modules}", modules), headers=NO_STORE)


@router.get("/docs", response_class=HTMLResponse)
async def docs() -> HTMLResponse:
    """Swagger UI from the vendored bundle: it works with no internet access. Public: it
    documents the API and shows no data (calls from it use the browser's session)."""
    return HTMLResponse(_DOCS)


def install_pages(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(auth_pages.router)
    app.include_router(live_page.router)
    app.include_router(share_page.router)
    # Compressed when the browser accepts it: the app's modules, the stylesheet and hls.js
    # shrink to a third; nothing under /static is a media file.
    static = GZipMiddleware(StaticFiles(directory=STATIC), minimum_size=1024)
    app.mount("/static", static, name="static")
