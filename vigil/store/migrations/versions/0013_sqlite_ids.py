"""ids never given twice on SQLite: tables rebuilt by earlier migrations lost AUTOINCREMENT

SQLite without AUTOINCREMENT gives the next row the highest id there is plus one, so the
id of the newest row, once deleted, is given again: a camera added after the newest one
was deleted had its id, its recordings folder and, while the old camera's footage was
still being deleted, lost its first segments; a person, an organisation or an export
likewise took over a deleted one's id (and the audit log's references to it). Earlier
migrations rebuilt these tables (SQLite alters a table by copying it) without the
keyword. Each one the models declare with it and that lacks it is rebuilt with it; the
rows keep their ids, and the next id is the highest so far plus one, never one used again
from then on. PostgreSQL's sequences never gave an id twice: nothing changes there.

Revision ID: 0013
Revises: 0012
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("orgs", "cameras", "users", "exports")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in TABLES:
        created = bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": table},
        ).scalar_one()
        if "AUTOINCREMENT" in created.upper():
            continue
        # The rebuild reflects the table, and reflection skips indexes on expressions
        # (names unique case-folded): they are made again as they were.
        indexes: dict[str, str] = dict(
            bind.execute(
                sa.text(
                    "SELECT name, sql FROM sqlite_master"
                    " WHERE type = 'index' AND tbl_name = :name AND sql IS NOT NULL"
                ),
                {"name": table},
            ).all()
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
            ):
                pass
        kept = {
            row[0]
            for row in bind.execute(
                sa.text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :name"),
                {"name": table},
            )
        }
        for name, sql in indexes.items():
            if name not in kept:
                bind.execute(sa.text(sql))


def downgrade() -> None:
    pass  # ids that are never reused again are what every version expects
