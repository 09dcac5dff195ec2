"""The schema, as SQLAlchemy Core tables (alembic's target metadata; drift is tested)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _now() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


gateway_secrets = Table(
    "gateway_secrets",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    _now(),
)

clients = Table(
    "clients",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("token_hash", Text, nullable=True),
    Column("cert_thumbprint", Text, nullable=True),
    Column("region", Text, nullable=True),  # an operator limited to one region (РУО)
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    Column("token_rotated_at", DateTime(timezone=True), nullable=True),
    _now(),
    UniqueConstraint("name"),
    UniqueConstraint("token_hash"),
    UniqueConstraint("cert_thumbprint"),
    CheckConstraint("role IN ('nzis', 'vendor', 'neispuo', 'operator')", name="role"),
    CheckConstraint("cert_thumbprint ~ '^[0-9a-f]{64}$'", name="cert_thumbprint"),
    CheckConstraint("region IS NULL OR role = 'operator'", name="region"),
)

institutions = Table(
    "institutions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("town", Text, nullable=False),
    Column("region", Text, nullable=True),  # the oblast, for reports
    # The diary is closed through this day (a signed class book, a reported month): a
    # note still excuses there, but nothing excused is turned back to unexcused.
    Column("locked_through", Date, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

institution_diaries = Table(
    "institution_diaries",
    metadata,
    # Which diary keeps an institution's days: periods that tile the whole calendar, the
    # first from '-infinity', the last to 'infinity' (ex_institution_diaries_no_overlap in
    # the migration keeps them apart).
    Column(
        "institution_id",
        BigInteger,
        ForeignKey("institutions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("from_date", Date, primary_key=True),
    Column("to_date", Date, nullable=False),
    # NULL: NEISPUO's own diary; else the vendor client that keeps these days.
    Column("diary_client_id", BigInteger, ForeignKey("clients.id"), nullable=True),
    CheckConstraint("from_date <= to_date", name="dates"),
    Index("ix_institution_diaries_diary_client_id", "diary_client_id"),
)

persons = Table(
    "persons",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("identifier_type", SmallInteger, nullable=False),
    # 1 ЕГН, 2 ЛНЧ, 3 any other identifier (types 3, 4 and 5 match as one kind).
    Column("identifier_kind", SmallInteger, nullable=False),
    Column("identifier", Text, nullable=False),
    Column("given_name", Text, nullable=False),
    Column("family_name", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("identifier_kind", "identifier"),
)

former_identifiers = Table(
    "former_identifiers",
    metadata,
    # Identifiers a person held before its current one: notes under them still match it.
    # An identity (kind + identifier) belongs to one person at most, current or former.
    Column("identifier_kind", SmallInteger, primary_key=True),
    Column("identifier", Text, primary_key=True),
    Column("identifier_type", SmallInteger, nullable=False),
    Column("person_id", BigInteger, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Index("ix_former_identifiers_person_id", "person_id"),
)

enrollments = Table(
    "enrollments",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("person_id", BigInteger, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
    Column("institution_id", BigInteger, ForeignKey("institutions.id"), nullable=False),
    Column("class_name", Text, nullable=False),
    Column("section", Text, nullable=True),
    Column("from_date", Date, nullable=False),
    Column("to_date", Date, nullable=True),
    CheckConstraint("to_date IS NULL OR to_date >= from_date", name="dates"),
    Index("ix_enrollments_person_id", "person_id"),
    Index("ix_enrollments_institution_id", "institution_id"),
    # The EXCLUDE constraint against two overlapping enrollments of one person in the same
    # institution, class and section lives in the migration (ex_enrollments_no_overlap).
)

medical_notices = Table(
    "medical_notices",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("nrn", Text, nullable=False),
    Column("nrn_examination", Text, nullable=False),
    Column("identifier_type", SmallInteger, nullable=False),
    Column("identifier_kind", SmallInteger, nullable=False),
    Column("identifier", Text, nullable=False),
    Column("pmi", Text, nullable=False),
    Column("from_date", Date, nullable=False),
    Column("to_date", Date, nullable=False),
    Column("authored_on", TIMESTAMP(timezone=False), nullable=False),
    # The normalised note, exactly as stored and handed on.
    Column("payload", JSONB, nullable=False),
    # The comment its excusals carry (diary/excusal.py writes it).
    Column("excusal_comment", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("person_id", BigInteger, ForeignKey("persons.id"), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("matched_at", DateTime(timezone=True), nullable=True),
    # An operator linked it to its person by hand: no registry change matches it again.
    Column("matched_manually", Boolean, nullable=False, server_default="false"),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("nrn"),
    CheckConstraint("status IN ('active', 'cancelled')", name="status"),
    CheckConstraint("from_date <= to_date", name="dates"),
    Index("ix_medical_notices_identifier_kind_identifier", "identifier_kind", "identifier"),
    Index("ix_medical_notices_person_id_id", "person_id", "id"),
    Index("ix_medical_notices_received_at", "received_at"),
    Index("ix_medical_notices_pmi_authored_on", "pmi", "authored_on"),  # a doctor's digest
    # reissues (core/reissue_sql.py)
    Index("ix_medical_notices_nrn_examination_id", "nrn_examination", "id"),
    Index(
        "ix_medical_notices_cancelled_examination",
        "nrn_examination",
        "id",
        postgresql_where=text("status = 'cancelled'"),
    ),
)

notice_cancellations = Table(
    "notice_cancellations",
    metadata,
    Column("nrn", Text, primary_key=True),
    Column("cancel_reason", Text, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The first answer, given again to every repeat.
    Column("status_code", SmallInteger, nullable=False),
    Column("response", JSONB, nullable=False),
)

placements = Table(
    "placements",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "notice_id",
        BigInteger,
        ForeignKey("medical_notices.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("institution_id", BigInteger, ForeignKey("institutions.id"), nullable=False),
    Column("class_name", Text, nullable=False),
    Column("section", Text, nullable=True),
    Column("from_date", Date, nullable=False),
    Column("to_date", Date, nullable=False),
    CheckConstraint("from_date <= to_date", name="dates"),
    Index("ix_placements_notice_id_institution_id", "notice_id", "institution_id", "from_date"),
    Index("ix_placements_institution_id_from_date", "institution_id", "from_date"),
)

absences = Table(
    "absences",
    metadata,
    # The diary's own id.
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("person_id", BigInteger, ForeignKey("persons.id"), nullable=False),
    Column("institution_id", BigInteger, ForeignKey("institutions.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("lesson", SmallInteger, nullable=True),  # NULL: a preschool group's daily attendance
    Column("subject", Text, nullable=True),
    Column("kind", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("comment", Text, nullable=True),
    Column("excused_by_notice_id", BigInteger, ForeignKey("medical_notices.id"), nullable=True),
    Column("set_by_person", Boolean, nullable=False),
    # The fields as first posted: a repeat is compared with these.
    Column("posted", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('unexcused', 'excused', 'late', 'dplr')", name="kind"),
    Index("ix_absences_person_id_date", "person_id", "date"),
    Index("ix_absences_institution_id_date", "institution_id", "date"),
    Index("ix_absences_excused_by_notice_id", "excused_by_notice_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("notice_id", BigInteger, nullable=True),
    Column("absence_id", BigInteger, nullable=True),
    Column("before", JSONB, nullable=True),
    Column("after", JSONB, nullable=True),
    Index("ix_audit_log_notice_id", "notice_id"),
    Index("ix_audit_log_absence_id", "absence_id"),
    # Append-only: a trigger (migration 0002) refuses UPDATE and DELETE.
)

review_items = Table(
    "review_items",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("absence_id", BigInteger, ForeignKey("absences.id"), nullable=False),
    Column("notice_id", BigInteger, ForeignKey("medical_notices.id"), nullable=False),
    Column("why", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # An operator kept the absence as it is: off the list, and not listed again for the
    # same note (a person's override stays overridden); the row goes when its reason does.
    Column("closed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("absence_id", "notice_id"),
    CheckConstraint(
        "why IN ('noteCancelled', 'noteMoved', 'locked', 'unexcusedUnderNote')", name="why"
    ),
)

vendor_note_state = Table(
    "vendor_note_state",
    metadata,
    # What a vendor was last told of a note: the base for its next feed event.
    Column("vendor_id", BigInteger, ForeignKey("clients.id"), primary_key=True),
    Column("notice_id", BigInteger, ForeignKey("medical_notices.id"), primary_key=True),
    Column("state", Text, nullable=False),
    Column("placements", JSONB, nullable=False),
    Column("person_id", BigInteger, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("state IN ('issued', 'annulled', 'gone')", name="state"),
)

vendor_events = Table(
    "vendor_events",
    metadata,
    # Read below the feed's watermark (core/feed.py): no row still to commit is passed.
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("vendor_id", BigInteger, ForeignKey("clients.id"), nullable=False),
    Column("notice_id", BigInteger, ForeignKey("medical_notices.id"), nullable=False),
    Column("person_id", BigInteger, nullable=True),
    Column("type", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("placements", JSONB, nullable=False),
    Column(
        "occurred_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.clock_timestamp(),
    ),
    CheckConstraint("type IN ('note.issued', 'note.updated', 'note.cancelled')", name="type"),
    Index("ix_vendor_events_vendor_id_seq", "vendor_id", "seq"),
    Index("ix_vendor_events_occurred_at", "occurred_at"),
)

feed_purges = Table(
    "feed_purges",
    metadata,
    # The newest position purged from a feed (one per scope: a vendor's, or 0 for the
    # change feed): cursors before it are gone (410). core/feed.py.
    Column("feed", Text, primary_key=True),
    Column("scope_id", BigInteger, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

diary_changes = Table(
    "diary_changes",
    metadata,
    # The change feed: one row per audited change the gateway made to an absence, read
    # below the feed's watermark (core/feed.py), like vendor_events.
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("audit_id", BigInteger, ForeignKey("audit_log.id"), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()),
    Index("ix_diary_changes_at", "at"),
)

nzis_sync = Table(
    "nzis_sync",
    metadata,
    # When NZIS last called the push or cancel endpoint, whatever the answer: the newest of
    # these rows. Each connection writes the row of its slot (backend pid mod 1024), so
    # concurrent calls do not queue on one row.
    Column("slot", SmallInteger, primary_key=True),
    Column("called_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("slot BETWEEN 0 AND 1023", name="slot"),
)

feed_reads = Table(
    "feed_reads",
    metadata,
    # A reader's last read of a feed (a vendor's /next too, with no position) and the
    # position it was answered up to: the readers' lag, for metrics (core/feed.py).
    Column("feed", Text, primary_key=True),
    Column("client_id", BigInteger, ForeignKey("clients.id"), primary_key=True),
    Column("read_at", DateTime(timezone=True), nullable=False),
    Column("seq", BigInteger, nullable=True),
)

vendor_reads = Table(
    "vendor_reads",
    metadata,
    # NEISPUO-compatible read state: notes a vendor acknowledged through /acknowledge.
    Column("vendor_id", BigInteger, ForeignKey("clients.id"), primary_key=True),
    Column("notice_id", BigInteger, ForeignKey("medical_notices.id"), primary_key=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

vendor_acks = Table(
    "vendor_acks",
    metadata,
    # What a vendor's diary did with a note (the latest ack wins).
    Column("vendor_id", BigInteger, ForeignKey("clients.id"), primary_key=True),
    Column("notice_id", BigInteger, ForeignKey("medical_notices.id"), primary_key=True),
    Column("event_seq", BigInteger, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("excused_absences", Integer, nullable=False),
    Column("comment", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("outcome IN ('excused', 'pendingTeacher', 'rejected')", name="outcome"),
)

rejections = Table(
    "rejections",
    metadata,
    # Pushed items judged invalid or conflict, and bodies refused whole, for the helpdesk:
    # only what notices/rejections.py allows; purged after their retention.
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("client", Text, nullable=False),
    Column("item_index", Integer, nullable=True),  # null: the body was refused whole
    Column("nrn", Text, nullable=True),
    Column("outcome", Text, nullable=False),
    Column("errors", JSONB, nullable=False),
    Column("item", JSONB, nullable=True),
    CheckConstraint("outcome IN ('invalid', 'conflict')", name="outcome"),
    Index("ix_rejections_nrn", "nrn"),
    Index("ix_rejections_at", "at"),
)

vendor_deliveries = Table(
    "vendor_deliveries",
    metadata,
    # When a vendor was first served a note, by `next` or by its feed (for the helpdesk).
    Column("vendor_id", BigInteger, ForeignKey("clients.id"), primary_key=True),
    Column("notice_id", BigInteger, ForeignKey("medical_notices.id"), primary_key=True),
    Column("first_served_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_vendor_deliveries_notice_id", "notice_id"),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    # An operator signed in to the console: the cookie holds the id, this only its hash.
    Column("id_hash", Text, primary_key=True),
    Column("client_id", BigInteger, ForeignKey("clients.id"), nullable=False),
    Column("csrf", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # The last search's criteria (paging re-reads them: no identifier in a URL or a page).
    Column("search", JSONB, nullable=True),
    # A one-time message after an action, shown on the next page and then dropped.
    Column("flash", Text, nullable=True),
    Index("ix_console_sessions_expires_at", "expires_at"),
)

month_reports = Table(
    "month_reports",
    metadata,
    # A month's figures as they were sent to social assistance: a snapshot, and how far
    # the change feed had come when they were read (the changes since made corrections).
    Column("institution_id", BigInteger, ForeignKey("institutions.id"), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("reported_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("reported_by", Text, nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Column("pupils", JSONB, nullable=False),
)

client_leases = Table(
    "client_leases",
    metadata,
    # A long poll in progress, held against the vendor's limit in every process and
    # server (core/limits.py); a lease past expires_at is dropped by the next taker.
    Column("holder", UUID, primary_key=True),
    Column("client_id", BigInteger, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_client_leases_client_id_kind", "client_id", "kind"),
)

server_processes = Table(
    "server_processes",
    metadata,
    # Live server processes (a heartbeat each): a client's request limit is shared among them.
    Column("id", UUID, primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

retention_purges = Table(
    "retention_purges",
    metadata,
    # A school year past retention, purged (ops/retention.py): when, and how many rows of
    # each kind went (counts only).
    Column("school_year", Integer, primary_key=True, autoincrement=False),
    Column("purged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("removed", JSONB, nullable=False),
)
