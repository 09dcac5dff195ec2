"""The diary as NEISPUO keeps it: `dplr` absences (for information only), locked days
(`institutions.locked_through`), review reasons as codes (noteCancelled, noteMoved,
locked, unexcusedUnderNote) instead of English sentences, and review items an operator
kept (`closed_at`: not listed again for the same note), a doctor's notes by day, and
reported months (the figures sent to social assistance, kept as they were).

Existing absences keep their kinds; institutions start unlocked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SENTENCES = {
    "the note was cancelled": "noteCancelled",
    "the note no longer covers this day in this institution": "noteMoved",
}


def upgrade() -> None:
    op.drop_constraint(op.f("ck_absences_kind"), "absences", type_="check")
    op.create_check_constraint(
        op.f("ck_absences_kind"), "absences", "kind IN ('unexcused', 'excused', 'late', 'dplr')"
    )
    op.add_column("institutions", sa.Column("locked_through", sa.Date(), nullable=True))
    for sentence, code in _SENTENCES.items():
        op.execute(
            sa.text("UPDATE review_items SET why = :code WHERE why = :sentence").bindparams(
                code=code, sentence=sentence
            )
        )
    op.execute("UPDATE review_items SET why = 'noteMoved' WHERE why NOT IN ('noteCancelled')")
    op.add_column("review_items", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "month_reports",
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column(
            "reported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("reported_by", sa.Text(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("pupils", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_month_reports_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("institution_id", "month", name=op.f("pk_month_reports")),
    )
    # A doctor's notes by the day they were written (GET /api/v1/hisMedicalNotices?pmi=).
    op.create_index("ix_medical_notices_pmi_authored_on", "medical_notices", ["pmi", "authored_on"])
    op.create_check_constraint(
        op.f("ck_review_items_why"),
        "review_items",
        "why IN ('noteCancelled', 'noteMoved', 'locked', 'unexcusedUnderNote')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_review_items_why"), "review_items", type_="check")
    op.drop_index("ix_medical_notices_pmi_authored_on", table_name="medical_notices")
    op.drop_table("month_reports")
    op.execute("DELETE FROM review_items WHERE closed_at IS NOT NULL")
    op.drop_column("review_items", "closed_at")
    for sentence, code in _SENTENCES.items():
        op.execute(
            sa.text("UPDATE review_items SET why = :sentence WHERE why = :code").bindparams(
                code=code, sentence=sentence
            )
        )
    op.drop_column("institutions", "locked_through")
    op.execute("DELETE FROM absences WHERE kind = 'dplr'")
    op.drop_constraint(op.f("ck_absences_kind"), "absences", type_="check")
    op.create_check_constraint(
        op.f("ck_absences_kind"), "absences", "kind IN ('unexcused', 'excused', 'late')"
    )
