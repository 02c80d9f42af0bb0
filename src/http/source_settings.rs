//! Admin routes for a community's sources: where its Discourse is, the webhook secret, which
//! custom user field holds a member's wallet, and how the service acts on the site (API key and
//! username, where polls go). With an API key the wallet field's id is resolved from its name
//! through Discourse's API. Answers never contain a secret (invariant 7).

use axum::Json;
use axum::extract::State;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, PathNames};
use super::problem::{FieldError, Problem, ProblemKind};
use super::{AppState, live};
use crate::domain::Timestamp;
use crate::sources::discourse::DiscourseSource;
use crate::sources::discourse::{ApiError, DiscourseClient, MIN_SECRET_CHARS};
use crate::sources::normalise_site_url;

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
    /// That field's id, as Discourse keys `user_fields` (`"3"`). Optional with an API key: the
    /// service then resolves `wallet_field` to its id (and checks this one against it).
    #[serde(default)]
    wallet_field_id: Option<String>,
    /// An admin API key of the site, for polls, messages and reading users. Never shown again.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    api_key: Option<SecretString>,
    /// The user the API key acts as (such as `system`); required with `api_key`.
    #[serde(default)]
    api_username: Option<String>,
    /// The topic that polls are posted in, as replies.
    #[serde(default)]
    poll_topic_id: Option<i64>,
    /// The category that polls are posted in, each as a new topic (instead of a topic).
    #[serde(default)]
    poll_category_id: Option<i64>,
}

/// A community's Discourse settings, without the secrets.
#[derive(Serialize, ToSchema)]
pub struct DiscourseSourceView {
    /// The site's base URL.
    base_url: String,
    /// The custom user field's name.
    wallet_field: String,
    /// The custom user field's id.
    wallet_field_id: String,
    /// When the id was resolved through Discourse's API; absent when the admin gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet_field_resolved_at: Option<String>,
    /// Always true: a secret is set (it is never shown).
    webhook_secret_set: bool,
    /// Whether an API key is set (it is never shown).
    api_key_set: bool,
    /// The user the API key acts as.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_username: Option<String>,
    /// The topic polls are posted in.
    #[serde(skip_serializing_if = "Option::is_none")]
    poll_topic_id: Option<i64>,
    /// The category polls are posted in.
    #[serde(skip_serializing_if = "Option::is_none")]
    poll_category_id: Option<i64>,
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
        wallet_field_resolved_at: source.wallet_field_resolved_at.map(Timestamp::to_rfc3339),
        webhook_secret_set: true,
        api_key_set: source.api_key.is_some(),
        api_username: source.api_username.clone(),
        poll_topic_id: source.poll_topic_id,
        poll_category_id: source.poll_category_id,
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
    match &input.wallet_field_id {
        Some(id) if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) => {
            errors.push(FieldError::new(
                "wallet_field_id",
                "digits",
                "must be the field's id as Discourse keys user_fields: digits, such as \"3\"",
            ));
        }
        None if input.api_key.is_none() => errors.push(FieldError::new(
            "wallet_field_id",
            "required",
            "is required unless an api_key is given to resolve wallet_field through the API",
        )),
        _ => {}
    }
    if let Some(key) = &input.api_key {
        let key = key.expose_secret();
        if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            errors.push(FieldError::new(
                "api_key",
                "valid-key",
                "must be 1 to 200 visible ASCII characters",
            ));
        }
    }
    match (&input.api_key, &input.api_username) {
        (Some(_), None) | (None, Some(_)) => errors.push(FieldError::new(
            if input.api_key.is_some() {
                "api_username"
            } else {
                "api_key"
            },
            "required-together",
            "api_key and api_username are given together",
        )),
        (Some(_), Some(name))
            if name.trim().is_empty()
                || name.chars().count() > 60
                || name.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            errors.push(FieldError::new(
                "api_username",
                "valid-name",
                "must be a Discourse username: 1 to 60 characters without spaces",
            ));
        }
        _ => {}
    }
    for (name, id) in [
        ("poll_topic_id", input.poll_topic_id),
        ("poll_category_id", input.poll_category_id),
    ] {
        if id.is_some_and(|id| id <= 0) {
            errors.push(FieldError::new(name, "positive", "must be a positive id"));
        }
    }
    if input.poll_topic_id.is_some() && input.poll_category_id.is_some() {
        errors.push(FieldError::new(
            "poll_category_id",
            "one-of",
            "give poll_topic_id or poll_category_id, not both",
        ));
    }
    if input.api_key.is_none()
        && (input.poll_topic_id.is_some() || input.poll_category_id.is_some())
    {
        errors.push(FieldError::new(
            "api_key",
            "required",
            "is required to post polls in a topic or category",
        ));
    }
    errors
}

/// Resolves the wallet field's name to its id through the site's API; a 422 when Discourse
/// refuses the key or has no such field, a 503 when it cannot be reached.
async fn resolve_wallet_field(
    client: &DiscourseClient,
    name: &str,
    given: Option<&str>,
) -> Result<String, Problem> {
    let resolved = client.user_field_id(name).await.map_err(|e| match e {
        ApiError::Refused { status, detail, .. } if status == 401 || status == 403 => {
            Problem::invalid_fields(vec![FieldError::new(
                "api_key",
                "accepted-by-discourse",
                format!(
                    "Discourse refused the key and username for its admin API ({status}): {detail}"
                ),
            )])
        }
        other => {
            tracing::warn!(error = %other, "resolving the wallet field failed");
            Problem::new(
                ProblemKind::PlatformUnavailable,
                format!("the wallet field could not be resolved: {other}"),
            )
        }
    })?;
    let id = match resolved {
        Ok(id) => id.to_string(),
        Err(names) => {
            return Err(Problem::invalid_fields(vec![FieldError::new(
                "wallet_field",
                "existing-field",
                format!(
                    "names no custom user field of the site; it has: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            )]));
        }
    };
    match given {
        Some(given) if given != id => Err(Problem::invalid_fields(vec![FieldError::new(
            "wallet_field_id",
            "matches-name",
            format!("is {given}, but the site's field `{name}` has id {id}"),
        )])),
        _ => Ok(id),
    }
}

/// Sets the community's Discourse settings (replacing them; secrets must be sent each time).
#[utoipa::path(put, path = "/v1/admin/communities/{community}/sources/discourse", tag = "admin",
    params(("community" = String, Path)), request_body = DiscourseSourceInput,
    security(("admin_token" = [])),
    responses((status = 200, body = DiscourseSourceView), (status = 404), (status = 422),
              (status = 503, description = "Discourse could not be reached to resolve the wallet field")))]
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
    let base_url = normalise_site_url(&body.base_url);
    let wallet_field = body.wallet_field.trim().to_string();
    let api_username = body.api_username.map(|n| n.trim().to_string());
    let now = state.clock.now();
    let (wallet_field_id, resolved_at) = match (&body.api_key, &api_username) {
        (Some(key), Some(username)) => {
            let client = DiscourseClient::new(&state.discourse, &base_url, key.clone(), username);
            let id = resolve_wallet_field(&client, &wallet_field, body.wallet_field_id.as_deref())
                .await?;
            (id, Some(now))
        }
        _ => (body.wallet_field_id.unwrap_or_default(), None),
    };
    let source = DiscourseSource {
        base_url,
        webhook_secret: body.webhook_secret,
        wallet_field,
        wallet_field_id,
        wallet_field_resolved_at: resolved_at,
        api_key: body.api_key,
        api_username,
        poll_topic_id: body.poll_topic_id,
        poll_category_id: body.poll_category_id,
        updated_at: now,
    };
    state.store.put_discourse_source(live.id, &source).await?;
    tracing::info!(
        community = %live.community.slug,
        base_url = %source.base_url,
        wallet_field_id = %source.wallet_field_id,
        api = source.api_key.is_some(),
        "Discourse settings set"
    );
    Ok(Json(view(live.community.slug.as_str(), &source)))
}

/// The community's Discourse settings, without the secrets.
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
