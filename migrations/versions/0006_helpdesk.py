"""For the helpdesk: rejected pushes kept (every item judged invalid or conflict, with its
identifiers masked and names dropped, purged after NOTEGATEWAY_REJECTION_RETENTION_DAYS),
when each vendor was first served each note (by `next` or by its feed), and which notes an
operator linked to their person by hand; operators limited to a region; the console's
sessions (an operator's token exchanged for a session id, kept only as a hash).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rejections",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("item_index", sa.Integer(), nullable=False),
        sa.Column("nrn", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("errors", postgresql.JSONB(), nullable=False),
        sa.Column("item", postgresql.JSONB(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('invalid', 'conflict')", name=op.f("ck_rejections_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejections")),
    )
    op.create_index("ix_rejections_nrn", "rejections", ["nrn"])
    op.create_index("ix_rejections_at", "rejections", ["at"])
    op.create_table(
        "vendor_deliveries",
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "first_served_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["clients.id"], name=op.f("fk_vendor_deliveries_vendor_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["medical_notices.id"],
            name=op.f("fk_vendor_deliveries_notice_id_medical_notices"),
        ),
        sa.PrimaryKeyConstraint("vendor_id", "notice_id", name=op.f("pk_vendor_deliveries")),
    )
    op.create_index("ix_vendor_deliveries_notice_id", "vendor_deliveries", ["notice_id"])
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.Text(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("csrf", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_console_sessions_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    op.add_column("clients", sa.Column("region", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_clients_region"), "clients", "region IS NULL OR role = 'operator'"
    )
    op.add_column(
        "medical_notices",
        sa.Column("matched_manually", sa.Boolean(), server_default="false", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("medical_notices", "matched_manually")
    op.drop_column("clients", "region")
    op.drop_table("console_sessions")
    op.drop_table("vendor_deliveries")
    op.drop_table("rejections")
