//! The Web Monetization endpoint: a URL that goes straight into
//! `<link rel="monetization" href="…">`. Browsers refuse an href with a query, so the context
//! travels in the path. Each request picks anew and answers as an Open Payments wallet address
//! does (the chosen wallet's own document), or, by configuration, redirects to it.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::PathNames;
use super::problem::{Problem, ProblemKind};
use super::{AppState, live};
use crate::config::MonetizationAnswer;
use crate::openpayments::Freshness;
use crate::select::PickContext;
use crate::telemetry::Metrics;

/// The header that tells a page's script which wallet was chosen.
pub const CHOSEN_WALLET_HEADER: &str = "x-revshare-wallet";

/// A wallet for the community's default pool.
#[utoipa::path(get, path = "/wm/{community}", tag = "web-monetization",
    params(("community" = String, Path)),
    responses((status = 200, description = "The chosen wallet's wallet-address document", content_type = "application/json"),
              (status = 302, description = "Redirect to the chosen wallet address (redirect mode)"),
              (status = 404), (status = 409), (status = 502)))]
pub async fn wallet_for_community(
    State(state): State<AppState>,
    names: PathNames,
) -> Result<Response, Problem> {
    answer(&state, &names, PickContext::Default).await
}

/// A wallet for a named pool.
#[utoipa::path(get, path = "/wm/{community}/pools/{pool}", tag = "web-monetization",
    params(("community" = String, Path), ("pool" = String, Path)),
    responses((status = 200, description = "The chosen wallet's wallet-address document", content_type = "application/json"),
              (status = 302), (status = 404), (status = 409), (status = 502)))]
pub async fn wallet_for_pool(
    State(state): State<AppState>,
    names: PathNames,
) -> Result<Response, Problem> {
    answer(&state, &names, PickContext::Pool(names.pool())).await
}

/// A wallet for a topic page, with the community's split rules applied.
#[utoipa::path(get, path = "/wm/{community}/topics/{topic}", tag = "web-monetization",
    params(("community" = String, Path), ("topic" = String, Path)),
    responses((status = 200, description = "The chosen wallet's wallet-address document", content_type = "application/json"),
              (status = 302), (status = 404), (status = 409), (status = 502)))]
pub async fn wallet_for_topic(
    State(state): State<AppState>,
    names: PathNames,
) -> Result<Response, Problem> {
    answer(&state, &names, PickContext::Topic(names.topic())).await
}

async fn answer(
    state: &AppState,
    names: &PathNames,
    context: PickContext<'_>,
) -> Result<Response, Problem> {
    let live = live(state, names.community())?;
    let wallet = {
        let pick = live.snapshot.pick(context, &mut rand::rng())?;
        Metrics::count(&state.metrics.picks, pick.component.as_str());
        pick.wallet.clone()
    };
    let chosen =
        HeaderValue::from_str(wallet.as_str()).expect("a wallet address is ASCII without controls");
    let mut response = match state.config.monetization.answer {
        MonetizationAnswer::Redirect => {
            (StatusCode::FOUND, [(header::LOCATION, chosen.clone())]).into_response()
        }
        MonetizationAnswer::WalletDocument => match state.wallet_documents.get(&wallet).await {
            Ok((document, freshness)) => {
                let outcome = match freshness {
                    Freshness::Cached => "cached",
                    Freshness::Fetched => "fetched",
                };
                Metrics::count(&state.metrics.wallet_documents, outcome);
                ([(header::CONTENT_TYPE, "application/json")], document).into_response()
            }
            Err(e) => {
                Metrics::count(&state.metrics.wallet_documents, "failed");
                tracing::warn!(error = %e, "wallet document unavailable");
                return Err(Problem::new(ProblemKind::WalletUnreachable, e.to_string()));
            }
        },
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CHOSEN_WALLET_HEADER, chosen);
    Ok(response)
}
