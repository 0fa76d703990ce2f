"""Reads that share one session (a request's several reads) share it only within their task."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from vigil.store.database import Database


async def test_reads_inside_one_read_share_a_session_and_other_requests_do_not(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        go = asyncio.Event()
        elsewhere: list[object] = []

        async def another_request() -> None:  # a task of its own, as each request is
            await go.wait()
            async with db.read() as session:
                elsewhere.append(session)
                assert await session.scalar(text("SELECT 1")) == 1

        other = asyncio.create_task(another_request())
        async with db.one_read():
            async with db.read() as first:
                assert await first.scalar(text("SELECT 1")) == 1
            async with db.read() as second:
                assert second is first
            go.set()
            await other  # it read meanwhile, with a session of its own
        assert len(elsewhere) == 1
        assert elsewhere[0] is not first
        async with db.read() as after:
            assert after is not first
    finally:
        await db.close()
