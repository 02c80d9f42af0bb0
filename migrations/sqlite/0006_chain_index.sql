-- The chain indexer: the RevShare contract's report events as read from a node, the recent block
-- hashes that detect reorgs, and how far reading has come. This is a copy of the chain, not
-- history of the service: a reorg deletes what orphaned blocks wrote, and reading again restores
-- the canonical rows. A row's content never changes; only its status moves from seen to confirmed.
-- Keep in step with migrations/postgres/0006_chain_index.sql.

-- How far the index of one contract has read: every block up to block_number is in, and the
-- chain's head was head_number when it was last read. Written in the transaction of its rows.
CREATE TABLE chain_cursors (
    chain_id      BIGINT NOT NULL,
    contract      TEXT   NOT NULL,
    block_number  BIGINT NOT NULL,
    block_hash    TEXT   NOT NULL,
    head_number   BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (chain_id, contract)
);

-- Recent blocks read (the reorg window), linked by parent hash; the cursor's block is always here.
CREATE TABLE chain_blocks (
    chain_id     BIGINT NOT NULL,
    contract     TEXT   NOT NULL,
    block_number BIGINT NOT NULL,
    block_hash   TEXT   NOT NULL,
    parent_hash  TEXT   NOT NULL,
    PRIMARY KEY (chain_id, contract, block_number)
);

-- One row per PoolReportApplied or SignerSetRotated log. kind is 'pool' or 'signers'; community
-- and pool are NULL for 'signers'. epoch is the signing set's epoch for a pool report and the new
-- set's epoch for a rotation. report is the ABI encoding of the report as emitted (0x hex).
CREATE TABLE chain_events (
    chain_id      BIGINT NOT NULL,
    contract      TEXT   NOT NULL,
    block_number  BIGINT NOT NULL,
    log_index     BIGINT NOT NULL,
    block_hash    TEXT   NOT NULL,
    tx_hash       TEXT   NOT NULL,
    kind          TEXT   NOT NULL CHECK (kind IN ('pool', 'signers')),
    community     TEXT,
    pool          TEXT,
    seq           BIGINT NOT NULL,
    digest        TEXT   NOT NULL,
    epoch         BIGINT NOT NULL,
    signer_bitmap TEXT   NOT NULL,
    report        TEXT   NOT NULL,
    status        TEXT   NOT NULL CHECK (status IN ('seen', 'confirmed')),
    PRIMARY KEY (chain_id, contract, block_number, log_index)
);

CREATE INDEX chain_events_pool ON chain_events (chain_id, contract, community, pool, seq);
CREATE INDEX chain_events_digest ON chain_events (chain_id, contract, digest);

CREATE TRIGGER chain_events_content_fixed
BEFORE UPDATE OF chain_id, contract, block_number, log_index, block_hash, tx_hash, kind, community,
    pool, seq, digest, epoch, signer_bitmap, report
ON chain_events
BEGIN SELECT RAISE(ABORT, 'an indexed event does not change; a reorg deletes it'); END;
CREATE TRIGGER chain_events_confirmed_stays BEFORE UPDATE OF status ON chain_events
WHEN OLD.status = 'confirmed' AND NEW.status <> 'confirmed'
BEGIN SELECT RAISE(ABORT, 'a confirmed event stays confirmed until a reorg deletes it'); END;
