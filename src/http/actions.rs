//! The admin view of a community's intended actions on its platform (private messages, poll
//! closes): each with its state, attempts and the reason of its last failure, newest first.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{PathNames, query_problem};
use super::problem::{FieldError, Problem};
use super::{AppState, live};
use crate::domain::Timestamp;
use crate::store::StoredAction;

/// Most actions one answer lists.
const MAX_ACTIONS_PAGE: u32 = 1_000;

/// How many actions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionsQuery {
    /// The newest this many, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// One intended action.
#[derive(Serialize, ToSchema)]
pub struct ActionView {
    /// Its id.
    id: i64,
    /// `discourse`.
    platform: String,
    /// `private_message` or `poll_close`.
    kind: String,
    /// The caller's name for the intention.
    key: String,
    /// What is sent: recipient, title and body; or the poll.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    /// `pending`, `done` or `refused`.
    state: String,
    /// Attempts so far.
    attempts: i64,
    /// When it is next attempted (while pending).
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<String>,
    /// Why the last attempt failed, or why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// What the platform answered when it took the action.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    result: Option<serde_json::Value>,
    /// When it was intended.
    created_at: String,
    /// When it was done or refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
}

impl From<StoredAction> for ActionView {
    fn from(a: StoredAction) -> Self {
        let pending = a.state == crate::store::ActionState::Pending;
        ActionView {
            id: a.id,
            platform: a.platform,
            kind: a.kind.as_str().to_string(),
            key: a.key,
            payload: a.payload,
            state: a.state.as_str().to_string(),
            attempts: a.attempts,
            next_attempt_at: pending.then(|| a.next_attempt_at.to_rfc3339()),
            last_error: a.last_error,
            result: a.result,
            created_at: a.created_at.to_rfc3339(),
            finished_at: a.finished_at.map(Timestamp::to_rfc3339),
        }
    }
}

/// A community's intended actions, newest first.
#[derive(Serialize, ToSchema)]
pub struct ActionsView {
    /// The actions.
    actions: Vec<ActionView>,
}

/// The community's intended actions on its platform, newest first, with their state.
#[utoipa::path(get, path = "/v1/admin/communities/{community}/actions", tag = "admin",
    params(("community" = String, Path), ActionsQuery),
    security(("admin_token" = [])),
    responses((status = 200, body = ActionsView), (status = 400), (status = 404)))]
pub async fn list_actions(
    State(state): State<AppState>,
    names: PathNames,
    query: Result<Query<ActionsQuery>, QueryRejection>,
) -> Result<Json<ActionsView>, Problem> {
    let Query(query) = query.map_err(query_problem)?;
    let live = live(&state, names.community())?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_ACTIONS_PAGE).contains(&limit) {
        return Err(Problem::invalid_parameter(FieldError::new(
            "limit",
            "range",
            format!("must be from 1 to {MAX_ACTIONS_PAGE}, found {limit}"),
        )));
    }
    let actions = state.store.actions(live.id, i64::from(limit)).await?;
    Ok(Json(ActionsView {
        actions: actions.into_iter().map(ActionView::from).collect(),
    }))
}
