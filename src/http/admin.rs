//! Admin routes, behind a bearer token compared in constant time: create a community and
//! bootstrap its pools, split rules, member wallets and topic facts. Every write that changes a
//! configuration appends a version with the cause `admin_bootstrap`, then swaps the snapshot.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::extract::{JsonBody, PathNames};
use super::problem::{FieldError, Problem, ProblemKind};
use super::views::{CommunityView, EntryWindow, PoolView, SplitView};
use super::{AppState, live};
use crate::domain::{
    Cause, CommunitySlug, Entry, Label, MemberId, Pool, PoolError, SplitError, SplitRules, Tag,
    TopicFacts, WalletAddress, Weight,
};
use crate::select::PickContext;

/// Longest note an admin may attach to a change.
const MAX_NOTE_CHARS: usize = 500;

/// Lets a request through only with `Authorization: Bearer <admin token>`.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.config.admin_token.as_ref() else {
        return Problem::new(ProblemKind::AdminDisabled, "no admin token is configured")
            .into_response();
    };
    // RFC 9110: the scheme is case-insensitive (`bearer`, `BEARER`).
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim_start())
        .unwrap_or_default();
    // Hashing first makes the comparison constant-time in the length too.
    let matches: bool = Sha256::digest(presented.as_bytes())
        .ct_eq(&Sha256::digest(expected.expose_secret().as_bytes()))
        .into();
    if presented.is_empty() || !matches {
        return Problem::new(
            ProblemKind::Unauthorized,
            "a valid admin bearer token is required",
        )
        .into_response();
    }
    next.run(request).await
}

fn bootstrap(note: Option<String>) -> Cause {
    Cause::AdminBootstrap { note }
}

fn check_note(note: &Option<String>, errors: &mut Vec<FieldError>) {
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        errors.push(FieldError::new(
            "note",
            "max-length",
            format!("must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
}

/// A new community.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommunity {
    /// Its slug: lower-case letters, digits, `-`, `_`.
    slug: String,
    /// Its display name.
    name: String,
}

/// Creates a community.
#[utoipa::path(post, path = "/v1/admin/communities", tag = "admin", request_body = NewCommunity,
    security(("admin_token" = [])),
    responses((status = 201, body = CommunityView), (status = 409, description = "Slug taken"), (status = 422)))]
pub async fn create_community(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewCommunity>,
) -> Result<impl IntoResponse, Problem> {
    let mut errors = Vec::new();
    let slug = CommunitySlug::parse(&body.slug)
        .map_err(|e| errors.push(FieldError::name("slug", &e)))
        .ok();
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            "valid-name",
            "must be 1 to 200 characters without control characters",
        ));
    }
    let Some(slug) = slug.filter(|_| errors.is_empty()) else {
        return Err(Problem::invalid_fields(errors));
    };
    let live = state
        .changes
        .create_community(&slug, name, state.clock.now())
        .await?;
    let location = format!("/v1/communities/{slug}");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(CommunityView::new(&live.community, Vec::new(), None)),
    ))
}

/// One entry as sent by an admin.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    /// A payment pointer (`$host/path`) or `https://` wallet address.
    wallet: String,
    /// A whole number of at least 1.
    weight: u64,
    /// A name for people to read.
    label: Option<String>,
    /// The member the wallet belongs to.
    member: Option<String>,
}

/// The full new content of a pool.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolInput {
    /// The entries, in order.
    entries: Vec<EntryInput>,
    /// Why the admin makes this change.
    note: Option<String>,
}

/// Checks every entry, collecting each broken rule with its field path.
fn parse_pool(input: PoolInput) -> Result<(Pool, Option<String>), Problem> {
    let mut errors = Vec::new();
    check_note(&input.note, &mut errors);
    let mut entries = Vec::with_capacity(input.entries.len());
    for (i, raw) in input.entries.into_iter().enumerate() {
        let wallet = WalletAddress::parse(&raw.wallet)
            .map_err(|e| errors.push(FieldError::pointer(format!("entries[{i}].wallet"), &e)))
            .ok();
        let weight = Weight::new(raw.weight)
            .map_err(|e| errors.push(FieldError::new(format!("entries[{i}].weight"), "range", e)))
            .ok();
        let label = raw
            .label
            .map(|l| Label::parse(&l))
            .transpose()
            .map_err(|e| errors.push(FieldError::name(format!("entries[{i}].label"), &e)))
            .ok()
            .flatten();
        let member = raw
            .member
            .map(|m| MemberId::parse(&m))
            .transpose()
            .map_err(|e| errors.push(FieldError::name(format!("entries[{i}].member"), &e)))
            .ok()
            .flatten();
        if let (Some(wallet), Some(weight)) = (wallet, weight) {
            entries.push(Entry {
                wallet,
                weight,
                label,
                member,
            });
        }
    }
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let pool = Pool::new(entries).map_err(|e| {
        let field = match &e {
            PoolError::DuplicateWallet { second, .. } => format!("entries[{second}].wallet"),
            PoolError::TooManyEntries(_) => "entries".to_string(),
        };
        let rule = match &e {
            PoolError::DuplicateWallet { .. } => "unique-wallet",
            PoolError::TooManyEntries(_) => "max-entries",
        };
        Problem::invalid_fields(vec![FieldError::new(field, rule, e)])
    })?;
    Ok((pool, input.note))
}

/// Sets a pool's entries, creating the pool or appending a new version; an unchanged pool keeps
/// its version.
#[utoipa::path(put, path = "/v1/admin/communities/{community}/pools/{pool}", tag = "admin",
    params(("community" = String, Path), ("pool" = String, Path)), request_body = PoolInput,
    security(("admin_token" = [])),
    responses((status = 200, body = PoolView), (status = 404), (status = 422, description = "A field broke a rule")))]
pub async fn put_pool(
    State(state): State<AppState>,
    names: PathNames,
    JsonBody(body): JsonBody<PoolInput>,
) -> Result<Json<PoolView>, Problem> {
    let live = live(&state, names.community())?;
    let (pool, note) = parse_pool(body)?;
    let name = names.pool();
    if let Some(current) = live
        .snapshot
        .pool(name)
        .filter(|current| current.pool == pool)
    {
        return Ok(Json(first_entries(&live, name, current)));
    }
    let version = state
        .changes
        .change_pool(
            &live,
            name,
            &pool,
            &bootstrap(note),
            None,
            state.clock.now(),
        )
        .await?;
    Ok(Json(first_entries(&live, name, &version)))
}

/// A pool version's view with its first entries, linking to the rest as the public routes do.
fn first_entries(
    live: &crate::app::LiveCommunity,
    name: &crate::domain::PoolName,
    version: &crate::domain::PoolVersion,
) -> PoolView {
    PoolView::new(name, version, EntryWindow::FIRST, |offset| {
        super::public::entries_url(
            live.community.slug.as_str(),
            name,
            version.version,
            offset,
            EntryWindow::FIRST.limit,
        )
    })
}

/// Sets the community's split rules; unchanged rules keep their version.
#[utoipa::path(put, path = "/v1/admin/communities/{community}/splits", tag = "admin",
    params(("community" = String, Path)),
    request_body(content = Object, description = "Split rules (`author_bps`, `participants_bps`, `tag_routes`, `default_pool`) and an optional `note`"),
    security(("admin_token" = [])),
    responses((status = 200, body = SplitView), (status = 404), (status = 422)))]
pub async fn put_splits(
    State(state): State<AppState>,
    names: PathNames,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<SplitView>, Problem> {
    let live = live(&state, names.community())?;
    // Parse the note apart so that `deny_unknown_fields` on the rules still catches typos.
    let mut object = match body {
        serde_json::Value::Object(object) => object,
        _ => {
            return Err(Problem::invalid_fields(vec![FieldError::new(
                "(body)",
                "schema",
                "must be a JSON object",
            )]));
        }
    };
    let note = match object.remove("note") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(note)) => Some(note),
        Some(_) => {
            return Err(Problem::invalid_fields(vec![FieldError::new(
                "note",
                "schema",
                "must be a string",
            )]));
        }
    };
    let rules: SplitRules =
        super::extract::parse_json(&serde_json::to_vec(&object).expect("a map serialises"))?;
    let mut errors = Vec::new();
    check_note(&note, &mut errors);
    if let Err(e) = rules.validate() {
        let (field, rule) = match e {
            SplitError::SharesOverHundredPercent { .. } => {
                ("participants_bps", "sum-at-most-10000")
            }
            SplitError::DuplicateTag(_) => ("tag_routes", "unique-tag"),
        };
        errors.push(FieldError::new(field, rule, e));
    }
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let (current, current_version) = live.snapshot.splits();
    if current_version.is_some() && current == &rules {
        let history = state.store.split_history(live.id).await?;
        let last = history.last().expect("a split version exists");
        return Ok(Json(SplitView::new(last)));
    }
    let version = state
        .changes
        .change_split(&live, &rules, &bootstrap(note), state.clock.now())
        .await?;
    Ok(Json(SplitView::new(&version)))
}

/// A member's wallet; `null` removes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    /// A payment pointer or wallet address, or null.
    wallet: Option<String>,
}

/// Sets or clears a member's wallet in the member registry.
#[utoipa::path(put, path = "/v1/admin/communities/{community}/members/{member}", tag = "admin",
    params(("community" = String, Path), ("member" = String, Path)), request_body = MemberInput,
    security(("admin_token" = [])),
    responses((status = 204), (status = 404), (status = 422)))]
pub async fn put_member(
    State(state): State<AppState>,
    names: PathNames,
    JsonBody(body): JsonBody<MemberInput>,
) -> Result<StatusCode, Problem> {
    let live = live(&state, names.community())?;
    let wallet = body
        .wallet
        .map(|w| WalletAddress::parse(&w))
        .transpose()
        .map_err(|e| Problem::invalid_fields(vec![FieldError::pointer("wallet", &e)]))?;
    state
        .changes
        .change_member_wallet(&live, names.member(), wallet.as_ref(), state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What is known of a topic.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicInput {
    /// The author's member id.
    author: String,
    /// Members who posted in it.
    #[serde(default)]
    participants: Vec<String>,
    /// Its tags.
    #[serde(default)]
    tags: Vec<String>,
}

/// Records a topic's author, participants and tags, for context-aware splits.
#[utoipa::path(put, path = "/v1/admin/communities/{community}/topics/{topic}", tag = "admin",
    params(("community" = String, Path), ("topic" = String, Path)), request_body = TopicInput,
    security(("admin_token" = [])),
    responses((status = 200, body = super::views::TopicView), (status = 404), (status = 422)))]
pub async fn put_topic(
    State(state): State<AppState>,
    names: PathNames,
    JsonBody(body): JsonBody<TopicInput>,
) -> Result<Json<super::views::TopicView>, Problem> {
    let live = live(&state, names.community())?;
    let mut errors = Vec::new();
    let author = MemberId::parse(&body.author)
        .map_err(|e| errors.push(FieldError::name("author", &e)))
        .ok();
    let participants: Vec<MemberId> = body
        .participants
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            MemberId::parse(p)
                .map_err(|e| errors.push(FieldError::name(format!("participants[{i}]"), &e)))
                .ok()
        })
        .collect();
    let tags: Vec<Tag> = body
        .tags
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            Tag::parse(t)
                .map_err(|e| errors.push(FieldError::name(format!("tags[{i}]"), &e)))
                .ok()
        })
        .collect();
    let Some(author) = author.filter(|_| errors.is_empty()) else {
        return Err(Problem::invalid_fields(errors));
    };
    let facts = TopicFacts {
        author,
        participants,
        tags,
    };
    let topic = names.topic();
    let live = state
        .changes
        .change_topic(&live, topic, &facts, state.clock.now())
        .await?;
    let plan = live.snapshot.topic_plan(topic);
    let shares = live.snapshot.distribution(PickContext::Topic(topic))?;
    Ok(Json(super::views::TopicView::new(
        topic.as_str(),
        true,
        &plan,
        &shares,
    )))
}
