-- Several replicas on one database (PostgreSQL only: SQLite serves one process).
--
-- community_stamps: a counter per community, moved on in the same transaction as any change a
-- selection snapshot is built from, and announced on the `revshare_snapshot` channel at commit
-- (payload `community_id:transaction_start_ms`). A replica refreshes a community's snapshot when
-- told, and compares every stamp on an interval in case a notification was lost.
--
-- job_leases: who holds each background job. The lease itself is an advisory lock held on the
-- holder's own connection; this row records the holder and a token that moves on at each taking,
-- so operators (and `/v1/oracle/jobs`) can see who runs what and how often it moved.

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
    PERFORM pg_notify('revshare_snapshot',
        changed::text || ':' || (extract(epoch FROM now()) * 1000)::bigint::text);
    RETURN NULL;
END;
$$;

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
    acquired_at_ms BIGINT NOT NULL
);
