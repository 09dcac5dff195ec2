"""The vendors' side: what each vendor was told, its event feed, read state and acks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def _vendor_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["vendor_id"], ["clients.id"], name=op.f(f"fk_{table}_vendor_id_clients")
    )


def _notice_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["notice_id"], ["medical_notices.id"], name=op.f(f"fk_{table}_notice_id_medical_notices")
    )


def upgrade() -> None:
    op.create_index("ix_medical_notices_received_at", "medical_notices", ["received_at"])
    op.create_table(
        "vendor_note_state",
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("placements", postgresql.JSONB(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "state IN ('issued', 'annulled', 'gone')", name=op.f("ck_vendor_note_state_state")
        ),
        _vendor_fk("vendor_note_state"),
        _notice_fk("vendor_note_state"),
        sa.PrimaryKeyConstraint("vendor_id", "notice_id", name=op.f("pk_vendor_note_state")),
    )
    op.create_table(
        "vendor_events",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("placements", postgresql.JSONB(), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "type IN ('note.issued', 'note.updated', 'note.cancelled')",
            name=op.f("ck_vendor_events_type"),
        ),
        _vendor_fk("vendor_events"),
        _notice_fk("vendor_events"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_vendor_events")),
    )
    op.create_index("ix_vendor_events_vendor_id_seq", "vendor_events", ["vendor_id", "seq"])
    op.create_index("ix_vendor_events_occurred_at", "vendor_events", ["occurred_at"])
    # Wake long polls in every server process: one notification per vendor per commit.
    op.execute(
        "CREATE FUNCTION vendor_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN PERFORM pg_notify('notegateway_feed', NEW.vendor_id::text); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER vendor_events_notify AFTER INSERT ON vendor_events "
        "FOR EACH ROW EXECUTE FUNCTION vendor_events_notify()"
    )
    op.create_table(
        "vendor_feed_purges",
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _vendor_fk("vendor_feed_purges"),
        sa.PrimaryKeyConstraint("vendor_id", name=op.f("pk_vendor_feed_purges")),
    )
    op.create_table(
        "vendor_polls",
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feed_seq", sa.BigInteger(), nullable=True),
        _vendor_fk("vendor_polls"),
        sa.PrimaryKeyConstraint("vendor_id", name=op.f("pk_vendor_polls")),
    )
    op.create_table(
        "vendor_reads",
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "acknowledged_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False
        ),
        _vendor_fk("vendor_reads"),
        _notice_fk("vendor_reads"),
        sa.PrimaryKeyConstraint("vendor_id", "notice_id", name=op.f("pk_vendor_reads")),
    )
    op.create_table(
        "vendor_acks",
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("excused_absences", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "outcome IN ('excused', 'pendingTeacher', 'rejected')",
            name=op.f("ck_vendor_acks_outcome"),
        ),
        _vendor_fk("vendor_acks"),
        _notice_fk("vendor_acks"),
        sa.PrimaryKeyConstraint("vendor_id", "notice_id", name=op.f("pk_vendor_acks")),
    )


def downgrade() -> None:
    for table in ("vendor_polls", "vendor_acks", "vendor_reads", "vendor_feed_purges"):
        op.drop_table(table)
    op.execute("DROP TRIGGER vendor_events_notify ON vendor_events")
    op.execute("DROP FUNCTION vendor_events_notify()")
    op.drop_table("vendor_events")
    op.drop_table("vendor_note_state")
    op.drop_index("ix_medical_notices_received_at", "medical_notices")
