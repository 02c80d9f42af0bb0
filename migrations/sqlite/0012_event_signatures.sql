-- The contract's second version emits each report's signatures, and a pool report's entry-tree
-- root, in the event itself, so the index keeps them beside the report: an auditor or the service
-- never needs a transaction's calldata. Events indexed from the first version carry neither, and
-- their rows keep both NULL.
-- Keep in step with migrations/postgres/0012_event_signatures.sql.

ALTER TABLE chain_events ADD COLUMN root TEXT;
ALTER TABLE chain_events ADD COLUMN signatures TEXT;

DROP TRIGGER chain_events_content_fixed;
CREATE TRIGGER chain_events_content_fixed
BEFORE UPDATE OF chain_id, contract, block_number, log_index, block_hash, tx_hash, kind, community,
    pool, seq, digest, epoch, signer_bitmap, report, root, signatures
ON chain_events
BEGIN SELECT RAISE(ABORT, 'an indexed event does not change; a reorg deletes it'); END;
