//! Admin routes for a community's sources: where its Discourse is, the webhook secret, and which
//! custom user field holds a member's wallet. Answers never contain the secret (invariant 7).

use axum::Json;
use axum::extract::State;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, PathNames};
use super::problem::{FieldError, Problem, ProblemKind};
use super::{AppState, live};
use crate::domain::Timestamp;
use crate::sources::discourse::{MIN_SECRET_CHARS, normalise_instance};
use crate::store::DiscourseSource;

/// A community's Discourse settings, as an admin sends them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscourseSourceInput {
    /// The site's base URL, exactly as Discourse sends it in `X-Discourse-Instance`
    /// (`https://forum.example`, or with its subfolder).
    base_url: String,
    /// The secret set on the Discourse webhook; at least 12 characters. Never shown again.
    #[schema(value_type = String, min_length = 12)]
    webhook_secret: SecretString,
    /// The name of the custom user field that holds a member's wallet.
    wallet_field: String,
    /// That field's id, as Discourse keys `user_fields` (`"3"`). Resolving the name to the id
    /// through Discourse's API comes with the API client; until then the admin gives both.
    wallet_field_id: String,
}

/// A community's Discourse settings, without the secret.
#[derive(Serialize, ToSchema)]
pub struct DiscourseSourceView {
    /// The site's base URL.
    base_url: String,
    /// The custom user field's name.
    wallet_field: String,
    /// The custom user field's id.
    wallet_field_id: String,
    /// Always true: a secret is set (it is never shown).
    webhook_secret_set: bool,
    /// Where Discourse sends this community's webhooks (a path on this service).
    webhook_path: String,
    /// When the settings were last set.
    updated_at: String,
}

fn view(slug: &str, source: &DiscourseSource) -> DiscourseSourceView {
    DiscourseSourceView {
        base_url: source.base_url.clone(),
        wallet_field: source.wallet_field.clone(),
        wallet_field_id: source.wallet_field_id.clone(),
        webhook_secret_set: true,
        webhook_path: format!("/hooks/discourse/{slug}"),
        updated_at: source.updated_at.to_rfc3339(),
    }
}

fn check(input: &DiscourseSourceInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let url = input.base_url.trim();
    let authority = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or_default());
    if authority.is_none_or(str::is_empty)
        || url.len() > 2000
        || url.contains(['?', '#', '@', ' '])
        || url.chars().any(char::is_control)
    {
        errors.push(FieldError::new(
            "base_url",
            "http-url",
            "must be the site's http(s) base URL, without query, fragment or userinfo",
        ));
    }
    let secret_chars = input.webhook_secret.expose_secret().chars().count();
    if !(MIN_SECRET_CHARS..=200).contains(&secret_chars) {
        errors.push(FieldError::new(
            "webhook_secret",
            "length",
            format!("must be {MIN_SECRET_CHARS} to 200 characters, as Discourse requires"),
        ));
    }
    let field = input.wallet_field.trim();
    if field.is_empty() || field.chars().count() > 200 || field.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "wallet_field",
            "valid-name",
            "must be 1 to 200 characters without control characters",
        ));
    }
    let id = &input.wallet_field_id;
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(FieldError::new(
            "wallet_field_id",
            "digits",
            "must be the field's id as Discourse keys user_fields: digits, such as \"3\"",
        ));
    }
    errors
}

/// Sets the community's Discourse settings.
#[utoipa::path(put, path = "/v1/admin/communities/{community}/sources/discourse", tag = "admin",
    params(("community" = String, Path)), request_body = DiscourseSourceInput,
    security(("admin_token" = [])),
    responses((status = 200, body = DiscourseSourceView), (status = 404), (status = 422)))]
pub async fn put_discourse_source(
    State(state): State<AppState>,
    names: PathNames,
    JsonBody(body): JsonBody<DiscourseSourceInput>,
) -> Result<Json<DiscourseSourceView>, Problem> {
    let live = live(&state, names.community())?;
    let errors = check(&body);
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let source = DiscourseSource {
        base_url: normalise_instance(&body.base_url),
        webhook_secret: body.webhook_secret,
        wallet_field: body.wallet_field.trim().to_string(),
        wallet_field_id: body.wallet_field_id,
        updated_at: Timestamp(jiff::Timestamp::now().as_millisecond()),
    };
    state.store.put_discourse_source(live.id, &source).await?;
    tracing::info!(community = %live.community.slug, base_url = %source.base_url, "Discourse settings set");
    Ok(Json(view(live.community.slug.as_str(), &source)))
}

/// The community's Discourse settings, without the secret.
#[utoipa::path(get, path = "/v1/admin/communities/{community}/sources/discourse", tag = "admin",
    params(("community" = String, Path)),
    security(("admin_token" = [])),
    responses((status = 200, body = DiscourseSourceView), (status = 404)))]
pub async fn get_discourse_source(
    State(state): State<AppState>,
    names: PathNames,
) -> Result<Json<DiscourseSourceView>, Problem> {
    let live = live(&state, names.community())?;
    let source = state
        .store
        .discourse_source(live.id)
        .await?
        .ok_or_else(|| {
            Problem::new(
                ProblemKind::SourceNotConfigured,
                format!(
                    "community `{}` has no Discourse settings",
                    live.community.slug
                ),
            )
        })?;
    Ok(Json(view(live.community.slug.as_str(), &source)))
}
