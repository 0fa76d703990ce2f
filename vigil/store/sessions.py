"""Signed-in sessions and API keys, found by the hash of the token a client presents."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from vigil.store.database import Database
from vigil.store.models import ApiKey, UserSession


class SessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        user_id: int,
        token_hash: str,
        now: int,
        expires_at: int,
        ip: str | None,
        user_agent: str | None,
    ) -> UserSession:
        row = UserSession(
            user_id=user_id,
            token_hash=token_hash,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
        async with self._db.write() as session:
            session.add(row)
        return row

    async def by_hash(self, token_hash: str) -> UserSession | None:
        async with self._db.read() as session:
            query = select(UserSession).where(UserSession.token_hash == token_hash)
            return await session.scalar(query)

    async def touch(self, session_id: int, now: int) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now)
            )

    async def of_user(self, user_id: int) -> list[UserSession]:
        async with self._db.read() as session:
            query = (
                select(UserSession)
                .where(UserSession.user_id == user_id)
                .order_by(UserSession.last_seen_at.desc())
            )
            return list(await session.scalars(query))

    async def delete(self, user_id: int, session_id: int) -> UserSession | None:
        """End one of the user's sessions; None if the user has no such session."""
        async with self._db.write() as session:
            row = await session.get(UserSession, session_id)
            if row is None or row.user_id != user_id:
                return None
            await session.delete(row)
            return row

    async def delete_all(self, user_id: int, keep: int | None = None) -> list[str]:
        """End all the user's sessions (but ``keep``); returns the ended sessions' hashes."""
        async with self._db.write() as session:
            query = select(UserSession.id, UserSession.token_hash).where(
                UserSession.user_id == user_id
            )
            if keep is not None:
                query = query.where(UserSession.id != keep)
            rows = list(await session.execute(query))
            if rows:
                ids = [row[0] for row in rows]
                await session.execute(delete(UserSession).where(UserSession.id.in_(ids)))
            return [row[1] for row in rows]

    async def purge(self, idle_before: int, now: int) -> int:
        """Delete sessions past their absolute expiry or idle since ``idle_before``."""
        async with self._db.write() as session:
            result = await session.execute(
                delete(UserSession).where(
                    (UserSession.expires_at < now) | (UserSession.last_seen_at < idle_before)
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)


class ApiKeyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        user_id: int,
        name: str,
        secret_hash: str,
        scopes: list[str],
        now: int,
        expires_at: int | None,
    ) -> ApiKey:
        key = ApiKey(
            user_id=user_id,
            name=name,
            secret_hash=secret_hash,
            scopes=scopes,
            created_at=now,
            expires_at=expires_at,
        )
        async with self._db.write() as session:
            session.add(key)
        return key

    async def by_hash(self, secret_hash: str) -> ApiKey | None:
        async with self._db.read() as session:
            return await session.scalar(select(ApiKey).where(ApiKey.secret_hash == secret_hash))

    async def of_users(self, user_ids: list[int]) -> list[ApiKey]:
        async with self._db.read() as session:
            query = select(ApiKey).where(ApiKey.user_id.in_(user_ids)).order_by(ApiKey.id)
            return list(await session.scalars(query))

    async def get(self, key_id: int) -> ApiKey | None:
        async with self._db.read() as session:
            return await session.get(ApiKey, key_id)

    async def revoke(self, key_id: int, now: int) -> ApiKey | None:
        async with self._db.write() as session:
            key = await session.get(ApiKey, key_id)
            if key is None:
                return None
            if key.revoked_at is None:
                key.revoked_at = now
            return key

    async def used(self, key_id: int, now: int, ip: str | None) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now, last_used_ip=ip)
            )
