//! Proposing a new version of a policy: the text is checked here, then put to the vote the
//! constitution in force prescribes; the policy scheduler adopts it if that vote passes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, PathNames};
use super::problem::{FieldError, Problem, ProblemKind};
use super::{AppState, live};
use crate::policy::Policy;

/// A proposed policy text.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyProposalInput {
    /// The policy's whole TOML text, as it would be adopted.
    pub source: String,
}

/// The proposal opened for it.
#[derive(Serialize, ToSchema)]
pub struct PolicyProposalView {
    /// The proposal's id.
    pub proposal: i64,
    /// The policy it would change.
    pub policy: String,
}

/// Checks a new version of a policy and opens the proposal to adopt it, decided by the
/// constitution in force. A text that is not a valid policy is refused and nothing is stored.
#[utoipa::path(post, path = "/v1/admin/communities/{community}/policies", tag = "admin",
    params(("community" = String, Path)), request_body = PolicyProposalInput,
    security(("admin_token" = [])),
    responses((status = 202, body = PolicyProposalView), (status = 404),
        (status = 409, description = "No policy in force decides policy changes"),
        (status = 422, description = "The text is not a valid policy")))]
pub async fn propose_policy(
    State(state): State<AppState>,
    names: PathNames,
    JsonBody(body): JsonBody<PolicyProposalInput>,
) -> Result<impl IntoResponse, Problem> {
    let community = live(&state, names.community())?;
    let policy = Policy::parse(&body.source).map_err(|e| {
        Problem::invalid_fields(vec![FieldError::new(
            "source",
            "valid-policy",
            e.to_string(),
        )])
    })?;
    let now = state.clock.now();
    let id = state.scheduler.propose_policy_change(
        &community,
        &policy,
        body.source,
        now,
    )
    .await?
    .ok_or_else(|| {
        Problem::new(
            ProblemKind::Conflict,
            "no policy in force decides policy changes (the constitution answers `policy_change`)",
        )
    })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PolicyProposalView {
            proposal: id,
            policy: policy.name().to_string(),
        }),
    ))
}
