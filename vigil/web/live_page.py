"""The live viewer page of one camera: a video element driven by ``static/live.js``."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from vigil.api.deps import CameraDep

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name} · live · Vigil</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{margin:0;background:#0d1117;color:#e6edf3;font:15px/1.5 system-ui,sans-serif}}
header{{padding:.5rem 1rem;display:flex;gap:1rem;align-items:baseline}}
a{{color:#58a6ff}}small{{color:#8b949e}}
video{{display:block;width:100%;max-height:calc(100vh - 3rem);background:#000}}
</style></head><body data-mode="starting">
<header><a href="/">Vigil</a><strong>{name}</strong><small id="state">connecting…</small>
<small><a href="/api/cameras/{id}/snapshot.jpg">snapshot</a></small></header>
<video data-camera="{id}" muted autoplay playsinline></video>
<script type="module" src="/static/live.js"></script>
</body></html>"""


@router.get("/cameras/{camera_id}", response_class=HTMLResponse)
async def live_page(camera: CameraDep) -> str:
    """Watch one camera live (404 problem details for an unknown camera)."""
    return _PAGE.format(name=escape(camera.name), id=camera.id)
