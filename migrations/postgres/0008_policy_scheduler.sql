-- The policy scheduler's progress: which wallet changes it has turned into proposals, and which
-- decisions it has carried out. Both are append-only marks; the work itself is idempotent, so a
-- crash before a mark only repeats work that changes nothing the second time.
-- Keep in step with migrations/sqlite/0008_policy_scheduler.sql.

CREATE TABLE policy_wallet_triggers (
    wallet_change_id BIGINT PRIMARY KEY REFERENCES member_wallet_changes (id),
    community_id     BIGINT NOT NULL REFERENCES communities (id),
    proposal_id      BIGINT REFERENCES proposals (id),
    handled_at_ms    BIGINT NOT NULL
);

CREATE TABLE policy_executions (
    proposal_id    BIGINT PRIMARY KEY REFERENCES proposals (id),
    community_id   BIGINT NOT NULL REFERENCES communities (id),
    executed_at_ms BIGINT NOT NULL
);

CREATE TRIGGER policy_wallet_triggers_append_only BEFORE UPDATE OR DELETE ON policy_wallet_triggers
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER policy_executions_append_only BEFORE UPDATE OR DELETE ON policy_executions
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
