//! The standard voting API, behind the admin token: start a vote on a backend chosen by name,
//! read it as last read from its platform, close it. One interface over every voting service,
//! so that policies and applications never depend on one platform.
//!
//! A start or close that the platform cannot take now answers 503 with the vote in the problem
//! (`vote`) and in `Location`: the vote is stored and the service keeps trying, so the caller
//! follows the link instead of asking again.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::extract::JsonBody;
use super::problem::{FieldError, Problem, ProblemKind};
use super::{AppState, live};
use crate::app::AppError;
use crate::app::votes::Outcome;
use crate::domain::{CommunitySlug, Timestamp};
use crate::store::VoteRecord;
use crate::voting::lifecycle::Lifecycle;
use crate::voting::{Electorate, VoteRequest, VoteState, VotingError};

const MAX_TITLE_CHARS: usize = 250;
const MAX_DETAILS_CHARS: usize = 20_000;
const MAX_OPTIONS: usize = 50;
const MAX_OPTION_CHARS: usize = 200;
const MAX_GROUPS: usize = 50;

/// Who may vote.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ElectorateInput {
    /// Platform groups whose members may vote; empty for every member.
    groups: Vec<String>,
    /// The lowest trust level that may vote, where the platform has trust levels.
    min_trust_level: Option<u8>,
}

/// A vote to start.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartVoteInput {
    /// The backend's name, such as `loomio`.
    backend: String,
    /// A one-line title.
    title: String,
    /// The text shown with the vote, in Markdown.
    #[serde(default)]
    details: String,
    /// The options, in the order voters see them: at least two, each distinct.
    options: Vec<String>,
    /// When the platform closes the vote by itself (RFC 3339). Loomio needs one.
    #[schema(value_type = Option<String>, format = DateTime)]
    closes_at: Option<Timestamp>,
    /// Who may vote; everyone by default.
    #[serde(default)]
    electorate: ElectorateInput,
}

/// One option's count.
#[derive(Serialize, ToSchema)]
pub struct TallyView {
    /// The option as the platform names it.
    option: String,
    /// Voters who chose it.
    votes: u64,
}

/// A voter as their platform knows them.
#[derive(Serialize, ToSchema)]
pub struct VoterView {
    /// `loomio`, `discourse`, …
    platform: String,
    /// The platform's user id.
    user_id: String,
    /// The username when read.
    username: String,
}

/// One voter's current choice.
#[derive(Serialize, ToSchema)]
pub struct BallotView {
    /// Who.
    voter: VoterView,
    /// The options chosen.
    choices: Vec<String>,
    /// When, if the platform says.
    cast_at: Option<String>,
}

/// One document of a closed vote's evidence.
#[derive(Serialize, ToSchema)]
pub struct EvidenceView {
    /// What was read, such as `GET /api/b2/polls/12`.
    source: String,
    /// Its size in bytes.
    bytes: usize,
    /// The lowercase hex SHA-256 of the body exactly as received.
    sha256: String,
}

/// A vote as the service last read it.
#[derive(Serialize, ToSchema)]
pub struct VoteView {
    /// The service's id of the vote.
    id: i64,
    /// The backend.
    backend: String,
    /// `starting`, `open`, `closing`, `closed`, `failed` or `cancelled`.
    state: String,
    /// The platform's id of the vote, once started.
    external_id: Option<String>,
    /// Where members vote, once started.
    url: Option<String>,
    /// The title asked for.
    title: String,
    /// The options asked for.
    options: Vec<String>,
    /// When the platform closes it by itself.
    closes_at: Option<String>,
    /// When it was asked for.
    created_at: String,
    /// When a close was asked for.
    close_requested_at: Option<String>,
    /// When the platform closed it.
    closed_at: Option<String>,
    /// When the platform was last read.
    last_read_at: Option<String>,
    /// When the reading below was taken: the last time the vote was seen to change; `null`
    /// before the first reading.
    changed_at: Option<String>,
    /// One tally per option, as last read.
    tallies: Vec<TallyView>,
    /// Every current ballot, as last read.
    ballots: Vec<BallotView>,
    /// How many readings changed the vote.
    readings: usize,
    /// The documents kept as evidence once it closed.
    evidence: Vec<EvidenceView>,
    /// The last platform failure, while the service keeps trying.
    last_error: Option<String>,
}

/// The path of one vote.
pub struct VotePath {
    community: CommunitySlug,
    vote: i64,
}

/// The path segments of a vote's routes.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VotePathParams {
    /// The community's slug.
    community: String,
    /// The vote's id.
    vote: String,
}

impl<S: Send + Sync> FromRequestParts<S> for VotePath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<VotePathParams>::from_request_parts(parts, state)
                .await
                .map_err(|e| Problem::new(ProblemKind::InvalidParameter, e.body_text()))?;
        let community = CommunitySlug::parse(&raw.community)
            .map_err(|e| Problem::invalid_parameter(FieldError::name("community", &e)))?;
        let vote = raw
            .vote
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                Problem::invalid_parameter(FieldError::new(
                    "vote",
                    "vote-id",
                    "must be a vote's id: a positive whole number",
                ))
            })?;
        Ok(VotePath { community, vote })
    }
}

fn vote_href(slug: &CommunitySlug, id: i64) -> String {
    format!("/v1/communities/{slug}/votes/{id}")
}

fn plain(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

fn check(input: &StartVoteInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let title = input.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS || !plain(title) {
        errors.push(FieldError::new(
            "title",
            "one-line",
            format!("must be 1 to {MAX_TITLE_CHARS} characters on one line"),
        ));
    }
    if input.details.chars().count() > MAX_DETAILS_CHARS {
        errors.push(FieldError::new(
            "details",
            "max-length",
            format!("must be at most {MAX_DETAILS_CHARS} characters"),
        ));
    }
    if !(2..=MAX_OPTIONS).contains(&input.options.len()) {
        errors.push(FieldError::new(
            "options",
            "count",
            format!("must hold 2 to {MAX_OPTIONS} options"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, option) in input.options.iter().enumerate() {
        let option = option.trim();
        if option.is_empty() || option.chars().count() > MAX_OPTION_CHARS || !plain(option) {
            errors.push(FieldError::new(
                format!("options[{i}]"),
                "one-line",
                format!("must be 1 to {MAX_OPTION_CHARS} characters on one line"),
            ));
        } else if !seen.insert(option.to_lowercase()) {
            errors.push(FieldError::new(
                format!("options[{i}]"),
                "distinct",
                "must differ from the other options (case aside)",
            ));
        }
    }
    let groups = &input.electorate.groups;
    if groups.len() > MAX_GROUPS
        || groups
            .iter()
            .any(|g| g.trim().is_empty() || g.chars().count() > 100 || !plain(g))
    {
        errors.push(FieldError::new(
            "electorate.groups",
            "group-names",
            format!("must be at most {MAX_GROUPS} names of 1 to 100 characters"),
        ));
    }
    if input.electorate.min_trust_level.is_some_and(|t| t > 4) {
        errors.push(FieldError::new(
            "electorate.min_trust_level",
            "trust-level",
            "must be a trust level from 0 to 4",
        ));
    }
    errors
}

async fn view(state: &AppState, vote: &VoteRecord) -> Result<VoteView, Problem> {
    let readings = state.store.vote_readings(vote.id).await?;
    let evidence = if vote.state == Lifecycle::Closed {
        state.store.vote_evidence(vote.id).await?
    } else {
        Vec::new()
    };
    let latest = readings.last();
    let time = |t: Option<Timestamp>| t.map(Timestamp::to_rfc3339);
    let closed_at = match latest.map(|r| &r.state) {
        Some(VoteState::Closed { closed_at }) => closed_at.or(vote.closed_at),
        _ => vote.closed_at,
    };
    Ok(VoteView {
        id: vote.id,
        backend: vote.backend.clone(),
        state: vote.state.to_string(),
        external_id: vote.external_id.clone(),
        url: vote.url.clone(),
        title: vote.request.title.clone(),
        options: vote.request.options.clone(),
        closes_at: time(vote.request.closes_at),
        created_at: vote.created_at.to_rfc3339(),
        close_requested_at: time(vote.close_requested_at),
        closed_at: time(closed_at),
        last_read_at: time(vote.last_read_at),
        changed_at: latest.map(|r| r.read_at.to_rfc3339()),
        tallies: latest
            .map(|r| {
                r.tallies
                    .iter()
                    .map(|t| TallyView {
                        option: t.option.clone(),
                        votes: t.votes,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ballots: latest
            .map(|r| {
                r.ballots
                    .iter()
                    .map(|b| BallotView {
                        voter: VoterView {
                            platform: b.voter.platform.clone(),
                            user_id: b.voter.user_id.clone(),
                            username: b.voter.username.clone(),
                        },
                        choices: b.choices.clone(),
                        cast_at: time(b.cast_at),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        readings: readings.len(),
        evidence: evidence
            .iter()
            .map(|d| EvidenceView {
                source: d.source.clone(),
                bytes: d.body.len(),
                sha256: hex::encode(Sha256::digest(d.body.as_bytes())),
            })
            .collect(),
        last_error: vote.last_error.clone(),
    })
}

/// The problem a platform's failure stands for, naming the vote it left behind.
fn platform_problem(
    slug: &CommunitySlug,
    vote: &VoteRecord,
    error: &VotingError,
    doing: &str,
) -> Problem {
    let href = vote_href(slug, vote.id);
    let mut problem = match error {
        VotingError::Unavailable { retry_after, .. } => {
            let retry = match vote.state {
                Lifecycle::Starting | Lifecycle::Closing => {
                    format!(
                        "vote {} is stored and the service keeps {doing} it; follow its link rather than asking again",
                        vote.id
                    )
                }
                _ => format!("vote {} is unchanged", vote.id),
            };
            let problem = Problem::new(
                ProblemKind::PlatformUnavailable,
                format!("{error}; {retry}"),
            );
            match retry_after.map(|d| d.as_secs().max(1).to_string()) {
                Some(secs) => problem.with_header(
                    header::RETRY_AFTER,
                    HeaderValue::from_str(&secs).expect("digits are a header value"),
                ),
                None => problem,
            }
        }
        VotingError::InvalidRequest(reason) => {
            Problem::invalid_fields(vec![FieldError::new("(body)", "backend-accepts", reason)])
        }
        VotingError::Refused { .. } | VotingError::NotFound(_) | VotingError::Malformed(_) => {
            Problem::new(
                ProblemKind::PlatformRefused,
                format!(
                    "{}: {error}; vote {} is {}",
                    vote.backend, vote.id, vote.state
                ),
            )
        }
    };
    problem = problem.with_extension(
        "vote",
        json!({"id": vote.id, "state": vote.state.as_str(), "href": href}),
    );
    match HeaderValue::from_str(&href) {
        Ok(location) => problem.with_header(header::LOCATION, location),
        Err(_) => problem,
    }
}

/// Starts a vote on the backend named in the body.
#[utoipa::path(post, path = "/v1/communities/{community}/votes", tag = "voting",
    params(("community" = String, Path)), request_body = StartVoteInput,
    security(("admin_token" = [])),
    responses(
        (status = 201, body = VoteView, description = "started; `Location` names the vote"),
        (status = 404, description = "unknown community"),
        (status = 422, description = "invalid request, unknown or unconfigured backend; nothing stored"),
        (status = 502, description = "the platform refused; the vote is `failed`"),
        (status = 503, description = "the platform is unavailable; the vote is stored and its start retried")))]
pub async fn start_vote(
    State(state): State<AppState>,
    names: super::extract::PathNames,
    JsonBody(body): JsonBody<StartVoteInput>,
) -> Result<Response, Problem> {
    let live = live(&state, names.community())?;
    let errors = check(&body);
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let request = VoteRequest {
        title: body.title.trim().to_string(),
        details: body.details,
        options: body.options.iter().map(|o| o.trim().to_string()).collect(),
        closes_at: body.closes_at,
        electorate: Electorate {
            groups: body.electorate.groups,
            min_trust_level: body.electorate.min_trust_level,
        },
    };
    let Outcome { vote, error } = state
        .votes
        .start(&live, &body.backend, request)
        .await
        .map_err(Problem::from)?;
    let slug = &live.community.slug;
    if let Some(error) = error {
        return Err(platform_problem(slug, &vote, &error, "starting"));
    }
    let location = HeaderValue::from_str(&vote_href(slug, vote.id))
        .expect("a slug and an id are a header value");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view(&state, &vote).await?),
    )
        .into_response())
}

/// A vote with its state, tallies and ballots as last read from its platform.
#[utoipa::path(get, path = "/v1/communities/{community}/votes/{vote}", tag = "voting",
    params(VotePathParams), security(("admin_token" = [])),
    responses((status = 200, body = VoteView), (status = 404, description = "unknown community or vote")))]
pub async fn get_vote(
    State(state): State<AppState>,
    path: VotePath,
) -> Result<Json<VoteView>, Problem> {
    let live = live(&state, &path.community)?;
    let vote = state
        .store
        .vote(live.id, path.vote)
        .await?
        .ok_or_else(|| Problem::from(AppError::UnknownVote(path.vote)))?;
    Ok(Json(view(&state, &vote).await?))
}

/// Closes a vote: at once where the platform can, else as soon as it allows (Loomio: at the next
/// full hour), answering `202` while it is `closing`. A vote not started yet is cancelled.
#[utoipa::path(post, path = "/v1/communities/{community}/votes/{vote}/close", tag = "voting",
    params(VotePathParams), security(("admin_token" = [])),
    responses(
        (status = 200, body = VoteView, description = "closed or cancelled"),
        (status = 202, body = VoteView, description = "closing: the platform closes it later"),
        (status = 404, description = "unknown community or vote"),
        (status = 409, description = "the vote failed to start or was cancelled"),
        (status = 502, description = "the platform refused"),
        (status = 503, description = "the platform is unavailable; the close is retried")))]
pub async fn close_vote(
    State(state): State<AppState>,
    path: VotePath,
) -> Result<Response, Problem> {
    let live = live(&state, &path.community)?;
    let Outcome { vote, error } = state
        .votes
        .close(&live, path.vote)
        .await
        .map_err(Problem::from)?;
    if let Some(error) = error {
        return Err(platform_problem(
            &live.community.slug,
            &vote,
            &error,
            "closing",
        ));
    }
    let status = if vote.state == Lifecycle::Closing {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(&state, &vote).await?)).into_response())
}
