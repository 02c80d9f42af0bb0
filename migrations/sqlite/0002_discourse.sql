-- Discourse as a source: per-community settings, every accepted webhook delivery (the event log),
-- the member registry's platform facts, the history of members' wallets, and topic categories.
-- Keep in step with migrations/postgres/0002_discourse.sql.

CREATE TABLE discourse_sources (
    community_id    BIGINT NOT NULL PRIMARY KEY REFERENCES communities (id),
    base_url        TEXT   NOT NULL,
    webhook_secret  TEXT   NOT NULL,
    wallet_field    TEXT   NOT NULL,
    wallet_field_id TEXT   NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);

-- One row per accepted delivery, stored before the webhook is answered. A redelivery of the same
-- (community, platform, instance, event id) hits the UNIQUE key and changes nothing.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    community_id    BIGINT NOT NULL REFERENCES communities (id),
    platform        TEXT   NOT NULL,
    instance        TEXT   NOT NULL,
    event_id        TEXT   NOT NULL,
    event           TEXT   NOT NULL,
    headers         TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    received_at_ms  BIGINT NOT NULL,
    processed_at_ms BIGINT,
    outcome         TEXT,
    UNIQUE (community_id, platform, instance, event_id)
);

CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (id) WHERE processed_at_ms IS NULL;

-- A delivery is never deleted, its content never changes, and it is marked processed once.
CREATE TRIGGER webhook_deliveries_no_delete BEFORE DELETE ON webhook_deliveries
BEGIN SELECT RAISE(ABORT, 'webhook_deliveries is append-only'); END;
CREATE TRIGGER webhook_deliveries_content_fixed
BEFORE UPDATE OF id, community_id, platform, instance, event_id, event, headers, body, received_at_ms
ON webhook_deliveries
BEGIN SELECT RAISE(ABORT, 'a stored delivery does not change'); END;
CREATE TRIGGER webhook_deliveries_processed_once BEFORE UPDATE ON webhook_deliveries
WHEN OLD.processed_at_ms IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a delivery is processed once'); END;

ALTER TABLE members ADD COLUMN platform TEXT;
ALTER TABLE members ADD COLUMN platform_user_id TEXT;
ALTER TABLE members ADD COLUMN trust_level BIGINT;
ALTER TABLE members ADD COLUMN groups TEXT;

CREATE UNIQUE INDEX members_platform_user ON members (community_id, platform, platform_user_id);

-- Every change of a member's wallet, whoever made it. At most one per delivery.
CREATE TABLE member_wallet_changes (
    id               INTEGER PRIMARY KEY,
    community_id     BIGINT NOT NULL REFERENCES communities (id),
    member           TEXT   NOT NULL,
    platform         TEXT,
    platform_user_id TEXT,
    old_wallet       TEXT,
    new_wallet       TEXT,
    source           TEXT   NOT NULL,
    delivery_id      BIGINT UNIQUE REFERENCES webhook_deliveries (id),
    recorded_at_ms   BIGINT NOT NULL
);

CREATE INDEX member_wallet_changes_member ON member_wallet_changes (community_id, member, id);

CREATE TRIGGER member_wallet_changes_no_update BEFORE UPDATE ON member_wallet_changes
BEGIN SELECT RAISE(ABORT, 'member_wallet_changes is append-only'); END;
CREATE TRIGGER member_wallet_changes_no_delete BEFORE DELETE ON member_wallet_changes
BEGIN SELECT RAISE(ABORT, 'member_wallet_changes is append-only'); END;

ALTER TABLE topics ADD COLUMN category TEXT;
