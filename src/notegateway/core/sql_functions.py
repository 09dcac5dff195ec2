"""Every SQL function and trigger of the gateway, as it is now: the one place to read them.

Migrations install them from here (0011 installs them all with CREATE OR REPLACE); a
change to one is a change here and a migration that calls `install_statements()` again.
tests/core/test_sql_functions.py fails when a migrated database's definitions drift from
this file: a function's body, arguments, result, or a trigger's definition, or one that
exists in only one of the two. Triggers are written as PostgreSQL prints them back.
"""

from __future__ import annotations

from notegateway.core.locks import FEED_TICKET_CLASSES, LEASE_LOCK_CLASS, feed_sequence
from notegateway.core.placement_sql import by_diary, placement_runs

FUNCTIONS: dict[str, str] = {}
TRIGGERS: dict[str, tuple[str, str]] = {}  # name: (table, CREATE TRIGGER as printed back)

# The audit log is append-only: every change to it is refused, but for the retention
# purge's deletes of whole school years (ops/retention_repository.py sets the flag, for its
# own transaction only).
FUNCTIONS["audit_log_is_append_only"] = """
CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('notegateway.retention_purge', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END $$
"""
TRIGGERS["audit_log_append_only"] = (
    "audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE DELETE OR UPDATE OR TRUNCATE "
    "ON public.audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()",
)

# Wake long polls in every server process: one notification per vendor per commit
# (core/notifier.py listens).
FUNCTIONS["vendor_events_notify"] = """
CREATE OR REPLACE FUNCTION vendor_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('notegateway_feed', NEW.vendor_id::text); RETURN NULL; END $$
"""
TRIGGERS["vendor_events_notify"] = (
    "vendor_events",
    "CREATE TRIGGER vendor_events_notify AFTER INSERT ON public.vendor_events "
    "FOR EACH ROW EXECUTE FUNCTION vendor_events_notify()",
)

# A client disabled or rotated wakes its open long polls, which then find their
# credentials gone: 401 at once.
FUNCTIONS["notify_client_changed"] = """
CREATE OR REPLACE FUNCTION notify_client_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('notegateway_feed', NEW.id::text);
    RETURN NULL;
END $$
"""
TRIGGERS["clients_changed"] = (
    "clients",
    "CREATE TRIGGER clients_changed AFTER UPDATE ON public.clients "
    "FOR EACH ROW EXECUTE FUNCTION notify_client_changed()",
)

# Wake the NEISPUO clients' long polls on the change feed, once per statement.
FUNCTIONS["diary_changes_notify"] = """
CREATE OR REPLACE FUNCTION diary_changes_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM written) THEN
        PERFORM pg_notify('notegateway_feed', id::text)
        FROM clients WHERE role = 'neispuo';
    END IF;
    RETURN NULL;
END $$
"""
TRIGGERS["diary_changes_notify"] = (
    "diary_changes",
    "CREATE TRIGGER diary_changes_notify AFTER INSERT ON public.diary_changes "
    "REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION "
    "diary_changes_notify()",
)

# The persons' owner locks (core/locks.py): taken after the identity locks, in one call,
# in (bucket, person) order; a call with many persons takes their buckets exclusively
# instead (the shared lock table holds a few thousand locks in all).
FUNCTIONS["ngw_lock_owners"] = """
CREATE OR REPLACE FUNCTION ngw_lock_owners(person_ids bigint[]) RETURNS integer
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

# Every lock of a write in one round trip (core/locks.py: the order): the keys, then the
# owners of the persons named and of the identifiers' holders.
FUNCTIONS["ngw_lock"] = """
CREATE OR REPLACE FUNCTION ngw_lock(keys bigint[], shared boolean[], kinds int2[],
                                    idents text[], persons bigint[]) RETURNS void
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

# Number a request's changes in the change feed (its ticket: the trigger below).
FUNCTIONS["ngw_publish_changes"] = """
CREATE OR REPLACE FUNCTION ngw_publish_changes(audit_ids bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO diary_changes (audit_id)
    SELECT id FROM unnest(audit_ids) AS id ORDER BY id;
END $$
"""

# A feed writer's ticket (core/feed.py): before a statement numbers any row of a feed, a
# shared lock, held to commit, on the number after the feed's last one; every row the
# transaction numbers later is at least that. Shared: no writer waits for another.
# Arguments: the feed's sequence, its ticket lock class (two-key locks: the class plus
# the number's high 32 bits, then its low 32 bits). The sequences must keep CACHE 1 (their
# default): with a cache, a session could number rows below its ticket. The trigger fires
# for a statement that inserts nothing too (the excusal statement's change-feed CTE):
# such a ticket only holds readers back until that transaction ends.
FUNCTIONS["ngw_feed_ticket"] = """
CREATE OR REPLACE FUNCTION ngw_feed_ticket() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ticket bigint := coalesce(pg_sequence_last_value(TG_ARGV[0]::regclass), 0) + 1;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(TG_ARGV[1]::integer + (ticket >> 32)::integer,
                                         ticket::bit(32)::integer);
    RETURN NULL;
END $$
"""
for _table, _class in FEED_TICKET_CLASSES.items():
    TRIGGERS[f"{_table}_ticket"] = (
        _table,
        f"CREATE TRIGGER {_table}_ticket BEFORE INSERT ON public.{_table} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION ngw_feed_ticket('{feed_sequence(_table)}', '{_class}')",
    )

# How far a feed's readers may go: below the oldest ticket still held, and past nothing
# numbered after the sequence's last number as read first (core/feed.py: why this
# order). Volatile: its statements run one after the other.
FUNCTIONS["ngw_feed_watermark"] = """
CREATE OR REPLACE FUNCTION ngw_feed_watermark(feed_sequence regclass, ticket_class integer)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    numbered bigint := coalesce(pg_sequence_last_value(feed_sequence), 0);
    oldest bigint;
BEGIN
    SELECT min(((l.classid::bigint - ticket_class) << 32) + l.objid::bigint) INTO oldest
    FROM pg_locks AS l
    WHERE l.locktype = 'advisory' AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint BETWEEN ticket_class AND ticket_class + 65535;
    RETURN least(oldest, numbered + 1);
END $$
"""

# Storing a push's notes (notices/repository.py: insert_notes) in one round trip: the
# push's locks first (`ngw_lock`, core/locks.py), then the notes, in a statement of its
# own whose snapshot is taken under the locks. Each note is matched to the person whose
# identifier it is now, or was before (former identifiers match too), inserted in input
# order ("received first" holds), placed, and audited; existing NRNs are left alone. One
# row per input item: whether this call created the note, and the payload kept before
# when it did not.
# The statement itself ($1 to $12: the function's first twelve arguments); benchmarks.explain
# explains it on its own.
INSERT_NOTES = f"""
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int2[], $4::int2[], $5::text[],
                         $6::text[], $7::date[], $8::date[], $9::timestamp[], $10::text[],
                         $11::text[]) WITH ORDINALITY
        AS t(nrn, nrn_examination, identifier_type, identifier_kind, identifier,
             pmi, from_date, to_date, authored_on, payload, excusal_comment, ord)
),
inserted AS (
    INSERT INTO medical_notices (nrn, nrn_examination, identifier_type, identifier_kind,
                                 identifier, pmi, from_date, to_date, authored_on, payload,
                                 excusal_comment, status, person_id, matched_at, cancelled_at)
    SELECT i.nrn, i.nrn_examination, i.identifier_type, i.identifier_kind, i.identifier,
           i.pmi, i.from_date, i.to_date, i.authored_on, i.payload::jsonb, i.excusal_comment,
           CASE WHEN c.nrn IS NULL THEN 'active' ELSE 'cancelled' END,
           coalesce(p.id, f.person_id),
           CASE WHEN coalesce(p.id, f.person_id) IS NOT NULL THEN now() END,
           CASE WHEN c.nrn IS NOT NULL THEN now() END
    FROM input AS i
    -- The person whose identifier it is now, or was before (former identifiers match too).
    LEFT JOIN persons AS p
           ON p.identifier_kind = i.identifier_kind AND p.identifier = i.identifier
    LEFT JOIN former_identifiers AS f
           ON f.identifier_kind = i.identifier_kind AND f.identifier = i.identifier
    LEFT JOIN notice_cancellations AS c ON c.nrn = i.nrn
    ORDER BY i.ord  -- ids in input order: "received first" holds
    ON CONFLICT (nrn) DO NOTHING
    RETURNING id AS notice_id, nrn, person_id, from_date, to_date, status
),
placed AS (
    INSERT INTO placements (notice_id, institution_id, class_name, section, from_date, to_date)
    {placement_runs("inserted")}
    RETURNING *
),
for_vendors AS (
    SELECT DISTINCT notice_id FROM ({by_diary("placed")}) AS cut
    WHERE cut.diary_client_id IS NOT NULL
),
audited AS (
    INSERT INTO audit_log (actor, action, notice_id, after)
    SELECT $12, 'note.received', notice_id,
           jsonb_build_object('status', status,
                              'match', CASE WHEN person_id IS NULL THEN 'unmatched'
                                            ELSE 'matched' END)
    FROM inserted
)
SELECT i.nrn, ins.notice_id, ins.person_id, ins.status, ins.from_date, ins.to_date,
       ins.notice_id IN (SELECT notice_id FROM for_vendors) AS for_vendors,
       (SELECT existing.payload::text FROM medical_notices AS existing
        WHERE existing.nrn = i.nrn) AS stored_payload
FROM input AS i
LEFT JOIN inserted AS ins ON ins.nrn = i.nrn
"""
FUNCTIONS["ngw_insert_notes"] = f"""
CREATE OR REPLACE FUNCTION ngw_insert_notes(
    nrns text[], examinations text[], identifier_types int2[], identifier_kinds int2[],
    identifiers text[], pmis text[], from_dates date[], to_dates date[],
    authored_ons timestamp[], payloads text[], excusal_comments text[], actor text,
    lock_ids bigint[], lock_shared boolean[], owner_kinds int2[], owner_identifiers text[])
RETURNS TABLE (nrn text, notice_id bigint, person_id bigint, status text, from_date date,
               to_date date, for_vendors boolean, stored_payload text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM ngw_lock(lock_ids, lock_shared, owner_kinds, owner_identifiers, '{{}}');
    RETURN QUERY
{INSERT_NOTES};
END $$
"""

# An NZIS caller whose credentials were checked in full lately (clients/auth.py: the
# process's known callers) is checked again here, in the round trip that begins its push's
# transaction: these credentials still name this client, of the role nzis and enabled.
# Then its call is recorded (lastHisSyncTime), in that transaction; else nothing is
# written and SQLSTATE 28000 ends the transaction: the caller is answered 401, as the
# full check would. (Token and certificate columns are unique: a token or certificate that
# is this client's names no other.)
FUNCTIONS["ngw_nzis_call"] = """
CREATE OR REPLACE FUNCTION ngw_nzis_call(caller bigint, token text, thumbprint text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM clients AS c
        WHERE c.id = caller AND c.role = 'nzis' AND c.disabled_at IS NULL
          AND (token IS NOT NULL OR thumbprint IS NOT NULL)
          AND (token IS NULL OR c.token_hash = token)
          AND (thumbprint IS NULL OR c.cert_thumbprint = thumbprint)) THEN
        RAISE EXCEPTION 'these credentials no longer admit this NZIS client'
            USING ERRCODE = '28000';
    END IF;
    INSERT INTO nzis_sync (slot, called_at) VALUES (pg_backend_pid() % 1024, now())
    ON CONFLICT (slot) DO UPDATE SET called_at = excluded.called_at;
END $$
"""

# A lease of a client's long polls (or requests) in the whole service (core/limits.py):
# the client's lock, expired leases dropped, count, add; one round trip.
FUNCTIONS["ngw_take_lease"] = f"""
CREATE OR REPLACE FUNCTION ngw_take_lease(
    client bigint, lease_kind text, most integer, lease_holder uuid, seconds double precision
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LEASE_LOCK_CLASS}, client::integer);
    DELETE FROM client_leases
    WHERE client_id = client AND kind = lease_kind AND expires_at <= clock_timestamp();
    IF (SELECT count(*) FROM client_leases
        WHERE client_id = client AND kind = lease_kind) >= most THEN
        RETURN false;
    END IF;
    INSERT INTO client_leases (holder, client_id, kind, expires_at)
    VALUES (lease_holder, client, lease_kind,
            clock_timestamp() + seconds * interval '1 second');
    RETURN true;
END $$
"""


def install_statements() -> list[str]:
    """The statements that make the database's functions and triggers this file's."""
    statements = list(FUNCTIONS.values())
    for name, (table, create) in TRIGGERS.items():
        statements += [f"DROP TRIGGER IF EXISTS {name} ON {table}", create]
    return statements
