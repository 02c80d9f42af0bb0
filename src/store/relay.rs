//! Where a report stands on its way to the chain, and the only ways it moves: submitted, applied,
//! refused, back to pending for another try, or superseded by a re-issue.
//!
//! Superseding re-issues: a report and every later open report of its chain are signed again with
//! the same content, a fresh window and links to the new digests, in one transaction. The old rows
//! stay, final, naming their successors. After an expiry each successor takes its predecessor's
//! place in the outbox, so the signer set it is checked against does not change; after a rotation
//! landed before it, it moves to the end of the outbox and is signed by the set in force there.
//! A refused report leaves its chain: the open reports after it are re-issued one seq lower, so
//! the chain moves on. Triggers keep applied, refused and superseded reports final and every
//! report's content fixed.

use alloy_primitives::{B256, hex};
use alloy_sol_types::SolValue;
use sqlx::{Any, Transaction};

use super::reports::{
    Place, REPORT_COLUMNS, conflict, decode_row, oracle_error, signer_set_before_place,
};
use super::{Store, StoreError, StoredReport, StoredSigned, corrupt};
use crate::domain::Timestamp;
use crate::oracle::{Oracle, OracleError};
use crate::report::{Digest, Head, Report, SignerSet, ValidityWindow, abi};

/// One report re-issued: the digest that expired unsent and the digest that replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reissue {
    /// Its place in its chain, the same for both.
    pub seq: u64,
    /// The digest of the report that was superseded.
    pub superseded: Digest,
    /// The digest of the re-signed report that replaces it.
    pub successor: Digest,
}

impl Store {
    /// Records that a transaction carrying report `id` was sent, before waiting for it, so that a
    /// restart knows to look for it.
    pub async fn mark_report_submitted(
        &self,
        id: i64,
        tx_hash: B256,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE oracle_reports SET status = 'submitted', tx_hash = $2, attempts = attempts + 1, \
             updated_at_ms = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(tx_hash.to_string())
        .bind(at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that report `id` is on chain (in `block`, by `tx_hash` when known).
    pub async fn mark_report_applied(
        &self,
        id: i64,
        tx_hash: Option<B256>,
        block: Option<u64>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE oracle_reports SET status = 'applied', tx_hash = COALESCE($2, tx_hash), \
             block_number = $3, last_error = NULL, updated_at_ms = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(tx_hash.map(|hash| hash.to_string()))
        .bind(block.map(|block| block as i64))
        .bind(at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that report `id` will never be sent: it failed local verification, or the
    /// contract refused it for a reason that another try cannot change.
    pub async fn mark_report_refused(
        &self,
        id: i64,
        reason: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        set_status(&self.pool, id, "refused", reason, at).await
    }

    /// Records a failed try that will be retried: the report goes back to pending.
    pub async fn mark_report_retry(
        &self,
        id: i64,
        reason: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        set_status(&self.pool, id, "pending", reason, at).await
    }

    /// Supersedes `expired` (the next open report of its chain, found expired by the chain's time
    /// `chain_time`) and every later open report of the same chain with copies re-signed by
    /// `oracle` in a window opening at `chain_time`, each linked to the new digest before it. All
    /// of it commits together or not at all. Returns the re-issues in seq order. A report that is
    /// no longer open (applied, refused, superseded meanwhile) is a conflict: nothing changes.
    pub async fn reissue_expired(
        &self,
        expired: &StoredReport,
        oracle: &Oracle,
        chain_time: u64,
        at: Timestamp,
    ) -> Result<Vec<Reissue>, StoreError> {
        let window = oracle.fresh_window(chain_time);
        let fate = Fate::Reissued(Placement::Kept);
        self.reissue_chain(expired, oracle, window, fate, at).await
    }

    /// Re-signs `stranded` (a pool report the contract refused because its signer set was
    /// rotated out) and every later open report of its pool with the signer set in force at the
    /// end of the outbox, each moved to the end of the outbox, so that it lands after every
    /// rotation signed so far. A conflict if `stranded` is no longer open.
    pub async fn reissue_after_rotation(
        &self,
        stranded: &StoredReport,
        oracle: &Oracle,
        chain_time: u64,
        at: Timestamp,
    ) -> Result<Vec<Reissue>, StoreError> {
        // The same content in the same window would be the same report, with the same digest: the
        // copy's window opens at least a second later, so that it is a report of its own.
        let window = oracle.fresh_window(chain_time.max(stranded.signed.valid_from() + 1));
        let fate = Fate::Reissued(Placement::End);
        self.reissue_chain(stranded, oracle, window, fate, at).await
    }

    /// Refuses `unlandable` for good with `reason` and lets its chain move on: every later open
    /// report of the chain is re-signed one seq lower, the first after the report before
    /// `unlandable`, in a window opening at `chain_time`. Returns those re-issues. All of it commits
    /// together; a conflict if `unlandable` is no longer open.
    pub async fn refuse_and_rebase(
        &self,
        unlandable: &StoredReport,
        reason: &str,
        oracle: &Oracle,
        chain_time: u64,
        at: Timestamp,
    ) -> Result<Vec<Reissue>, StoreError> {
        let window = oracle.fresh_window(chain_time);
        self.reissue_chain(unlandable, oracle, window, Fate::Refused(reason), at)
            .await
    }

    /// In one transaction: settles `front`, the first open report of its chain, by `fate`, and
    /// re-signs the open reports after it (and `front` itself when it is re-issued) in `window`,
    /// from the head `front` followed. A conflict if `front` is no longer its chain's first open
    /// report.
    async fn reissue_chain(
        &self,
        front: &StoredReport,
        oracle: &Oracle,
        window: ValidityWindow,
        fate: Fate<'_>,
        at: Timestamp,
    ) -> Result<Vec<Reissue>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let open = open_from(&mut tx, front).await?;
        if open.first().map(|row| row.id) != Some(front.id) {
            return Err(StoreError::Conflict(format!(
                "report {} is no longer open: it cannot be re-issued",
                front.id
            )));
        }
        let (resigned, placement) = match fate {
            Fate::Reissued(placement) => (&open[..], placement),
            Fate::Refused(reason) => {
                set_status(&mut *tx, front.id, "refused", reason, at).await?;
                (&open[1..], Placement::Kept)
            }
        };
        let head = Head {
            seq: front.signed.seq() - 1,
            digest: front.signed.prev_hash(),
        };
        let reissued = reissue(&mut tx, oracle, resigned, head, window, placement, at).await?;
        tx.commit()
            .await
            .map_err(|e| conflict(e, "the report chain"))?;
        Ok(reissued)
    }
}

/// What becomes of a chain's first open report when its chain is signed again.
enum Fate<'a> {
    /// It is re-signed too, placed so.
    Reissued(Placement),
    /// It is refused for good, for this reason; only the reports after it are re-signed.
    Refused(&'a str),
}

/// Sets report `id`'s relay status, with the reason, through `executor` (the pool, or a
/// transaction that does more).
async fn set_status<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    id: i64,
    status: &str,
    reason: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE oracle_reports SET status = $2, last_error = $3, updated_at_ms = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .bind(at.millis())
    .execute(executor)
    .await?;
    Ok(())
}

/// Where a re-issued report goes in the outbox, which decides the signer set it is signed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    /// Its predecessor's place: the same signer set.
    Kept,
    /// After every stored report: the set of the last rotation signed.
    End,
}

/// Supersedes each of `open` (consecutive seqs of one chain) with a copy re-signed after `head`
/// (then after each copy) in `window`, placed by `placement`. Returns the re-issues in order.
async fn reissue(
    tx: &mut Transaction<'_, Any>,
    oracle: &Oracle,
    open: &[StoredReport],
    mut head: Head,
    window: ValidityWindow,
    placement: Placement,
    at: Timestamp,
) -> Result<Vec<Reissue>, StoreError> {
    let mut reissued = Vec::with_capacity(open.len());
    let mut previous_seq = None;
    for row in open {
        let seq = row.signed.seq();
        if previous_seq.is_some_and(|previous| seq != previous + 1) {
            return Err(corrupt(
                "report chain",
                format!(
                    "open report {} has seq {seq} after seq {previous_seq:?}",
                    row.id
                ),
            ));
        }
        previous_seq = Some(seq);
        let successor = resign(tx, oracle, row, head, window, placement).await?;
        supersede(tx, row.id, successor.digest, at).await?;
        insert_successor(tx, row.id, &successor, placement, at).await?;
        reissued.push(Reissue {
            seq: head.seq + 1,
            superseded: row.signed.digest(),
            successor: successor.digest,
        });
        head = Head {
            seq: head.seq + 1,
            digest: successor.digest,
        };
    }
    Ok(reissued)
}

/// A re-signed report, encoded as stored.
struct Successor {
    seq: u64,
    digest: Digest,
    prev_hash: Digest,
    encoded: Vec<u8>,
    signatures: Vec<u8>,
}

/// The open reports of `expired`'s chain from its seq on, in seq order.
async fn open_from(
    tx: &mut Transaction<'_, Any>,
    expired: &StoredReport,
) -> Result<Vec<StoredReport>, StoreError> {
    let (kind, community_hash, pool_hash, domain) = match &expired.signed {
        StoredSigned::Pool(signed) => {
            let id = signed.report().id();
            ("pool", id.community(), id.pool(), *signed.domain())
        }
        StoredSigned::Signer(signed) => ("signer", B256::ZERO, B256::ZERO, *signed.domain()),
    };
    let sql = format!(
        "SELECT {REPORT_COLUMNS} FROM oracle_reports r LEFT JOIN communities c ON c.id = r.community_id \
         WHERE r.chain_id = $1 AND r.contract = $2 AND r.kind = $3 AND r.community_hash = $4 \
           AND r.pool_hash = $5 AND r.seq >= $6 AND r.status IN ('pending', 'submitted') \
         ORDER BY r.seq"
    );
    let rows = sqlx::query(&sql)
        .bind(domain.chain_id() as i64)
        .bind(domain.verifying_contract().to_string())
        .bind(kind)
        .bind(community_hash.to_string())
        .bind(pool_hash.to_string())
        .bind(expired.signed.seq() as i64)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(decode_row).collect()
}

/// Signs `row`'s content again after `head` in `window`, with the signer set in force where
/// `placement` puts it.
async fn resign(
    tx: &mut Transaction<'_, Any>,
    oracle: &Oracle,
    row: &StoredReport,
    head: Head,
    window: ValidityWindow,
    placement: Placement,
) -> Result<Successor, StoreError> {
    let place = match placement {
        Placement::Kept => Place::Of(row.id),
        Placement::End => Place::End,
    };
    let set = signer_set_before_place(tx, oracle, place).await?;
    let report_error = |e| oracle_error(OracleError::Report(e));
    match &row.signed {
        StoredSigned::Pool(signed) => {
            let report = signed
                .report()
                .reissued(head, window)
                .map_err(report_error)?;
            successor(oracle, &set, report, head, |r| {
                abi::PoolReport::from(r).abi_encode()
            })
        }
        StoredSigned::Signer(signed) => {
            let report = signed
                .report()
                .reissued(head, window)
                .map_err(report_error)?;
            successor(oracle, &set, report, head, |r| {
                abi::SignerReport::from(r).abi_encode()
            })
        }
    }
}

/// Signs `report` with `set` and keeps what the outbox stores of it, encoded by `encode`.
fn successor<R: Report>(
    oracle: &Oracle,
    set: &SignerSet,
    report: R,
    head: Head,
    encode: impl Fn(&R) -> Vec<u8>,
) -> Result<Successor, StoreError> {
    let signed = oracle.sign(report, set).map_err(oracle_error)?;
    Ok(Successor {
        seq: head.seq + 1,
        digest: signed.digest(),
        prev_hash: head.digest,
        encoded: encode(signed.report()),
        signatures: signed.blob(),
    })
}

/// Moves an open report to `superseded`, naming its successor; a conflict if it is not open.
async fn supersede(
    tx: &mut Transaction<'_, Any>,
    id: i64,
    successor: Digest,
    at: Timestamp,
) -> Result<(), StoreError> {
    let moved = sqlx::query(
        "UPDATE oracle_reports SET status = 'superseded', superseded_by = $2, updated_at_ms = $3 \
         WHERE id = $1 AND status IN ('pending', 'submitted')",
    )
    .bind(id)
    .bind(successor.to_string())
    .bind(at.millis())
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(StoreError::Conflict(format!(
            "report {id} is no longer open: it cannot be superseded"
        )));
    }
    Ok(())
}

/// Appends the successor of report `id`: its community, pool, version, seq, decision and evidence,
/// with the new link, window and signatures, at its predecessor's place in the outbox.
async fn insert_successor(
    tx: &mut Transaction<'_, Any>,
    id: i64,
    successor: &Successor,
    placement: Placement,
    at: Timestamp,
) -> Result<(), StoreError> {
    let position = match placement {
        Placement::Kept => "COALESCE(outbox_position, id)",
        Placement::End => {
            "(SELECT MAX(COALESCE(o.outbox_position, o.id)) + 1 FROM oracle_reports o)"
        }
    };
    sqlx::query(&format!(
        "INSERT INTO oracle_reports (kind, community_id, pool, pool_version, chain_id, contract, \
           community_hash, pool_hash, seq, prev_hash, digest, report, signatures, decision_hash, \
           evidence, created_at_ms, updated_at_ms, outbox_position) \
         SELECT kind, community_id, pool, pool_version, chain_id, contract, community_hash, \
           pool_hash, $7, $2, $3, $4, $5, decision_hash, evidence, $6, $6, {position} \
         FROM oracle_reports WHERE id = $1"
    ))
    .bind(id)
    .bind(successor.prev_hash.to_string())
    .bind(successor.digest.to_string())
    .bind(hex::encode_prefixed(&successor.encoded))
    .bind(hex::encode_prefixed(&successor.signatures))
    .bind(at.millis())
    .bind(successor.seq as i64)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict(e, "the report chain"))?;
    Ok(())
}
