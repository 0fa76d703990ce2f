"""library processing claimed by one application instance at a time

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("media_items", sa.Column("runner", sa.String(200), nullable=True))
    op.add_column("media_items", sa.Column("beat_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("media_items", "beat_at")
    op.drop_column("media_items", "runner")
