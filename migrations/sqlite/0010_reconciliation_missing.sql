-- Reconciliation's patience: the indexed block at which each report this oracle signed was first
-- seen missing from a contract's chain index, so that how long it has been missing survives a
-- restart. One row per (contract, report), written once and never changed: a report is first
-- seen missing once, and the history stays.
-- Keep in step with migrations/postgres/0010_reconciliation_missing.sql.

CREATE TABLE reconciliation_missing (
    chain_id       BIGINT NOT NULL,
    contract       TEXT   NOT NULL,
    digest         TEXT   NOT NULL,
    first_block    BIGINT NOT NULL CHECK (first_block >= 0),
    recorded_at_ms BIGINT NOT NULL,
    PRIMARY KEY (chain_id, contract, digest)
);

CREATE TRIGGER reconciliation_missing_no_update BEFORE UPDATE ON reconciliation_missing
BEGIN SELECT RAISE(ABORT, 'reconciliation_missing is append-only'); END;
CREATE TRIGGER reconciliation_missing_no_delete BEFORE DELETE ON reconciliation_missing
BEGIN SELECT RAISE(ABORT, 'reconciliation_missing is append-only'); END;
