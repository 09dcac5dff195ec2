"""A known NZIS caller's credentials checked again in the round trip that begins its push:
`ngw_nzis_call` (core/sql_functions.py), which also records the call.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from notegateway.core.sql_functions import install_statements

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in install_statements():
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP FUNCTION ngw_nzis_call(bigint, text, text)")
