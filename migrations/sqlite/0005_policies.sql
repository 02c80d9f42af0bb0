-- The policy engine's record: policy versions (numbered community-wide), proposals with the
-- version and rule they run under and their vote, every evaluation that changed a proposal's
-- state, and decisions with their canonical evidence and its keccak256.
-- Keep in step with migrations/postgres/0005_policies.sql.

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
    id             INTEGER PRIMARY KEY,
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
    id              INTEGER PRIMARY KEY,
    proposal_id     BIGINT NOT NULL REFERENCES proposals (id),
    state           TEXT   NOT NULL,
    reason          TEXT   NOT NULL,
    evaluated_at_ms BIGINT NOT NULL
);

CREATE INDEX proposal_evaluations_proposal ON proposal_evaluations (proposal_id, id);

CREATE TABLE decisions (
    id             INTEGER PRIMARY KEY,
    community_id   BIGINT NOT NULL REFERENCES communities (id),
    proposal_id    BIGINT NOT NULL UNIQUE REFERENCES proposals (id),
    policy_version BIGINT NOT NULL,
    outcome        TEXT   NOT NULL CHECK (outcome IN ('passed', 'failed')),
    reason         TEXT   NOT NULL,
    hash           TEXT   NOT NULL UNIQUE,
    evidence       TEXT   NOT NULL,
    decided_at_ms  BIGINT NOT NULL
);

CREATE TRIGGER policy_versions_no_update BEFORE UPDATE ON policy_versions
BEGIN SELECT RAISE(ABORT, 'policy_versions is append-only'); END;
CREATE TRIGGER policy_versions_no_delete BEFORE DELETE ON policy_versions
BEGIN SELECT RAISE(ABORT, 'policy_versions is append-only'); END;
CREATE TRIGGER proposal_evaluations_no_update BEFORE UPDATE ON proposal_evaluations
BEGIN SELECT RAISE(ABORT, 'proposal_evaluations is append-only'); END;
CREATE TRIGGER proposal_evaluations_no_delete BEFORE DELETE ON proposal_evaluations
BEGIN SELECT RAISE(ABORT, 'proposal_evaluations is append-only'); END;
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions is append-only'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions is append-only'); END;

-- A proposal is never deleted; what it is about never changes; its vote is set once; its state
-- leaves `open` once, for good.
CREATE TRIGGER proposals_no_delete BEFORE DELETE ON proposals
BEGIN SELECT RAISE(ABORT, 'proposals is append-only'); END;
CREATE TRIGGER proposals_content_fixed
BEFORE UPDATE OF id, community_id, policy_version, policy, rule, trigger_kind, subject, opened_at_ms
ON proposals
BEGIN SELECT RAISE(ABORT, 'a proposal does not change what it is about'); END;
CREATE TRIGGER proposals_vote_once BEFORE UPDATE OF vote_backend, vote_id, vote_url ON proposals
WHEN OLD.vote_id IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a proposal''s vote is set once'); END;
CREATE TRIGGER proposals_decided_once BEFORE UPDATE OF state ON proposals
WHEN OLD.state <> 'open'
BEGIN SELECT RAISE(ABORT, 'a proposal is decided once'); END;
