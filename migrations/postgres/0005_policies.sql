-- The policy engine's record: policy versions (numbered community-wide), proposals with the
-- version and rule they run under and their vote, every evaluation that changed a proposal's
-- state, and decisions with their canonical evidence and its keccak256.
-- Keep in step with migrations/sqlite/0005_policies.sql.

CREATE TABLE policy_versions (
    community_id   BIGINT NOT NULL REFERENCES communities (id),
    version        BIGINT NOT NULL CHECK (version >= 1),
    policy         TEXT   NOT NULL,
    source         TEXT   NOT NULL,
    source_hash    TEXT   NOT NULL,
    cause_kind     TEXT   NOT NULL,
    cause          TEXT   NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    PRIMARY KEY (community_id, version)
);

CREATE TABLE proposals (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id   BIGINT NOT NULL REFERENCES communities (id),
    policy_version BIGINT NOT NULL,
    policy         TEXT   NOT NULL,
    rule           TEXT   NOT NULL,
    trigger_kind   TEXT   NOT NULL,
    subject        TEXT   NOT NULL,
    opened_at_ms   BIGINT NOT NULL,
    vote_backend   TEXT,
    vote_id        TEXT,
    vote_url       TEXT,
    state          TEXT   NOT NULL CHECK (state IN ('open', 'passed', 'failed')),
    FOREIGN KEY (community_id, policy_version) REFERENCES policy_versions (community_id, version)
);

CREATE INDEX proposals_open ON proposals (community_id, id) WHERE state = 'open';

CREATE TABLE proposal_evaluations (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    proposal_id     BIGINT NOT NULL REFERENCES proposals (id),
    state           TEXT   NOT NULL,
    reason          TEXT   NOT NULL,
    evaluated_at_ms BIGINT NOT NULL
);

CREATE INDEX proposal_evaluations_proposal ON proposal_evaluations (proposal_id, id);

CREATE TABLE decisions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id   BIGINT NOT NULL REFERENCES communities (id),
    proposal_id    BIGINT NOT NULL UNIQUE REFERENCES proposals (id),
    policy_version BIGINT NOT NULL,
    outcome        TEXT   NOT NULL CHECK (outcome IN ('passed', 'failed')),
    reason         TEXT   NOT NULL,
    hash           TEXT   NOT NULL UNIQUE,
    evidence       TEXT   NOT NULL,
    decided_at_ms  BIGINT NOT NULL
);

CREATE TRIGGER policy_versions_append_only BEFORE UPDATE OR DELETE ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER proposal_evaluations_append_only BEFORE UPDATE OR DELETE ON proposal_evaluations
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();

-- A proposal is never deleted; what it is about never changes; its vote is set once; its state
-- leaves `open` once, for good.
CREATE FUNCTION refuse_proposal_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a proposal keeps what it is about, gets its vote once and is decided once';
END;
$$;

CREATE TRIGGER proposals_no_delete BEFORE DELETE ON proposals
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER proposals_content_fixed
    BEFORE UPDATE OF id, community_id, policy_version, policy, rule, trigger_kind, subject, opened_at_ms
    ON proposals
    FOR EACH ROW EXECUTE FUNCTION refuse_proposal_change();
CREATE TRIGGER proposals_vote_once BEFORE UPDATE OF vote_backend, vote_id, vote_url ON proposals
    FOR EACH ROW WHEN (OLD.vote_id IS NOT NULL) EXECUTE FUNCTION refuse_proposal_change();
CREATE TRIGGER proposals_decided_once BEFORE UPDATE OF state ON proposals
    FOR EACH ROW WHEN (OLD.state <> 'open') EXECUTE FUNCTION refuse_proposal_change();
