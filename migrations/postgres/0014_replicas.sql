-- Several replicas on one database (PostgreSQL only: SQLite serves one process).
--
-- community_stamps: a counter per community, moved on in the same transaction as any change a
-- selection snapshot is built from, and announced on the `revshare_snapshot` channel at commit
-- (payload `community_id:transaction_start_ms`; one notice per community and transaction, as
-- PostgreSQL folds equal payloads). A replica refreshes a community's snapshot when
-- told, and compares every stamp on an interval in case a notification was lost.
--
-- job_leases: who holds each background job. The lease itself is an advisory lock held on the
-- holder's own connection; this row records the holder, a token that moves on at each taking (so
-- operators, and `/v1/oracle/jobs`, see who runs what and how often it moved), and when the holder
-- last checked its connection, by the database's clock: a replica that takes a lock freed before
-- the holder could notice (its session ended by the server) waits out the holder's next checks.

CREATE TABLE community_stamps (
    community_id BIGINT NOT NULL PRIMARY KEY REFERENCES communities (id),
    stamp        BIGINT NOT NULL
);

CREATE FUNCTION announce_community_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed BIGINT;
BEGIN
    IF TG_TABLE_NAME = 'communities' THEN
        changed := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        changed := OLD.community_id;
    ELSE
        changed := NEW.community_id;
    END IF;
    INSERT INTO community_stamps (community_id, stamp) VALUES (changed, 1)
        ON CONFLICT (community_id) DO UPDATE SET stamp = community_stamps.stamp + 1;
    RETURN NULL;
END;
$$;

-- The notice is sent by the stamp's own trigger, so the stamp and its notice cannot part: a lost
-- notice leaves a moved stamp for the comparison to find.
CREATE FUNCTION notify_community_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('revshare_snapshot',
        NEW.community_id::text || ':' || (extract(epoch FROM now()) * 1000)::bigint::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER community_stamps_notify AFTER INSERT OR UPDATE ON community_stamps
    FOR EACH ROW EXECUTE FUNCTION notify_community_change();

CREATE TRIGGER communities_announce AFTER INSERT ON communities
    FOR EACH ROW EXECUTE FUNCTION announce_community_change();
CREATE TRIGGER pool_versions_announce AFTER INSERT ON pool_versions
    FOR EACH ROW EXECUTE FUNCTION announce_community_change();
CREATE TRIGGER split_versions_announce AFTER INSERT ON split_versions
    FOR EACH ROW EXECUTE FUNCTION announce_community_change();
CREATE TRIGGER members_announce AFTER INSERT OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION announce_community_change();
CREATE TRIGGER members_announce_wallet AFTER UPDATE ON members
    FOR EACH ROW WHEN (OLD.wallet IS DISTINCT FROM NEW.wallet OR OLD.member <> NEW.member)
    EXECUTE FUNCTION announce_community_change();
CREATE TRIGGER topics_announce AFTER INSERT OR DELETE ON topics
    FOR EACH ROW EXECUTE FUNCTION announce_community_change();
CREATE TRIGGER topics_announce_facts AFTER UPDATE ON topics
    FOR EACH ROW WHEN (OLD.facts IS DISTINCT FROM NEW.facts)
    EXECUTE FUNCTION announce_community_change();

INSERT INTO community_stamps (community_id, stamp) SELECT id, 1 FROM communities;

CREATE TABLE job_leases (
    job            TEXT   NOT NULL PRIMARY KEY,
    holder         TEXT   NOT NULL,
    token          BIGINT NOT NULL,
    acquired_at_ms BIGINT NOT NULL,
    renewed_at_ms  BIGINT NOT NULL
);
