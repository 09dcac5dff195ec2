"""Absences of NEISPUO's own diary, the append-only audit log, the review list.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.add_column(
        "medical_notices",
        sa.Column("excusal_comment", sa.Text(), nullable=False, server_default=""),
    )
    # Notes kept before this revision get the comment diary/excusal.py would have written.
    op.execute(
        """
        UPDATE medical_notices SET excusal_comment =
            'Автоматично уважено с електронна медицинска бележка ' || nrn || '/'
            || to_char(authored_on, 'DD.MM.YYYY')
            || CASE WHEN from_date = to_date
                    THEN ' за дата ' || to_char(from_date, 'DD.MM.YYYY')
                    ELSE ' за периода ' || to_char(from_date, 'DD.MM.YYYY') || ' - '
                         || to_char(to_date, 'DD.MM.YYYY') END
            || '. УИН на лекаря - ' || pmi || '.'
        """
    )
    op.alter_column("medical_notices", "excusal_comment", server_default=None)
    op.create_table(
        "absences",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("lesson", sa.SmallInteger(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("excused_by_notice_id", sa.BigInteger(), nullable=True),
        sa.Column("set_by_person", sa.Boolean(), nullable=False),
        sa.Column("posted", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "kind IN ('unexcused', 'excused', 'late')", name=op.f("ck_absences_kind")
        ),
        sa.ForeignKeyConstraint(
            ["excused_by_notice_id"],
            ["medical_notices.id"],
            name=op.f("fk_absences_excused_by_notice_id_medical_notices"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_absences_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_absences_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absences")),
    )
    op.create_index("ix_absences_person_id_date", "absences", ["person_id", "date"])
    op.create_index("ix_absences_institution_id_date", "absences", ["institution_id", "date"])
    op.create_index("ix_absences_excused_by_notice_id", "absences", ["excused_by_notice_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=True),
        sa.Column("absence_id", sa.BigInteger(), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_notice_id", "audit_log", ["notice_id"])
    op.create_index("ix_audit_log_absence_id", "audit_log", ["absence_id"])
    op.execute(
        "CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()"
    )
    op.create_table(
        "review_items",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("absence_id", sa.BigInteger(), nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["absence_id"], ["absences.id"], name=op.f("fk_review_items_absence_id_absences")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["medical_notices.id"],
            name=op.f("fk_review_items_notice_id_medical_notices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint(
            "absence_id", "notice_id", name=op.f("uq_review_items_absence_id_notice_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("review_items")
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_is_append_only()")
    op.drop_table("audit_log")
    op.drop_table("absences")
    op.drop_column("medical_notices", "excusal_comment")
