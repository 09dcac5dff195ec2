"""The helpdesk's console: reissues found by examination NRN, and a console session's
last search (its criteria, an identifier among them, kept server-side so that paging
needs no identifier in a URL or a page) and its one-time message after an action.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
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
    # Reissues (core/reissue_sql.py): a note's successors in its examination, and the
    # cancelled notes it may replace.
    op.create_index(
        "ix_medical_notices_nrn_examination_id", "medical_notices", ["nrn_examination", "id"]
    )
    op.create_index(
        "ix_medical_notices_cancelled_examination",
        "medical_notices",
        ["nrn_examination", "id"],
        postgresql_where=sa.text("status = 'cancelled'"),
    )
    op.add_column("console_sessions", sa.Column("search", postgresql.JSONB(), nullable=True))
    op.add_column("console_sessions", sa.Column("flash", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("console_sessions", "flash")
    op.drop_column("console_sessions", "search")
    op.drop_index("ix_medical_notices_cancelled_examination", table_name="medical_notices")
    op.drop_index("ix_medical_notices_nrn_examination_id", table_name="medical_notices")
