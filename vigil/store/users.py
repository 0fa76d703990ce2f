"""Organisations, sites and user accounts; passwords hashed, TOTP secrets encrypted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.store.database import Database
from vigil.store.models import Claim, Invitation, Org, RecoveryCode, Site, User, username_key
from vigil.timeutil import now_ms


class UserNotFound(Exception):
    def __init__(self, user_id: int) -> None:
        super().__init__(f"no user with id {user_id}")
        self.user_id = user_id


class DuplicateName(Exception):
    """A username, organisation or site name is taken (names ignore case)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"a {kind} named {name!r} already exists")
        self.kind = kind
        self.name = name


class AlreadyClaimed(Exception):
    """Something done once per installation (the first-run setup) has been done."""


class SiteNotFound(Exception):
    def __init__(self, site_id: int) -> None:
        super().__init__(f"no site with id {site_id}")
        self.site_id = site_id


class UserStore:
    """Orgs, sites and users. Whoever caches what it stores (the auth service) listens for
    changes: ``listen(callback)`` is told ``("user", id)`` or ``("org", id)`` after each."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._listeners: list[Callable[[str, int], None]] = []

    def listen(self, callback: Callable[[str, int], None]) -> None:
        self._listeners.append(callback)

    def _changed(self, kind: str, row_id: int) -> None:
        for callback in self._listeners:
            callback(kind, row_id)

    # Organisations -------------------------------------------------------------------

    async def create_org(self, name: str) -> Org:
        org = Org(name=name, require_mfa=False, created_at=now_ms())
        try:
            async with self._db.write() as session:
                if await session.scalar(select(Org.id).where(_lower(Org.name, name))):
                    raise DuplicateName("organisation", name)
                session.add(org)
        except IntegrityError:
            raise DuplicateName("organisation", name) from None
        return org

    async def org(self, org_id: int) -> Org:
        async with self._db.read() as session:
            org = await session.get(Org, org_id)
        if org is None:
            raise LookupError(f"no organisation with id {org_id}")
        return org

    async def org_named(self, name: str) -> Org | None:
        async with self._db.read() as session:
            return await session.scalar(select(Org).where(_lower(Org.name, name)))

    async def orgs(self) -> list[Org]:
        async with self._db.read() as session:
            return list(await session.scalars(select(Org).order_by(Org.id)))

    async def update_org(self, org_id: int, changes: dict[str, Any]) -> Org:
        try:
            async with self._db.write() as session:
                org = await session.get(Org, org_id)
                if org is None:
                    raise LookupError(f"no organisation with id {org_id}")
                if "name" in changes:
                    taken = await session.scalar(
                        select(Org.id).where(_lower(Org.name, changes["name"]), Org.id != org_id)
                    )
                    if taken:
                        raise DuplicateName("organisation", changes["name"])
                for key, value in changes.items():
                    setattr(org, key, value)
        except IntegrityError:
            raise DuplicateName("organisation", str(changes.get("name"))) from None
        self._changed("org", org_id)
        return org

    # Sites ---------------------------------------------------------------------------

    async def create_site(self, org_id: int, name: str, address: str | None) -> Site:
        site = Site(org_id=org_id, name=name, address=address, created_at=now_ms())
        try:
            async with self._db.write() as session:
                await self._check_site_name(session, org_id, name, None)
                session.add(site)
        except IntegrityError:
            raise DuplicateName("site", name) from None
        return site

    async def sites(self, org_id: int) -> list[Site]:
        async with self._db.read() as session:
            query = select(Site).where(Site.org_id == org_id).order_by(Site.id)
            return list(await session.scalars(query))

    async def site(self, org_id: int, site_id: int) -> Site:
        async with self._db.read() as session:
            site = await session.get(Site, site_id)
        if site is None or site.org_id != org_id:
            raise SiteNotFound(site_id)
        return site

    async def update_site(self, org_id: int, site_id: int, changes: dict[str, Any]) -> Site:
        try:
            async with self._db.write() as session:
                site = await session.get(Site, site_id)
                if site is None or site.org_id != org_id:
                    raise SiteNotFound(site_id)
                if "name" in changes:
                    await self._check_site_name(session, org_id, changes["name"], site_id)
                for key, value in changes.items():
                    setattr(site, key, value)
        except IntegrityError:
            raise DuplicateName("site", str(changes.get("name"))) from None
        return site

    async def delete_site(self, org_id: int, site_id: int) -> Site:
        async with self._db.write() as session:
            site = await session.get(Site, site_id)
            if site is None or site.org_id != org_id:
                raise SiteNotFound(site_id)
            await session.delete(site)
        return site

    @staticmethod
    async def _check_site_name(
        session: AsyncSession, org_id: int, name: str, own_id: int | None
    ) -> None:
        query = select(Site.id).where(Site.org_id == org_id, _lower(Site.name, name))
        if own_id is not None:
            query = query.where(Site.id != own_id)
        if await session.scalar(query) is not None:
            raise DuplicateName("site", name)

    # Users ---------------------------------------------------------------------------

    async def count(self) -> int:
        async with self._db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)

    async def create(
        self,
        org_id: int,
        username: str,
        role: str,
        password_hash: str | None,
        display_name: str | None = None,
        email: str | None = None,
    ) -> User:
        now = now_ms()
        user = User(
            org_id=org_id,
            username=username,
            role=role,
            password_hash=password_hash,
            display_name=display_name,
            email=email,
            disabled=False,
            totp_enabled=False,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.write() as session:
                if await session.scalar(select(User.id).where(_same_name(username))):
                    raise DuplicateName("user", username)
                session.add(user)
        except IntegrityError:
            raise DuplicateName("user", username) from None
        return user

    async def first_admin(self, org_name: str, username: str, password_hash: str) -> User:
        """The first-run setup, done once per installation and atomically: claim it, name
        the organisation (the one existing empty one, else a new one) and create its first
        admin, in one transaction. AlreadyClaimed if setup was claimed or anyone exists."""
        now = now_ms()
        async with self._db.write() as session:
            session.add(Claim(name="setup", claimed_at=now))
            try:
                # A concurrent claimant's insert waits here for this one to commit, then fails.
                await session.flush()
            except IntegrityError:
                raise AlreadyClaimed from None
            if await session.scalar(select(func.count()).select_from(User)):
                raise AlreadyClaimed
            org = await session.scalar(select(Org).where(_lower(Org.name, org_name)))
            if org is None:
                orgs = list(await session.scalars(select(Org).order_by(Org.id).limit(2)))
                if len(orgs) == 1:  # made for existing cameras by an upgrade: no one's yet
                    org = orgs[0]
                    org.name = org_name
                else:
                    org = Org(name=org_name, require_mfa=False, created_at=now)
                    session.add(org)
                    await session.flush()
            user = User(
                org_id=org.id,
                username=username,
                role="admin",
                password_hash=password_hash,
                disabled=False,
                totp_enabled=False,
                created_at=now,
                updated_at=now,
            )
            session.add(user)
        self._changed("org", org.id)
        return user

    async def setup_open(self) -> bool:
        """Whether the first-run setup can still be done."""
        async with self._db.read() as session:
            if await session.get(Claim, "setup") is not None:
                return False
            return not await session.scalar(select(func.count()).select_from(User))

    async def by_id(self, user_id: int) -> User | None:
        async with self._db.read() as session:
            return await session.get(User, user_id)

    async def get(self, org_id: int, user_id: int) -> User:
        """The user if they belong to ``org_id``; otherwise UserNotFound, as if none existed."""
        user = await self.by_id(user_id)
        if user is None or user.org_id != org_id:
            raise UserNotFound(user_id)
        return user

    async def with_org(self, user_id: int) -> tuple[User, Org] | None:
        """The user and their organisation, in one query."""
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(User, Org).join(Org, Org.id == User.org_id).where(User.id == user_id)
                )
            ).first()
        return (row[0], row[1]) if row is not None else None

    async def by_username(self, username: str) -> User | None:
        async with self._db.read() as session:
            return await session.scalar(select(User).where(_same_name(username)))

    async def of_org(self, org_id: int) -> list[User]:
        async with self._db.read() as session:
            query = select(User).where(User.org_id == org_id).order_by(User.id)
            return list(await session.scalars(query))

    async def update(self, org_id: int, user_id: int, changes: dict[str, Any]) -> User:
        try:
            async with self._db.write() as session:
                user = await session.get(User, user_id)
                if user is None or user.org_id != org_id:
                    raise UserNotFound(user_id)
                if "username" in changes:
                    name = changes["username"]
                    taken = await session.scalar(
                        select(User.id).where(_same_name(name), User.id != user_id)
                    )
                    if taken:
                        raise DuplicateName("user", name)
                for key, value in changes.items():
                    setattr(user, key, value)
                user.updated_at = now_ms()
        except IntegrityError:
            raise DuplicateName("user", str(changes.get("username"))) from None
        self._changed("user", user_id)
        return user

    async def delete(self, org_id: int, user_id: int) -> User:
        async with self._db.write() as session:
            user = await session.get(User, user_id)
            if user is None or user.org_id != org_id:
                raise UserNotFound(user_id)
            await session.delete(user)
        self._changed("user", user_id)
        return user

    async def admins(self, org_id: int) -> int:
        async with self._db.read() as session:
            query = select(func.count()).where(
                User.org_id == org_id, User.role == "admin", User.disabled.is_(False)
            )
            return int(await session.scalar(query) or 0)

    # Second factor -------------------------------------------------------------------

    async def start_totp(self, user_id: int, secret_encrypted: bytes) -> None:
        """Keep a new secret, not yet enabled: enrolment ends when a code confirms it."""
        async with self._db.write() as session:
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(totp_secret_encrypted=secret_encrypted, totp_enabled=False)
            )

    async def enable_totp(self, user_id: int, step: int, code_hashes: list[str]) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(totp_enabled=True, totp_last_step=step, updated_at=now_ms())
            )
            await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
            session.add_all(RecoveryCode(user_id=user_id, code_hash=h) for h in code_hashes)
        self._changed("user", user_id)

    async def reset_mfa(self, user_id: int) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(
                    totp_enabled=False,
                    totp_secret_encrypted=None,
                    totp_last_step=None,
                    updated_at=now_ms(),
                )
            )
            await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        self._changed("user", user_id)

    async def use_totp_step(self, user_id: int, step: int) -> bool:
        """Record ``step`` as used; False if it (or a later one) already was: a replay."""
        async with self._db.write() as session:
            result = await session.execute(
                update(User)
                .where(
                    User.id == user_id,
                    (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
                )
                .values(totp_last_step=step)
            )
            return bool(getattr(result, "rowcount", 0))

    async def use_recovery_code(self, user_id: int, code_hash: str) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                update(RecoveryCode)
                .where(
                    RecoveryCode.user_id == user_id,
                    RecoveryCode.code_hash == code_hash,
                    RecoveryCode.used_at.is_(None),
                )
                .values(used_at=now_ms())
            )
            return bool(getattr(result, "rowcount", 0))

    async def recovery_codes_left(self, user_id: int) -> int:
        async with self._db.read() as session:
            query = select(func.count()).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
            return int(await session.scalar(query) or 0)

    # Invitations ---------------------------------------------------------------------

    async def invite(self, user_id: int, token_hash: str, expires_at: int) -> None:
        async with self._db.write() as session:
            await session.execute(delete(Invitation).where(Invitation.user_id == user_id))
            session.add(
                Invitation(
                    user_id=user_id,
                    token_hash=token_hash,
                    expires_at=expires_at,
                    created_at=now_ms(),
                )
            )

    async def invitation_user(self, token_hash: str) -> User | None:
        """The user a live invitation is for; None if unknown or expired."""
        async with self._db.read() as session:
            invitation = await session.scalar(
                select(Invitation).where(Invitation.token_hash == token_hash)
            )
            if invitation is None or invitation.expires_at < now_ms():
                return None
            return await session.get(User, invitation.user_id)

    async def accept_invitation(self, token_hash: str, password_hash: str) -> User | None:
        """Set the password of the invitation's user and spend the invitation."""
        async with self._db.write() as session:
            invitation = await session.scalar(
                select(Invitation).where(Invitation.token_hash == token_hash)
            )
            if invitation is None:
                return None
            await session.delete(invitation)
            if invitation.expires_at < now_ms():
                return None
            user = await session.get(User, invitation.user_id)
            if user is None or user.disabled:
                return None
            user.password_hash = password_hash
            user.updated_at = now_ms()
        self._changed("user", user.id)
        return user


def _same_name(username: str) -> Any:
    return User.username_key == username_key(username)


def _lower(column: Any, value: str) -> Any:
    return func.lower(column) == value.lower()
