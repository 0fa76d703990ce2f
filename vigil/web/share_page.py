"""The page a share link's recipient opens, with no account: ``/s/<token>``.

The page is the same for every token, carries nothing of the library and no inline script;
``static/share_page.js`` reads the token from the address, asks ``/api/share/<token>`` (with
the password when the link has one) and shows the item or the event's gallery. Whether the
token is known is for the API to say, so that the page answers alike for every address.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from vigil.web.auth_pages import NO_STORE

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shared with you · Vigil</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<link rel="stylesheet" href="/static/vigil.css">
</head><body class="shared">
<main id="shared" class="shared-page"><p class="muted" role="status">Loading…</p></main>
<script type="module" src="/static/share_page.js"></script>
</body></html>"""

# Search engines and link previews must not keep what a link shows.
_HEADERS = {**NO_STORE, "X-Robots-Tag": "noindex, nofollow"}


@router.get("/s/{token}", response_class=HTMLResponse)
async def shared_page(token: str) -> HTMLResponse:
    """What a share link shows, for anyone who has it (see ``vigil.api.routers.library_shares``);
    the page reads ``token`` itself, and shows the API's answer for a malformed one too."""
    return HTMLResponse(_PAGE, headers=_HEADERS)
