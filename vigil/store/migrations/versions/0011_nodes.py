"""media nodes: draining, cameras pinned to a node, assignments counted for fencing;
exports claimed by one application instance at a time

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("draining", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.add_column(
        "cameras", sa.Column("assignment", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("cameras", sa.Column("pinned_node", sa.String(100), nullable=True))
    op.add_column("exports", sa.Column("runner", sa.String(200), nullable=True))
    op.add_column("exports", sa.Column("beat_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN on both backends (SQLite 3.35 and later).
    op.drop_column("exports", "beat_at")
    op.drop_column("exports", "runner")
    op.drop_column("cameras", "pinned_node")
    op.drop_column("cameras", "assignment")
    op.drop_table("nodes")
