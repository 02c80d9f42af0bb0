-- Re-issued reports: a report that expired before it landed is superseded by a copy re-signed
-- with a fresh validity window. The old row stays, immutable, in the final state `superseded`,
-- naming its successor's digest; the successor takes the old row's place in the outbox
-- (`outbox_position`, the row's own id when NULL). A (chain, seq) is unique among the rows that
-- are not superseded.
-- Keep in step with migrations/sqlite/0009_superseded_reports.sql.

ALTER TABLE oracle_reports
    ADD COLUMN superseded_by TEXT,
    ADD COLUMN outbox_position BIGINT;

ALTER TABLE oracle_reports DROP CONSTRAINT oracle_reports_status_check;
ALTER TABLE oracle_reports
    ADD CONSTRAINT oracle_reports_status_check
        CHECK (status IN ('pending', 'submitted', 'applied', 'refused', 'superseded')),
    ADD CONSTRAINT oracle_reports_successor
        CHECK ((status = 'superseded') = (superseded_by IS NOT NULL));

-- The (chain, seq) rule of 0007 was declared without a name: find it by its six columns.
DO $$
DECLARE
    rule name;
BEGIN
    SELECT conname INTO STRICT rule FROM pg_constraint
    WHERE conrelid = 'oracle_reports'::regclass AND contype = 'u' AND cardinality(conkey) = 6;
    EXECUTE format('ALTER TABLE oracle_reports DROP CONSTRAINT %I', rule);
END;
$$;

CREATE UNIQUE INDEX oracle_reports_live_seq
    ON oracle_reports (chain_id, contract, kind, community_hash, pool_hash, seq)
    WHERE status <> 'superseded';

CREATE OR REPLACE FUNCTION refuse_report_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'oracle_reports is append-only';
    END IF;
    IF OLD.status IN ('applied', 'refused', 'superseded') THEN
        RAISE EXCEPTION 'an applied, refused or superseded report is final';
    END IF;
    IF (NEW.id, NEW.kind, NEW.community_id, NEW.pool, NEW.pool_version, NEW.chain_id, NEW.contract,
        NEW.community_hash, NEW.pool_hash, NEW.seq, NEW.prev_hash, NEW.digest, NEW.report,
        NEW.signatures, NEW.decision_hash, NEW.evidence, NEW.created_at_ms, NEW.outbox_position)
       IS DISTINCT FROM
       (OLD.id, OLD.kind, OLD.community_id, OLD.pool, OLD.pool_version, OLD.chain_id, OLD.contract,
        OLD.community_hash, OLD.pool_hash, OLD.seq, OLD.prev_hash, OLD.digest, OLD.report,
        OLD.signatures, OLD.decision_hash, OLD.evidence, OLD.created_at_ms, OLD.outbox_position) THEN
        RAISE EXCEPTION 'a signed report does not change';
    END IF;
    RETURN NEW;
END;
$$;
