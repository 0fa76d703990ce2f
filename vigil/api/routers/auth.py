"""Signing in and out, the first-run setup, accepting an invitation."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from vigil.api.deps import ServicesDep
from vigil.api.people_schemas import (
    InvitationIn,
    LoginIn,
    MeOut,
    OrgOut,
    SetupIn,
    SetupStatus,
    SignedInOut,
)
from vigil.api.problems import problem_responses
from vigil.api.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SignedInDep,
    actor_of,
)
from vigil.app import Services
from vigil.auth.errors import Forbidden, NotAuthenticated
from vigil.auth.principal import Principal
from vigil.auth.service import SignedIn
from vigil.auth.tokens import token_hash
from vigil.store.users import AlreadyClaimed, UserNotFound

log = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])


def _secure(request: Request, services: Services) -> bool:
    mode = services.settings.auth.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def set_session_cookies(
    request: Request, response: Response, services: Services, signed_in: SignedIn
) -> None:
    max_age = int(services.settings.auth.session_max_hours * 3600)
    secure = _secure(request, services)
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    # Readable by the page's scripts, which echo it in X-CSRF-Token on writes.
    response.set_cookie(
        CSRF_COOKIE, signed_in.csrf, max_age=max_age, httponly=False, samesite="lax", secure=secure
    )


def clear_session_cookies(request: Request, response: Response, services: Services) -> None:
    secure = _secure(request, services)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, secure=secure, httponly=name == SESSION_COOKIE, samesite="lax")


async def me_out(services: Services, principal: Principal) -> MeOut:
    try:
        user, org = await services.auth.account(principal)
    except LookupError:
        raise UserNotFound(principal.user_id) from None
    return MeOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        role=principal.role,
        org=OrgOut(id=org.id, name=org.name, require_mfa=org.require_mfa),
        mfa_enabled=user.totp_enabled,
        mfa_enrolment_required=principal.mfa_pending,
        via=principal.via.value,
    )


async def _signed_in_out(services: Services, signed_in: SignedIn) -> SignedInOut:
    return SignedInOut(
        user=await me_out(services, signed_in.principal),
        csrf_token=signed_in.csrf,
        session_id=signed_in.session.id,
        expires_at=signed_in.session.expires_at,
    )


@router.post("/login", responses=problem_responses(400, 401, 422, 429))
async def login(
    body: LoginIn, request: Request, response: Response, services: ServicesDep
) -> SignedInOut:
    """Sign in with username, password and (when the account has MFA) a code or a
    recovery code. Sets the session cookie (HttpOnly) and the CSRF cookie. A wrong name,
    password or code all answer 401 alike; repeated failures answer 429 for a while."""
    signed_in = await services.auth.login(
        body.username, body.password.get_secret_value(), body.code, actor_of(request, None)
    )
    set_session_cookies(request, response, services, signed_in)
    return await _signed_in_out(services, signed_in)


@router.post("/logout", status_code=204, responses=problem_responses(401, 403))
async def logout(
    principal: SignedInDep, request: Request, response: Response, services: ServicesDep
) -> Response:
    """End this session (or, with an API key, nothing: keys are revoked, not logged out)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal.session_id is not None and cookie:
        await services.auth.end_sessions([token_hash(cookie)])
        await services.auth.sessions.delete(principal.user_id, principal.session_id)
        await services.auth.audit.record(actor_of(request, principal), "logout")
    result = Response(status_code=204)
    clear_session_cookies(request, result, services)
    return result


@router.get("/setup")
async def setup_status(services: ServicesDep) -> SetupStatus:
    """Whether the first-run setup is open (no user exists yet)."""
    return SetupStatus(needed=await services.auth.users.setup_open())


_SETUP_DONE = "Setup is done: an admin exists. Sign in instead."


@router.post("/setup", status_code=201, responses=problem_responses(403, 409, 422))
async def setup(
    body: SetupIn, request: Request, response: Response, services: ServicesDep
) -> SignedInOut:
    """First run only: create the organisation and its first admin, and sign them in. Done
    once: of several people setting up at the same moment, one succeeds, the rest get 403."""
    auth = services.auth
    if not await auth.users.setup_open():
        raise Forbidden(_SETUP_DONE, slug="setup-done")
    password_hash = await auth.new_password_hash(body.password.get_secret_value(), body.username)
    try:
        user = await auth.users.first_admin(body.organisation, body.username, password_hash)
    except AlreadyClaimed:
        raise Forbidden(_SETUP_DONE, slug="setup-done") from None
    signed_in = await auth.start_session(user, actor_of(request, None))
    await auth.audit.record(
        actor_of(request, signed_in.principal), "setup", target=f"user:{user.id}"
    )
    log.info("first admin %r created by the setup page", user.username)
    set_session_cookies(request, response, services, signed_in)
    return await _signed_in_out(services, signed_in)


@router.post("/invitation", responses=problem_responses(401, 422))
async def accept_invitation(
    body: InvitationIn, request: Request, response: Response, services: ServicesDep
) -> SignedInOut:
    """Set the password of an invited account with the invitation's token, and sign in."""
    auth = services.auth
    hashed = token_hash(body.token)
    pending = await auth.users.invitation_user(hashed)
    if pending is None:
        raise NotAuthenticated("The invitation is unknown, used or expired; ask for a new one.")
    password_hash = await auth.new_password_hash(body.password.get_secret_value(), pending.username)
    user = await auth.users.accept_invitation(hashed, password_hash)
    if user is None:
        raise NotAuthenticated("The invitation is unknown, used or expired; ask for a new one.")
    signed_in = await auth.start_session(user, actor_of(request, None))
    await auth.audit.record(actor_of(request, signed_in.principal), "invitation.accepted")
    set_session_cookies(request, response, services, signed_in)
    return await _signed_in_out(services, signed_in)
