"""recording spans: each camera's continuous recording, kept as segments come and go

Revision ID: 0009
Revises: 0008

``recording_spans`` holds, per camera, the stretches its segments cover (a segment starting
within 1.5 s of the footage before it continues the stretch). The index keeps it up to
date as segments are indexed and deleted, so a timeline reads a few spans instead of a
camera-day's 8,640 segments. The upgrade derives them from the rows there are, in one
statement (window functions: SQLite 3.25 or newer, any PostgreSQL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As vigil.store.segments.REBUILD_SPANS_SQL at this revision, with its tolerance (1,500 ms).
_FILL = """
INSERT INTO recording_spans (camera_id, start_ms, end_ms)
SELECT camera_id, min(start_ms), max(end_ms) FROM (
    SELECT camera_id, start_ms, end_ms,
           sum(CASE WHEN before_end IS NULL OR start_ms - before_end > 1500
                    THEN 1 ELSE 0 END)
               OVER (PARTITION BY camera_id ORDER BY start_ms, id ROWS UNBOUNDED PRECEDING)
               AS island
    FROM (
        SELECT id, camera_id, start_ms, end_ms,
               max(end_ms) OVER (PARTITION BY camera_id ORDER BY start_ms, id
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                   AS before_end
        FROM segments
    ) AS ordered
) AS islands
GROUP BY camera_id, island
"""


def upgrade() -> None:
    op.create_table(
        "recording_spans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_recording_spans_camera_start",
        "recording_spans",
        ["camera_id", "start_ms"],
        unique=True,
    )
    op.execute(_FILL)


def downgrade() -> None:
    op.drop_index("ix_recording_spans_camera_start", table_name="recording_spans")
    op.drop_table("recording_spans")
