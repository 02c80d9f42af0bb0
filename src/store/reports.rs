//! Oracle reports and the relayer's outbox: every signed report, stored in the transaction that
//! records the change it reports, then moved from pending to applied (or refused) by the relayer.
//!
//! A report is stored as the contract's ABI encoding of the report struct, its digest, its
//! signature blob and the evidence bytes its decision hash commits to; reading one back checks
//! that the stored digest is still what the bytes hash to, so a changed row cannot be submitted.

use alloy_primitives::{Address, B256, hex};
use alloy_sol_types::SolValue;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Store, StoreError, corrupt, is_unique_violation};
use crate::domain::{Cause, CommunitySlug, Pool, PoolName, PoolVersion, Timestamp};
use crate::oracle::{EvidenceBytes, Oracle, OracleError};
use crate::report::{
    ChainKey, Digest, Domain, Head, PoolReport, Report, SignedReport, SignerReport, SignerSet, abi,
};

/// Where a report is in its way to the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RelayStatus {
    /// Signed, not yet sent (or sent and then found missing).
    Pending,
    /// A transaction carrying it was sent; its fate is not known yet.
    Submitted,
    /// The contract applied it.
    Applied,
    /// It failed local verification or the contract refused it for good; never sent again. It
    /// leaves its chain: the next report of the chain takes its seq.
    Refused,
    /// It was re-issued (it expired before it landed, a rotation landed before it, or an earlier
    /// report of its chain was refused): a re-signed copy takes its place (`superseded_by`).
    /// Never sent again.
    Superseded,
}

impl RelayStatus {
    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(RelayStatus::Pending),
            "submitted" => Ok(RelayStatus::Submitted),
            "applied" => Ok(RelayStatus::Applied),
            "refused" => Ok(RelayStatus::Refused),
            "superseded" => Ok(RelayStatus::Superseded),
            other => Err(corrupt("report status", other)),
        }
    }
}

/// A stored report, decoded and re-hashed.
#[derive(Clone, Debug)]
pub enum StoredSigned {
    /// A pool report.
    Pool(SignedReport<PoolReport>),
    /// A signer rotation.
    Signer(SignedReport<SignerReport>),
}

impl StoredSigned {
    /// The report's digest.
    pub fn digest(&self) -> Digest {
        match self {
            StoredSigned::Pool(signed) => signed.digest(),
            StoredSigned::Signer(signed) => signed.digest(),
        }
    }

    /// The report's seq in its chain.
    pub fn seq(&self) -> u64 {
        match self {
            StoredSigned::Pool(signed) => signed.report().seq(),
            StoredSigned::Signer(signed) => signed.report().seq(),
        }
    }

    /// The digest of the report before it in its chain.
    pub fn prev_hash(&self) -> Digest {
        match self {
            StoredSigned::Pool(signed) => signed.report().prev_hash(),
            StoredSigned::Signer(signed) => signed.report().prev_hash(),
        }
    }

    /// The chain it extends: the signer chain, or one (community, pool).
    pub fn chain(&self) -> ChainKey {
        match self {
            StoredSigned::Pool(signed) => signed.report().chain(),
            StoredSigned::Signer(signed) => signed.report().chain(),
        }
    }

    /// The last Unix second at which the contract may apply it.
    pub fn valid_until(&self) -> u64 {
        match self {
            StoredSigned::Pool(signed) => signed.report().window().valid_until(),
            StoredSigned::Signer(signed) => signed.report().window().valid_until(),
        }
    }

    /// The first Unix second at which the contract may apply it.
    pub fn valid_from(&self) -> u64 {
        match self {
            StoredSigned::Pool(signed) => signed.report().window().valid_from(),
            StoredSigned::Signer(signed) => signed.report().window().valid_from(),
        }
    }
}

/// One row of the outbox, as the relayer and the API read it.
#[derive(Clone, Debug)]
pub struct StoredReport {
    /// Outbox position: reports are submitted in this order.
    pub id: i64,
    /// The signed report.
    pub signed: StoredSigned,
    /// The community's slug, for pool reports.
    pub community: Option<String>,
    /// The pool's name, for pool reports.
    pub pool: Option<String>,
    /// The pool version it reports, for pool reports.
    pub pool_version: Option<u64>,
    /// The evidence its decision hash commits to (empty for signer reports).
    pub evidence: Vec<u8>,
    /// Relay state.
    pub status: RelayStatus,
    /// The last transaction that carried it.
    pub tx_hash: Option<B256>,
    /// The block it was applied in.
    pub block_number: Option<u64>,
    /// Submissions tried.
    pub attempts: u64,
    /// Why the last try failed, when it did.
    pub last_error: Option<String>,
    /// When it was signed.
    pub created_at: Timestamp,
    /// The digest of the re-issued report that replaced it, when it is superseded.
    pub superseded_by: Option<B256>,
    /// Its place in the outbox, which decides the signer set it is signed by: a re-issued report
    /// takes the place of the one it supersedes.
    pub place: i64,
}

pub(super) const REPORT_COLUMNS: &str = "r.id, r.kind, c.slug, r.pool, r.pool_version, r.chain_id, r.contract, \
     r.digest, r.report, r.signatures, r.evidence, r.status, r.tx_hash, r.block_number, \
     r.attempts, r.last_error, r.created_at_ms, r.superseded_by, \
     COALESCE(r.outbox_position, r.id) AS place";

/// A row's place in the outbox: a re-issued report takes the place of the one it supersedes.
pub(super) const PLACE: &str = "COALESCE(r.outbox_position, r.id)";

impl Store {
    /// Appends a new version of a pool and, in the same transaction, the oracle's signed report of
    /// it, chained to the pool's previous report in the oracle's domain and signed by the signer
    /// set in force. Either both are stored or neither. The report commits to `decision`'s
    /// evidence and policy version or, for an admin's change, to the bootstrap's own evidence
    /// under policy version 0.
    #[allow(clippy::too_many_arguments)]
    pub async fn append_reported_pool_version(
        &self,
        community_id: i64,
        community: &CommunitySlug,
        name: &PoolName,
        pool: &Pool,
        cause: &Cause,
        at: Timestamp,
        oracle: &Oracle,
        decision: Option<(&EvidenceBytes, u64)>,
    ) -> Result<PoolVersion, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version =
            super::pools::insert_pool_version(&mut tx, community_id, name, pool, cause, at).await?;
        let (evidence, policy_version) = match decision {
            Some((evidence, policy_version)) => (evidence.clone(), policy_version),
            None => (
                EvidenceBytes::bootstrap(community, name, version.version, cause, at),
                0,
            ),
        };
        let id = crate::report::PoolId::new(community, name);
        let domain = oracle.domain();
        let head = chain_head(&mut tx, domain, "pool", id.community(), id.pool()).await?;
        let set = signer_set_in_force(&mut tx, oracle).await?;
        let signed = oracle
            .pool_report(
                head,
                community,
                name,
                pool,
                &evidence,
                policy_version,
                at,
                &set,
            )
            .map_err(oracle_error)?;
        let report = abi::PoolReport::from(signed.report());
        insert_report(
            &mut tx,
            NewRow {
                kind: "pool",
                community_id: Some(community_id),
                pool: Some(name.as_str()),
                pool_version: Some(version.version),
                domain,
                community_hash: id.community(),
                pool_hash: id.pool(),
                seq: signed.report().seq(),
                prev_hash: signed.report().prev_hash().get(),
                digest: signed.digest().get(),
                encoded: report.abi_encode(),
                signatures: signed.blob(),
                decision_hash: evidence.hash,
                evidence: &evidence.bytes,
                at,
            },
        )
        .await?;
        tx.commit().await.map_err(|e| conflict(e, name.as_str()))?;
        Ok(version)
    }

    /// Signs and stores the rotation of the signer set to `next`, after every report stored so far.
    pub async fn append_signer_rotation(
        &self,
        next: SignerSet,
        at: Timestamp,
        oracle: &Oracle,
    ) -> Result<SignedReport<SignerReport>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let domain = oracle.domain();
        let head = chain_head(&mut tx, domain, "signer", B256::ZERO, B256::ZERO).await?;
        let set = signer_set_in_force(&mut tx, oracle).await?;
        let signed = oracle
            .signer_report(head, next, at, &set)
            .map_err(oracle_error)?;
        insert_report(
            &mut tx,
            NewRow {
                kind: "signer",
                community_id: None,
                pool: None,
                pool_version: None,
                domain,
                community_hash: B256::ZERO,
                pool_hash: B256::ZERO,
                seq: signed.report().seq(),
                prev_hash: signed.report().prev_hash().get(),
                digest: signed.digest().get(),
                encoded: abi::SignerReport::from(signed.report()).abi_encode(),
                signatures: signed.blob(),
                decision_hash: B256::ZERO,
                evidence: &[],
                at,
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| conflict(e, "the signer set"))?;
        Ok(signed)
    }

    /// The signer set that signs the next report: the last rotation's, or the oracle's first.
    pub async fn current_signer_set(&self, oracle: &Oracle) -> Result<SignerSet, StoreError> {
        let mut tx = self.pool.begin().await?;
        let set = signer_set_in_force(&mut tx, oracle).await?;
        tx.commit().await?;
        Ok(set)
    }

    /// The signer set a stored report must verify against: the last rotation (neither superseded
    /// nor refused) before its place in the outbox, in the same domain, or the oracle's first set.
    pub async fn signer_set_before(
        &self,
        report_id: i64,
        oracle: &Oracle,
    ) -> Result<SignerSet, StoreError> {
        let mut tx = self.pool.begin().await?;
        let set = signer_set_before_place(&mut tx, oracle, Place::Of(report_id)).await?;
        tx.commit().await?;
        Ok(set)
    }

    /// The oldest open report (pending or submitted) in the oracle's domain: the first of the
    /// chain fronts.
    pub async fn next_open_report(
        &self,
        domain: &Domain,
    ) -> Result<Option<StoredReport>, StoreError> {
        Ok(self.open_chain_fronts(domain).await?.into_iter().next())
    }

    /// The first open report (pending or submitted) of each chain in the oracle's domain, in
    /// outbox order: every chain the relayer may move, each independently of the others.
    pub async fn open_chain_fronts(
        &self,
        domain: &Domain,
    ) -> Result<Vec<StoredReport>, StoreError> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM oracle_reports r LEFT JOIN communities c ON c.id = r.community_id \
             WHERE r.status IN ('pending', 'submitted') AND r.chain_id = $1 AND r.contract = $2 \
               AND NOT EXISTS (SELECT 1 FROM oracle_reports e \
                 WHERE e.status IN ('pending', 'submitted') AND e.chain_id = r.chain_id \
                   AND e.contract = r.contract AND e.kind = r.kind \
                   AND COALESCE(e.community_hash, '') = COALESCE(r.community_hash, '') \
                   AND COALESCE(e.pool_hash, '') = COALESCE(r.pool_hash, '') \
                   AND COALESCE(e.outbox_position, e.id) < {PLACE}) \
             ORDER BY {PLACE}"
        );
        let rows = sqlx::query(&sql)
            .bind(domain.chain_id() as i64)
            .bind(domain.verifying_contract().to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// A community's reports, newest first (at most `limit`).
    pub async fn community_reports(
        &self,
        community_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredReport>, StoreError> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM oracle_reports r LEFT JOIN communities c ON c.id = r.community_id \
             WHERE r.community_id = $1 ORDER BY r.id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(community_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// The latest pool report of every pool in `domain` (superseded and refused ones left out:
    /// they never go on chain): what the chain should show.
    pub async fn latest_pool_reports(
        &self,
        domain: &Domain,
    ) -> Result<Vec<StoredReport>, StoreError> {
        self.pool_reports_where(
            domain,
            "r.status NOT IN ('superseded', 'refused') AND r.seq = ( \
               SELECT MAX(l.seq) FROM oracle_reports l WHERE l.kind = 'pool' AND l.chain_id = r.chain_id \
                 AND l.contract = r.contract AND l.community_hash = r.community_hash \
                 AND l.pool_hash = r.pool_hash AND l.status NOT IN ('superseded', 'refused'))",
        )
        .await
    }

    /// Every pool report in `domain` refused for good, in outbox order: the reports the chain
    /// could never accept, which reconciliation names beside their pools.
    pub async fn refused_pool_reports(
        &self,
        domain: &Domain,
    ) -> Result<Vec<StoredReport>, StoreError> {
        self.pool_reports_where(domain, "r.status = 'refused'")
            .await
    }

    /// The pool reports of `domain` that meet `condition` (SQL over `r`, the report row), in
    /// outbox order.
    async fn pool_reports_where(
        &self,
        domain: &Domain,
        condition: &str,
    ) -> Result<Vec<StoredReport>, StoreError> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM oracle_reports r LEFT JOIN communities c ON c.id = r.community_id \
             WHERE r.kind = 'pool' AND r.chain_id = $1 AND r.contract = $2 AND {condition} \
             ORDER BY r.id"
        );
        let rows = sqlx::query(&sql)
            .bind(domain.chain_id() as i64)
            .bind(domain.verifying_contract().to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// A report by its digest, superseded ones included.
    pub async fn report_by_digest(&self, digest: B256) -> Result<Option<StoredReport>, StoreError> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM oracle_reports r LEFT JOIN communities c ON c.id = r.community_id \
             WHERE r.digest = $1"
        );
        let row = sqlx::query(&sql)
            .bind(digest.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| decode_row(&row)).transpose()
    }

    /// The evidence bytes whose keccak256 is `hash`, from any stored report.
    pub async fn evidence(&self, hash: B256) -> Result<Option<Vec<u8>>, StoreError> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT evidence FROM oracle_reports WHERE decision_hash = $1 ORDER BY id LIMIT 1",
        )
        .bind(hash.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(text.map(String::into_bytes))
    }
}

/// The columns of a new report row.
struct NewRow<'a> {
    kind: &'static str,
    community_id: Option<i64>,
    pool: Option<&'a str>,
    pool_version: Option<u64>,
    domain: &'a Domain,
    community_hash: B256,
    pool_hash: B256,
    seq: u64,
    prev_hash: B256,
    digest: B256,
    encoded: Vec<u8>,
    signatures: Vec<u8>,
    decision_hash: B256,
    evidence: &'a [u8],
    at: Timestamp,
}

async fn insert_report(tx: &mut Transaction<'_, Any>, row: NewRow<'_>) -> Result<(), StoreError> {
    let evidence =
        String::from_utf8(row.evidence.to_vec()).map_err(|e| corrupt("report evidence", e))?;
    sqlx::query(
        "INSERT INTO oracle_reports (kind, community_id, pool, pool_version, chain_id, contract, \
           community_hash, pool_hash, seq, prev_hash, digest, report, signatures, decision_hash, \
           evidence, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)",
    )
    .bind(row.kind)
    .bind(row.community_id)
    .bind(row.pool)
    .bind(row.pool_version.map(|v| v as i64))
    .bind(row.domain.chain_id() as i64)
    .bind(row.domain.verifying_contract().to_string())
    .bind(row.community_hash.to_string())
    .bind(row.pool_hash.to_string())
    .bind(row.seq as i64)
    .bind(row.prev_hash.to_string())
    .bind(row.digest.to_string())
    .bind(hex::encode_prefixed(&row.encoded))
    .bind(hex::encode_prefixed(&row.signatures))
    .bind(row.decision_hash.to_string())
    .bind(evidence)
    .bind(row.at.millis())
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict(e, "the report chain"))?;
    Ok(())
}

/// The last report of a chain in `domain` that can still land (superseded and refused ones left
/// out), as the next one must follow it.
pub(super) async fn chain_head(
    tx: &mut Transaction<'_, Any>,
    domain: &Domain,
    kind: &str,
    community_hash: B256,
    pool_hash: B256,
) -> Result<Head, StoreError> {
    let row = sqlx::query(
        "SELECT seq, digest FROM oracle_reports \
         WHERE chain_id = $1 AND contract = $2 AND kind = $3 AND community_hash = $4 AND pool_hash = $5 \
           AND status NOT IN ('superseded', 'refused') \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(domain.chain_id() as i64)
    .bind(domain.verifying_contract().to_string())
    .bind(kind)
    .bind(community_hash.to_string())
    .bind(pool_hash.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(Head::GENESIS);
    };
    let seq: i64 = row.try_get("seq")?;
    let digest: String = row.try_get("digest")?;
    Ok(Head {
        seq: seq as u64,
        digest: Digest::new(digest.parse().map_err(|e| corrupt("report digest", e))?),
    })
}

async fn signer_set_in_force(
    tx: &mut Transaction<'_, Any>,
    oracle: &Oracle,
) -> Result<SignerSet, StoreError> {
    signer_set_before_place(tx, oracle, Place::End).await
}

/// A place in the outbox that a signer set is looked up before.
pub(super) enum Place {
    /// The place of the report with this id.
    Of(i64),
    /// After every stored report.
    End,
}

/// The set of the last rotation (neither superseded nor refused) before `place` in the oracle's domain, or the
/// oracle's first set.
pub(super) async fn signer_set_before_place(
    tx: &mut Transaction<'_, Any>,
    oracle: &Oracle,
    place: Place,
) -> Result<SignerSet, StoreError> {
    let domain = oracle.domain();
    let before = match place {
        Place::Of(id) => sqlx::query_scalar::<_, i64>(&format!(
            "SELECT {PLACE} FROM oracle_reports r WHERE r.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| corrupt("report", format!("no report {id}")))?,
        Place::End => i64::MAX,
    };
    let row: Option<String> = sqlx::query_scalar(&format!(
        "SELECT r.report FROM oracle_reports r WHERE r.kind = 'signer' AND r.chain_id = $1 \
           AND r.contract = $2 AND r.status NOT IN ('superseded', 'refused') AND {PLACE} < $3 \
         ORDER BY {PLACE} DESC LIMIT 1"
    ))
    .bind(domain.chain_id() as i64)
    .bind(domain.verifying_contract().to_string())
    .bind(before)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(report) => decode_signer_set(&report),
        None => Ok(oracle.genesis().clone()),
    }
}

pub(super) fn decode_signer_set(encoded: &str) -> Result<SignerSet, StoreError> {
    let bytes = hex::decode(encoded).map_err(|e| corrupt("stored signer report", e))?;
    let report =
        abi::SignerReport::abi_decode(&bytes).map_err(|e| corrupt("stored signer report", e))?;
    SignerSet::new(report.signers, report.threshold).map_err(|e| corrupt("stored signer set", e))
}

pub(super) fn decode_row(row: &AnyRow) -> Result<StoredReport, StoreError> {
    let kind: String = row.try_get("kind")?;
    let chain_id: i64 = row.try_get("chain_id")?;
    let contract: String = row.try_get("contract")?;
    let contract: Address = contract
        .parse()
        .map_err(|e| corrupt("report contract", e))?;
    let domain = Domain::new(chain_id as u64, contract);
    let bytes = |column: &str| -> Result<Vec<u8>, StoreError> {
        let text: String = row.try_get(column)?;
        hex::decode(text).map_err(|e| corrupt(column, e))
    };
    let encoded = bytes("report")?;
    let signatures = bytes("signatures")?;
    let signed = match kind.as_str() {
        "pool" => {
            let abi = abi::PoolReport::abi_decode(&encoded)
                .map_err(|e| corrupt("stored pool report", e))?;
            let report =
                PoolReport::try_from(&abi).map_err(|e| corrupt("stored pool report", e))?;
            StoredSigned::Pool(
                SignedReport::from_blob(report, domain, &signatures)
                    .map_err(|e| corrupt("stored signatures", e))?,
            )
        }
        "signer" => {
            let abi = abi::SignerReport::abi_decode(&encoded)
                .map_err(|e| corrupt("stored signer report", e))?;
            let report =
                SignerReport::try_from(&abi).map_err(|e| corrupt("stored signer report", e))?;
            StoredSigned::Signer(
                SignedReport::from_blob(report, domain, &signatures)
                    .map_err(|e| corrupt("stored signatures", e))?,
            )
        }
        other => return Err(corrupt("report kind", other)),
    };
    let stored_digest: String = row.try_get("digest")?;
    if stored_digest != signed.digest().get().to_string() {
        return Err(corrupt(
            "stored report",
            format!("digest {stored_digest} is not what its bytes hash to"),
        ));
    }
    let hash = |text: Option<String>| -> Result<Option<B256>, StoreError> {
        text.map(|t| t.parse().map_err(|e| corrupt("transaction hash", e)))
            .transpose()
    };
    Ok(StoredReport {
        id: row.try_get("id")?,
        signed,
        community: row.try_get("slug")?,
        pool: row.try_get("pool")?,
        pool_version: row
            .try_get::<Option<i64>, _>("pool_version")?
            .map(|v| v as u64),
        evidence: row.try_get::<String, _>("evidence")?.into_bytes(),
        status: RelayStatus::parse(&row.try_get::<String, _>("status")?)?,
        tx_hash: hash(row.try_get("tx_hash")?)?,
        block_number: row
            .try_get::<Option<i64>, _>("block_number")?
            .map(|b| b as u64),
        attempts: row.try_get::<i64, _>("attempts")? as u64,
        last_error: row.try_get("last_error")?,
        created_at: Timestamp(row.try_get("created_at_ms")?),
        superseded_by: row
            .try_get::<Option<String>, _>("superseded_by")?
            .map(|digest| digest.parse().map_err(|e| corrupt("successor digest", e)))
            .transpose()?,
        place: row.try_get("place")?,
    })
}

pub(super) fn oracle_error(e: OracleError) -> StoreError {
    StoreError::Oracle(Box::new(e))
}

pub(super) fn conflict(e: sqlx::Error, what: &str) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(what.to_string())
    } else {
        StoreError::from(e)
    }
}
