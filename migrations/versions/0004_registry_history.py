"""The registry as NEISPUO keeps it: diary periods, former identifiers, overlapping
enrollments, the institution's region, and when NZIS last called.

An institution's diary becomes its first (and only) period, holding every day; nothing
is lost. Enrollments may overlap unless they name the same institution, class and section.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A range over text, only for equality in EXCLUDE constraints (the embedded PostgreSQL
# ships no btree_gist).
_TEXT_RANGE = 'CREATE TYPE ngw_textrange AS RANGE (subtype = text, collation = "C")'
_ENROLLMENTS_APART = (
    "ALTER TABLE enrollments ADD CONSTRAINT ex_enrollments_no_overlap EXCLUDE USING gist "
    "(int8range(person_id, person_id, '[]') WITH =, "
    "int8range(institution_id, institution_id, '[]') WITH =, "
    "ngw_textrange(class_name, class_name, '[]') WITH =, "
    "ngw_textrange(coalesce(section, ''), coalesce(section, ''), '[]') WITH =, "
    "daterange(from_date, to_date, '[]') WITH &&)"
)


# The owner lock class (core/locks.py): a person's excusals, whichever identity its notes
# came under. Taken after the identity locks, in one call, in (bucket, person) order; a
# call with many persons takes their buckets exclusively instead (the shared lock table
# holds a few thousand locks in all).
_LOCK_OWNERS = """
CREATE FUNCTION ngw_lock_owners(person_ids bigint[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[] := ARRAY(SELECT DISTINCT p FROM unnest(person_ids) AS p WHERE p IS NOT NULL);
    bucket integer;
    person bigint;
    last_bucket integer := -1;
BEGIN
    IF cardinality(ids) > 16 THEN
        FOR bucket IN SELECT DISTINCT x % 32 FROM unnest(ids) AS x ORDER BY 1 LOOP
            PERFORM pg_advisory_xact_lock(hashtextextended('ngw owner bucket ' || bucket, 0));
        END LOOP;
    ELSE
        FOR bucket, person IN SELECT x % 32, x FROM unnest(ids) AS x ORDER BY 1, 2 LOOP
            IF bucket <> last_bucket THEN
                PERFORM pg_advisory_xact_lock_shared(
                    hashtextextended('ngw owner bucket ' || bucket, 0));
                last_bucket := bucket;
            END IF;
            PERFORM pg_advisory_xact_lock(hashtextextended('ngw owner ' || person, 0));
        END LOOP;
    END IF;
    RETURN cardinality(ids);
END $$
"""


# A client disabled or rotated wakes its open long polls (vendors/notifier.py), which then
# find their credentials gone: 401 at once.
_CLIENT_CHANGED = (
    """
    CREATE FUNCTION notify_client_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('notegateway_feed', NEW.id::text);
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER clients_changed AFTER UPDATE ON clients "
    "FOR EACH ROW EXECUTE FUNCTION notify_client_changed()",
)


def upgrade() -> None:
    op.execute(_LOCK_OWNERS)
    for statement in _CLIENT_CHANGED:
        op.execute(statement)
    op.add_column("institutions", sa.Column("region", sa.Text(), nullable=True))
    op.create_table(
        "institution_diaries",
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=False),
        sa.Column("diary_client_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("from_date <= to_date", name=op.f("ck_institution_diaries_dates")),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_institution_diaries_institution_id_institutions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["diary_client_id"],
            ["clients.id"],
            name=op.f("fk_institution_diaries_diary_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("institution_id", "from_date", name=op.f("pk_institution_diaries")),
    )
    op.create_index(
        "ix_institution_diaries_diary_client_id", "institution_diaries", ["diary_client_id"]
    )
    op.execute(
        "ALTER TABLE institution_diaries ADD CONSTRAINT ex_institution_diaries_no_overlap "
        "EXCLUDE USING gist (int8range(institution_id, institution_id, '[]') WITH =, "
        "daterange(from_date, to_date, '[]') WITH &&)"
    )
    op.execute(
        "INSERT INTO institution_diaries (institution_id, from_date, to_date, diary_client_id) "
        "SELECT id, '-infinity', 'infinity', diary_client_id FROM institutions"
    )
    op.drop_column("institutions", "diary_client_id")

    op.execute("ALTER TABLE enrollments DROP CONSTRAINT ex_enrollments_no_overlap")
    op.execute(_TEXT_RANGE)
    op.execute(_ENROLLMENTS_APART)

    op.create_table(
        "former_identifiers",
        sa.Column("identifier_kind", sa.SmallInteger(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("identifier_type", sa.SmallInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_former_identifiers_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "identifier_kind", "identifier", name=op.f("pk_former_identifiers")
        ),
    )
    op.create_index("ix_former_identifiers_person_id", "former_identifiers", ["person_id"])

    op.create_table(
        "nzis_sync",
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("slot BETWEEN 0 AND 1023", name=op.f("ck_nzis_sync_slot")),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_nzis_sync")),
    )
    # What lastHisSyncTime said before: the newest note or cancellation received.
    op.execute(
        "INSERT INTO nzis_sync (slot, called_at) SELECT 0, t FROM (SELECT greatest("
        "(SELECT max(received_at) FROM medical_notices), "
        "(SELECT max(received_at) FROM notice_cancellations)) AS t) AS s WHERE t IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION ngw_lock_owners(bigint[])")
    op.execute("DROP TRIGGER clients_changed ON clients")
    op.execute("DROP FUNCTION notify_client_changed()")
    op.drop_table("nzis_sync")
    op.drop_index("ix_former_identifiers_person_id", table_name="former_identifiers")
    op.drop_table("former_identifiers")
    op.execute("ALTER TABLE enrollments DROP CONSTRAINT ex_enrollments_no_overlap")
    op.execute("DROP TYPE ngw_textrange")
    op.execute(
        "ALTER TABLE enrollments ADD CONSTRAINT ex_enrollments_no_overlap EXCLUDE USING gist "
        "(int8range(person_id, person_id, '[]') WITH =, "
        "daterange(from_date, to_date, '[]') WITH &&)"
    )
    op.add_column(
        "institutions",
        sa.Column(
            "diary_client_id",
            sa.BigInteger(),
            sa.ForeignKey("clients.id", name="fk_institutions_diary_client_id_clients"),
            nullable=True,
        ),
    )
    # The diary that keeps today.
    op.execute(
        "UPDATE institutions AS i SET diary_client_id = d.diary_client_id "
        "FROM institution_diaries AS d WHERE d.institution_id = i.id "
        "AND current_date BETWEEN d.from_date AND d.to_date"
    )
    op.drop_table("institution_diaries")
    op.drop_column("institutions", "region")
