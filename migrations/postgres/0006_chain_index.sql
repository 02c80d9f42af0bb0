-- The chain indexer: the RevShare contract's report events as read from a node, the recent block
-- hashes that detect reorgs, and how far reading has come. This is a copy of the chain, not
-- history of the service: a reorg deletes what orphaned blocks wrote, and reading again restores
-- the canonical rows. A row's content never changes; only its status moves from seen to confirmed.
-- Keep in step with migrations/sqlite/0006_chain_index.sql.

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

CREATE FUNCTION refuse_chain_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.chain_id, NEW.contract, NEW.block_number, NEW.log_index, NEW.block_hash, NEW.tx_hash,
        NEW.kind, NEW.community, NEW.pool, NEW.seq, NEW.digest, NEW.epoch, NEW.signer_bitmap,
        NEW.report)
       IS DISTINCT FROM
       (OLD.chain_id, OLD.contract, OLD.block_number, OLD.log_index, OLD.block_hash, OLD.tx_hash,
        OLD.kind, OLD.community, OLD.pool, OLD.seq, OLD.digest, OLD.epoch, OLD.signer_bitmap,
        OLD.report) THEN
        RAISE EXCEPTION 'an indexed event does not change; a reorg deletes it';
    END IF;
    IF OLD.status = 'confirmed' AND NEW.status <> 'confirmed' THEN
        RAISE EXCEPTION 'a confirmed event stays confirmed until a reorg deletes it';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER chain_events_content_fixed BEFORE UPDATE ON chain_events
    FOR EACH ROW EXECUTE FUNCTION refuse_chain_event_change();
