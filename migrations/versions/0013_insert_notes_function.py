"""A push's locks and its notes in one round trip: `ngw_insert_notes` (core/sql_functions.py,
where its statement now is) takes the locks (`ngw_lock`), then stores the notes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from notegateway.core.sql_functions import install_statements

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in install_statements():
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION ngw_insert_notes(text[], text[], int2[], int2[], text[], text[], date[], "
        "date[], timestamp[], text[], text[], text, bigint[], boolean[], int2[], text[])"
    )
