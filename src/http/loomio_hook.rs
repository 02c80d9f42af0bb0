//! `POST /hooks/loomio/{community}`: Loomio's chatbot webhooks, taken as hints only.
//!
//! Loomio's webhooks carry text rendered for a chat room and no signature (see
//! `sources::loomio`). A delivery is bounded in size (413) and must be JSON as Loomio sends it
//! (400). Nothing in the body is read as data, and the body is not kept: the community's last
//! hint (the SHA-256 of its body, to tell a repeat) and a count are all that is recorded, then
//! the hook answers `200` (Loomio counts any other status as a failed delivery) and the
//! community's open Loomio votes are re-read through the API. A forged hint makes the service
//! re-read, nothing more; hints beyond `ingest.loomio_hints_per_minute` for a community are
//! answered 429 with `Retry-After`, recording nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::PathNames;
use super::hooks::{utf8_body, webhook_body};
use super::problem::{Problem, ProblemKind};
use super::{AppState, live};
use crate::app::HintOutcome;
use crate::sources::loomio::hint_id;

/// Receives a Loomio webhook for a community, as a hint to re-read its votes.
#[utoipa::path(post, path = "/hooks/loomio/{community}", tag = "webhooks",
    params(("community" = String, Path, description = "The community's slug")),
    request_body(content = Object, description = "Any JSON Loomio's chat integration sends; never read as data"),
    responses((status = 200, description = "Recorded (`repeat` when the body is the last hint's): the community's open Loomio votes are re-read"),
        (status = 400, description = "Not JSON, or not UTF-8"),
        (status = 404, description = "No such community, or no Loomio settings"),
        (status = 413, description = "Larger than ingest.max_body_bytes"),
        (status = 429, description = "Over ingest.loomio_hints_per_minute for this community; nothing recorded")))]
pub async fn loomio(
    State(state): State<AppState>,
    names: PathNames,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = webhook_body(&state, body)?;
    let live = live(&state, names.community())?;
    if state.store.loomio_source(live.id).await?.is_none() {
        return Err(Problem::new(
            ProblemKind::SourceNotConfigured,
            format!("community `{}` has no Loomio settings", live.community.slug),
        ));
    };
    let raw = utf8_body(&body)?;
    serde_json::from_str::<serde::de::IgnoredAny>(raw).map_err(|e| {
        Problem::new(
            ProblemKind::MalformedJson,
            format!("Loomio sends JSON; this body is not: {e}"),
        )
    })?;
    match state.loomio_hints.receive(live.id, &hint_id(&body)).await? {
        HintOutcome::Recorded(record) => {
            tracing::debug!(community = %live.community.slug, received = record.received,
                "Loomio hint recorded");
            Ok((
                StatusCode::OK,
                Json(json!({
                    "status": "recorded",
                    "repeat": record.repeat,
                    "received": record.received,
                })),
            )
                .into_response())
        }
        HintOutcome::Throttled { retry_after } => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            Err(Problem::new(
                ProblemKind::RateLimited,
                format!(
                    "community `{}` received more Loomio hints than it takes in a minute; \
                     its open votes are re-read anyway",
                    live.community.slug
                ),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(seconds.max(1))))
        }
    }
}
