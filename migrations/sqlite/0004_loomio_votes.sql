-- Loomio as a source, and the standard voting API's record of every vote: the intent (stored
-- before any platform is called), each reading that changed the vote, and the evidence kept when
-- it closed. Keep in step with migrations/postgres/0004_loomio_votes.sql.

CREATE TABLE loomio_sources (
    community_id  BIGINT NOT NULL PRIMARY KEY REFERENCES communities (id),
    base_url      TEXT   NOT NULL,
    api_key       TEXT   NOT NULL,
    group_id      BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- One row per vote the service was asked to start. `state` moves
-- starting → open → closing → closed, or starting → failed | cancelled; the worker retries the
-- pending platform action (a start, or a close not yet accepted) at `next_attempt_at_ms`, and
-- re-reads open votes at `next_read_at_ms`. A vote that reached an end does not change again.
CREATE TABLE votes (
    id                    INTEGER PRIMARY KEY,
    community_id          BIGINT NOT NULL REFERENCES communities (id),
    backend               TEXT   NOT NULL,
    intent_key            TEXT   NOT NULL UNIQUE,
    request               TEXT   NOT NULL,
    state                 TEXT   NOT NULL,
    external_id           TEXT,
    url                   TEXT,
    attempts              BIGINT NOT NULL,
    next_attempt_at_ms    BIGINT,
    next_read_at_ms       BIGINT,
    last_error            TEXT,
    created_at_ms         BIGINT NOT NULL,
    updated_at_ms         BIGINT NOT NULL,
    close_requested_at_ms BIGINT,
    close_sent_at_ms      BIGINT,
    closed_at_ms          BIGINT,
    last_read_at_ms       BIGINT,
    UNIQUE (community_id, backend, external_id)
);

CREATE INDEX votes_active ON votes (state, next_attempt_at_ms, next_read_at_ms);

CREATE TRIGGER votes_no_delete BEFORE DELETE ON votes
BEGIN SELECT RAISE(ABORT, 'votes are never deleted'); END;
CREATE TRIGGER votes_intent_fixed
BEFORE UPDATE OF id, community_id, backend, intent_key, request, created_at_ms ON votes
BEGIN SELECT RAISE(ABORT, 'a vote''s intent does not change'); END;
CREATE TRIGGER votes_final BEFORE UPDATE ON votes
WHEN OLD.state IN ('closed', 'failed', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'a vote that reached its end does not change'); END;

-- Every reading that changed a vote's state, tallies or ballots, with the documents it was read
-- from, exactly as received.
CREATE TABLE vote_readings (
    id           INTEGER PRIMARY KEY,
    vote_id      BIGINT NOT NULL REFERENCES votes (id),
    read_at_ms   BIGINT NOT NULL,
    state        TEXT   NOT NULL,
    closed_at_ms BIGINT,
    tallies      TEXT   NOT NULL,
    ballots      TEXT   NOT NULL,
    raw          TEXT   NOT NULL
);

CREATE INDEX vote_readings_vote ON vote_readings (vote_id, id);

CREATE TRIGGER vote_readings_no_update BEFORE UPDATE ON vote_readings
BEGIN SELECT RAISE(ABORT, 'vote_readings is append-only'); END;
CREATE TRIGGER vote_readings_no_delete BEFORE DELETE ON vote_readings
BEGIN SELECT RAISE(ABORT, 'vote_readings is append-only'); END;

-- The documents of a closed vote's final reading, byte for byte: what a decision is audited against.
CREATE TABLE vote_evidence (
    vote_id    BIGINT NOT NULL REFERENCES votes (id),
    position   BIGINT NOT NULL,
    reading_id BIGINT NOT NULL REFERENCES vote_readings (id),
    source     TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    PRIMARY KEY (vote_id, position)
);

CREATE TRIGGER vote_evidence_no_update BEFORE UPDATE ON vote_evidence
BEGIN SELECT RAISE(ABORT, 'vote_evidence is append-only'); END;
CREATE TRIGGER vote_evidence_no_delete BEFORE DELETE ON vote_evidence
BEGIN SELECT RAISE(ABORT, 'vote_evidence is append-only'); END;
