//! Webhook receivers: `POST /hooks/discourse/{community}`.
//!
//! A delivery is checked (community, instance, signature over the exact raw body, JSON), stored
//! with the headers that matter, and only then answered 2xx; the ingest worker applies it later
//! (invariant 1). A redelivery of a stored event answers 200 and changes nothing. A refused
//! delivery stores nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::json;

use super::extract::PathNames;
use super::problem::{FieldError, Problem, ProblemKind};
use super::{AppState, live};
use crate::sources::discourse::{
    self, PayloadError, SignatureError, headers as dh, parse_event, same_instance, verify_signature,
};
use crate::store::NewDelivery;

fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A webhook's body, or the problem its extraction ran into (too large, unreadable).
pub(super) fn webhook_body(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, Problem> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                ProblemKind::PayloadTooLarge,
                format!(
                    "a webhook body may be at most {} bytes",
                    state.config.ingest.max_body_bytes
                ),
            )
        } else {
            Problem::new(ProblemKind::MalformedJson, e.body_text())
        }
    })
}

/// The body as text: deliveries are stored byte for byte, so only valid UTF-8 is accepted.
pub(super) fn utf8_body(body: &Bytes) -> Result<&str, Problem> {
    std::str::from_utf8(body)
        .map_err(|_| Problem::new(ProblemKind::MalformedJson, "the body is not valid UTF-8"))
}

/// The headers among `names` that a delivery keeps beside its body.
pub(super) fn kept_headers(headers: &HeaderMap, names: &[&str]) -> serde_json::Value {
    let kept = names
        .iter()
        .filter_map(|&name| text(headers, name).map(|value| (name.to_string(), value.into())))
        .collect();
    serde_json::Value::Object(kept)
}

/// Receives a Discourse webhook for a community.
#[utoipa::path(post, path = "/hooks/discourse/{community}", tag = "webhooks",
    params(("community" = String, Path, description = "The community's slug"),
        ("X-Discourse-Instance" = String, Header, description = "The site's base URL"),
        ("X-Discourse-Event-Signature" = String, Header, description = "`sha256=` and the HMAC-SHA256 of the body"),
        ("X-Discourse-Event-Id" = String, Header), ("X-Discourse-Event" = String, Header)),
    request_body(content = Object, description = "Discourse's webhook payload, checked against its signature"),
    responses((status = 202, description = "Stored; applied by the ingest worker"),
        (status = 200, description = "A redelivery of a stored event: nothing changes"),
        (status = 400, description = "Not JSON, or not UTF-8"), (status = 401, description = "A missing or wrong signature, or another site"),
        (status = 404, description = "No such community, or no Discourse settings"),
        (status = 413, description = "Larger than ingest.max_body_bytes")))]
pub async fn discourse(
    State(state): State<AppState>,
    names: PathNames,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = webhook_body(&state, body)?;
    let live = live(&state, names.community())?;
    let Some(source) = state.store.discourse_source(live.id).await? else {
        return Err(Problem::new(
            ProblemKind::SourceNotConfigured,
            format!(
                "community `{}` has no Discourse settings",
                live.community.slug
            ),
        ));
    };
    let instance = text(&headers, dh::INSTANCE).unwrap_or_default();
    if !same_instance(&source.base_url, instance) {
        return Err(Problem::new(
            ProblemKind::WrongInstance,
            "X-Discourse-Instance does not name the community's Discourse",
        ));
    }
    verify_signature(
        source.webhook_secret.expose_secret().as_bytes(),
        &body,
        headers
            .get(dh::SIGNATURE)
            .map(|v| v.to_str().unwrap_or_default()),
    )
    .map_err(|e: SignatureError| Problem::new(ProblemKind::BadSignature, e.to_string()))?;
    let missing = |name: &str| {
        Problem::invalid_parameter(FieldError::new(
            name,
            "required-header",
            "is required in every Discourse webhook",
        ))
    };
    let event_id = text(&headers, dh::EVENT_ID).ok_or_else(|| missing("X-Discourse-Event-Id"))?;
    let event = text(&headers, dh::EVENT)
        .or_else(|| text(&headers, dh::EVENT_TYPE))
        .ok_or_else(|| missing("X-Discourse-Event"))?;
    if event_id.len() > 64 || event.len() > 100 {
        return Err(Problem::invalid_parameter(FieldError::new(
            "X-Discourse-Event-Id",
            "max-length",
            "event ids and names are short; this one is not",
        )));
    }
    parse_event(event, &body).map_err(|e| match e {
        PayloadError::Syntax(_) => Problem::new(ProblemKind::MalformedJson, e.to_string()),
        PayloadError::Shape { .. } => {
            Problem::invalid_fields(vec![FieldError::new("(body)", "schema", e)])
        }
    })?;
    let raw = utf8_body(&body)?;
    let kept = kept_headers(
        &headers,
        &[
            dh::INSTANCE,
            dh::EVENT_ID,
            dh::EVENT_TYPE,
            dh::EVENT,
            dh::SIGNATURE,
            header::CONTENT_TYPE.as_str(),
            header::USER_AGENT.as_str(),
        ],
    );
    let received_at = state.clock.now();
    let stored = state
        .store
        .insert_delivery(&NewDelivery {
            community_id: live.id,
            platform: discourse::PLATFORM,
            instance: &crate::sources::normalise_site_url(instance),
            event_id,
            event,
            headers: &kept,
            body: raw,
            received_at,
        })
        .await?;
    Ok(match stored {
        Some(delivery) => {
            state.ingest.ring();
            tracing::debug!(community = %live.community.slug, event, event_id, delivery, "webhook stored");
            (
                StatusCode::ACCEPTED,
                Json(json!({"status": "stored", "delivery": delivery})),
            )
                .into_response()
        }
        None => {
            tracing::debug!(community = %live.community.slug, event, event_id, "webhook redelivered");
            (StatusCode::OK, Json(json!({"status": "duplicate"}))).into_response()
        }
    })
}
