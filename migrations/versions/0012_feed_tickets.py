"""The feeds without the feed writers' lock: writers take tickets (`ngw_feed_ticket`,
a trigger on each feed's table) and readers stop below the oldest one still held
(`ngw_feed_watermark`); `ngw_publish_changes` no longer takes a lock (core/feed.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from notegateway.core.sql_functions import install_statements

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP FUNCTION ngw_publish_changes(bigint, bigint[])")
    for statement in install_statements():
        op.execute(statement)


def downgrade() -> None:
    for table in ("vendor_events", "diary_changes"):
        op.execute(f"DROP TRIGGER {table}_ticket ON {table}")
    op.execute("DROP FUNCTION ngw_feed_ticket()")
    op.execute("DROP FUNCTION ngw_feed_watermark(regclass, integer)")
    op.execute("DROP FUNCTION ngw_publish_changes(bigint[])")
    op.execute(
        """
        CREATE FUNCTION ngw_publish_changes(writers_lock bigint, audit_ids bigint[])
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(writers_lock);
            INSERT INTO diary_changes (audit_id)
            SELECT id FROM unnest(audit_ids) AS id ORDER BY id;
        END $$
        """
    )
