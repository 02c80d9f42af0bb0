-- Discourse's API: how the service acts on a community's site (API key and username, where polls
-- go, when the wallet field's id was resolved), and the durable outbox of the actions the service
-- intends there (private messages, poll closes) with every attempt at them.
-- Keep in step with migrations/postgres/0003_discourse_api.sql.

ALTER TABLE discourse_sources ADD COLUMN api_key TEXT;
ALTER TABLE discourse_sources ADD COLUMN api_username TEXT;
ALTER TABLE discourse_sources ADD COLUMN poll_topic_id BIGINT;
ALTER TABLE discourse_sources ADD COLUMN poll_category_id BIGINT;
ALTER TABLE discourse_sources ADD COLUMN wallet_field_resolved_at_ms BIGINT;

-- One row per intended action, stored before anything is sent. Its content never changes; its
-- state moves from 'pending' to 'done' or 'refused' once, and a finished action never changes.
CREATE TABLE platform_actions (
    id                 INTEGER PRIMARY KEY,
    community_id       BIGINT NOT NULL REFERENCES communities (id),
    platform           TEXT   NOT NULL,
    kind               TEXT   NOT NULL,
    action_key         TEXT   NOT NULL,
    payload            TEXT   NOT NULL,
    created_at_ms      BIGINT NOT NULL,
    state              TEXT   NOT NULL DEFAULT 'pending',
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error         TEXT,
    result             TEXT,
    finished_at_ms     BIGINT,
    UNIQUE (community_id, action_key)
);

CREATE INDEX platform_actions_due ON platform_actions (next_attempt_at_ms) WHERE state = 'pending';

CREATE TRIGGER platform_actions_no_delete BEFORE DELETE ON platform_actions
BEGIN SELECT RAISE(ABORT, 'platform_actions is append-only'); END;
CREATE TRIGGER platform_actions_content_fixed
BEFORE UPDATE OF id, community_id, platform, kind, action_key, payload, created_at_ms
ON platform_actions
BEGIN SELECT RAISE(ABORT, 'an intended action does not change'); END;
CREATE TRIGGER platform_actions_finished_once BEFORE UPDATE ON platform_actions
WHEN OLD.state <> 'pending'
BEGIN SELECT RAISE(ABORT, 'a finished action does not change'); END;

-- Every attempt at an action and how it ended: 'done', 'retry' or 'refused'.
CREATE TABLE platform_action_attempts (
    id             INTEGER PRIMARY KEY,
    action_id      BIGINT NOT NULL REFERENCES platform_actions (id),
    attempt        BIGINT NOT NULL,
    started_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT NOT NULL,
    outcome        TEXT   NOT NULL,
    status         BIGINT,
    detail         TEXT   NOT NULL,
    UNIQUE (action_id, attempt)
);

CREATE TRIGGER platform_action_attempts_no_update BEFORE UPDATE ON platform_action_attempts
BEGIN SELECT RAISE(ABORT, 'platform_action_attempts is append-only'); END;
CREATE TRIGGER platform_action_attempts_no_delete BEFORE DELETE ON platform_action_attempts
BEGIN SELECT RAISE(ABORT, 'platform_action_attempts is append-only'); END;
