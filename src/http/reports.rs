//! Oracle reports over HTTP: a community's signed reports with their relay state, one report as
//! EIP-712 typed data with its signatures (for anyone to check with their own tools), the evidence
//! a decision hash commits to, byte for byte, and the admin's rotation of the signer set.

use alloy_primitives::{Address, B256};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{JsonBody, PathNames, query_problem};
use super::problem::{FieldError, Problem, ProblemKind};
use super::{AppState, live};
use crate::report::{SignerSet, pool_typed_data, signer_typed_data};
use crate::store::{IndexedContract, RelayStatus, Store, StoredReport, StoredSigned};

/// Largest page of reports.
const MAX_REPORTS_PAGE: u32 = 100;

/// One signed report and where it is on its way to the chain.
#[derive(Serialize, ToSchema)]
pub struct ReportView {
    /// `pool` or `signer`.
    pub kind: &'static str,
    /// The pool's name, for pool reports.
    pub pool: Option<String>,
    /// The pool version it reports.
    pub pool_version: Option<u64>,
    /// Its place in its chain.
    pub seq: u64,
    /// Its EIP-712 digest: what every signature signs, and what the next report names.
    pub digest: String,
    /// The previous report's digest.
    pub prev_hash: String,
    /// keccak256 of the evidence of the decision it comes from (`GET /v1/evidence/{hash}`).
    pub decision_hash: Option<String>,
    /// The policy version that made the decision (0: an admin's bootstrap).
    pub policy_version: Option<u64>,
    /// The addresses that signed it, in signature order.
    pub signers: Vec<String>,
    /// Relay state.
    pub status: RelayStatus,
    /// For a superseded report: the digest of the re-issued report that replaced it.
    pub superseded_by: Option<String>,
    /// First Unix second at which the contract may apply it.
    pub valid_from: u64,
    /// Last Unix second at which the contract may apply it; a report still unsent then is
    /// re-issued with a fresh window.
    pub valid_until: u64,
    /// The transaction that carried it.
    pub tx_hash: Option<String>,
    /// The block it was applied in.
    pub block_number: Option<u64>,
    /// Why the last try failed, or why it was refused.
    pub last_error: Option<String>,
    /// When it was signed (RFC 3339).
    pub signed_at: String,
}

impl ReportView {
    fn new(report: &StoredReport) -> Self {
        let (kind, decision_hash, policy_version, signatures, digest, window) = match &report.signed
        {
            StoredSigned::Pool(signed) => (
                "pool",
                Some(signed.report().decision_hash().to_string()),
                Some(signed.report().policy_version()),
                signed.signatures(),
                signed.digest(),
                signed.report().window(),
            ),
            StoredSigned::Signer(signed) => (
                "signer",
                None,
                None,
                signed.signatures(),
                signed.digest(),
                signed.report().window(),
            ),
        };
        let signers = signatures
            .iter()
            .filter_map(|signature| signature.recover(digest).ok())
            .map(|signer| signer.to_string())
            .collect();
        ReportView {
            kind,
            pool: report.pool.clone(),
            pool_version: report.pool_version,
            seq: report.signed.seq(),
            digest: digest.to_string(),
            prev_hash: report.signed.prev_hash().to_string(),
            decision_hash,
            policy_version,
            signers,
            status: report.status,
            superseded_by: report.superseded_by.map(|digest| digest.to_string()),
            valid_from: window.valid_from(),
            valid_until: window.valid_until(),
            tx_hash: report.tx_hash.map(|hash| hash.to_string()),
            block_number: report.block_number,
            last_error: report.last_error.clone(),
            signed_at: report.created_at.to_rfc3339(),
        }
    }
}

/// A report with everything needed to check it independently.
#[derive(Serialize, ToSchema)]
pub struct SignedReportView {
    /// The report and its relay state.
    #[serde(flatten)]
    pub report: ReportView,
    /// The report as EIP-712 typed data (`eth_signTypedData_v4` JSON).
    #[schema(value_type = Object)]
    pub typed_data: serde_json::Value,
    /// The 65-byte (r ‖ s ‖ v) signatures, hex, in the order the contract takes them.
    pub signatures: Vec<String>,
}

/// Paging of a report list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    /// Most reports to return, newest first (1 to 100; default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A community's signed reports, newest first.
#[utoipa::path(get, path = "/v1/communities/{community}/reports", tag = "public",
    params(("community" = String, Path), ReportsQuery),
    responses((status = 200, body = [ReportView]), (status = 404), (status = 422)))]
pub async fn community_reports(
    State(state): State<AppState>,
    names: PathNames,
    query: Result<Query<ReportsQuery>, QueryRejection>,
) -> Result<Json<Vec<ReportView>>, Problem> {
    let Query(query) = query.map_err(query_problem)?;
    let live = live(&state, names.community())?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_REPORTS_PAGE).contains(&limit) {
        return Err(Problem::invalid_fields(vec![FieldError::new(
            "limit",
            "range",
            format!("must be from 1 to {MAX_REPORTS_PAGE}, found {limit}"),
        )]));
    }
    let reports = state.store.community_reports(live.id, limit).await?;
    Ok(Json(reports.iter().map(ReportView::new).collect()))
}

/// One report by its digest, as EIP-712 typed data with its signatures.
#[utoipa::path(get, path = "/v1/reports/{digest}", tag = "public",
    params(("digest" = String, Path, description = "The report's EIP-712 digest, 0x and 64 hex digits")),
    responses((status = 200, body = SignedReportView), (status = 404), (status = 422)))]
pub async fn report(
    State(state): State<AppState>,
    Path(digest): Path<String>,
) -> Result<Json<SignedReportView>, Problem> {
    let digest = parse_hash("digest", &digest)?;
    let report = state
        .store
        .report_by_digest(digest)
        .await?
        .ok_or_else(|| Problem::new(ProblemKind::NotFound, format!("no report {digest}")))?;
    let (typed_data, signatures) = match &report.signed {
        StoredSigned::Pool(signed) => (
            pool_typed_data(signed.report(), signed.domain()),
            signed.signatures(),
        ),
        StoredSigned::Signer(signed) => (
            signer_typed_data(signed.report(), signed.domain()),
            signed.signatures(),
        ),
    };
    Ok(Json(SignedReportView {
        typed_data,
        signatures: signatures.iter().map(ToString::to_string).collect(),
        report: ReportView::new(&report),
    }))
}

/// The evidence a decision hash commits to, byte for byte as it was hashed: keccak256 of this body
/// is the hash in the path.
#[utoipa::path(get, path = "/v1/evidence/{hash}", tag = "public",
    params(("hash" = String, Path, description = "A report's decision hash, 0x and 64 hex digits")),
    responses((status = 200, content_type = "application/json", description = "The evidence bytes"),
        (status = 404), (status = 422)))]
pub async fn evidence(
    State(store): State<Store>,
    Path(hash): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let hash = parse_hash("hash", &hash)?;
    let bytes = store.evidence(hash).await?.ok_or_else(|| {
        Problem::new(
            ProblemKind::NotFound,
            format!("no evidence hashes to {hash}"),
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    ))
}

/// A new signer set for the contract.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignerSetInput {
    /// The new signers (1 to 32 distinct addresses).
    #[schema(value_type = Vec<String>)]
    pub signers: Vec<Address>,
    /// How many of them must sign each report.
    pub threshold: u8,
}

/// Signs the rotation of the oracle's signer set with the set in force and queues it for the
/// chain, after every report signed before it. Reports signed after it are signed by the new set.
#[utoipa::path(put, path = "/v1/admin/oracle/signers", tag = "admin",
    request_body = SignerSetInput, security(("admin_token" = [])),
    responses((status = 202, body = ReportView), (status = 409, description = "The oracle is off"),
        (status = 422), (status = 503, description = "This node holds too few keys of the set in force")))]
pub async fn rotate_signers(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SignerSetInput>,
) -> Result<impl IntoResponse, Problem> {
    let Some(oracle) = &state.oracle else {
        return Err(Problem::new(
            ProblemKind::Conflict,
            "the oracle is off on this node ([oracle] enabled = false)",
        ));
    };
    let mut signers = body.signers;
    signers.sort();
    let next = SignerSet::new(signers, body.threshold).map_err(|e| {
        Problem::invalid_fields(vec![FieldError::new(
            "signers",
            "signer-set",
            e.to_string(),
        )])
    })?;
    let signed = state
        .store
        .append_signer_rotation(next, state.clock.now(), oracle)
        .await?;
    state.relayer.ring();
    let set = signed.report().set();
    tracing::info!(
        seq = signed.report().seq(),
        signers = set.signers().len(),
        threshold = set.threshold(),
        "signer rotation signed and queued"
    );
    let stored = state
        .store
        .report_by_digest(signed.digest().get())
        .await?
        .ok_or_else(|| Problem::new(ProblemKind::Internal, "the stored rotation vanished"))?;
    Ok((StatusCode::ACCEPTED, Json(ReportView::new(&stored))))
}

fn parse_hash(name: &str, text: &str) -> Result<B256, Problem> {
    text.parse::<B256>().map_err(|_| {
        Problem::invalid_fields(vec![FieldError::new(
            name,
            "hash",
            "must be 0x and 64 hex digits",
        )])
    })
}

/// The last comparison of what this oracle signed with what the chain index shows, pool by pool:
/// in sync, behind, missing on chain past the configured patience, or differing.
#[utoipa::path(get, path = "/v1/oracle/reconciliation", tag = "public",
    responses((status = 200, body = crate::app::reconcile::Reconciliation),
        (status = 404, description = "No reconciliation yet: the oracle or the chain indexer is off, or the index is empty")))]
pub async fn reconciliation(State(state): State<AppState>) -> Result<Response, Problem> {
    let not_yet = || {
        Problem::new(
            ProblemKind::NotFound,
            "no reconciliation yet: it needs the oracle and the chain indexer ([indexer]) on, and an index that has read the chain",
        )
    };
    let (Some(oracle), Some(indexer)) = (&state.oracle, &state.config.indexer) else {
        return Err(not_yet());
    };
    let indexed = IndexedContract {
        chain_id: oracle.domain().chain_id(),
        contract: indexer.contract,
    };
    // Stored as the reconciler serialised it, wherever it runs: sent as it is.
    let result = state
        .store
        .latest_reconciliation(&indexed)
        .await?
        .ok_or_else(not_yet)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], result).into_response())
}
