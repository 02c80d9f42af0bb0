-- Oracle reports: every signed report, pool or signer, in the order the relayer submits them (id
-- order). A report's content (what was signed, the signatures, the evidence its decision hash
-- commits to) never changes; only its relay state moves forward.
-- Keep in step with migrations/postgres/0007_oracle_reports.sql.

CREATE TABLE oracle_reports (
    id               INTEGER PRIMARY KEY,
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

CREATE TRIGGER oracle_reports_no_delete BEFORE DELETE ON oracle_reports
BEGIN SELECT RAISE(ABORT, 'oracle_reports is append-only'); END;
CREATE TRIGGER oracle_reports_content_fixed
BEFORE UPDATE OF id, kind, community_id, pool, pool_version, chain_id, contract, community_hash,
    pool_hash, seq, prev_hash, digest, report, signatures, decision_hash, evidence, created_at_ms
ON oracle_reports
BEGIN SELECT RAISE(ABORT, 'a signed report does not change'); END;
CREATE TRIGGER oracle_reports_final BEFORE UPDATE ON oracle_reports
WHEN OLD.status IN ('applied', 'refused')
BEGIN SELECT RAISE(ABORT, 'an applied or refused report is final'); END;
