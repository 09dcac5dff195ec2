"""Every SQL function and trigger from its one current source, core/sql_functions.py
(CREATE OR REPLACE: the same definitions the earlier migrations made, now read from the
package; a later change to one is a change there and a migration like this one).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from notegateway.core.sql_functions import install_statements

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in install_statements():
        op.execute(statement)


def downgrade() -> None:
    pass  # the same definitions as before, from another place
