"""The diary's change feed: every change the gateway made to an absence, in commit order
(a row per audited change, numbered under the feed writers' lock like vendor_events), and
one table of purge marks for every feed (replacing vendor_feed_purges).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_purges",
        sa.Column("feed", sa.Text(), nullable=False),
        sa.Column("scope_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("feed", "scope_id", name=op.f("pk_feed_purges")),
    )
    op.execute(
        "INSERT INTO feed_purges (feed, scope_id, seq) "
        "SELECT 'events', vendor_id, seq FROM vendor_feed_purges"
    )
    op.drop_table("vendor_feed_purges")
    op.create_table(
        "diary_changes",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("audit_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["audit_id"], ["audit_log.id"], name=op.f("fk_diary_changes_audit_id_audit_log")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_diary_changes")),
        sa.UniqueConstraint("audit_id", name=op.f("uq_diary_changes_audit_id")),
    )
    op.create_index("ix_diary_changes_at", "diary_changes", ["at"])
    # Number a request's changes in one round trip: the feed writers' lock (core/locks.py),
    # then the rows, in that order (a function's statements run one after the other).
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
    # Wake the NEISPUO clients' long polls in every server process, once per statement.
    op.execute(
        """
        CREATE FUNCTION diary_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM written) THEN
                PERFORM pg_notify('notegateway_feed', id::text)
                FROM clients WHERE role = 'neispuo';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER diary_changes_notify AFTER INSERT ON diary_changes "
        "REFERENCING NEW TABLE AS written "
        "FOR EACH STATEMENT EXECUTE FUNCTION diary_changes_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER diary_changes_notify ON diary_changes")
    op.execute("DROP FUNCTION diary_changes_notify()")
    op.execute("DROP FUNCTION ngw_publish_changes(bigint, bigint[])")
    op.drop_table("diary_changes")
    op.create_table(
        "vendor_feed_purges",
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["clients.id"], name=op.f("fk_vendor_feed_purges_vendor_id_clients")
        ),
        sa.PrimaryKeyConstraint("vendor_id", name=op.f("pk_vendor_feed_purges")),
    )
    op.execute(
        "INSERT INTO vendor_feed_purges (vendor_id, seq) "
        "SELECT scope_id, seq FROM feed_purges WHERE feed = 'events'"
    )
    op.drop_table("feed_purges")
