//! Operational routes: liveness, readiness, metrics, the OpenAPI document and the pages that
//! problem `type` URIs point at.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;

use std::sync::Arc;

use super::problem::{Problem, ProblemKind};
use crate::store::Store;
use crate::telemetry::Metrics;

/// Liveness: a constant answer, also the floor for load tests.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
pub async fn readyz(State(store): State<Store>) -> Result<&'static str, Problem> {
    store.ping().await?;
    Ok("ready")
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
