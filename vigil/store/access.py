"""User groups, camera groups and the grants between them: who may do what on which camera."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import or_, select

from vigil.auth.permissions import ALL_PERMISSIONS, ROLE_CEILING, Permission, Role
from vigil.store.database import Database
from vigil.store.models import Camera, CameraGroup, Grant, User, UserGroup

Row = TypeVar("Row", UserGroup, CameraGroup, Grant)


class GroupNotFound(Exception):
    """No such user group, camera group or grant in this organisation."""

    def __init__(self, kind: str, group_id: int) -> None:
        super().__init__(f"no {kind} with id {group_id}")
        self.kind = kind
        self.group_id = group_id


_KINDS: dict[type[Any], str] = {
    UserGroup: "user group",
    CameraGroup: "camera group",
    Grant: "grant",
}


class AccessStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of_org(self, model: type[Row], org_id: int) -> list[Row]:
        async with self._db.read() as session:
            query = select(model).where(model.org_id == org_id).order_by(model.id)
            return list(await session.scalars(query))

    async def get(self, model: type[Row], org_id: int, row_id: int) -> Row:
        async with self._db.read() as session:
            row = await session.get(model, row_id)
        if row is None or row.org_id != org_id:
            raise GroupNotFound(_KINDS[model], row_id)
        return row

    async def add(self, row: Row) -> Row:
        async with self._db.write() as session:
            session.add(row)
        return row

    async def update(
        self, model: type[Row], org_id: int, row_id: int, changes: dict[str, Any]
    ) -> Row:
        async with self._db.write() as session:
            row = await session.get(model, row_id)
            if row is None or row.org_id != org_id:
                raise GroupNotFound(_KINDS[model], row_id)
            for key, value in changes.items():
                setattr(row, key, value)
        return row

    async def delete(self, model: type[Row], org_id: int, row_id: int) -> Row:
        async with self._db.write() as session:
            row = await session.get(model, row_id)
            if row is None or row.org_id != org_id:
                raise GroupNotFound(_KINDS[model], row_id)
            await session.delete(row)
        return row

    async def unknown_ids(self, org_id: int, users: list[int], cameras: list[int]) -> list[str]:
        """Which of the given user and camera ids are not in ``org_id`` (as 'user 3')."""
        missing: list[str] = []
        async with self._db.read() as session:
            if users:
                found = set(
                    await session.scalars(
                        select(User.id).where(User.id.in_(users), User.org_id == org_id)
                    )
                )
                missing += [f"user {i}" for i in users if i not in found]
            if cameras:
                found = set(
                    await session.scalars(
                        select(Camera.id).where(Camera.id.in_(cameras), Camera.org_id == org_id)
                    )
                )
                missing += [f"camera {i}" for i in cameras if i not in found]
        return missing

    async def camera_permissions(
        self, org_id: int, user_id: int, role: Role
    ) -> dict[int, frozenset[Permission]]:
        """Each camera of the organisation the user may use, with what they may do on it."""
        async with self._db.read() as session:
            cameras = list(await session.scalars(select(Camera.id).where(Camera.org_id == org_id)))
            if role is Role.ADMIN:
                return dict.fromkeys(cameras, ALL_PERMISSIONS)
            groups = [
                group.id
                for group in await session.scalars(
                    select(UserGroup).where(UserGroup.org_id == org_id)
                )
                if user_id in group.user_ids
            ]
            subject = Grant.user_id == user_id
            if groups:
                subject = or_(subject, Grant.user_group_id.in_(groups))
            grants = list(
                await session.execute(
                    select(Grant.permissions, CameraGroup.camera_ids)
                    .join(CameraGroup, CameraGroup.id == Grant.camera_group_id)
                    .where(Grant.org_id == org_id, subject)
                )
            )
        ceiling = ROLE_CEILING[role]
        existing = set(cameras)
        allowed: dict[int, set[Permission]] = {}
        for permissions, camera_ids in grants:
            granted = {Permission(p) for p in permissions} & ceiling
            for camera_id in camera_ids:
                if camera_id in existing and granted:
                    allowed.setdefault(camera_id, set()).update(granted)
        return {camera_id: frozenset(p) for camera_id, p in allowed.items()}
