"""Retention of whole school years (ops/retention.py) and where every feed's readers are.

- `feed_reads`: a reader's last read of a feed and the position it was answered up to, for
  every feed (core/feed.py), replacing `vendor_polls`: the change feed's readers now have
  a lag too.
- `retention_purges`: the school years purged, with what each purge removed (counts).
- The audit log's trigger lets the retention purge delete (core/sql_functions.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from notegateway.core.sql_functions import install_statements

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_reads",
        sa.Column("feed", sa.Text(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_feed_reads_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("feed", "client_id", name=op.f("pk_feed_reads")),
    )
    op.execute(
        "INSERT INTO feed_reads (feed, client_id, read_at, seq) "
        "SELECT 'events', vendor_id, polled_at, feed_seq FROM vendor_polls"
    )
    op.drop_table("vendor_polls")
    op.create_table(
        "retention_purges",
        sa.Column("school_year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "purged_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("removed", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("school_year", name=op.f("pk_retention_purges")),
    )
    for statement in install_statements():
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("retention_purges")
    op.create_table(
        "vendor_polls",
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feed_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["clients.id"], name=op.f("fk_vendor_polls_vendor_id_clients")
        ),
        sa.PrimaryKeyConstraint("vendor_id", name=op.f("pk_vendor_polls")),
    )
    op.execute(
        "INSERT INTO vendor_polls (vendor_id, polled_at, feed_seq) "
        "SELECT client_id, read_at, seq FROM feed_reads WHERE feed = 'events'"
    )
    op.drop_table("feed_reads")
    op.execute(
        "CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
    )
