"""library search: FTS5 on SQLite, a tsvector table on PostgreSQL (see vigil.library.search)

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Not in vigil.store.models: FTS5 tables cannot be described there, and the two backends'
# tables differ. tests/test_migrations.py leaves tables named media_search* out of its check.


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # rowid: the item's position (capture time, then id); scope: filter tokens.
        op.execute(
            "CREATE VIRTUAL TABLE media_search USING fts5("
            "title, description, tags, event, camera, labels, scope,"
            " tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
        )
        op.create_table(
            "media_search_docs",
            sa.Column("item_id", sa.Integer(), nullable=False),
            sa.Column("sk", sa.BigInteger(), nullable=False),
            sa.Column("org_id", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("event_id", sa.Integer(), nullable=True),
            sa.Column("uploader_id", sa.Integer(), nullable=True),
            sa.Column("captured_at", sa.BigInteger(), nullable=False),
            sa.Column("tags", sa.JSON(), nullable=False),
            sa.Column("group_ids", sa.JSON(), nullable=False),
            sa.ForeignKeyConstraint(["item_id"], ["media_items.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("item_id"),
        )
        op.create_index("uq_media_search_docs_sk", "media_search_docs", ["sk"], unique=True)
        op.create_index("ix_media_search_docs_org", "media_search_docs", ["org_id"])
        # A document deleted (by the index, or by a cascade from its item) takes its words.
        op.execute(
            "CREATE TRIGGER media_search_docs_delete AFTER DELETE ON media_search_docs"
            " BEGIN DELETE FROM media_search WHERE rowid = old.sk; END"
        )
        return
    op.create_table(
        "media_search",
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("uploader_id", sa.Integer(), nullable=True),
        sa.Column("captured_at", sa.BigInteger(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("group_ids", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("document", postgresql.TSVECTOR(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["media_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    for column in ("document", "tags", "group_ids"):
        op.create_index(
            f"ix_media_search_{column}", "media_search", [column], postgresql_using="gin"
        )
    op.create_index(
        "ix_media_search_org_captured", "media_search", ["org_id", "captured_at", "item_id"]
    )
    op.create_index("ix_media_search_event", "media_search", ["event_id"])
    op.create_index("ix_media_search_uploader", "media_search", ["uploader_id"])
    # The planner weighs a word by how common it is: track ten times the default's words.
    op.execute("ALTER TABLE media_search ALTER COLUMN document SET STATISTICS 1000")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_table("media_search_docs")
    op.drop_table("media_search")
