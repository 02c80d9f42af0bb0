//! An admin's requests, put to the community: `POST …/proposals` opens a proposal to change a
//! pool or the split under the policy in force that answers admin requests (the constitution, by
//! default), which runs a vote or decides at once; `GET …/proposals/{id}` reads any proposal
//! back with its vote and decision. The service never applies an admin's request by itself: only
//! a decision does.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{JsonBody, PathNames};
use super::problem::{FieldError, Problem, ProblemKind};
use super::{AppState, live};
use crate::domain::CommunitySlug;
use crate::policy::{RequestedChange, Subject};
use crate::store::{ProposalState, StoredProposal};

/// Longest note an admin may give with a request, in characters.
const MAX_NOTE_CHARS: usize = 2_000;

/// A change an admin asks the community to decide on: the shape of the replay log's
/// `admin_request` fact.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminRequestInput {
    /// Why, in the admin's words; shown to the voters.
    pub note: String,
    /// What: `{"change": "add_entry", "pool", "entry": {"wallet", "weight"}}`,
    /// `{"change": "remove_entry", "pool", "wallet"}` or `{"change": "set_split", "rules"}`.
    #[schema(value_type = Object)]
    pub change: RequestedChange,
}

/// The vote deciding a proposal.
#[derive(Serialize, ToSchema)]
pub struct ProposalVoteView {
    /// The backend it runs on.
    pub backend: String,
    /// The platform's id of the vote, once started.
    pub external_id: Option<String>,
    /// Where members vote, once started.
    pub url: Option<String>,
    /// The vote in the voting API, with its lifecycle and readings.
    pub href: Option<String>,
    /// The vote's lifecycle: `starting`, `open`, `closing`, `closed`, `failed` or `cancelled`.
    pub state: Option<String>,
}

/// A proposal's decision.
#[derive(Serialize, ToSchema)]
pub struct ProposalDecisionView {
    /// `passed` or `failed`.
    pub outcome: String,
    /// Why, naming the conditions that fired.
    pub reason: String,
    /// keccak256 of the decision's evidence, served at `/v1/evidence/{hash}`.
    pub hash: String,
    /// When it was decided (RFC 3339).
    pub decided_at: String,
}

/// A proposal as the service holds it.
#[derive(Serialize, ToSchema)]
pub struct ProposalView {
    /// The proposal's id.
    pub id: i64,
    /// `open`, `passed` or `failed`.
    pub state: String,
    /// The trigger that opened it, such as `admin_request` or `wallet_added`.
    pub trigger: String,
    /// What it is about, as the replay log writes it.
    #[schema(value_type = Object)]
    pub subject: Subject,
    /// The policy it runs under.
    pub policy: String,
    /// That policy's version: the proposal is decided under it, whatever is adopted meanwhile.
    pub policy_version: u64,
    /// The rule that answered its trigger.
    pub rule: String,
    /// When it opened (RFC 3339).
    pub opened_at: String,
    /// Its vote, when its rule takes one.
    pub vote: Option<ProposalVoteView>,
    /// Its decision, once decided.
    pub decision: Option<ProposalDecisionView>,
}

fn proposal_href(slug: &CommunitySlug, id: i64) -> String {
    format!("/v1/admin/communities/{slug}/proposals/{id}")
}

fn vote_href(slug: &CommunitySlug, id: i64) -> String {
    format!("/v1/communities/{slug}/votes/{id}")
}

fn no_proposal(id: i64) -> Problem {
    Problem::new(
        ProblemKind::NotFound,
        format!("the community has no proposal {id}"),
    )
}

/// Puts an admin's request to the community under the policy in force: `202` while its vote
/// runs, `201` when the policy decided it at once. A request that is malformed, or that no policy
/// answers, is refused and nothing is stored.
#[utoipa::path(post, path = "/v1/admin/communities/{community}/proposals", tag = "admin",
    params(("community" = String, Path)), request_body = AdminRequestInput,
    security(("admin_token" = [])),
    responses(
        (status = 201, body = ProposalView, description = "decided at once by a rule without a vote"),
        (status = 202, body = ProposalView, description = "opened; its vote decides it"),
        (status = 400, description = "not JSON"), (status = 404, description = "unknown community"),
        (status = 409, description = "no policy in force answers admin requests"),
        (status = 422, description = "the request is not a valid change")))]
pub async fn request_change(
    State(state): State<AppState>,
    names: PathNames,
    JsonBody(body): JsonBody<AdminRequestInput>,
) -> Result<impl IntoResponse, Problem> {
    let community = live(&state, names.community())?;
    let note = body.note.trim().to_string();
    let mut errors = Vec::new();
    if note.is_empty() {
        errors.push(FieldError::new(
            "note",
            "required",
            "say why: the voters read it",
        ));
    } else if note.chars().count() > MAX_NOTE_CHARS {
        errors.push(FieldError::new(
            "note",
            "max-length",
            format!("must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    let unknown_pool = |pool: &crate::domain::PoolName| community.snapshot.pool(pool).is_none();
    match &body.change {
        RequestedChange::AddEntry { .. } => {}
        RequestedChange::RemoveEntry { pool, wallet } => match community.snapshot.pool(pool) {
            None => errors.push(FieldError::new(
                "change.pool",
                "known-pool",
                format!("the community has no pool `{pool}`"),
            )),
            Some(version) if !version.pool.entries().iter().any(|e| &e.wallet == wallet) => {
                errors.push(FieldError::new(
                    "change.wallet",
                    "in-pool",
                    format!("{} is not in pool `{pool}`", wallet.payment_pointer()),
                ));
            }
            Some(_) => {}
        },
        RequestedChange::SetSplit { rules } => {
            if let Err(e) = rules.validate() {
                errors.push(FieldError::new("change.rules", "valid-split", e));
            }
            let named = std::iter::once(&rules.default_pool)
                .chain(rules.tag_routes.iter().map(|route| &route.pool));
            for pool in named.filter(|p| unknown_pool(p)) {
                errors.push(FieldError::new(
                    "change.rules",
                    "known-pool",
                    format!("the community has no pool `{pool}`"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let now = state.clock.now();
    let id = state
        .scheduler
        .request_change(&community, note, body.change, now)
        .await?
        .ok_or_else(|| {
            Problem::new(
                ProblemKind::Conflict,
                "no policy in force answers admin requests (a rule on `admin_request`); \
                 adopt one through the constitution first",
            )
        })?;
    let stored = state
        .store
        .community_proposal(community.id, id)
        .await?
        .ok_or_else(|| no_proposal(id))?;
    let status = match stored.state {
        ProposalState::Open => StatusCode::ACCEPTED,
        ProposalState::Passed | ProposalState::Failed => StatusCode::CREATED,
    };
    let href = proposal_href(&community.community.slug, id);
    let view = view(&state, &community.community.slug, community.id, stored).await?;
    Ok((
        status,
        [(
            header::LOCATION,
            HeaderValue::from_str(&href).expect("a slug and a number make a header value"),
        )],
        Json(view),
    ))
}

/// The path of one proposal.
pub struct ProposalPath {
    community: CommunitySlug,
    proposal: i64,
}

/// The path segments of a proposal's route.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProposalPathParams {
    /// The community's slug.
    community: String,
    /// The proposal's id.
    proposal: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ProposalPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<ProposalPathParams>::from_request_parts(parts, state)
                .await
                .map_err(|e| Problem::new(ProblemKind::InvalidParameter, e.body_text()))?;
        let community = CommunitySlug::parse(&raw.community)
            .map_err(|e| Problem::invalid_parameter(FieldError::name("community", &e)))?;
        let proposal = raw
            .proposal
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                Problem::invalid_parameter(FieldError::new(
                    "proposal",
                    "proposal-id",
                    "must be a proposal's id: a positive whole number",
                ))
            })?;
        Ok(ProposalPath {
            community,
            proposal,
        })
    }
}

/// One proposal of the community, whatever opened it: its state, its vote and its decision.
#[utoipa::path(get, path = "/v1/admin/communities/{community}/proposals/{proposal}",
    tag = "admin", params(ProposalPathParams), security(("admin_token" = [])),
    responses((status = 200, body = ProposalView),
        (status = 404, description = "unknown community or proposal")))]
pub async fn get_proposal(
    State(state): State<AppState>,
    path: ProposalPath,
) -> Result<Json<ProposalView>, Problem> {
    let community = live(&state, &path.community)?;
    let stored = state
        .store
        .community_proposal(community.id, path.proposal)
        .await?
        .ok_or_else(|| no_proposal(path.proposal))?;
    Ok(Json(
        view(&state, &community.community.slug, community.id, stored).await?,
    ))
}

async fn view(
    state: &AppState,
    slug: &CommunitySlug,
    community_id: i64,
    stored: StoredProposal,
) -> Result<ProposalView, Problem> {
    let record = state
        .scheduler
        .proposal_vote(community_id, stored.id)
        .await?;
    // The proposal keeps the handle once attached; until then the vote's record has it.
    let vote = match (stored.proposal.vote.clone(), record) {
        (None, None) => None,
        (Some(handle), record) => Some(ProposalVoteView {
            backend: handle.backend,
            external_id: Some(handle.external_id),
            url: handle.url,
            href: record.as_ref().map(|r| vote_href(slug, r.id)),
            state: record.map(|r| r.state.as_str().to_string()),
        }),
        (None, Some(record)) => Some(ProposalVoteView {
            href: Some(vote_href(slug, record.id)),
            state: Some(record.state.as_str().to_string()),
            backend: record.backend,
            external_id: record.external_id,
            url: record.url,
        }),
    };
    let decision = state
        .store
        .decision_of(stored.id)
        .await?
        .map(|d| ProposalDecisionView {
            outcome: d.outcome.as_str().to_string(),
            reason: d.reason,
            hash: d.hash.to_string(),
            decided_at: d.decided_at.to_rfc3339(),
        });
    let proposal = stored.proposal;
    Ok(ProposalView {
        id: stored.id,
        state: stored.state.as_str().to_string(),
        trigger: proposal.subject.kind().as_str().to_string(),
        policy: proposal.policy.to_string(),
        policy_version: proposal.policy_version,
        rule: proposal.rule.to_string(),
        opened_at: proposal.opened_at.to_rfc3339(),
        subject: proposal.subject,
        vote,
        decision,
    })
}
