"""Clients, registry, medical notices, cancellations and placements.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "gateway_secrets",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_gateway_secrets")),
    )
    op.create_table(
        "clients",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=True),
        sa.Column("cert_thumbprint", sa.Text(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "role IN ('nzis', 'vendor', 'neispuo', 'operator')", name=op.f("ck_clients_role")
        ),
        sa.CheckConstraint(
            "cert_thumbprint ~ '^[0-9a-f]{64}$'", name=op.f("ck_clients_cert_thumbprint")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("name", name=op.f("uq_clients_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_clients_token_hash")),
        sa.UniqueConstraint("cert_thumbprint", name=op.f("uq_clients_cert_thumbprint")),
    )
    op.create_table(
        "institutions",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("town", sa.Text(), nullable=False),
        sa.Column("diary_client_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["diary_client_id"],
            ["clients.id"],
            name=op.f("fk_institutions_diary_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institutions")),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("identifier_type", sa.SmallInteger(), nullable=False),
        sa.Column("identifier_kind", sa.SmallInteger(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=False),
        sa.Column("family_name", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint(
            "identifier_kind", "identifier", name=op.f("uq_persons_identifier_kind_identifier")
        ),
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("class_name", sa.Text(), nullable=False),
        sa.Column("section", sa.Text(), nullable=True),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "to_date IS NULL OR to_date >= from_date", name=op.f("ck_enrollments_dates")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_enrollments_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_enrollments_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
    )
    op.create_index("ix_enrollments_person_id", "enrollments", ["person_id"])
    op.create_index("ix_enrollments_institution_id", "enrollments", ["institution_id"])
    # No two enrollments of one person overlap in time (ranges only: no btree_gist needed,
    # which the embedded PostgreSQL does not ship).
    op.execute(
        "ALTER TABLE enrollments ADD CONSTRAINT ex_enrollments_no_overlap EXCLUDE USING gist "
        "(int8range(person_id, person_id, '[]') WITH =, "
        "daterange(from_date, to_date, '[]') WITH &&)"
    )
    op.create_table(
        "medical_notices",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("nrn", sa.Text(), nullable=False),
        sa.Column("nrn_examination", sa.Text(), nullable=False),
        sa.Column("identifier_type", sa.SmallInteger(), nullable=False),
        sa.Column("identifier_kind", sa.SmallInteger(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("pmi", sa.Text(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=False),
        sa.Column("authored_on", postgresql.TIMESTAMP(timezone=False), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled')", name=op.f("ck_medical_notices_status")
        ),
        sa.CheckConstraint("from_date <= to_date", name=op.f("ck_medical_notices_dates")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_medical_notices_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_notices")),
        sa.UniqueConstraint("nrn", name=op.f("uq_medical_notices_nrn")),
    )
    op.create_index(
        "ix_medical_notices_identifier_kind_identifier",
        "medical_notices",
        ["identifier_kind", "identifier"],
    )
    op.create_index("ix_medical_notices_person_id", "medical_notices", ["person_id"])
    op.create_table(
        "notice_cancellations",
        sa.Column("nrn", sa.Text(), nullable=False),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("nrn", name=op.f("pk_notice_cancellations")),
    )
    op.create_table(
        "placements",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("class_name", sa.Text(), nullable=False),
        sa.Column("section", sa.Text(), nullable=True),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=False),
        sa.CheckConstraint("from_date <= to_date", name=op.f("ck_placements_dates")),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_placements_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["medical_notices.id"],
            name=op.f("fk_placements_notice_id_medical_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placements")),
    )
    op.create_index("ix_placements_notice_id", "placements", ["notice_id"])
    op.create_index(
        "ix_placements_institution_id_from_date", "placements", ["institution_id", "from_date"]
    )


def downgrade() -> None:
    for table in (
        "placements",
        "notice_cancellations",
        "medical_notices",
        "enrollments",
        "persons",
        "institutions",
        "clients",
        "gateway_secrets",
    ):
        op.drop_table(table)
