"""User groups, camera groups and the grants between them (admins).

A grant gives a user group (or one user) permissions on the cameras of a camera group;
a person's rights on a camera are the union of their grants, capped by their role. Every
change here is forgotten from the rights cache at once, so it takes effect on the next request.
"""

from __future__ import annotations

from typing import Annotated, Any, Self, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from vigil.api.deps import ServicesDep
from vigil.api.problems import problem_responses
from vigil.api.schemas import Input, Output
from vigil.api.security import actor_of, admin
from vigil.api.types import CameraId, GrantId, GroupId, Name, UserId
from vigil.app import Services
from vigil.auth.permissions import Permission, Scope
from vigil.auth.principal import Principal
from vigil.store.access import GroupNotFound
from vigil.store.models import CameraGroup, Grant, UserGroup
from vigil.store.users import UserNotFound

router = APIRouter(tags=["groups"])

People = Annotated[Principal, Depends(admin(Scope.PEOPLE))]
_T = TypeVar("_T")
# A group of every person or camera of a large site; anything longer is a mistake.
MAX_MEMBERS = 10_000


def _no_repeats(values: list[_T]) -> list[_T]:
    if len(set(values)) != len(values):
        raise ValueError("must not list the same value twice")
    return values


UserIds = Annotated[list[UserId], Field(max_length=MAX_MEMBERS), AfterValidator(_no_repeats)]
CameraIds = Annotated[list[CameraId], Field(max_length=MAX_MEMBERS), AfterValidator(_no_repeats)]
Permissions = Annotated[
    list[Permission],
    Field(min_length=1, max_length=len(Permission), examples=[["view_live", "view_recordings"]]),
    AfterValidator(_no_repeats),
]


class _NoNulls(Input):
    """A partial update: only the fields given change, and none may be null."""

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null")
        return value


class UserGroupIn(Input):
    name: Name
    user_ids: UserIds = Field(default_factory=list)


class UserGroupUpdate(_NoNulls):
    name: Name | None = None
    user_ids: UserIds | None = None


class UserGroupOut(Output):
    id: int
    name: str
    user_ids: list[int]


class CameraGroupIn(Input):
    name: Name
    camera_ids: CameraIds = Field(default_factory=list)


class CameraGroupUpdate(_NoNulls):
    name: Name | None = None
    camera_ids: CameraIds | None = None


class CameraGroupOut(Output):
    id: int
    name: str
    camera_ids: list[int]


class GrantIn(Input):
    camera_group_id: GroupId
    user_group_id: GroupId | None = Field(default=None, description="give this or user_id")
    user_id: UserId | None = Field(default=None, description="give this or user_group_id")
    permissions: Permissions

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.user_group_id is None) == (self.user_id is None):
            raise ValueError("give exactly one of user_group_id and user_id")
        return self


class GrantUpdate(Input):
    permissions: Permissions


class GrantOut(Output):
    id: int
    camera_group_id: int
    user_group_id: int | None
    user_id: int | None
    permissions: list[Permission] = Field(
        description="what the grant gives; a viewer still gets at most view_live and "
        "view_recordings of it"
    )


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body", field), "msg": message}])


async def _check_members(
    services: Services, org_id: int, users: list[int] | None, cameras: list[int] | None
) -> None:
    """422 naming the field if any id is unknown or of another organisation (alike)."""
    missing = await services.auth.access.unknown_ids(org_id, users or [], cameras or [])
    if missing:
        field = "user_ids" if missing[0].startswith("user") else "camera_ids"
        raise _invalid(field, f"no such {', '.join(missing)}")


async def _changed(services: Services, request: Request, action: str, **detail: Any) -> None:
    """Rights changed: forget everyone's cached rights, then write the audit entry."""
    services.auth.forget_access()
    await services.auth.audit.record(actor_of(request), action, **detail)


def _ordered(permissions: list[Permission]) -> list[str]:
    return sorted(p.value for p in permissions)


# User groups ---------------------------------------------------------------------------

_GROUP_PROBLEMS = problem_responses(400, 401, 403, 404, 422)


async def _user_group_out(services: Services, group: UserGroup) -> UserGroupOut:
    people = {user.id for user in await services.auth.users.of_org(group.org_id)}
    return UserGroupOut(
        id=group.id, name=group.name, user_ids=[i for i in group.user_ids if i in people]
    )


@router.get("/user-groups", responses=problem_responses(401, 403))
async def list_user_groups(principal: People, services: ServicesDep) -> list[UserGroupOut]:
    """The organisation's user groups (a class, a shift), oldest first."""
    people = {user.id for user in await services.auth.users.of_org(principal.org_id)}
    return [
        UserGroupOut(id=g.id, name=g.name, user_ids=[i for i in g.user_ids if i in people])
        for g in await services.auth.access.of_org(UserGroup, principal.org_id)
    ]


@router.post("/user-groups", status_code=201, responses=_GROUP_PROBLEMS)
async def create_user_group(
    body: UserGroupIn, principal: People, request: Request, services: ServicesDep
) -> UserGroupOut:
    """A group of people who share rights; each user id must be one of the organisation's."""
    await _check_members(services, principal.org_id, body.user_ids, None)
    group = await services.auth.access.add(
        UserGroup(org_id=principal.org_id, name=body.name, user_ids=body.user_ids)
    )
    await _changed(
        services,
        request,
        "group.create",
        target=f"user_group:{group.id}",
        name=group.name,
        user_ids=group.user_ids,
    )
    return await _user_group_out(services, group)


@router.get("/user-groups/{group_id}", responses=problem_responses(401, 403, 404, 422))
async def get_user_group(
    group_id: GroupId, principal: People, services: ServicesDep
) -> UserGroupOut:
    group = await services.auth.access.get(UserGroup, principal.org_id, group_id)
    return await _user_group_out(services, group)


@router.patch("/user-groups/{group_id}", responses=_GROUP_PROBLEMS)
async def update_user_group(
    group_id: GroupId,
    body: UserGroupUpdate,
    principal: People,
    request: Request,
    services: ServicesDep,
) -> UserGroupOut:
    """Rename the group or replace its members (the whole list); takes effect at once."""
    changes = body.model_dump(exclude_unset=True)
    await services.auth.access.get(UserGroup, principal.org_id, group_id)  # 404 first
    await _check_members(services, principal.org_id, body.user_ids, None)
    group = await services.auth.access.update(UserGroup, principal.org_id, group_id, changes)
    await _changed(
        services,
        request,
        "group.update",
        target=f"user_group:{group.id}",
        fields=sorted(changes),
        **changes,
    )
    return await _user_group_out(services, group)


@router.delete(
    "/user-groups/{group_id}", status_code=204, responses=problem_responses(401, 403, 404, 422)
)
async def delete_user_group(
    group_id: GroupId, principal: People, request: Request, services: ServicesDep
) -> Response:
    """Delete the group and the grants made to it."""
    group = await services.auth.access.delete(UserGroup, principal.org_id, group_id)
    await _changed(
        services, request, "group.delete", target=f"user_group:{group.id}", name=group.name
    )
    return Response(status_code=204)


# Camera groups -------------------------------------------------------------------------


async def _camera_group_out(services: Services, group: CameraGroup) -> CameraGroupOut:
    cameras = {camera.id for camera in await services.cameras.store.list(org_id=group.org_id)}
    return CameraGroupOut(
        id=group.id, name=group.name, camera_ids=[i for i in group.camera_ids if i in cameras]
    )


@router.get("/camera-groups", responses=problem_responses(401, 403))
async def list_camera_groups(principal: People, services: ServicesDep) -> list[CameraGroupOut]:
    """The organisation's camera groups (a building, a classroom's cameras), oldest first."""
    cameras = {camera.id for camera in await services.cameras.store.list(org_id=principal.org_id)}
    return [
        CameraGroupOut(id=g.id, name=g.name, camera_ids=[i for i in g.camera_ids if i in cameras])
        for g in await services.auth.access.of_org(CameraGroup, principal.org_id)
    ]


@router.post("/camera-groups", status_code=201, responses=_GROUP_PROBLEMS)
async def create_camera_group(
    body: CameraGroupIn, principal: People, request: Request, services: ServicesDep
) -> CameraGroupOut:
    """Cameras that share rights; each camera id must be one of the organisation's."""
    await _check_members(services, principal.org_id, None, body.camera_ids)
    group = await services.auth.access.add(
        CameraGroup(org_id=principal.org_id, name=body.name, camera_ids=body.camera_ids)
    )
    await _changed(
        services,
        request,
        "camera_group.create",
        target=f"camera_group:{group.id}",
        name=group.name,
        camera_ids=group.camera_ids,
    )
    return await _camera_group_out(services, group)


@router.get("/camera-groups/{group_id}", responses=problem_responses(401, 403, 404, 422))
async def get_camera_group(
    group_id: GroupId, principal: People, services: ServicesDep
) -> CameraGroupOut:
    group = await services.auth.access.get(CameraGroup, principal.org_id, group_id)
    return await _camera_group_out(services, group)


@router.patch("/camera-groups/{group_id}", responses=_GROUP_PROBLEMS)
async def update_camera_group(
    group_id: GroupId,
    body: CameraGroupUpdate,
    principal: People,
    request: Request,
    services: ServicesDep,
) -> CameraGroupOut:
    """Rename the group or replace its cameras (the whole list); takes effect at once."""
    changes = body.model_dump(exclude_unset=True)
    await services.auth.access.get(CameraGroup, principal.org_id, group_id)
    await _check_members(services, principal.org_id, None, body.camera_ids)
    group = await services.auth.access.update(CameraGroup, principal.org_id, group_id, changes)
    await _changed(
        services,
        request,
        "camera_group.update",
        target=f"camera_group:{group.id}",
        fields=sorted(changes),
        **changes,
    )
    return await _camera_group_out(services, group)


@router.delete(
    "/camera-groups/{group_id}", status_code=204, responses=problem_responses(401, 403, 404, 422)
)
async def delete_camera_group(
    group_id: GroupId, principal: People, request: Request, services: ServicesDep
) -> Response:
    """Delete the group and the grants on it (the cameras stay)."""
    group = await services.auth.access.delete(CameraGroup, principal.org_id, group_id)
    await _changed(
        services,
        request,
        "camera_group.delete",
        target=f"camera_group:{group.id}",
        name=group.name,
    )
    return Response(status_code=204)


# Grants --------------------------------------------------------------------------------


def _grant_out(grant: Grant) -> GrantOut:
    return GrantOut(
        id=grant.id,
        camera_group_id=grant.camera_group_id,
        user_group_id=grant.user_group_id,
        user_id=grant.user_id,
        permissions=[Permission(p) for p in grant.permissions],
    )


async def _check_grant_targets(services: Services, org_id: int, body: GrantIn) -> None:
    """Each group or user the grant names must be the organisation's: 422 naming it."""
    access = services.auth.access
    try:
        await access.get(CameraGroup, org_id, body.camera_group_id)
    except GroupNotFound:
        raise _invalid("camera_group_id", f"no camera group {body.camera_group_id}") from None
    if body.user_group_id is not None:
        try:
            await access.get(UserGroup, org_id, body.user_group_id)
        except GroupNotFound:
            raise _invalid("user_group_id", f"no user group {body.user_group_id}") from None
    if body.user_id is not None:
        try:
            await services.auth.users.get(org_id, body.user_id)
        except UserNotFound:
            raise _invalid("user_id", f"no user {body.user_id}") from None


@router.get("/grants", responses=problem_responses(401, 403))
async def list_grants(principal: People, services: ServicesDep) -> list[GrantOut]:
    """Every grant of the organisation, oldest first."""
    return [_grant_out(g) for g in await services.auth.access.of_org(Grant, principal.org_id)]


@router.post("/grants", status_code=201, responses=_GROUP_PROBLEMS)
async def create_grant(
    body: GrantIn, principal: People, request: Request, services: ServicesDep
) -> GrantOut:
    """Give a user group, or one user, permissions on a camera group's cameras."""
    await _check_grant_targets(services, principal.org_id, body)
    grant = await services.auth.access.add(
        Grant(
            org_id=principal.org_id,
            camera_group_id=body.camera_group_id,
            user_group_id=body.user_group_id,
            user_id=body.user_id,
            permissions=_ordered(body.permissions),
        )
    )
    subject = {"user_group_id": body.user_group_id} if body.user_group_id else {}
    subject |= {"user_id": body.user_id} if body.user_id else {}
    await _changed(
        services,
        request,
        "grant.create",
        target=f"grant:{grant.id}",
        camera_group_id=grant.camera_group_id,
        permissions=grant.permissions,
        **subject,
    )
    return _grant_out(grant)


@router.get("/grants/{grant_id}", responses=problem_responses(401, 403, 404, 422))
async def get_grant(grant_id: GrantId, principal: People, services: ServicesDep) -> GrantOut:
    return _grant_out(await services.auth.access.get(Grant, principal.org_id, grant_id))


@router.patch("/grants/{grant_id}", responses=_GROUP_PROBLEMS)
async def update_grant(
    grant_id: GrantId,
    body: GrantUpdate,
    principal: People,
    request: Request,
    services: ServicesDep,
) -> GrantOut:
    """Replace the grant's permissions; takes effect at once."""
    before = await services.auth.access.get(Grant, principal.org_id, grant_id)
    grant = await services.auth.access.update(
        Grant, principal.org_id, grant_id, {"permissions": _ordered(body.permissions)}
    )
    await _changed(
        services,
        request,
        "grant.update",
        target=f"grant:{grant.id}",
        permissions=grant.permissions,
        previous=before.permissions,
    )
    return _grant_out(grant)


@router.delete(
    "/grants/{grant_id}", status_code=204, responses=problem_responses(401, 403, 404, 422)
)
async def delete_grant(
    grant_id: GrantId, principal: People, request: Request, services: ServicesDep
) -> Response:
    """Take the grant's permissions away; takes effect at once."""
    grant = await services.auth.access.delete(Grant, principal.org_id, grant_id)
    await _changed(
        services,
        request,
        "grant.delete",
        target=f"grant:{grant.id}",
        permissions=grant.permissions,
    )
    return Response(status_code=204)
