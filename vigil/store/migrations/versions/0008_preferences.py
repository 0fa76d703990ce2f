"""preferences: each user's live grid (layout and camera order) and saved views

Revision ID: 0008
Revises: 0007

``users.preferences`` holds what the live grid remembers for its user (JSON, null until
first saved); ``user_views`` holds the views a user saves: a name, a layout and an ordered
list of camera ids.
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("preferences", sa.JSON(), nullable=True))
    op.create_table(
        "user_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("layout", sa.String(length=8), nullable=False),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_views_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_views_user_id"))
    op.drop_table("user_views")
    with warnings.catch_warnings():
        # SQLite rebuilds the table, reflecting the organisations it refers to, whose
        # lower(name) index reflection skips (and says so); that index is not touched.
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection")
        with op.batch_alter_table("users") as batch_op:
            batch_op.drop_column("preferences")
