"""Locks in one call: the advisory keys of a request, then the owners they lead to.

`ngw_lock` takes the given advisory locks in the given order, then (in a statement of its
own, so that it sees what committed while it waited) the owner locks of the persons
holding the given identities and of the given persons: what core/locks.py did in two
round trips, in one.

Two indexes fit the rules' hottest lookup (which of a person's notes, oldest first, covers
an absence's institution-day) in one scan each, where the planner combined two bitmaps.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCK = """
CREATE FUNCTION ngw_lock(keys bigint[], shared boolean[], kinds int2[], idents text[],
                         persons bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(CASE WHEN s THEN pg_advisory_xact_lock_shared(k) END)
          + count(CASE WHEN NOT s THEN pg_advisory_xact_lock(k) END)
    FROM (SELECT k, s FROM unnest(keys, shared) WITH ORDINALITY AS t(k, s, o)
          ORDER BY o) AS ordered;
    IF cardinality(kinds) > 0 OR cardinality(persons) > 0 THEN
        -- A statement of its own: a new snapshot, taken under the identity locks.
        PERFORM ngw_lock_owners(persons || ARRAY(
            SELECT p.id FROM unnest(kinds, idents) AS i(kind, ident)
            JOIN persons AS p ON p.identifier_kind = i.kind AND p.identifier = i.ident
            UNION
            SELECT f.person_id FROM unnest(kinds, idents) AS i(kind, ident)
            JOIN former_identifiers AS f
              ON f.identifier_kind = i.kind AND f.identifier = i.ident));
    END IF;
END $$
"""


def upgrade() -> None:
    op.execute(_LOCK)
    op.create_index(
        "ix_placements_notice_id_institution_id",
        "placements",
        ["notice_id", "institution_id", "from_date"],
    )
    op.drop_index("ix_placements_notice_id", table_name="placements")
    op.create_index("ix_medical_notices_person_id_id", "medical_notices", ["person_id", "id"])
    op.drop_index("ix_medical_notices_person_id", table_name="medical_notices")


def downgrade() -> None:
    op.create_index("ix_medical_notices_person_id", "medical_notices", ["person_id"])
    op.drop_index("ix_medical_notices_person_id_id", table_name="medical_notices")
    op.create_index("ix_placements_notice_id", "placements", ["notice_id"])
    op.drop_index("ix_placements_notice_id_institution_id", table_name="placements")
    op.execute("DROP FUNCTION ngw_lock(bigint[], boolean[], int2[], text[], bigint[])")
