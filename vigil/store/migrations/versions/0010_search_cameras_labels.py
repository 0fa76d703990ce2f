"""library search by camera and detection label: both kept in the search documents

Revision ID: 0010
Revises: 0009

The search documents gain the item's camera and its detection labels, so that a search can
filter by them and count them as facets without reading the items. The upgrade fills them
from the items indexed already, in one statement per backend.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.add_column("media_search_docs", sa.Column("camera_id", sa.Integer(), nullable=True))
        op.add_column(
            "media_search_docs",
            sa.Column("labels", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        )
        op.execute(
            "UPDATE media_search_docs SET"
            " camera_id = (SELECT m.camera_id FROM media_items AS m"
            " WHERE m.id = media_search_docs.item_id),"
            " labels = COALESCE((SELECT m.labels FROM media_items AS m"
            " WHERE m.id = media_search_docs.item_id), '[]')"
        )
        # A camera's items newest first, straight from the index.
        op.create_index("ix_media_search_docs_camera", "media_search_docs", ["camera_id", "sk"])
        return
    op.add_column("media_search", sa.Column("camera_id", sa.Integer(), nullable=True))
    op.add_column(
        "media_search",
        sa.Column(
            "labels", postgresql.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'")
        ),
    )
    op.execute(
        "UPDATE media_search AS d SET camera_id = m.camera_id,"
        " labels = ARRAY(SELECT json_array_elements_text(COALESCE(m.labels, '[]'::json)))"
        " FROM media_items AS m WHERE m.id = d.item_id"
    )
    op.create_index("ix_media_search_camera", "media_search", ["camera_id"])
    op.create_index("ix_media_search_labels", "media_search", ["labels"], postgresql_using="gin")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later): the table, its trigger and
        # its foreign key stay as they are, which a batch copy would not keep.
        op.drop_index("ix_media_search_docs_camera", "media_search_docs")
        op.drop_column("media_search_docs", "labels")
        op.drop_column("media_search_docs", "camera_id")
        return
    op.drop_index("ix_media_search_labels", "media_search")
    op.drop_index("ix_media_search_camera", "media_search")
    op.drop_column("media_search", "labels")
    op.drop_column("media_search", "camera_id")
