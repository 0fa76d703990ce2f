"""events: detection settings and recording modes on cameras, events, motion spans

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN: SQLite's batch mode would rebuild the table and lose its
    # expression index. The server defaults fill existing rows and stay harmless.
    op.add_column(
        "cameras",
        sa.Column("record_mode", sa.String(length=16), nullable=False, server_default="continuous"),
    )
    op.add_column("cameras", sa.Column("event_retention_days", sa.Float(), nullable=True))
    op.add_column("cameras", sa.Column("detection", sa.JSON(), nullable=True))
    op.add_column(
        "segments", sa.Column("motion", sa.Boolean(), nullable=False, server_default=sa.false())
    )

    op.create_table(
        "events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("pre_ms", sa.Integer(), nullable=False),
        sa.Column("post_ms", sa.Integer(), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("snapshot_path", sa.String(length=500), nullable=True),
        sa.Column("snapshot_ms", sa.BigInteger(), nullable=True),
        sa.Column("snapshot_box", sa.JSON(), nullable=True),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_camera_start", ["camera_id", "start_ms"], unique=False)
        batch_op.create_index("ix_events_org_start", ["org_id", "start_ms"], unique=False)

    op.create_table(
        "motion_spans",
        sa.Column("id", _ID, nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("motion_spans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_motion_spans_camera_start", ["camera_id", "start_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("motion_spans", schema=None) as batch_op:
        batch_op.drop_index("ix_motion_spans_camera_start")
    op.drop_table("motion_spans")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_org_start")
        batch_op.drop_index("ix_events_camera_start")
    op.drop_table("events")
    op.drop_column("segments", "motion")
    for column in ("detection", "event_retention_days", "record_mode"):
        op.drop_column("cameras", column)
