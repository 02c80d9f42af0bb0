//! Public read routes: communities, pools with exact shares, history, split rules, topics and
//! picks. Picks and current state read the in-memory snapshot; only history reads the database.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{PathNames, query_problem};
use super::problem::{FieldError, Problem, ProblemKind};
use super::views::{
    CommunityView, EntryWindow, HistoryView, MAX_ENTRIES_PER_ANSWER, PickView, PoolView, SplitView,
    SplitsView, TopicView,
};
use super::{AppState, live};
use crate::app::LiveCommunity;
use crate::domain::{PoolName, PoolVersion};
use crate::select::PickContext;
use crate::telemetry::Metrics;

/// Largest history page.
const MAX_HISTORY_PAGE: u32 = 100;

/// The community, its pools and its split rules.
#[utoipa::path(get, path = "/v1/communities/{community}", tag = "public",
    params(("community" = String, Path, description = "The community's slug")),
    responses((status = 200, body = CommunityView), (status = 404, description = "Unknown community")))]
pub async fn community(
    State(state): State<AppState>,
    names: PathNames,
) -> Result<Json<CommunityView>, Problem> {
    let live = live(&state, names.community())?;
    let snapshot = &live.snapshot;
    let pools = snapshot
        .pool_names()
        .into_iter()
        .map(|name| (name, snapshot.pool(name).expect("named pools exist")))
        .collect();
    let (_, splits_version) = snapshot.splits();
    let splits = match splits_version {
        Some(_) => state
            .store
            .split_history(live.id)
            .await?
            .last()
            .map(SplitView::new),
        None => None,
    };
    Ok(Json(CommunityView::new(&live.community, pools, splits)))
}

/// A window of a pool version's entries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// Entries to skip, in the pool's order (default 0).
    #[param(minimum = 0)]
    offset: Option<usize>,
    /// Entries to show, 1 to 1000 (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

impl EntriesQuery {
    fn window(&self) -> Result<EntryWindow, Problem> {
        let limit = self.limit.unwrap_or(MAX_ENTRIES_PER_ANSWER);
        if !(1..=MAX_ENTRIES_PER_ANSWER).contains(&limit) {
            return Err(Problem::invalid_parameter(FieldError::new(
                "limit",
                "range",
                format!("must be from 1 to {MAX_ENTRIES_PER_ANSWER}, found {limit}"),
            )));
        }
        Ok(EntryWindow {
            offset: self.offset.unwrap_or(0),
            limit,
        })
    }
}

/// The URL of a version's entries from `offset`, `limit` at a time: stable, whatever changes
/// after.
pub(super) fn entries_url(
    community: &str,
    pool: &PoolName,
    version: u64,
    offset: usize,
    limit: usize,
) -> String {
    format!(
        "/v1/communities/{community}/pools/{pool}/versions/{version}?offset={offset}&limit={limit}"
    )
}

/// A pool's current entries, each with its exact share, at most 1,000 at a time.
#[utoipa::path(get, path = "/v1/communities/{community}/pools/{pool}", tag = "public",
    params(("community" = String, Path), ("pool" = String, Path), EntriesQuery),
    responses((status = 200, body = PoolView), (status = 404, description = "Unknown community or pool")))]
pub async fn pool(
    State(state): State<AppState>,
    names: PathNames,
    query: Result<Query<EntriesQuery>, QueryRejection>,
) -> Result<Json<PoolView>, Problem> {
    let (live, window) = known_pool_window(&state, &names, query)?;
    let pool = names.pool();
    let version = current_pool(&live, pool)?;
    let slug = live.community.slug.as_str();
    Ok(Json(PoolView::new(pool, version, window, |offset| {
        entries_url(slug, pool, version.version, offset, window.limit)
    })))
}

/// One version of a pool, with its entries at most 1,000 at a time.
#[utoipa::path(get, path = "/v1/communities/{community}/pools/{pool}/versions/{version}", tag = "public",
    params(("community" = String, Path), ("pool" = String, Path),
        ("version" = u64, Path, description = "The version, from 1"), EntriesQuery),
    responses((status = 200, body = PoolView), (status = 404, description = "Unknown community, pool or version")))]
pub async fn pool_version(
    State(state): State<AppState>,
    names: PathNames,
    query: Result<Query<EntriesQuery>, QueryRejection>,
) -> Result<Json<PoolView>, Problem> {
    let (live, window) = known_pool_window(&state, &names, query)?;
    let pool = names.pool();
    let number = names.version();
    let version = state
        .store
        .pool_version(live.id, pool, number)
        .await?
        .ok_or_else(|| {
            Problem::new(
                ProblemKind::NotFound,
                format!("pool `{pool}` has no version {number}"),
            )
        })?;
    let slug = live.community.slug.as_str();
    Ok(Json(PoolView::new(pool, &version, window, |offset| {
        entries_url(slug, pool, number, offset, window.limit)
    })))
}

/// The community of a route naming an existing pool, and the window of entries its query asks for.
fn known_pool_window(
    state: &AppState,
    names: &PathNames,
    query: Result<Query<EntriesQuery>, QueryRejection>,
) -> Result<(std::sync::Arc<LiveCommunity>, EntryWindow), Problem> {
    let Query(query) = query.map_err(query_problem)?;
    let window = query.window()?;
    let live = live(state, names.community())?;
    current_pool(&live, names.pool())?;
    Ok((live, window))
}

/// The pool's current version, or a 404 naming it.
fn current_pool<'a>(live: &'a LiveCommunity, pool: &PoolName) -> Result<&'a PoolVersion, Problem> {
    live.snapshot
        .pool(pool)
        .ok_or_else(|| Problem::new(ProblemKind::UnknownPool, format!("no pool `{pool}`")))
}

/// Paging of a pool's history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Start after this version (exclusive).
    #[param(minimum = 0)]
    after: Option<u64>,
    /// Versions per page, 1 to 100 (default 20); a page also ends once it carries 1,000 entries.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `asc` (oldest first, default) or `desc`.
    #[param(pattern = "^(asc|desc)$")]
    order: Option<String>,
}

/// Every version of a pool, with cause and time, a page at a time: at most `limit` versions and
/// 1,000 entries a page. A version whose entries do not fit links to the rest of them.
#[utoipa::path(get, path = "/v1/communities/{community}/pools/{pool}/history", tag = "public",
    params(("community" = String, Path), ("pool" = String, Path), HistoryQuery),
    responses((status = 200, body = HistoryView), (status = 404, description = "Unknown community or pool")))]
pub async fn pool_history(
    State(state): State<AppState>,
    names: PathNames,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<HistoryView>, Problem> {
    let Query(query) = query.map_err(query_problem)?;
    let live = live(&state, names.community())?;
    let pool = names.pool();
    current_pool(&live, pool)?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
        return Err(Problem::invalid_parameter(FieldError::new(
            "limit",
            "range",
            format!("must be from 1 to {MAX_HISTORY_PAGE}, found {limit}"),
        )));
    }
    let newest_first = match query.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(Problem::invalid_parameter(FieldError::new(
                "order",
                "one-of",
                format!("must be `asc` or `desc`, found `{other}`"),
            )));
        }
    };
    let sizes = state
        .store
        .pool_version_sizes(live.id, pool, query.after, limit, newest_first)
        .await?;
    // The versions whose entries all fit are read at once; the next one, if entries are left
    // to show, with as many as fit.
    let (fitting, used) = fitting_versions(sizes.iter().map(|s| s.entries));
    let slug = live.community.slug.as_str();
    let link = |version: u64| {
        move |offset| entries_url(slug, pool, version, offset, MAX_ENTRIES_PER_ANSWER)
    };
    let mut versions: Vec<PoolView> = Vec::new();
    if fitting > 0 {
        let whole = state
            .store
            .pool_history(live.id, pool, query.after, fitting as u32, newest_first)
            .await?;
        versions.extend(
            whole
                .iter()
                .map(|v| PoolView::new(pool, v, EntryWindow::FIRST, link(v.version))),
        );
    }
    if let Some(partial) = sizes.get(fitting)
        && used < MAX_ENTRIES_PER_ANSWER
    {
        let version = state
            .store
            .pool_version(live.id, pool, partial.version)
            .await?
            .ok_or_else(|| {
                Problem::new(
                    ProblemKind::Internal,
                    format!(
                        "pool `{pool}` version {} vanished while read",
                        partial.version
                    ),
                )
            })?;
        let window = EntryWindow {
            offset: 0,
            limit: MAX_ENTRIES_PER_ANSWER - used,
        };
        versions.push(PoolView::new(pool, &version, window, link(version.version)));
    }
    let more = versions.len() < sizes.len() || sizes.len() == limit as usize;
    let next = versions.last().filter(|_| more).map(|last| {
        let order = if newest_first { "desc" } else { "asc" };
        format!(
            "/v1/communities/{slug}/pools/{pool}/history?after={}&limit={limit}&order={order}",
            last.version
        )
    });
    Ok(Json(HistoryView { versions, next }))
}

/// How many of the leading versions, of these entry counts, fit one answer whole, and how many
/// entries they carry.
fn fitting_versions(counts: impl Iterator<Item = usize>) -> (usize, usize) {
    let mut fitting = 0;
    let mut used = 0;
    for count in counts {
        if used + count > MAX_ENTRIES_PER_ANSWER {
            break;
        }
        used += count;
        fitting += 1;
    }
    (fitting, used)
}

/// The split rules in force and every version of them.
#[utoipa::path(get, path = "/v1/communities/{community}/splits", tag = "public",
    params(("community" = String, Path)),
    responses((status = 200, body = SplitsView), (status = 404, description = "Unknown community")))]
pub async fn splits(
    State(state): State<AppState>,
    names: PathNames,
) -> Result<Json<SplitsView>, Problem> {
    let live = live(&state, names.community())?;
    let history = state.store.split_history(live.id).await?;
    let (current, _) = live.snapshot.splits();
    Ok(Json(SplitsView {
        current: serde_json::to_value(current).expect("rules always serialise"),
        history: history.iter().map(SplitView::new).collect(),
    }))
}

/// How a topic's page views are shared: its plan and every wallet's exact combined share.
#[utoipa::path(get, path = "/v1/communities/{community}/topics/{topic}", tag = "public",
    params(("community" = String, Path), ("topic" = String, Path)),
    responses((status = 200, body = TopicView), (status = 404, description = "Unknown community")))]
pub async fn topic(
    State(state): State<AppState>,
    names: PathNames,
) -> Result<Json<TopicView>, Problem> {
    let live = live(&state, names.community())?;
    let topic = names.topic();
    let plan = live.snapshot.topic_plan(topic);
    let known = matches!(plan, std::borrow::Cow::Borrowed(_));
    let shares = live.snapshot.distribution(PickContext::Topic(topic))?;
    Ok(Json(TopicView::new(topic.as_str(), known, &plan, &shares)))
}

/// Optional seed for a reproducible pick.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PickQuery {
    /// The same seed gives the same pick on the same configuration (ChaCha8).
    seed: Option<u64>,
}

/// Picks a wallet from the community's default pool.
#[utoipa::path(get, path = "/v1/communities/{community}/pick", tag = "public",
    params(("community" = String, Path), PickQuery),
    responses((status = 200, body = PickView), (status = 404), (status = 409, description = "Nothing to pick")))]
pub async fn pick_default(
    State(state): State<AppState>,
    names: PathNames,
    query: Result<Query<PickQuery>, QueryRejection>,
) -> Result<impl IntoResponse, Problem> {
    pick(&state, &names, PickContext::Default, query)
}

/// Picks a wallet from a pool, with probability weight / total.
#[utoipa::path(get, path = "/v1/communities/{community}/pools/{pool}/pick", tag = "public",
    params(("community" = String, Path), ("pool" = String, Path), PickQuery),
    responses((status = 200, body = PickView), (status = 404), (status = 409, description = "Nothing to pick")))]
pub async fn pick_pool(
    State(state): State<AppState>,
    names: PathNames,
    query: Result<Query<PickQuery>, QueryRejection>,
) -> Result<impl IntoResponse, Problem> {
    pick(&state, &names, PickContext::Pool(names.pool()), query)
}

/// Picks a wallet for a topic page, applying the community's split rules.
#[utoipa::path(get, path = "/v1/communities/{community}/topics/{topic}/pick", tag = "public",
    params(("community" = String, Path), ("topic" = String, Path), PickQuery),
    responses((status = 200, body = PickView), (status = 404), (status = 409, description = "Nothing to pick")))]
pub async fn pick_topic(
    State(state): State<AppState>,
    names: PathNames,
    query: Result<Query<PickQuery>, QueryRejection>,
) -> Result<impl IntoResponse, Problem> {
    pick(&state, &names, PickContext::Topic(names.topic()), query)
}

fn pick(
    state: &AppState,
    names: &PathNames,
    context: PickContext<'_>,
    query: Result<Query<PickQuery>, QueryRejection>,
) -> Result<impl IntoResponse + use<>, Problem> {
    let Query(query) = query.map_err(query_problem)?;
    let live = live(state, names.community())?;
    let view = {
        let mut seeded;
        let mut thread;
        let rng: &mut dyn RngCore = match query.seed {
            Some(seed) => {
                seeded = ChaCha8Rng::seed_from_u64(seed);
                &mut seeded
            }
            None => {
                thread = rand::rng();
                &mut thread
            }
        };
        let pick = live.snapshot.pick(context, rng)?;
        Metrics::count(&state.metrics.picks, pick.component.as_str());
        PickView::new(&pick, query.seed)
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(view)))
}
