-- Loomio's unsigned webhooks are hints: they carry no data the service reads, so each community
-- keeps one row, its last hint (the SHA-256 of its body, to tell a repeat), when it came and how
-- many came. The row is overwritten by every hint, so a stream of anonymous hints stores nothing
-- more; hints stored as deliveries before this table existed stay where they are.
-- Keep in step with migrations/sqlite/0011_loomio_hints.sql.

CREATE TABLE loomio_hints (
    community_id        BIGINT NOT NULL PRIMARY KEY REFERENCES communities (id),
    last_digest         TEXT   NOT NULL,
    last_received_at_ms BIGINT NOT NULL,
    received            BIGINT NOT NULL CHECK (received >= 1)
);
