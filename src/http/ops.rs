//! Operational routes: liveness, readiness, metrics, the OpenAPI document and the pages that
//! problem `type` URIs point at.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use std::sync::Arc;

use super::problem::{Problem, ProblemKind};
use crate::app::ReplicaStatus;
use crate::store::{LeaseRecord, Store};
use crate::telemetry::Metrics;

/// Liveness: a constant answer, also the floor for load tests.
pub async fn healthz() -> &'static str {
    "ok"
}

/// What `/readyz` answers: ready, and which replica this is and what it runs now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Always `ready` (an unready replica answers a problem).
    pub status: &'static str,
    /// `all`, `public` or `worker`.
    pub role: &'static str,
    /// This replica's name.
    pub replica: String,
    /// The background jobs this replica runs now, by name.
    pub jobs: Vec<&'static str>,
}

/// Readiness: the database answers; says which jobs this replica holds, so an operator (or a
/// load balancer's health check) sees where each job runs.
pub async fn readyz(
    State(store): State<Store>,
    State(status): State<Arc<ReplicaStatus>>,
) -> Result<Json<Readiness>, Problem> {
    store.ping().await?;
    Ok(Json(Readiness {
        status: "ready",
        role: status.role.as_str(),
        replica: status.id.clone(),
        jobs: status.held(),
    }))
}

/// Where the background jobs run: this replica's own, and every job's lease as the database
/// records it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobsView {
    /// The replica answering.
    pub replica: String,
    /// Its role: `all`, `public` or `worker`.
    pub role: &'static str,
    /// The jobs the answering replica runs now.
    pub held: Vec<&'static str>,
    /// Every job ever leased, with its last holder (PostgreSQL; empty on SQLite, where the one
    /// process runs every job).
    pub leases: Vec<LeaseView>,
}

/// One job's lease.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaseView {
    /// The job: `ingest`, `scheduler`, `votes`, `actions`, `relayer`, `indexer` or `reconciler`.
    pub job: String,
    /// The replica that took it last.
    pub holder: String,
    /// How many times it has been taken: it moves on at each takeover.
    pub token: i64,
    /// When it was taken last (RFC 3339).
    pub acquired_at: String,
}

impl From<LeaseRecord> for LeaseView {
    fn from(record: LeaseRecord) -> Self {
        LeaseView {
            job: record.job,
            holder: record.holder,
            token: record.token,
            acquired_at: record.acquired_at.to_rfc3339(),
        }
    }
}

/// Which replica runs each background job.
#[utoipa::path(get, path = "/v1/oracle/jobs", tag = "public",
    responses((status = 200, body = JobsView)))]
pub async fn jobs(
    State(store): State<Store>,
    State(status): State<Arc<ReplicaStatus>>,
) -> Result<Json<JobsView>, Problem> {
    let leases = store.job_leases().await?;
    Ok(Json(JobsView {
        replica: status.id.clone(),
        role: status.role.as_str(),
        held: status.held(),
        leases: leases.into_iter().map(LeaseView::from).collect(),
    }))
}

/// Metrics in the Prometheus text format.
pub async fn metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

/// What a problem `type` means.
pub async fn problem_page(Path(slug): Path<String>) -> Result<impl IntoResponse, Problem> {
    let kind = ProblemKind::from_slug(&slug)
        .ok_or_else(|| Problem::new(ProblemKind::NotFound, format!("no problem type `{slug}`")))?;
    let (_, status, title, explanation) = kind.describe();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{title} ({})\n\n{explanation}\n", status.as_u16()),
    ))
}
