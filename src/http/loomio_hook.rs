//! `POST /hooks/loomio/{community}`: Loomio's chatbot webhooks, taken as hints only.
//!
//! Loomio's webhooks carry text rendered for a chat room and no signature (see
//! `sources::loomio`). A delivery is bounded in size (413), must be JSON as Loomio sends it
//! (400), and is stored as the community's delivery with platform `loomio`, keyed by the SHA-256
//! of its body since Loomio sends no event id (the same body again is a duplicate). Only then is
//! it answered, `200` (Loomio counts any other status as a failed delivery), and the community's
//! open Loomio votes are re-read through the API. Nothing in the body is read as data: a forged
//! hint makes the service re-read, nothing more.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::PathNames;
use super::hooks::{kept_headers, utf8_body, webhook_body};
use super::problem::{Problem, ProblemKind};
use super::{AppState, live};
use crate::sources::loomio::{self, hint_id};
use crate::store::NewDelivery;

/// The event name stored for every Loomio delivery: what it says is not read.
const HINT_EVENT: &str = "hint";

/// Receives a Loomio webhook for a community, as a hint to re-read its votes.
#[utoipa::path(post, path = "/hooks/loomio/{community}", tag = "webhooks",
    params(("community" = String, Path, description = "The community's slug")),
    request_body(content = Object, description = "Any JSON Loomio's chat integration sends; never read as data"),
    responses((status = 200, description = "Stored (or a duplicate): the community's open Loomio votes are re-read"),
        (status = 400, description = "Not JSON, or not UTF-8"),
        (status = 404, description = "No such community, or no Loomio settings"),
        (status = 413, description = "Larger than ingest.max_body_bytes")))]
pub async fn loomio(
    State(state): State<AppState>,
    names: PathNames,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = webhook_body(&state, body)?;
    let live = live(&state, names.community())?;
    let Some(source) = state.store.loomio_source(live.id).await? else {
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
    let kept = kept_headers(
        &headers,
        &[header::CONTENT_TYPE.as_str(), header::USER_AGENT.as_str()],
    );
    let event_id = hint_id(&body);
    let stored = state
        .store
        .insert_delivery(&NewDelivery {
            community_id: live.id,
            platform: loomio::PLATFORM,
            instance: &source.base_url,
            event_id: &event_id,
            event: HINT_EVENT,
            headers: &kept,
            body: raw,
            received_at: state.clock.now(),
        })
        .await?;
    // Stored or seen before, it is still a hint: something may have changed again.
    state.votes.hint(live.id);
    Ok(match stored {
        Some(delivery) => {
            state.ingest.ring();
            tracing::debug!(community = %live.community.slug, delivery, "Loomio hint stored");
            (
                StatusCode::OK,
                Json(json!({"status": "stored", "delivery": delivery})),
            )
                .into_response()
        }
        None => (StatusCode::OK, Json(json!({"status": "duplicate"}))).into_response(),
    })
}
