-- Communities, their versioned pools and split rules, the member registry and topic facts.
-- History tables are append-only: triggers refuse UPDATE and DELETE (invariant 3).

CREATE TABLE communities (
    id            INTEGER PRIMARY KEY,
    slug          TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    created_at_ms BIGINT  NOT NULL
);

CREATE TABLE pool_versions (
    community_id   BIGINT NOT NULL REFERENCES communities (id),
    pool           TEXT   NOT NULL,
    version        BIGINT NOT NULL CHECK (version >= 1),
    cause_kind     TEXT   NOT NULL,
    cause          TEXT   NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    entry_count    BIGINT NOT NULL,
    PRIMARY KEY (community_id, pool, version)
);

CREATE TABLE pool_entries (
    community_id BIGINT NOT NULL,
    pool         TEXT   NOT NULL,
    version      BIGINT NOT NULL,
    position     BIGINT NOT NULL,
    wallet       TEXT   NOT NULL,
    weight       BIGINT NOT NULL CHECK (weight >= 1),
    label        TEXT,
    member       TEXT,
    PRIMARY KEY (community_id, pool, version, position),
    UNIQUE (community_id, pool, version, wallet),
    FOREIGN KEY (community_id, pool, version) REFERENCES pool_versions (community_id, pool, version)
);

CREATE TABLE split_versions (
    community_id   BIGINT NOT NULL REFERENCES communities (id),
    version        BIGINT NOT NULL CHECK (version >= 1),
    rules          TEXT   NOT NULL,
    cause_kind     TEXT   NOT NULL,
    cause          TEXT   NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    PRIMARY KEY (community_id, version)
);

CREATE TABLE members (
    community_id  BIGINT NOT NULL REFERENCES communities (id),
    member        TEXT   NOT NULL,
    wallet        TEXT,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (community_id, member)
);

CREATE TABLE topics (
    community_id  BIGINT NOT NULL REFERENCES communities (id),
    topic         TEXT   NOT NULL,
    facts         TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (community_id, topic)
);

CREATE TRIGGER pool_versions_no_update BEFORE UPDATE ON pool_versions
BEGIN SELECT RAISE(ABORT, 'pool_versions is append-only'); END;
CREATE TRIGGER pool_versions_no_delete BEFORE DELETE ON pool_versions
BEGIN SELECT RAISE(ABORT, 'pool_versions is append-only'); END;
CREATE TRIGGER pool_entries_no_update BEFORE UPDATE ON pool_entries
BEGIN SELECT RAISE(ABORT, 'pool_entries is append-only'); END;
CREATE TRIGGER pool_entries_no_delete BEFORE DELETE ON pool_entries
BEGIN SELECT RAISE(ABORT, 'pool_entries is append-only'); END;
CREATE TRIGGER split_versions_no_update BEFORE UPDATE ON split_versions
BEGIN SELECT RAISE(ABORT, 'split_versions is append-only'); END;
CREATE TRIGGER split_versions_no_delete BEFORE DELETE ON split_versions
BEGIN SELECT RAISE(ABORT, 'split_versions is append-only'); END;
