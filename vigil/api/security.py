"""Who may call what: every route states its rule through one of these dependencies.

A request proves who it is with, in this order: an API key (``Authorization: Bearer
vgl_…``), the session cookie (writes must also echo the CSRF token), or, on media routes
only, a signed link (``?token=…``) bound to one user and one camera or export.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from vigil.api.deps import ServicesDep
from vigil.api.types import CameraId
from vigil.app import Services
from vigil.auth.errors import Forbidden, NotAuthenticated
from vigil.auth.permissions import Permission, Scope
from vigil.auth.principal import Principal, Via
from vigil.auth.tokens import BadSignature, LinkExpired, MediaKind
from vigil.store.audit import Actor
from vigil.store.cameras import CameraNotFound
from vigil.store.exports import ExportNotFound
from vigil.store.models import Camera

SESSION_COOKIE = "vigil_session"
CSRF_COOKIE = "vigil_csrf"
CSRF_HEADER = "X-CSRF-Token"
LINK_PARAM = "token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Routes a user whose organisation requires MFA may use before enrolling.
MFA_ENROLMENT_PATHS = ("/api/me", "/api/auth/logout")


def client_ip(connection: HTTPConnection) -> str | None:
    return connection.client.host if connection.client else None


def actor_of(connection: HTTPConnection, principal: Principal | None = None) -> Actor:
    """Who is acting, for the audit log: ``principal``, else whoever the request proved to be."""
    if principal is None:
        principal = getattr(connection.state, "principal", None)
    return _services(connection).auth.actor(
        principal, client_ip(connection), connection.headers.get("user-agent")
    )


def _services(connection: HTTPConnection) -> Services:
    services = connection.app.state.services
    assert isinstance(services, Services)
    return services


async def identify(
    connection: HTTPConnection,
    services: Services,
    link: MediaKind | None = None,
    target: int | None = None,
) -> Principal | None:
    """The caller, or None for an anonymous one. Raises NotAuthenticated for a bad
    credential (a wrong key is an error, not anonymity). A link's target is the path's
    camera or export, or ``target`` for a route whose path names neither (an event's
    snapshot is signed for the event's camera)."""
    principal = await _identify(connection, services, link, target)
    connection.state.principal = principal
    return principal


async def _identify(
    connection: HTTPConnection, services: Services, link: MediaKind | None, target: int | None
) -> Principal | None:
    auth = services.auth
    header = connection.headers.get("authorization")
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise NotAuthenticated("Use 'Authorization: Bearer <API key>'.")
        principal = await auth.key_principal(credential.strip(), client_ip(connection))
        if principal is None:
            raise NotAuthenticated("The API key is unknown, revoked or expired.")
        return principal
    cookie = connection.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = await auth.session_principal(cookie)
        if principal is not None:
            connection.state.principal = principal  # known, even if refused below
            if connection.scope["type"] == "websocket" and not _same_origin(connection):
                raise Forbidden("A cookie-authenticated WebSocket must come from this site.")
            method = connection.scope.get("method", "GET")
            if method not in _SAFE_METHODS and not auth.csrf_ok(
                cookie, connection.headers.get(CSRF_HEADER)
            ):
                raise Forbidden(
                    f"Cookie-authenticated writes need the {CSRF_HEADER} header "
                    f"(the value of the {CSRF_COOKIE} cookie).",
                    slug="csrf",
                )
            if principal.mfa_pending and not connection.url.path.startswith(MFA_ENROLMENT_PATHS):
                raise Forbidden(
                    "Your organisation requires two-factor sign-in: enrol at /api/me/mfa/totp.",
                    slug="mfa-enrolment-required",
                )
            return principal
    token = connection.query_params.get(LINK_PARAM) if link is not None else None
    if token and link is not None:
        try:
            grant = auth.signer.verify(token)
        except LinkExpired:
            # The normal end of a link (a player left open): not worth an audit entry.
            raise NotAuthenticated("The link has expired; ask for a new one.") from None
        except (BadSignature, ValueError):
            await _refused(connection, services, link, "altered or malformed", target)
            raise NotAuthenticated(
                "The link is invalid or has expired; ask for a new one."
            ) from None
        if target is None:
            target = _link_target(connection, link)
        if grant.kind is not link or grant.target != target:
            await _refused(connection, services, link, "used for something else", target)
            raise NotAuthenticated("The link is for something else.")
        principal = await auth.user_principal(grant.user_id, Via.LINK)
        if principal is None:
            raise NotAuthenticated("The link's user no longer exists or is disabled.")
        return principal
    return None


async def _refused(
    connection: HTTPConnection,
    services: Services,
    link: MediaKind,
    reason: str,
    target: int | None = None,
) -> None:
    """A link someone tampered with or misused: recorded (sampled) in the log of the
    organisation whose camera or export the path names (the link's own claims cannot be
    trusted)."""
    if target is None:
        target = _link_target(connection, link)
    org_id = None
    with contextlib.suppress(CameraNotFound, ExportNotFound):
        if target is not None and link is MediaKind.EXPORT:
            org_id = (await services.exports.store.get(target)).org_id
        elif target is not None and link is MediaKind.LIBRARY:
            item = (await services.library.store.items([target])).get(target)
            org_id = item.org_id if item is not None else None
        elif target is not None:
            org_id = (await services.cameras.store.get(target)).org_id
    actor = services.auth.actor(None, client_ip(connection), connection.headers.get("user-agent"))
    # Anyone can send these by the thousand: sampled, so they cannot flood the log.
    await services.auth.refusals.refused(
        actor, "link.refused", org_id=org_id, reason=reason, path=connection.url.path
    )


def _same_origin(connection: HTTPConnection) -> bool:
    """Browsers send Origin on WebSocket handshakes; another site's page must not ride on
    the user's cookie (clients that are not browsers send none)."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    host = connection.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


_LINK_TARGETS = {MediaKind.EXPORT: "export_id", MediaKind.LIBRARY: "item_id"}


def _link_target(connection: HTTPConnection, link: MediaKind | None) -> int | None:
    name = _LINK_TARGETS.get(link, "camera_id") if link is not None else "camera_id"
    value = connection.path_params.get(name)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def signed_query(connection: HTTPConnection, kind: MediaKind, target: int) -> str:
    """``?token=…``: a link to ``target`` for the caller, valid for a few minutes."""
    principal = getattr(connection.state, "principal", None)
    assert isinstance(principal, Principal), "sign links only on authenticated routes"
    token = _services(connection).auth.signer.sign(principal.user_id, kind, target)
    return f"?{LINK_PARAM}={token}"


def check_scope(principal: Principal, scope: Scope | None) -> None:
    if scope is not None and not principal.allows(scope):
        raise Forbidden(f"This API key lacks the {scope.value!r} scope.", slug="missing-scope")


async def signed_in(connection: HTTPConnection, services: ServicesDep) -> Principal:
    """Any signed-in user (session or key); 401 otherwise."""
    principal = await identify(connection, services)
    if principal is None:
        raise NotAuthenticated
    return principal


SignedInDep = Annotated[Principal, Depends(signed_in)]


async def session_user(principal: SignedInDep) -> Principal:
    """A person in a browser session: account settings are not for API keys."""
    if principal.via is not Via.SESSION:
        raise Forbidden(
            "Only a signed-in session can do this, not an API key.", slug="session-only"
        )
    return principal


SessionDep = Annotated[Principal, Depends(session_user)]


def member(scope: Scope | None) -> Callable[..., Awaitable[Principal]]:
    """Any user of the organisation, if their key (if any) has ``scope``."""

    async def dependency(principal: SignedInDep) -> Principal:
        check_scope(principal, scope)
        return principal

    return dependency


def admin(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """An admin of the organisation, with ``scope`` if a key is used."""

    async def dependency(principal: SignedInDep) -> Principal:
        if not principal.is_admin:
            raise Forbidden("Only an organisation admin can do this.", slug="admin-only")
        check_scope(principal, scope)
        return principal

    return dependency


async def authorize_camera(
    connection: HTTPConnection,
    services: Services,
    camera_id: int,
    permission: Permission | None,
    scope: Scope,
    link: MediaKind | None = None,
) -> tuple[Principal, Camera]:
    """The camera, if the caller may ``permission`` on it (None: anything at all).

    A camera the caller may not use at all is "not found", exactly like one that does not
    exist (here or in another organisation); one they may use, but not this way, is 403.
    """
    principal = await identify(connection, services, link)
    if principal is None:
        raise NotAuthenticated
    check_scope(principal, scope)
    allowed = (await services.auth.camera_permissions(principal)).get(camera_id)
    if not allowed:
        raise CameraNotFound(camera_id)
    if permission is not None and permission not in allowed:
        raise Forbidden(
            f"You may not {permission.value.replace('_', ' ')} on camera {camera_id}.",
            slug="missing-permission",
        )
    camera = await services.cameras.store.get(camera_id)
    if camera.org_id != principal.org_id:
        raise CameraNotFound(camera_id)
    return principal, camera


def camera_access(
    permission: Permission | None, scope: Scope, link: MediaKind | None = None
) -> Callable[..., Awaitable[Camera]]:
    """The path's camera, if the caller may ``permission`` on it (and use ``scope``)."""

    async def dependency(
        camera_id: CameraId, connection: HTTPConnection, services: ServicesDep
    ) -> Camera:
        _, camera = await authorize_camera(connection, services, camera_id, permission, scope, link)
        return camera

    return dependency


# The camera dependencies routes use, by what they do.
SeeCamera = Annotated[Camera, Depends(camera_access(None, Scope.CAMERAS_READ))]
LiveCamera = Annotated[
    Camera, Depends(camera_access(Permission.VIEW_LIVE, Scope.LIVE, MediaKind.LIVE))
]
RecordingsCamera = Annotated[
    Camera, Depends(camera_access(Permission.VIEW_RECORDINGS, Scope.RECORDINGS))
]
RecordingsMedia = Annotated[
    Camera,
    Depends(camera_access(Permission.VIEW_RECORDINGS, Scope.RECORDINGS, MediaKind.RECORDINGS)),
]
ProtectRecordings = Annotated[
    Camera, Depends(camera_access(Permission.EXPORT, Scope.CAMERAS_WRITE))
]
StorageCamera = Annotated[
    Camera, Depends(camera_access(Permission.VIEW_RECORDINGS, Scope.CAMERAS_READ))
]
ConfigureCamera = Annotated[
    Camera, Depends(camera_access(Permission.CONFIGURE, Scope.CAMERAS_WRITE))
]
