-- A refused report never lands, so it no longer holds its place in its chain: the pool (or the
-- signer chain) moves on by another report signed at the same seq, after the last report that can
-- still land. A (chain, seq) is now unique among the rows that are neither superseded nor refused.
-- Keep in step with migrations/postgres/0013_refused_reports_leave_the_chain.sql.

DROP INDEX oracle_reports_live_seq;
CREATE UNIQUE INDEX oracle_reports_live_seq
    ON oracle_reports (chain_id, contract, kind, community_hash, pool_hash, seq)
    WHERE status NOT IN ('superseded', 'refused');
