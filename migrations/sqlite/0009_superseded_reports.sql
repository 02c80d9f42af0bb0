-- Re-issued reports: a report that expired before it landed is superseded by a copy re-signed
-- with a fresh validity window. The old row stays, immutable, in the final state `superseded`,
-- naming its successor's digest; the successor takes the old row's place in the outbox
-- (`outbox_position`, the row's own id when NULL). A (chain, seq) is unique among the rows that
-- are not superseded. SQLite cannot change a table's CHECK or UNIQUE rules, so the table is
-- rebuilt with every row and id kept.
-- Keep in step with migrations/postgres/0009_superseded_reports.sql.

CREATE TABLE oracle_reports_next (
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
                     CHECK (status IN ('pending', 'submitted', 'applied', 'refused', 'superseded')),
    tx_hash          TEXT,
    block_number     BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    updated_at_ms    BIGINT NOT NULL,
    superseded_by    TEXT,
    outbox_position  BIGINT,
    CHECK ((status = 'superseded') = (superseded_by IS NOT NULL))
);

INSERT INTO oracle_reports_next (id, kind, community_id, pool, pool_version, chain_id, contract,
    community_hash, pool_hash, seq, prev_hash, digest, report, signatures, decision_hash, evidence,
    created_at_ms, status, tx_hash, block_number, attempts, last_error, updated_at_ms)
SELECT id, kind, community_id, pool, pool_version, chain_id, contract, community_hash, pool_hash,
    seq, prev_hash, digest, report, signatures, decision_hash, evidence, created_at_ms, status,
    tx_hash, block_number, attempts, last_error, updated_at_ms
FROM oracle_reports;

DROP TABLE oracle_reports;
ALTER TABLE oracle_reports_next RENAME TO oracle_reports;

CREATE UNIQUE INDEX oracle_reports_live_seq
    ON oracle_reports (chain_id, contract, kind, community_hash, pool_hash, seq)
    WHERE status <> 'superseded';
CREATE INDEX oracle_reports_open ON oracle_reports (id) WHERE status IN ('pending', 'submitted');
CREATE INDEX oracle_reports_pool ON oracle_reports (community_id, pool, seq);

CREATE TRIGGER oracle_reports_no_delete BEFORE DELETE ON oracle_reports
BEGIN SELECT RAISE(ABORT, 'oracle_reports is append-only'); END;
CREATE TRIGGER oracle_reports_content_fixed
BEFORE UPDATE OF id, kind, community_id, pool, pool_version, chain_id, contract, community_hash,
    pool_hash, seq, prev_hash, digest, report, signatures, decision_hash, evidence, created_at_ms,
    outbox_position
ON oracle_reports
BEGIN SELECT RAISE(ABORT, 'a signed report does not change'); END;
CREATE TRIGGER oracle_reports_final BEFORE UPDATE ON oracle_reports
WHEN OLD.status IN ('applied', 'refused', 'superseded')
BEGIN SELECT RAISE(ABORT, 'an applied, refused or superseded report is final'); END;
