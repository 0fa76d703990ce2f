"""What each person's live grid remembers (layout, camera order) and the views they save."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from vigil.store.database import Database
from vigil.store.models import User, UserView
from vigil.timeutil import now_ms


class ViewNotFound(Exception):
    def __init__(self, view_id: int) -> None:
        super().__init__(f"no view with id {view_id}")
        self.view_id = view_id


class PreferenceStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: int) -> dict[str, Any]:
        """The user's preferences; empty until first saved."""
        async with self._db.read() as session:
            value = await session.scalar(select(User.preferences).where(User.id == user_id))
        return dict(value or {})

    async def put(self, user_id: int, preferences: dict[str, Any]) -> None:
        """Replace them whole, in one statement: of two writers at once, the last one wins."""
        async with self._db.write() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(preferences=preferences)
            )

    async def views(self, user_id: int) -> list[UserView]:
        """The user's saved views, oldest first."""
        async with self._db.read() as session:
            query = select(UserView).where(UserView.user_id == user_id).order_by(UserView.id)
            return list(await session.scalars(query))

    async def view(self, user_id: int, view_id: int) -> UserView:
        """ViewNotFound if the view is not the user's, as if it did not exist."""
        async with self._db.read() as session:
            view = await session.get(UserView, view_id)
        if view is None or view.user_id != user_id:
            raise ViewNotFound(view_id)
        return view

    async def add_view(
        self, user_id: int, name: str, layout: str, camera_ids: list[int]
    ) -> UserView:
        now = now_ms()
        view = UserView(
            user_id=user_id,
            name=name,
            layout=layout,
            camera_ids=camera_ids,
            created_at=now,
            updated_at=now,
        )
        async with self._db.write() as session:
            session.add(view)
        return view

    async def update_view(self, user_id: int, view_id: int, changes: dict[str, Any]) -> UserView:
        """ViewNotFound if the view is not the user's, as if it did not exist."""
        async with self._db.write() as session:
            view = await session.get(UserView, view_id)
            if view is None or view.user_id != user_id:
                raise ViewNotFound(view_id)
            for key, value in changes.items():
                setattr(view, key, value)
            view.updated_at = now_ms()
        return view

    async def delete_view(self, user_id: int, view_id: int) -> UserView:
        async with self._db.write() as session:
            view = await session.get(UserView, view_id)
            if view is None or view.user_id != user_id:
                raise ViewNotFound(view_id)
            await session.delete(view)
        return view
