//! Admin routes for a community's Loomio: the site, the API key of the Loomio user the service
//! acts as, and the group whose members vote. Answers never contain the key (invariant 7).

use axum::Json;
use axum::extract::State;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, PathNames};
use super::problem::{FieldError, Problem, ProblemKind};
use super::{AppState, live};
use crate::sources::loomio::LoomioSource;

/// A community's Loomio settings, as an admin sends them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoomioSourceInput {
    /// The Loomio site, such as `https://www.loomio.com`; its API is at `/api/b2` below it.
    base_url: String,
    /// The API key of the Loomio user the service acts as (from its `/profile/api_access`
    /// page); a bot account keeps the service out of the polls. Never shown again.
    #[schema(value_type = String, min_length = 8)]
    api_key: SecretString,
    /// The id of the group whose polls the service starts and whose members vote.
    #[schema(minimum = 1)]
    group_id: u64,
}

/// A community's Loomio settings, without the key.
#[derive(Serialize, ToSchema)]
pub struct LoomioSourceView {
    /// The Loomio site.
    base_url: String,
    /// The group's id.
    group_id: u64,
    /// Always true: a key is set (it is never shown).
    api_key_set: bool,
    /// Where Loomio's webhooks (chat integrations, any format) go to hint that something
    /// changed: a path on this service.
    hook_path: String,
    /// When the settings were last set.
    updated_at: String,
}

fn view(slug: &str, source: &LoomioSource) -> LoomioSourceView {
    LoomioSourceView {
        base_url: source.base_url.clone(),
        group_id: source.group_id,
        api_key_set: true,
        hook_path: format!("/hooks/loomio/{slug}"),
        updated_at: source.updated_at.to_rfc3339(),
    }
}

/// Whether a URL's authority (host and port) names this machine.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check(input: &LoomioSourceInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let url = input.base_url.trim();
    let lower = url.to_ascii_lowercase();
    let authority = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or_default().to_string());
    if authority.as_ref().is_none_or(|a| a.is_empty())
        || url.len() > 2000
        || url.contains(['?', '#', '@', ' ', '\\'])
        || url.chars().any(char::is_control)
    {
        errors.push(FieldError::new(
            "base_url",
            "http-url",
            "must be the Loomio site's http(s) URL, without query, fragment or userinfo",
        ));
    } else if lower.starts_with("http://") && !authority.as_deref().is_some_and(is_loopback) {
        errors.push(FieldError::new(
            "base_url",
            "https-url",
            "must be https, so that the API key never travels in clear (http only for a Loomio \
             on this machine)",
        ));
    }
    let key = input.api_key.expose_secret();
    if !(8..=200).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        errors.push(FieldError::new(
            "api_key",
            "api-key",
            "must be the Loomio API key: 8 to 200 visible ASCII characters",
        ));
    }
    if input.group_id == 0 || i64::try_from(input.group_id).is_err() {
        errors.push(FieldError::new(
            "group_id",
            "group-id",
            "must be the Loomio group's numeric id",
        ));
    }
    errors
}

/// Sets the community's Loomio settings.
#[utoipa::path(put, path = "/v1/admin/communities/{community}/sources/loomio", tag = "admin",
    params(("community" = String, Path)), request_body = LoomioSourceInput,
    security(("admin_token" = [])),
    responses((status = 200, body = LoomioSourceView), (status = 404), (status = 422)))]
pub async fn put_loomio_source(
    State(state): State<AppState>,
    names: PathNames,
    JsonBody(body): JsonBody<LoomioSourceInput>,
) -> Result<Json<LoomioSourceView>, Problem> {
    let live = live(&state, names.community())?;
    let errors = check(&body);
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let source = LoomioSource {
        base_url: crate::sources::normalise_site_url(&body.base_url),
        api_key: body.api_key,
        group_id: body.group_id,
        updated_at: state.clock.now(),
    };
    state.store.put_loomio_source(live.id, &source).await?;
    tracing::info!(community = %live.community.slug, base_url = %source.base_url, group = source.group_id, "Loomio settings set");
    Ok(Json(view(live.community.slug.as_str(), &source)))
}

/// The community's Loomio settings, without the key.
#[utoipa::path(get, path = "/v1/admin/communities/{community}/sources/loomio", tag = "admin",
    params(("community" = String, Path)),
    security(("admin_token" = [])),
    responses((status = 200, body = LoomioSourceView), (status = 404)))]
pub async fn get_loomio_source(
    State(state): State<AppState>,
    names: PathNames,
) -> Result<Json<LoomioSourceView>, Problem> {
    let live = live(&state, names.community())?;
    let source = state.store.loomio_source(live.id).await?.ok_or_else(|| {
        Problem::new(
            ProblemKind::SourceNotConfigured,
            format!("community `{}` has no Loomio settings", live.community.slug),
        )
    })?;
    Ok(Json(view(live.community.slug.as_str(), &source)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_loopback() {
        assert!(is_loopback("127.0.0.1:3000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:8080"));
        assert!(!is_loopback("loomio.example"));
        assert!(!is_loopback("127.0.0.1.example"));
        assert!(!is_loopback("10.0.0.1"));
    }

    #[test]
    fn sites_are_kept_in_one_form() {
        assert_eq!(
            crate::sources::normalise_site_url("HTTPS://Loomio.Example/"),
            "https://loomio.example"
        );
        assert_eq!(
            crate::sources::normalise_site_url("https://example.org/loomio/"),
            "https://example.org/loomio"
        );
    }
}
