//! The HTTP service (axum): public reads and picks, the Web Monetization endpoint, admin writes
//! and operational routes, all documented in one OpenAPI document; beside them, each community's
//! HTML transparency page and the snippet web pages include.

pub mod actions;
pub mod admin;
mod bare_errors;
pub mod extract;
pub mod hooks;
pub mod loomio_hook;
pub mod loomio_settings;
pub mod monetization;
pub mod openapi;
pub mod ops;
pub mod page;
pub mod policies;
pub mod problem;
pub mod proposals;
pub mod public;
pub mod reports;
pub mod serve;
pub mod snippet;
pub mod source_settings;
pub mod views;
pub mod votes;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::cors::{Any, CorsLayer};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{
    Changes, Doorbell, LiveCommunity, LoomioHints, ReplicaStatus, Scheduler, Snapshots, Votes,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::CommunitySlug;
use crate::openpayments::WalletDocuments;
use crate::oracle::Oracle;
use crate::sources::discourse::DiscourseSites;
use crate::store::Store;
use crate::telemetry::{Metrics, RouteLabels};

use problem::{Problem, ProblemKind};

/// Largest admin request body: a pool of 100,000 entries fits.
const ADMIN_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// What the handlers may use: the shared parts, the use cases they call, and the doorbells of
/// the workers they feed. Handlers take the whole state or, through `FromRef`, the one part they
/// need.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The database, for reads and for storing what a worker then applies.
    pub store: Store,
    /// The live selection snapshots.
    pub snapshots: Arc<Snapshots>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The configuration the service started with.
    pub config: Arc<Config>,
    /// Wallet-address documents for the Web Monetization endpoint.
    pub wallet_documents: WalletDocuments,
    /// The oracle that signs a report of every pool change, when enabled.
    pub oracle: Option<Arc<Oracle>>,
    /// Configuration changes.
    pub changes: Changes,
    /// The standard voting API.
    pub votes: Votes,
    /// Loomio's hints, rate-limited per community.
    pub loomio_hints: LoomioHints,
    /// The policy scheduler, which opens the proposals admins ask for.
    pub scheduler: Scheduler,
    /// The Discourse sites the service calls, for checking an admin's settings.
    pub discourse: DiscourseSites,
    /// The ingest worker's doorbell: rung after each stored delivery.
    #[from_ref(skip)]
    pub ingest: Doorbell,
    /// The relayer's doorbell: rung after a stored rotation.
    #[from_ref(skip)]
    pub relayer: Doorbell,
    /// The service's one clock.
    pub clock: Clock,
    /// Who this replica is and which jobs it runs.
    pub status: Arc<ReplicaStatus>,
}

/// The community's live snapshot, or a 404 problem.
pub fn live(state: &AppState, slug: &CommunitySlug) -> Result<Arc<LiveCommunity>, Problem> {
    state.snapshots.get(slug).ok_or_else(|| {
        Problem::new(
            ProblemKind::UnknownCommunity,
            format!("no community `{slug}`"),
        )
    })
}

#[derive(OpenApi)]
#[openapi(
    paths(hooks::discourse, loomio_hook::loomio),
    info(title = "revshare-oracle", description = "Revenue-share pools with full history, and weighted payment-pointer picks for Web Monetization."),
    modifiers(&AdminSecurity),
    tags(
        (name = "public", description = "Read-only, CORS-open"),
        (name = "web-monetization", description = "URLs for <link rel=\"monetization\">"),
        (name = "admin", description = "Bearer-token protected writes"),
        (name = "voting", description = "The standard voting API over every voting backend; admin token"),
        (name = "webhooks", description = "Deliveries from the platforms, checked and stored before they are answered"),
    )
)]
struct ApiDoc;

struct AdminSecurity;

impl Modify for AdminSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The whole service's router.
pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([axum::http::HeaderName::from_static(
            monetization::CHOSEN_WALLET_HEADER,
        )]);
    let public = OpenApiRouter::new()
        .routes(routes!(public::community))
        .routes(routes!(public::pool))
        .routes(routes!(public::pool_history))
        .routes(routes!(public::pool_version))
        .routes(routes!(public::splits))
        .routes(routes!(public::topic))
        .routes(routes!(public::pick_default))
        .routes(routes!(public::pick_pool))
        .routes(routes!(public::pick_topic))
        .routes(routes!(monetization::wallet_for_community))
        .routes(routes!(monetization::wallet_for_pool))
        .routes(routes!(monetization::wallet_for_topic))
        .routes(routes!(reports::community_reports))
        .routes(routes!(reports::report))
        .routes(routes!(reports::evidence))
        .routes(routes!(reports::reconciliation))
        .routes(routes!(ops::jobs))
        .layer(cors);
    let admin = OpenApiRouter::new()
        .routes(routes!(admin::create_community))
        .routes(routes!(admin::put_pool))
        .routes(routes!(admin::put_splits))
        .routes(routes!(admin::put_member))
        .routes(routes!(admin::put_topic))
        .routes(routes!(reports::rotate_signers))
        .routes(routes!(policies::propose_policy))
        .routes(routes!(proposals::request_change))
        .routes(routes!(proposals::get_proposal))
        .routes(routes!(
            source_settings::put_discourse_source,
            source_settings::get_discourse_source
        ))
        .routes(routes!(actions::list_actions))
        .routes(routes!(
            loomio_settings::put_loomio_source,
            loomio_settings::get_loomio_source
        ))
        .routes(routes!(votes::start_vote))
        .routes(routes!(votes::get_vote))
        .routes(routes!(votes::close_vote))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            admin::require_admin,
        ))
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT));
    // A replica serves what its role says: a public one no writes, a worker no public reads.
    let role = state.config.role;
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi());
    if role.serves_public() {
        api = api.merge(public);
    }
    if role.runs_jobs() {
        api = api.merge(admin);
    }
    let (api, mut openapi) = api.split_for_parts();
    openapi::complete(&mut openapi);
    let openapi = Arc::new(openapi);
    let mut api = api
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/problems/{slug}", get(ops::problem_page))
        .route(
            "/openapi.json",
            get(move || async move { axum::Json(openapi.as_ref().clone()) }),
        );
    if role.serves_public() {
        api = api
            .route("/c/{community}", get(page::community_page))
            .route(snippet::SNIPPET_PATH, get(snippet::script));
    }
    if role.runs_jobs() {
        api = api
            .route(
                "/hooks/discourse/{community}",
                post(hooks::discourse)
                    .layer(DefaultBodyLimit::max(state.config.ingest.max_body_bytes)),
            )
            .route(
                "/hooks/loomio/{community}",
                post(loomio_hook::loomio)
                    .layer(DefaultBodyLimit::max(state.config.ingest.max_body_bytes)),
            );
    }
    api.route_layer(middleware::from_fn_with_state(
        state.clone(),
        record_metrics,
    ))
    .fallback(|| async { Problem::new(ProblemKind::NotFound, "no route matches this path") })
    .layer(middleware::map_response(method_not_allowed_as_problem))
    .with_state(state)
}

/// Turns axum's bare 405 into problem details, keeping its `Allow` header. Done outside the
/// routes so that each route's own 405 stays behind its layers (CORS answers preflights first).
async fn method_not_allowed_as_problem(response: Response) -> Response {
    if response.status() != axum::http::StatusCode::METHOD_NOT_ALLOWED
        || response
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(axum::http::header::ALLOW).cloned();
    let mut problem = Problem::new(
        ProblemKind::MethodNotAllowed,
        "this path does not accept this method",
    )
    .into_response();
    if let Some(allow) = allow {
        problem
            .headers_mut()
            .insert(axum::http::header::ALLOW, allow);
    }
    problem
}

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await.into_response();
    let labels = RouteLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    state
        .metrics
        .http_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    state.metrics.http_requests.get_or_create(&labels).inc();
    response
}
