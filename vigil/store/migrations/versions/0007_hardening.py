"""hardening: usernames compared case-folded and NFKC-normalised; the setup claimed once

Revision ID: 0007
Revises: 0006

Usernames used to be compared with SQL's lower(), which on SQLite folds only ASCII: "Émile"
and "émile" could both exist. Each user now has ``username_key`` (vigil.store.users
.username_key), unique. Where existing names clash, the oldest account keeps the name; each
later one gets a key no one can type (``key/id``: usernames cannot hold '/'), so it cannot
sign in by name until an admin renames it, and an audit entry ``user.name_clash`` in its
organisation says so.
"""

import logging
import time
import unicodedata
import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")


def _key(name: str) -> str:
    # A copy of vigil.store.users.username_key as of this revision: migrations stay fixed.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("claimed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.add_column("users", sa.Column("username_key", sa.Text(), nullable=True))
    bind = op.get_bind()
    users = sa.table(
        "users",
        sa.column("id", sa.Integer()),
        sa.column("org_id", sa.Integer()),
        sa.column("username", sa.String()),
        sa.column("username_key", sa.Text()),
    )
    audit = sa.table(
        "audit",
        sa.column("at", sa.BigInteger()),
        sa.column("org_id", sa.Integer()),
        sa.column("user_id", sa.Integer()),
        sa.column("username", sa.String()),
        sa.column("action", sa.String()),
        sa.column("outcome", sa.String()),
        sa.column("target", sa.String()),
        sa.column("detail", sa.JSON()),
    )
    rows = bind.execute(sa.select(users.c.id, users.c.org_id, users.c.username).order_by("id"))
    owners: dict[str, tuple[int, str]] = {}
    for user_id, org_id, username in rows.all():
        key = _key(username)
        if key in owners:
            kept_id, kept_name = owners[key]
            log.warning(
                "usernames %r (user %d) and %r (user %d) differ only in case or Unicode form: "
                "%r cannot sign in until an admin renames it",
                kept_name,
                kept_id,
                username,
                user_id,
                username,
            )
            bind.execute(
                audit.insert().values(
                    at=round(time.time() * 1000),
                    org_id=org_id,
                    user_id=None,
                    username=None,
                    action="user.name_clash",
                    outcome="failure",
                    target=f"user:{user_id}",
                    detail={"username": username, "same_as_user": kept_id, "rename": True},
                )
            )
            key = f"{key}/{user_id}"
        else:
            owners[key] = (user_id, username)
        bind.execute(users.update().where(users.c.id == user_id).values(username_key=key))
    op.drop_index("uq_users_username_lower", table_name="users")
    with warnings.catch_warnings():
        # SQLite rebuilds the table, reflecting the organisations it refers to, whose
        # lower(name) index reflection skips (and says so); that index is not touched.
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection")
        with op.batch_alter_table("users") as batch_op:
            batch_op.alter_column("username_key", existing_type=sa.Text(), nullable=False)
            batch_op.create_index("uq_users_username_key", ["username_key"], unique=True)


def downgrade() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection")
        with op.batch_alter_table("users") as batch_op:
            batch_op.drop_index("uq_users_username_key")
            batch_op.drop_column("username_key")
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.drop_table("claims")
