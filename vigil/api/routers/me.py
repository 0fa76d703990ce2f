"""The signed-in user's own account: profile, password, sessions, MFA, API keys."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import Field, field_validator

from vigil.api.deps import ServicesDep
from vigil.api.people_schemas import (
    KeyOut,
    MeOut,
    PreferencesIn,
    PreferencesOut,
    SessionOut,
    ViewId,
    ViewIn,
    ViewOut,
    ViewUpdate,
)
from vigil.api.problems import problem, problem_responses
from vigil.api.routers.auth import clear_session_cookies, me_out
from vigil.api.schemas import Input
from vigil.api.security import SessionDep, SignedInDep, actor_of, client_ip
from vigil.api.types import (
    Email,
    Instant,
    KeyId,
    LongName,
    Name,
    Password,
    SessionId,
)
from vigil.app import Services
from vigil.auth import passwords
from vigil.auth.errors import Forbidden, LoginFailed, LoginThrottled
from vigil.auth.passwords import WeakPassword
from vigil.auth.permissions import Scope
from vigil.auth.principal import Principal
from vigil.auth.tokens import new_api_key, token_hash
from vigil.store.models import CameraGroup
from vigil.store.preferences import PreferenceStore, ViewNotFound
from vigil.timeutil import now_ms

router = APIRouter(prefix="/me", tags=["me"])

# The longest an API key may be made to last.
MAX_KEY_MS = 2 * 366 * 24 * 3_600_000


class ProfileIn(Input):
    """Only the fields given change; null clears one."""

    display_name: LongName | None = None
    email: Email | None = None


class PasswordChangeIn(Input):
    current_password: Password
    new_password: Password


class KeyIn(Input):
    name: Name
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    expires_at: Instant | None = Field(
        default=None, description="null: never (revoke it instead); at most 2 years ahead"
    )

    @field_validator("scopes")
    @classmethod
    def _unique(cls, scopes: list[Scope]) -> list[Scope]:
        if len(set(scopes)) != len(scopes):
            raise ValueError("each scope may be listed once")
        return scopes

    @field_validator("expires_at")
    @classmethod
    def _ahead(cls, expires_at: int | None) -> int | None:
        if expires_at is None:
            return None
        now = now_ms()
        if expires_at <= now:
            raise ValueError("must be in the future")
        if expires_at > now + MAX_KEY_MS:
            raise ValueError("must be at most 2 years ahead")
        return expires_at


class NewKeyOut(KeyOut):
    key: str = Field(description="the secret, shown this once: send it as 'Bearer <key>'")


# Profile and password ------------------------------------------------------------------


@router.get("", responses=problem_responses(401))
async def get_me(principal: SignedInDep, services: ServicesDep) -> MeOut:
    """Who you are signed in as: your account, role and organisation."""
    return await me_out(services, principal)


@router.patch("", responses=problem_responses(400, 401, 403, 422))
async def update_me(
    body: ProfileIn, principal: SessionDep, request: Request, services: ServicesDep
) -> MeOut:
    """Change your display name or email address."""
    changes = body.model_dump(include=body.model_fields_set)
    if changes:
        await services.auth.users.update(principal.org_id, principal.user_id, changes)
        await services.auth.audit.record(
            actor_of(request, principal),
            "user.update",
            target=f"user:{principal.user_id}",
            fields=sorted(changes),
        )
    return await me_out(services, principal)


@router.post("/password", status_code=204, responses=problem_responses(400, 401, 403, 422, 429))
async def change_password(
    body: PasswordChangeIn, principal: SessionDep, request: Request, services: ServicesDep
) -> Response:
    """Change your password; your other sessions end, this one goes on. A wrong current
    password counts as a failed sign-in for the account."""
    auth = services.auth
    ip = client_ip(request)
    actor = actor_of(request, principal)
    try:
        attempt = auth.guess(principal.username, ip)
    except LoginThrottled:
        await auth.audit.record(actor, "password.change", outcome="failure", reason="locked out")
        raise
    user = await auth.users.get(principal.org_id, principal.user_id)
    current = body.current_password.get_secret_value()
    if user.password_hash is None or not await passwords.verify_password_async(
        user.password_hash, current
    ):
        await auth.audit.record(
            actor, "password.change", outcome="failure", reason="wrong password"
        )
        raise LoginFailed
    attempt.succeeded()
    try:
        new_hash = await auth.new_password_hash(body.new_password.get_secret_value(), user.username)
    except WeakPassword as exc:
        return problem(
            request,
            422,
            f"new_password: {exc}",
            slug="weak-password",
            title="Password too weak",
            errors=[{"location": "body.new_password", "detail": str(exc), "type": "weak_password"}],
        )
    await auth.users.update(principal.org_id, principal.user_id, {"password_hash": new_hash})
    ended = await auth.sessions.delete_all(principal.user_id, keep=principal.session_id)
    await auth.end_sessions(ended)
    auth.forget_user(principal.user_id)
    await auth.audit.record(
        actor, "password.change", target=f"user:{principal.user_id}", sessions_ended=len(ended)
    )
    return Response(status_code=204)


# Sessions ------------------------------------------------------------------------------


@router.get("/sessions", responses=problem_responses(401, 403))
async def list_sessions(principal: SessionDep, services: ServicesDep) -> list[SessionOut]:
    """Where you are signed in, most recently used first."""
    now = now_ms()
    idle_ms = int(services.settings.auth.session_idle_minutes * 60_000)
    rows = await services.auth.sessions.of_user(principal.user_id)
    return [
        SessionOut.build(row, principal)
        for row in rows
        if row.id == principal.session_id
        or (row.expires_at > now and now - row.last_seen_at <= idle_ms)
    ]


@router.delete(
    "/sessions/{session_id}", status_code=204, responses=problem_responses(401, 403, 404)
)
async def revoke_session(
    session_id: SessionId, principal: SessionDep, request: Request, services: ServicesDep
) -> Response:
    """Sign out one of your sessions (another browser, a lost phone) at once."""
    auth = services.auth
    row = await auth.sessions.delete(principal.user_id, session_id)
    if row is None:
        return problem(
            request, 404, f"You have no session with id {session_id}.", slug="session-not-found"
        )
    await auth.end_sessions([row.token_hash])
    auth.forget_user(principal.user_id)
    await auth.audit.record(
        actor_of(request, principal), "session.revoke", target=f"session:{session_id}"
    )
    response = Response(status_code=204)
    if session_id == principal.session_id:
        clear_session_cookies(request, response, services)
    return response


@router.delete("/sessions", status_code=204, responses=problem_responses(401, 403))
async def revoke_all_sessions(
    principal: SessionDep, request: Request, services: ServicesDep
) -> Response:
    """Sign out everywhere, this browser included."""
    auth = services.auth
    ended = await auth.sessions.delete_all(principal.user_id)
    await auth.end_sessions(ended)
    auth.forget_user(principal.user_id)
    await auth.audit.record(
        actor_of(request, principal),
        "session.revoke_all",
        target=f"user:{principal.user_id}",
        sessions_ended=len(ended),
    )
    response = Response(status_code=204)
    clear_session_cookies(request, response, services)
    return response


# API keys ------------------------------------------------------------------------------


@router.get("/keys", responses=problem_responses(401, 403))
async def list_keys(principal: SessionDep, services: ServicesDep) -> list[KeyOut]:
    """Your API keys, revoked ones included; never their secrets."""
    return [
        KeyOut.build(key, principal.username)
        for key in await services.auth.keys.of_users([principal.user_id])
    ]


@router.post("/keys", status_code=201, responses=problem_responses(400, 401, 403, 422))
async def create_key(
    body: KeyIn, principal: SessionDep, request: Request, services: ServicesDep
) -> NewKeyOut:
    """A new API key acting as you, narrowed to ``scopes``: it can never do more than you
    can. The secret is in this response only; Vigil keeps just its hash."""
    if principal.mfa_pending:
        # A key would skip the second factor the organisation requires.
        raise Forbidden(
            "Your organisation requires two-factor sign-in: enrol before making API keys.",
            slug="mfa-enrolment-required",
        )
    secret = new_api_key()
    scopes = [scope.value for scope in body.scopes]
    key = await services.auth.keys.create(
        principal.user_id, body.name, token_hash(secret), scopes, now_ms(), body.expires_at
    )
    await services.auth.audit.record(
        actor_of(request, principal),
        "key.create",
        target=f"key:{key.id}",
        name=key.name,
        scopes=scopes,
        expires_at=key.expires_at,
    )
    return NewKeyOut(**dict(KeyOut.build(key, principal.username)), key=secret)


@router.delete("/keys/{key_id}", status_code=204, responses=problem_responses(401, 403, 404))
async def revoke_key(
    key_id: KeyId, principal: SessionDep, request: Request, services: ServicesDep
) -> Response:
    """Revoke one of your API keys; it stops working at once."""
    auth = services.auth
    key = await auth.keys.get(key_id)
    if key is None or key.user_id != principal.user_id:
        return problem(request, 404, f"You have no API key with id {key_id}.", slug="key-not-found")
    if key.revoked_at is None:
        await auth.keys.revoke(key_id, now_ms())
        auth.forget_user(principal.user_id)
        await auth.audit.record(
            actor_of(request, principal), "key.revoke", target=f"key:{key_id}", name=key.name
        )
    return Response(status_code=204)


# The live grid: preferences and views --------------------------------------------------


async def _visible(services: Services, principal: Principal) -> set[int]:
    """The cameras the caller may see (those GET /api/cameras lists)."""
    return set(await services.auth.camera_permissions(principal))


def _unseen(field: str, camera_ids: list[int] | None, visible: set[int]) -> None:
    """422 naming the cameras the caller cannot see (or that do not exist: alike)."""
    unseen = [i for i in camera_ids or [] if i not in visible]
    if unseen:
        message = f"no camera you may see: {', '.join(map(str, unseen))}"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", field), "msg": message}]
        )


def _view_not_found(request: Request, view_id: int) -> Response:
    return problem(request, 404, f"You have no view with id {view_id}.", slug="view-not-found")


@router.get("/preferences", responses=problem_responses(401, 403))
async def get_preferences(principal: SessionDep, services: ServicesDep) -> PreferencesOut:
    """What your live grid remembers: its layout, the order of its cameras and the view
    shown, wherever you sign in."""
    stored = PreferencesIn.model_validate(await PreferenceStore(services.db).get(principal.user_id))
    visible = await _visible(services, principal)
    return PreferencesOut(
        layout=stored.layout,
        camera_order=[i for i in stored.camera_order if i in visible],
        view=stored.view,
    )


@router.put("/preferences", responses=problem_responses(400, 401, 403, 422))
async def put_preferences(
    body: PreferencesIn, principal: SessionDep, services: ServicesDep
) -> PreferencesOut:
    """Replace your live grid's preferences whole; each camera must be one you may see."""
    visible = await _visible(services, principal)
    _unseen("camera_order", body.camera_order, visible)
    await PreferenceStore(services.db).put(principal.user_id, body.model_dump(mode="json"))
    return PreferencesOut(**body.model_dump())


@router.get("/views", responses=problem_responses(401, 403))
async def list_views(principal: SessionDep, services: ServicesDep) -> list[ViewOut]:
    """Your saved views (kind ``user``), then the organisation's camera groups as views
    (kind ``group``, read-only), each with only the cameras you may see; a group with none
    of them is left out."""
    visible = await _visible(services, principal)
    views = [
        ViewOut.of_user(v, visible)
        for v in await PreferenceStore(services.db).views(principal.user_id)
    ]
    for group in await services.auth.access.of_org(CameraGroup, principal.org_id):
        cameras = [i for i in group.camera_ids if i in visible]
        if cameras:
            views.append(
                ViewOut(
                    id=group.id, kind="group", name=group.name, layout="fit", camera_ids=cameras
                )
            )
    return views


@router.post("/views", status_code=201, responses=problem_responses(400, 401, 403, 422))
async def create_view(body: ViewIn, principal: SessionDep, services: ServicesDep) -> ViewOut:
    """Save a view: a name, a layout and cameras (ones you may see) in order."""
    visible = await _visible(services, principal)
    _unseen("camera_ids", body.camera_ids, visible)
    view = await PreferenceStore(services.db).add_view(
        principal.user_id, body.name, body.layout, body.camera_ids
    )
    return ViewOut.of_user(view, visible)


@router.patch(
    "/views/{view_id}",
    response_model=ViewOut,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def update_view(
    view_id: ViewId,
    body: ViewUpdate,
    principal: SessionDep,
    request: Request,
    services: ServicesDep,
) -> ViewOut | Response:
    """Rename one of your views, change its layout or replace its cameras."""
    visible = await _visible(services, principal)
    store = PreferenceStore(services.db)
    try:
        await store.view(principal.user_id, view_id)  # 404 before 422
        _unseen("camera_ids", body.camera_ids, visible)
        view = await store.update_view(
            principal.user_id, view_id, body.model_dump(exclude_unset=True)
        )
    except ViewNotFound:
        return _view_not_found(request, view_id)
    return ViewOut.of_user(view, visible)


@router.delete("/views/{view_id}", status_code=204, responses=problem_responses(401, 403, 404))
async def delete_view(
    view_id: ViewId, principal: SessionDep, request: Request, services: ServicesDep
) -> Response:
    """Delete one of your views."""
    try:
        await PreferenceStore(services.db).delete_view(principal.user_id, view_id)
    except ViewNotFound:
        return _view_not_found(request, view_id)
    return Response(status_code=204)
