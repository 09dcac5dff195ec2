"""Privacy and limits of the service: rejections cut to the helpdesk's allow-list (bodies
refused whole kept too, without an index), long-poll leases held in the database, and the
live server processes that share a client's request limit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from notegateway.core.sql_functions import FUNCTIONS
from notegateway.notices.rejections import kept_of_item, masked_errors

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("rejections", "item_index", nullable=True)
    op.alter_column("rejections", "item", nullable=True)
    # What was kept before the allow-list (names of unknown fields' values, medical
    # content, identifiers in lists) is cut to it now.
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, errors::text, item::text FROM rejections"))
    for row_id, errors, item in rows.fetchall():
        connection.execute(
            sa.text(
                "UPDATE rejections SET errors = CAST(:errors AS jsonb), "
                "item = CAST(:item AS jsonb) WHERE id = :id"
            ),
            {
                "id": row_id,
                "errors": json.dumps(masked_errors(json.loads(errors)), ensure_ascii=False),
                "item": json.dumps(kept_of_item(json.loads(item)), ensure_ascii=False),
            },
        )
    op.create_table(
        "client_leases",
        sa.Column("holder", postgresql.UUID(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_leases_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("holder", name=op.f("pk_client_leases")),
    )
    op.create_index("ix_client_leases_client_id_kind", "client_leases", ["client_id", "kind"])
    op.create_table(
        "server_processes",
        sa.Column("id", postgresql.UUID(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_processes")),
    )
    op.execute(FUNCTIONS["ngw_take_lease"])  # its current source: core/sql_functions.py


def downgrade() -> None:
    op.execute("DROP FUNCTION ngw_take_lease(bigint, text, integer, uuid, double precision)")
    op.drop_table("server_processes")
    op.drop_table("client_leases")
    op.execute("DELETE FROM rejections WHERE item_index IS NULL OR item IS NULL")
    op.alter_column("rejections", "item", nullable=False)
    op.alter_column("rejections", "item_index", nullable=False)
