"""The diary as NEISPUO keeps it: `dplr` absences (for information only), locked days
(`institutions.locked_through`), review reasons as codes (noteCancelled, noteMoved,
locked, unexcusedUnderNote) instead of English sentences, and review items an operator
kept (`closed_at`: not listed again for the same note).

Existing absences keep their kinds; institutions start unlocked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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
    op.create_check_constraint(
        op.f("ck_review_items_why"),
        "review_items",
        "why IN ('noteCancelled', 'noteMoved', 'locked', 'unexcusedUnderNote')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_review_items_why"), "review_items", type_="check")
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
