-- The contract's second version emits each report's signatures, and a pool report's entry-tree
-- root, in the event itself, so the index keeps them beside the report: an auditor or the service
-- never needs a transaction's calldata. Events indexed from the first version carry neither, and
-- their rows keep both NULL.
-- Keep in step with migrations/sqlite/0012_event_signatures.sql.

ALTER TABLE chain_events ADD COLUMN root TEXT;
ALTER TABLE chain_events ADD COLUMN signatures TEXT;

CREATE OR REPLACE FUNCTION refuse_chain_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.chain_id, NEW.contract, NEW.block_number, NEW.log_index, NEW.block_hash, NEW.tx_hash,
        NEW.kind, NEW.community, NEW.pool, NEW.seq, NEW.digest, NEW.epoch, NEW.signer_bitmap,
        NEW.report, NEW.root, NEW.signatures)
       IS DISTINCT FROM
       (OLD.chain_id, OLD.contract, OLD.block_number, OLD.log_index, OLD.block_hash, OLD.tx_hash,
        OLD.kind, OLD.community, OLD.pool, OLD.seq, OLD.digest, OLD.epoch, OLD.signer_bitmap,
        OLD.report, OLD.root, OLD.signatures) THEN
        RAISE EXCEPTION 'an indexed event does not change; a reorg deletes it';
    END IF;
    IF OLD.status = 'confirmed' AND NEW.status <> 'confirmed' THEN
        RAISE EXCEPTION 'a confirmed event stays confirmed until a reorg deletes it';
    END IF;
    RETURN NEW;
END;
$$;
