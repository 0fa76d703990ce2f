"""The organisation's people (admins): invite, change roles, disable, reset MFA, keys."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field, model_validator

from vigil.api.deps import ServicesDep
from vigil.api.people_schemas import KeyOut, SessionOut
from vigil.api.problems import problem, problem_responses
from vigil.api.schemas import Input, Output
from vigil.api.security import actor_of, admin
from vigil.api.types import Email, KeyId, LongName, Password, Timestamp, UserId, Username
from vigil.app import Services
from vigil.auth.errors import Conflict
from vigil.auth.permissions import Role, Scope
from vigil.auth.principal import Principal
from vigil.auth.tokens import new_token, token_hash
from vigil.store.models import User, UserGroup
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

router = APIRouter(tags=["users"])

Admin = Annotated[Principal, Depends(admin(Scope.PEOPLE))]


# Schemas ---------------------------------------------------------------------------


class UserCreate(Input):
    username: Username
    role: Role
    display_name: LongName | None = None
    email: Email | None = None
    password: Password | None = Field(
        default=None, description="none: the answer carries an invitation to set one"
    )


class UserUpdate(Input):
    """Only the fields given change; null clears ``display_name`` or ``email``. A new
    ``username`` must differ from everyone else's once case and Unicode form are set aside."""

    username: Username | None = None
    role: Role | None = None
    display_name: LongName | None = None
    email: Email | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _no_null_role_or_disabled(self) -> Self:
        for name in ("username", "role", "disabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class UserOut(Output):
    id: int
    username: str
    display_name: str | None
    email: str | None
    role: Role
    disabled: bool
    mfa_enabled: bool
    has_password: bool = Field(description="false until an invited user sets a password")
    created_at: Timestamp
    groups: list[int] = Field(default=[], description="the user groups they are in")

    @classmethod
    def build(cls, user: User, groups: list[int]) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            role=Role(user.role),
            disabled=user.disabled,
            mfa_enabled=user.totp_enabled,
            has_password=user.password_hash is not None,
            created_at=user.created_at,
            groups=groups,
        )


class InvitationOut(Output):
    token: str = Field(description="shown once: give it to the person, not to anyone else")
    url: str = Field(description="the page where the person sets their password")
    expires_at: Timestamp


class UserCreated(Output):
    user: UserOut
    invitation: InvitationOut | None = Field(description="when no password was given")


# Helpers ---------------------------------------------------------------------------


async def _groups_of(services: Services, org_id: int) -> dict[int, list[int]]:
    """User id → the ids of the user groups they are in."""
    groups: dict[int, list[int]] = {}
    for group in await services.auth.access.of_org(UserGroup, org_id):
        for user_id in group.user_ids:
            groups.setdefault(user_id, []).append(group.id)
    return groups


async def _out(services: Services, user: User) -> UserOut:
    return UserOut.build(user, (await _groups_of(services, user.org_id)).get(user.id, []))


async def _invite(services: Services, user: User) -> InvitationOut:
    """A new invitation for ``user``, replacing any earlier one; the token is not kept."""
    token = new_token()
    hours = services.settings.auth.invitation_hours
    expires_at = now_ms() + int(hours * 3_600_000)
    await services.auth.users.invite(user.id, token_hash(token), expires_at)
    return InvitationOut(token=token, url=f"/invite#{token}", expires_at=expires_at)


async def _keep_an_admin(
    services: Services, request: Request, principal: Principal, user: User, action: str
) -> None:
    """Refuse (409) a change that would leave the organisation without an enabled admin."""
    if user.role != Role.ADMIN or user.disabled:
        return
    if await services.auth.users.admins(user.org_id) > 1:
        return
    await services.auth.audit.record(
        actor_of(request, principal),
        action,
        outcome="failure",
        target=f"user:{user.id}",
        reason="last admin",
    )
    raise Conflict(
        f"{user.username!r} is the organisation's last enabled admin: "
        "make someone else an admin first.",
        slug="last-admin",
    )


async def _sign_out_everywhere(services: Services, user_id: int, keep: int | None = None) -> int:
    hashes = await services.auth.sessions.delete_all(user_id, keep=keep)
    await services.auth.end_sessions(hashes)
    services.auth.forget_user(user_id)
    return len(hashes)


# Users -----------------------------------------------------------------------------


@router.get("/users", responses=problem_responses(401, 403))
async def list_users(principal: Admin, services: ServicesDep) -> list[UserOut]:
    """The organisation's people, oldest first."""
    groups = await _groups_of(services, principal.org_id)
    users = await services.auth.users.of_org(principal.org_id)
    return [UserOut.build(user, groups.get(user.id, [])) for user in users]


@router.post("/users", status_code=201, responses=problem_responses(400, 401, 403, 409, 422))
async def create_user(
    body: UserCreate,
    principal: Admin,
    request: Request,
    response: Response,
    services: ServicesDep,
) -> UserCreated:
    """Add a person. With a password (checked against the policy) they can sign in at once;
    without one the answer carries an invitation, shown only this once, for them to set it."""
    auth = services.auth
    await services.library.check_room_for(principal.org_id, "users")
    password_hash = None
    if body.password is not None:
        password_hash = await auth.new_password_hash(
            body.password.get_secret_value(), body.username
        )
    user = await auth.users.create(
        principal.org_id,
        body.username,
        body.role.value,
        password_hash,
        body.display_name,
        body.email,
    )
    invitation = await _invite(services, user) if password_hash is None else None
    await auth.audit.record(
        actor_of(request, principal),
        "user.create",
        target=f"user:{user.id}",
        role=user.role,
        invited=invitation is not None,
    )
    log.info("user %s (%r, %s) created", user.id, user.username, user.role)
    response.headers["Location"] = str(request.url_for("get_user", user_id=user.id))
    return UserCreated(user=UserOut.build(user, []), invitation=invitation)


@router.get("/users/{user_id}", name="get_user", responses=problem_responses(401, 403, 404, 422))
async def get_user(user_id: UserId, principal: Admin, services: ServicesDep) -> UserOut:
    return await _out(services, await services.auth.users.get(principal.org_id, user_id))


@router.patch("/users/{user_id}", responses=problem_responses(400, 401, 403, 404, 409, 422))
async def update_user(
    user_id: UserId,
    body: UserUpdate,
    principal: Admin,
    request: Request,
    services: ServicesDep,
) -> UserOut:
    """Change the fields given. Disabling signs the person out everywhere; the last enabled
    admin can be neither demoted nor disabled (409 ``last-admin``)."""
    auth = services.auth
    user = await auth.users.get(principal.org_id, user_id)
    given = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for name, value in given.items():
        value = value.value if isinstance(value, Role) else value
        if getattr(user, name) != value:
            changes[name] = value
    if not changes:
        return await _out(services, user)
    demoted = "role" in changes and changes["role"] != Role.ADMIN
    if demoted or changes.get("disabled") is True:
        await _keep_an_admin(services, request, principal, user, "user.update")
    old_role = user.role
    user = await auth.users.update(principal.org_id, user_id, changes)
    if changes.get("disabled") is True:
        await _sign_out_everywhere(services, user.id)
    auth.forget_user(user.id)
    detail: dict[str, Any] = {"fields": sorted(changes)}
    if "role" in changes:
        detail["role"] = {"old": old_role, "new": user.role}
    if "disabled" in changes:
        detail["disabled"] = user.disabled
    await auth.audit.record(
        actor_of(request, principal), "user.update", target=f"user:{user.id}", **detail
    )
    log.info("user %s changed: %s", user.id, ", ".join(sorted(changes)))
    return await _out(services, user)


@router.delete("/users/{user_id}", status_code=204, responses=problem_responses(401, 403, 404, 409))
async def delete_user(
    user_id: UserId, principal: Admin, request: Request, services: ServicesDep
) -> Response:
    """Remove a person, their sessions, keys and grants. Not yourself, nor the last admin."""
    auth = services.auth
    user = await auth.users.get(principal.org_id, user_id)
    await _keep_an_admin(services, request, principal, user, "user.delete")
    if user.id == principal.user_id:
        await auth.audit.record(
            actor_of(request, principal),
            "user.delete",
            outcome="failure",
            target=f"user:{user.id}",
            reason="self",
        )
        raise Conflict("You cannot delete your own account.", slug="cannot-delete-self")
    await _sign_out_everywhere(services, user.id)
    for group in await auth.access.of_org(UserGroup, principal.org_id):
        if user.id in group.user_ids:
            others = [i for i in group.user_ids if i != user.id]
            await auth.access.update(UserGroup, principal.org_id, group.id, {"user_ids": others})
    await auth.users.delete(principal.org_id, user.id)
    auth.forget_user(user.id)
    auth.forget_access()
    await auth.audit.record(
        actor_of(request, principal),
        "user.delete",
        target=f"user:{user.id}",
        username=user.username,
    )
    log.info("user %s (%r) deleted", user.id, user.username)
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/invitation",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
)
async def invite_user(
    user_id: UserId, principal: Admin, request: Request, services: ServicesDep
) -> InvitationOut:
    """A new invitation (any earlier one stops working), shown only this once. Accepting it
    sets the person's password, so it also resets a forgotten one."""
    user = await services.auth.users.get(principal.org_id, user_id)
    invitation = await _invite(services, user)
    await services.auth.audit.record(
        actor_of(request, principal), "user.invite", target=f"user:{user.id}"
    )
    return invitation


@router.delete(
    "/users/{user_id}/mfa", status_code=204, responses=problem_responses(401, 403, 404, 422)
)
async def reset_mfa(
    user_id: UserId, principal: Admin, request: Request, services: ServicesDep
) -> Response:
    """Turn off the person's two-factor sign-in (a lost phone); they enrol again."""
    auth = services.auth
    user = await auth.users.get(principal.org_id, user_id)
    await auth.users.reset_mfa(user.id)
    auth.forget_user(user.id)
    await auth.audit.record(
        actor_of(request, principal),
        "mfa.reset",
        target=f"user:{user.id}",
        was_enabled=user.totp_enabled,
    )
    return Response(status_code=204)


@router.get("/users/{user_id}/sessions", responses=problem_responses(401, 403, 404, 422))
async def list_user_sessions(
    user_id: UserId, principal: Admin, services: ServicesDep
) -> list[SessionOut]:
    """Where the person is signed in, most recently used first."""
    user = await services.auth.users.get(principal.org_id, user_id)
    rows = await services.auth.sessions.of_user(user.id)
    return [SessionOut.build(row, principal) for row in rows]


@router.delete(
    "/users/{user_id}/sessions", status_code=204, responses=problem_responses(401, 403, 404, 422)
)
async def end_user_sessions(
    user_id: UserId, principal: Admin, request: Request, services: ServicesDep
) -> Response:
    """Sign the person out everywhere (your own current session stays)."""
    user = await services.auth.users.get(principal.org_id, user_id)
    keep = principal.session_id if user.id == principal.user_id else None
    ended = await _sign_out_everywhere(services, user.id, keep=keep)
    await services.auth.audit.record(
        actor_of(request, principal), "session.revoke_all", target=f"user:{user.id}", ended=ended
    )
    return Response(status_code=204)


# API keys --------------------------------------------------------------------------


@router.get("/keys", responses=problem_responses(401, 403))
async def list_keys(principal: Admin, services: ServicesDep) -> list[KeyOut]:
    """Every API key of the organisation's people (never their secrets), oldest first."""
    names = {u.id: u.username for u in await services.auth.users.of_org(principal.org_id)}
    keys = await services.auth.keys.of_users(list(names))
    return [KeyOut.build(key, names[key.user_id]) for key in keys]


@router.delete("/keys/{key_id}", status_code=204, responses=problem_responses(401, 403, 404, 422))
async def revoke_key(
    key_id: KeyId, principal: Admin, request: Request, services: ServicesDep
) -> Response:
    """Revoke anyone's API key in the organisation; it stops working at once."""
    auth = services.auth
    key = await auth.keys.get(key_id)
    owner = await auth.users.by_id(key.user_id) if key is not None else None
    if key is None or owner is None or owner.org_id != principal.org_id:
        return problem(request, 404, f"No API key with id {key_id}.", slug="key-not-found")
    await auth.keys.revoke(key.id, now_ms())
    auth.forget_user(owner.id)
    await auth.audit.record(
        actor_of(request, principal), "key.revoke", target=f"key:{key.id}", user_id=owner.id
    )
    return Response(status_code=204)
