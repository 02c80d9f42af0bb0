-- The last reconciliation of the outbox with a contract's chain index, kept in the database so
-- that every replica answers GET /v1/oracle/reconciliation, not only the one running the
-- reconciler. One row per indexed contract, replaced at each round: a current state, not history.
-- Keep in step with migrations/postgres/0015_latest_reconciliation.sql.

CREATE TABLE latest_reconciliation (
    chain_id       BIGINT NOT NULL,
    contract       TEXT   NOT NULL,
    result         TEXT   NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    PRIMARY KEY (chain_id, contract)
);
