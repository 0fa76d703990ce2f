"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import warnings
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from vigil.store.database import sync_url
from vigil.store.migrate import upgrade
from vigil.store.models import Base
from vigil.store.segments import Interval, merge_spans

pytestmark = pytest.mark.empty_database  # each test migrates its database itself


async def test_migrations_match_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite's reflection skips expression indexes (lower(name)); it says so.
            warnings.filterwarnings("ignore", message="Skipped unsupported reflection")
            warnings.filterwarnings("ignore", message="autogenerate skipping")
            context = MigrationContext.configure(conn, opts={"include_name": _not_search})
            differences = compare_metadata(context, Base.metadata)
        if database_url.startswith("sqlite"):
            # Not something compare_metadata sees: the tables whose ids must never be given
            # twice say AUTOINCREMENT, however many times a migration rebuilt them.
            with engine.connect() as conn:
                made = dict(conn.execute(text("SELECT name, sql FROM sqlite_master")).all())
            never_twice = [
                t.name for t in Base.metadata.sorted_tables if t.kwargs.get("sqlite_autoincrement")
            ]
            assert "cameras" in never_twice
            assert [t for t in never_twice if "AUTOINCREMENT" not in made[t]] == []
    finally:
        engine.dispose()
    assert differences == []


def _not_search(name: str | None, type_: str, _parents: object) -> bool:
    """The search tables are not models (FTS5 and its shadow tables on SQLite, a tsvector
    table on PostgreSQL: see migration 0006)."""
    return not (type_ == "table" and (name or "").startswith("media_search"))


def test_upgrades_keep_every_row_on_sqlite(tmp_path: Path) -> None:
    """SQLite alters a table by copying and dropping it: the drop must not cascade to the
    rows that refer to it (a camera's segments, an organisation's cameras)."""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0002")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO cameras (id, name, main_url, enabled, recording, segment_seconds, node,"
            " created_at, updated_at) VALUES (1, 'Gate', 'rtsp://cam/1', 1, 1, 10, 'local', 0, 0)"
        )
        db.execute(
            "INSERT INTO segments (camera_id, node, path, start_ms, end_ms, size, protected)"
            " VALUES (1, 'local', '1/a.mp4', 0, 1000, 10, 0)"
        )
    upgrade(url)  # 0003 rebuilds cameras, 0005 rebuilds orgs
    with sqlite3.connect(path) as db:
        counts = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES]
    assert counts == [1, 1, 1]


TABLES = ("orgs", "cameras", "segments")


def test_the_upgrade_finds_usernames_that_clash_once_case_is_folded(tmp_path: Path) -> None:
    """SQLite's lower() folds only ASCII, so "Émile_t" and "émile_t" could both be made.
    The upgrade keeps the older account's name, leaves the later one unable to sign in by
    name until renamed, and tells its organisation's admins in the audit log. (So with
    "ﬁona", a ligature, and "fiona".)"""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0006")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO orgs (id, name, require_mfa, created_at) VALUES (1, 'S', 0, 0)")
        for user_id, name in (
            (1, "Émile_t"),
            (2, "ada"),
            (3, "émile_t"),
            (4, "fiona"),
            (5, "ﬁona"),
        ):
            db.execute(
                "INSERT INTO users (id, org_id, username, role, disabled, totp_enabled,"
                " created_at, updated_at) VALUES (?, 1, ?, 'viewer', 0, 0, 0, 0)",
                (user_id, name),
            )
    upgrade(url)
    with sqlite3.connect(path) as db:
        keys = db.execute("SELECT id, username, username_key FROM users ORDER BY id").fetchall()
        clashes = db.execute(
            "SELECT org_id, action, target, detail FROM audit ORDER BY id"
        ).fetchall()
    assert keys == [
        (1, "Émile_t", "émile_t"),
        (2, "ada", "ada"),
        (3, "émile_t", "émile_t/3"),
        (4, "fiona", "fiona"),
        (5, "ﬁona", "fiona/5"),
    ]
    assert [(org, action, target) for org, action, target, _ in clashes] == [
        (1, "user.name_clash", "user:3"),
        (1, "user.name_clash", "user:5"),
    ]
    assert '"same_as_user": 1' in clashes[0][3]


def test_the_upgrade_derives_recording_spans_from_the_rows_there_are(database_url: str) -> None:
    """0009 fills recording_spans from the segments already indexed, indexed in any order."""
    upgrade(database_url, "0008")
    rng = random.Random(5)
    rows = []
    for camera_id in (1, 2):
        at = 1_700_000_000_000
        for n in range(120):
            length = rng.choice([2000, 2000, 1500, 10_000])
            rows.append((camera_id, f"{camera_id}/{n}.mp4", at, at + length))
            at += rng.choice([2000, 2000, 1000, 3500, 3501, 60_000])
    expected = []
    for camera_id in (1, 2):
        own = sorted((r for r in rows if r[0] == camera_id), key=lambda r: r[2])
        spans = merge_spans([Interval(start, end) for _, _, start, end in own])
        expected += [(camera_id, s.start_ms, s.end_ms) for s in spans]
    rng.shuffle(rows)  # as reconciliation indexes old files after new ones
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO orgs (name, require_mfa, created_at) VALUES ('S', false, 0)")
            )
            for name in ("a", "b"):
                conn.execute(
                    text(
                        "INSERT INTO cameras (org_id, name, main_url, enabled, recording,"
                        " segment_seconds, record_mode, node, created_at, updated_at)"
                        " VALUES (1, :name, 'rtsp://x/1', true, true, 2, 'continuous', 'local',"
                        " 0, 0)"
                    ),
                    {"name": name},
                )
            conn.execute(
                text(
                    "INSERT INTO segments (camera_id, node, path, start_ms, end_ms, size,"
                    " protected, motion) VALUES (:c, 'local', :p, :s, :e, 1, false, false)"
                ),
                [{"c": c, "p": p, "s": s, "e": e} for c, p, s, e in rows],
            )
        upgrade(database_url)
        with engine.connect() as conn:
            spans = conn.execute(
                text(
                    "SELECT camera_id, start_ms, end_ms FROM recording_spans"
                    " ORDER BY camera_id, start_ms"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in spans] == expected
    assert len(expected) > 10


def test_the_upgrade_gives_search_documents_their_camera_and_labels(database_url: str) -> None:
    """0010 fills the search documents' camera and detection labels from the items indexed
    already (an upload has neither)."""
    upgrade(database_url, "0009")
    sqlite = database_url.startswith("sqlite")
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO orgs (name, require_mfa, created_at) VALUES ('S', false, 0)")
            )
            conn.execute(
                text(
                    "INSERT INTO cameras (org_id, name, main_url, enabled, recording,"
                    " segment_seconds, record_mode, node, created_at, updated_at)"
                    " VALUES (1, 'Gate', 'rtsp://x/1', true, true, 2, 'continuous', 'local', 0, 0)"
                )
            )
            for item_id, camera, labels in ((1, 1, '["person", "dog"]'), (2, None, "[]")):
                conn.execute(
                    text(
                        "INSERT INTO media_items (id, org_id, kind, source, title, tags, labels,"
                        " camera_id, captured_at, uploader, group_ids, filename, mime, size,"
                        " sha256, status, progress, storage, key, stored_bytes, views, downloads,"
                        " created_at, updated_at) VALUES (:id, 1, 'image', 'snapshot', 't',"
                        " '[]', :labels, :camera, 0, '', '[]', 'f.jpg', 'image/jpeg', 1, '0',"
                        " 'ready', 1, 'local', 'k', 1, 0, 0, 0, 0)"
                    ),
                    {"id": item_id, "labels": labels, "camera": camera},
                )
                if sqlite:
                    conn.execute(
                        text(
                            "INSERT INTO media_search_docs (item_id, sk, org_id, kind,"
                            " captured_at, tags, group_ids) VALUES (:id, :id, 1, 'image', 0,"
                            " '[]', '[]')"
                        ),
                        {"id": item_id},
                    )
                else:
                    conn.execute(
                        text(
                            "INSERT INTO media_search (item_id, org_id, kind, captured_at, tags,"
                            " group_ids, document) VALUES (:id, 1, 'image', 0, '{}', '{}', '')"
                        ),
                        {"id": item_id},
                    )
        upgrade(database_url)
        table = "media_search_docs" if sqlite else "media_search"
        with engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT item_id, camera_id, labels FROM {table} ORDER BY item_id")
            ).all()
    finally:
        engine.dispose()
    found = [(i, c, json.loads(labels) if sqlite else labels) for i, c, labels in rows]
    assert found == [(1, 1, ["person", "dog"]), (2, None, [])]
