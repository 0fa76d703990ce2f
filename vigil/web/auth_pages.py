"""Signing in from a browser: the login, first-run setup and invitation pages, and the
check every other page makes before it shows anything.

The forms post JSON to ``/api/auth/…`` through ``static/signin.js``: the pages carry no
inline script, and the API stays the one place that decides who may sign in.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.api.deps import ServicesDep
from vigil.api.security import SESSION_COOKIE
from vigil.app import Services
from vigil.auth.principal import Principal

router = APIRouter(include_in_schema=False)

# Pages that show what a signed-in user may see are never kept by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}

_FORM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Vigil</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="stylesheet" href="/static/vigil.css">
</head><body class="page">
<form class="card" data-form="{form}" method="post">
<h1>{title}</h1>
{intro}{fields}
<p class="error" role="alert" hidden></p>
<button type="submit" class="primary">{button}</button>
</form>
<script type="module" src="/static/signin.js"></script>
</body></html>"""


def _field(label: str, name: str, kind: str, autocomplete: str, required: bool = True) -> str:
    limit = 1024 if kind == "password" else 100
    return (
        f'<label>{label}<input name="{name}" type="{kind}" autocomplete="{autocomplete}" '
        f'maxlength="{limit}"{" required" if required else ""}></label>'
    )


_LOGIN_FIELDS = (
    _field("Username", "username", "text", "username")
    + _field("Password", "password", "password", "current-password")
    + _field(
        "Code from your authenticator app or a recovery code <small>(if you set one up)</small>",
        "code",
        "text",
        "one-time-code",
        required=False,
    )
)
_SETUP_FIELDS = (
    _field("Organisation", "organisation", "text", "organization")
    + _field("Username", "username", "text", "username")
    + _field("Password", "password", "password", "new-password")
    + _field("Repeat the password", "repeat", "password", "new-password")
)
_INVITE_FIELDS = _field("New password", "password", "password", "new-password") + _field(
    "Repeat the password", "repeat", "password", "new-password"
)


def _form_page(form: str, title: str, fields: str, button: str, intro: str = "") -> HTMLResponse:
    html = _FORM_PAGE.format(title=title, form=form, intro=intro, fields=fields, button=button)
    return HTMLResponse(html, headers=NO_STORE)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


async def page_user(request: Request, services: Services) -> Principal | None:
    """The user signed in with this browser's session cookie, if any."""
    cookie = request.cookies.get(SESSION_COOKIE)
    return await services.auth.session_principal(cookie) if cookie else None


async def sign_in_first(request: Request, services: Services) -> RedirectResponse:
    """To the login page, which brings the user back here; to setup on a fresh install."""
    if await services.auth.users.count() == 0:
        return RedirectResponse("/setup", status_code=303)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)


def account_bar(principal: Principal) -> str:
    """Who is signed in, and the button to sign out (``static/signout.js``)."""
    return (
        f'<span class="account">Signed in as <strong data-username>'
        f"{escape(principal.username)}</strong> ({principal.role.value}) "
        '<button type="button" data-sign-out>Sign out</button></span>'
        '<script type="module" src="/static/signout.js"></script>'
    )


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, services: ServicesDep) -> Response:
    """The sign-in form; a fresh install goes to setup, a signed-in user on to ``next``."""
    if await services.auth.users.count() == 0:
        return RedirectResponse("/setup", status_code=303)
    if await page_user(request, services) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _form_page("login", "Sign in to Vigil", _LOGIN_FIELDS, "Sign in")


@router.get("/setup", response_class=HTMLResponse)
async def setup_page(services: ServicesDep) -> Response:
    """First run only: name the organisation and create its first admin."""
    if await services.auth.users.count() > 0:
        return RedirectResponse("/login", status_code=303)
    intro = "<p>Welcome. Name your organisation and create its first administrator.</p>"
    return _form_page("setup", "Set up Vigil", _SETUP_FIELDS, "Create and sign in", intro)


@router.get("/invite", response_class=HTMLResponse)
async def invite_page() -> Response:
    """Accept an invitation: the token is in the URL's fragment, which never reaches a server."""
    intro = "<p>Choose the password for your new account.</p>"
    return _form_page("invite", "Join Vigil", _INVITE_FIELDS, "Set password and sign in", intro)
