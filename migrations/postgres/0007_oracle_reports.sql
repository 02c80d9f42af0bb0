-- Oracle reports: every signed report, pool or signer, in the order the relayer submits them (id
-- order). A report's content (what was signed, the signatures, the evidence its decision hash
-- commits to) never changes; only its relay state moves forward.
-- Keep in step with migrations/sqlite/0007_oracle_reports.sql.

CREATE TABLE oracle_reports (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT   NOT NULL CHECK (kind IN ('pool', 'signer')),
    community_id     BIGINT REFERENCES communities (id),
    pool             TEXT,
    pool_version     BIGINT,
    chain_id         BIGINT NOT NULL,
    contract         TEXT   NOT NULL,
    community_hash   TEXT   NOT NULL,
    pool_hash        TEXT   NOT NULL,
    seq              BIGINT NOT NULL CHECK (seq >= 1),
    prev_hash        TEXT   NOT NULL,
    digest           TEXT   NOT NULL UNIQUE,
    report           TEXT   NOT NULL,
    signatures       TEXT   NOT NULL,
    decision_hash    TEXT   NOT NULL,
    evidence         TEXT   NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    status           TEXT   NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'submitted', 'applied', 'refused')),
    tx_hash          TEXT,
    block_number     BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    updated_at_ms    BIGINT NOT NULL,
    UNIQUE (chain_id, contract, kind, community_hash, pool_hash, seq)
);

CREATE INDEX oracle_reports_open ON oracle_reports (id) WHERE status IN ('pending', 'submitted');
CREATE INDEX oracle_reports_pool ON oracle_reports (community_id, pool, seq);

CREATE FUNCTION refuse_report_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'oracle_reports is append-only';
    END IF;
    IF OLD.status IN ('applied', 'refused') THEN
        RAISE EXCEPTION 'an applied or refused report is final';
    END IF;
    IF (NEW.id, NEW.kind, NEW.community_id, NEW.pool, NEW.pool_version, NEW.chain_id, NEW.contract,
        NEW.community_hash, NEW.pool_hash, NEW.seq, NEW.prev_hash, NEW.digest, NEW.report,
        NEW.signatures, NEW.decision_hash, NEW.evidence, NEW.created_at_ms)
       IS DISTINCT FROM
       (OLD.id, OLD.kind, OLD.community_id, OLD.pool, OLD.pool_version, OLD.chain_id, OLD.contract,
        OLD.community_hash, OLD.pool_hash, OLD.seq, OLD.prev_hash, OLD.digest, OLD.report,
        OLD.signatures, OLD.decision_hash, OLD.evidence, OLD.created_at_ms) THEN
        RAISE EXCEPTION 'a signed report does not change';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER oracle_reports_guard BEFORE UPDATE OR DELETE ON oracle_reports
    FOR EACH ROW EXECUTE FUNCTION refuse_report_change();
