//! RFC 9457 problem details, built in one place from every part's errors.
//!
//! Every error the HTTP service returns is `application/problem+json` with a `type` that
//! resolves (relative to the service) to a short explanation at `/problems/{kind}`. Details never
//! carry secrets: database errors are logged and answered with a generic 500.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::backends::BACKENDS;
use crate::app::{AppError, PlatformSetup};
use crate::domain::{NameError, PointerError};
use crate::select::PickError;
use crate::store::StoreError;

/// The kinds of problem, each with its status, title and a page of explanation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// No such route.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// No such community.
    UnknownCommunity,
    /// No such pool in the community.
    UnknownPool,
    /// The body is not JSON.
    MalformedJson,
    /// The body is not declared as JSON.
    UnsupportedMediaType,
    /// The body is larger than the route accepts.
    PayloadTooLarge,
    /// One or more fields broke a rule.
    InvalidField,
    /// A path or query parameter broke a rule.
    InvalidParameter,
    /// No valid admin token.
    Unauthorized,
    /// The admin API has no token configured.
    AdminDisabled,
    /// A webhook's signature is missing or does not match.
    BadSignature,
    /// A webhook names another instance than the community's source.
    WrongInstance,
    /// The community has no settings for the platform a webhook came from.
    SourceNotConfigured,
    /// The resource exists already, or changed under the request.
    Conflict,
    /// The context has nothing to pick from.
    NothingToPick,
    /// The chosen wallet's document could not be fetched.
    WalletUnreachable,
    /// The database does not answer.
    Unavailable,
    /// Anything unexpected.
    Internal,
    /// The community has no vote with this id.
    UnknownVote,
    /// A voting platform refused a call, or answered something unreadable.
    PlatformRefused,
    /// The community's platform (Discourse, Loomio) could not be reached, kept failing, or asked
    /// to be called later.
    PlatformUnavailable,
    /// The request is not HTTP/1.1 the server can read (a bad request line or header).
    MalformedRequest,
    /// The request target is longer than the server reads.
    UriTooLong,
    /// The request's headers are larger than the server reads.
    HeadersTooLarge,
    /// Too many requests of this kind in a short time; `Retry-After` says when to try again.
    RateLimited,
}

impl ProblemKind {
    /// All kinds, for the explanation pages.
    pub const ALL: [ProblemKind; 26] = [
        ProblemKind::NotFound,
        ProblemKind::MethodNotAllowed,
        ProblemKind::UnknownCommunity,
        ProblemKind::UnknownPool,
        ProblemKind::MalformedJson,
        ProblemKind::UnsupportedMediaType,
        ProblemKind::PayloadTooLarge,
        ProblemKind::InvalidField,
        ProblemKind::InvalidParameter,
        ProblemKind::Unauthorized,
        ProblemKind::AdminDisabled,
        ProblemKind::BadSignature,
        ProblemKind::WrongInstance,
        ProblemKind::SourceNotConfigured,
        ProblemKind::Conflict,
        ProblemKind::NothingToPick,
        ProblemKind::WalletUnreachable,
        ProblemKind::Unavailable,
        ProblemKind::Internal,
        ProblemKind::UnknownVote,
        ProblemKind::PlatformRefused,
        ProblemKind::PlatformUnavailable,
        ProblemKind::MalformedRequest,
        ProblemKind::UriTooLong,
        ProblemKind::HeadersTooLarge,
        ProblemKind::RateLimited,
    ];

    /// The kind's slug in its `type` URI.
    pub fn slug(self) -> &'static str {
        self.describe().0
    }

    /// Slug, status, title and explanation.
    pub fn describe(self) -> (&'static str, StatusCode, &'static str, &'static str) {
        use ProblemKind::*;
        match self {
            NotFound => (
                "not-found",
                StatusCode::NOT_FOUND,
                "Not found",
                "No resource lives at this path. /openapi.json lists the routes.",
            ),
            MethodNotAllowed => (
                "method-not-allowed",
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "The path exists, but not for this HTTP method.",
            ),
            UnknownCommunity => (
                "unknown-community",
                StatusCode::NOT_FOUND,
                "Unknown community",
                "No community with this slug is registered on this service.",
            ),
            UnknownPool => (
                "unknown-pool",
                StatusCode::NOT_FOUND,
                "Unknown pool",
                "The community has no pool with this name.",
            ),
            MalformedJson => (
                "malformed-json",
                StatusCode::BAD_REQUEST,
                "Malformed JSON",
                "The request body is not well-formed JSON; the detail gives the line and column.",
            ),
            UnsupportedMediaType => (
                "unsupported-media-type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                "Send the body as `Content-Type: application/json`.",
            ),
            PayloadTooLarge => (
                "payload-too-large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload too large",
                "The request body is larger than this route accepts.",
            ),
            InvalidField => (
                "invalid-field",
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid field",
                "One or more fields broke a rule; `errors` names each field and the rule it broke.",
            ),
            InvalidParameter => (
                "invalid-parameter",
                StatusCode::BAD_REQUEST,
                "Invalid parameter",
                "A path segment or query parameter broke a rule; `errors` names it.",
            ),
            Unauthorized => (
                "unauthorized",
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Admin routes need `Authorization: Bearer <admin token>`.",
            ),
            AdminDisabled => (
                "admin-disabled",
                StatusCode::FORBIDDEN,
                "Admin API disabled",
                "No admin token is configured: set `admin_token` or REVSHARE_ADMIN_TOKEN to enable the admin routes.",
            ),
            BadSignature => (
                "bad-signature",
                StatusCode::UNAUTHORIZED,
                "Bad signature",
                "A webhook must carry `X-Discourse-Event-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact body keyed with the community's webhook secret.",
            ),
            WrongInstance => (
                "wrong-instance",
                StatusCode::UNAUTHORIZED,
                "Wrong instance",
                "`X-Discourse-Instance` must name the base URL configured for the community's Discourse.",
            ),
            SourceNotConfigured => (
                "source-not-configured",
                StatusCode::NOT_FOUND,
                "Source not configured",
                "The community has no settings for this platform; an admin sets them under `/v1/admin/communities/{community}/sources/`.",
            ),
            Conflict => (
                "conflict",
                StatusCode::CONFLICT,
                "Conflict",
                "The resource exists already, or another change was recorded at the same time; read it and try again.",
            ),
            NothingToPick => (
                "nothing-to-pick",
                StatusCode::CONFLICT,
                "Nothing to pick",
                "The pool this context draws from has no entries, and no member share applies.",
            ),
            WalletUnreachable => (
                "wallet-unreachable",
                StatusCode::BAD_GATEWAY,
                "Wallet unreachable",
                "The chosen wallet's wallet-address document could not be fetched or is not valid.",
            ),
            Unavailable => (
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable",
                "A dependency (the database) does not answer.",
            ),
            Internal => (
                "internal",
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                "Something unexpected failed; it was logged.",
            ),
            UnknownVote => (
                "unknown-vote",
                StatusCode::NOT_FOUND,
                "Unknown vote",
                "The community has no vote with this id.",
            ),
            PlatformRefused => (
                "platform-refused",
                StatusCode::BAD_GATEWAY,
                "Platform refused",
                "The voting platform refused the call, or answered something the service cannot read; the detail gives the platform's reason. Trying again unchanged will not help.",
            ),
            PlatformUnavailable => (
                "platform-unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "Platform unavailable",
                "The community's platform (Discourse, Loomio) could not be reached, failed, or asked to be called later (`Retry-After` says when, if it did). Nothing was stored, except a vote's start or close, which the service retries; `vote` names it.",
            ),
            MalformedRequest => (
                "malformed-request",
                StatusCode::BAD_REQUEST,
                "Malformed request",
                "The request line or a header is not valid HTTP/1.1, so no route could read it.",
            ),
            UriTooLong => (
                "uri-too-long",
                StatusCode::URI_TOO_LONG,
                "URI too long",
                "The request target is longer than the server reads (64 KiB); no route takes a URI that long.",
            ),
            HeadersTooLarge => (
                "headers-too-large",
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Request headers too large",
                "The request's headers together are larger than the server reads.",
            ),
            RateLimited => (
                "rate-limited",
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limited",
                "Too many requests of this kind came in a short time; `Retry-After` says how many seconds to wait. Nothing was stored.",
            ),
        }
    }

    /// The kind with this slug.
    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }
}

/// One field that broke a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// A JSON path such as `entries[2].wallet`.
    pub field: String,
    /// The rule's stable name, such as `no-port`.
    pub rule: String,
    /// The rule in words.
    pub detail: String,
}

impl FieldError {
    /// A field error from its parts.
    pub fn new(field: impl Into<String>, rule: impl Into<String>, detail: impl ToString) -> Self {
        FieldError {
            field: field.into(),
            rule: rule.into(),
            detail: detail.to_string(),
        }
    }

    /// A payment pointer that broke a rule of the syntax.
    pub fn pointer(field: impl Into<String>, error: &PointerError) -> Self {
        FieldError::new(field, error.rule(), error)
    }

    /// A name that broke its rule.
    pub fn name(field: impl Into<String>, error: &NameError) -> Self {
        FieldError::new(field, "valid-name", error)
    }
}

/// An error answer.
#[derive(Debug)]
pub struct Problem {
    kind: ProblemKind,
    detail: String,
    errors: Vec<FieldError>,
    extensions: Map<String, Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    type_uri: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
    #[serde(flatten)]
    extensions: &'a Map<String, Value>,
}

impl Problem {
    /// A problem of this kind, with a detail for this occurrence.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            extensions: Map::new(),
            headers: Vec::new(),
        }
    }

    /// The same problem with an extension member (RFC 9457 §3.2), such as the vote it concerns.
    pub fn with_extension(mut self, name: &str, value: Value) -> Self {
        self.extensions.insert(name.to_string(), value);
        self
    }

    /// The same problem answered with one more header, such as `Retry-After` or `Location`.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// A 422 naming each field and the rule it broke.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("`{}` {}", one.field, one.detail),
            many => format!("{} fields broke a rule", many.len()),
        };
        Problem {
            errors,
            ..Problem::new(ProblemKind::InvalidField, detail)
        }
    }

    /// A 400 naming the path or query parameter and the rule it broke.
    pub fn invalid_parameter(error: FieldError) -> Self {
        let detail = format!("`{}` {}", error.field, error.detail);
        Problem {
            errors: vec![error],
            ..Problem::new(ProblemKind::InvalidParameter, detail)
        }
    }

    /// The kind, for tests and metrics.
    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    /// The `application/problem+json` body, for answers written below the router.
    pub fn body(&self) -> Vec<u8> {
        let (slug, status, title, _) = self.kind.describe();
        let body = ProblemBody {
            type_uri: format!("/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail: &self.detail,
            errors: &self.errors,
            extensions: &self.extensions,
        };
        serde_json::to_vec(&body).expect("a problem always serialises")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.kind.describe().1;
        let json = self.body();
        let mut response = (status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.kind == ProblemKind::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownCommunity(_) => {
                Problem::new(ProblemKind::UnknownCommunity, e.to_string())
            }
            StoreError::CommunityExists(_) | StoreError::Conflict(_) => {
                Problem::new(ProblemKind::Conflict, e.to_string())
            }
            StoreError::UnknownPool(ref pool) => Problem::invalid_fields(vec![FieldError::new(
                "pools",
                "existing-pool",
                format!("names pool `{pool}`, which the community does not have yet"),
            )]),
            StoreError::Oracle(ref oracle) if oracle.refuses_size() => {
                Problem::invalid_fields(vec![FieldError::new(
                    "entries",
                    "reportable",
                    format!("cannot be reported to the contract: {oracle}"),
                )])
            }
            StoreError::Oracle(ref oracle) => {
                tracing::error!(error = %e, "the oracle could not sign a change");
                Problem::new(
                    ProblemKind::Unavailable,
                    format!("the change was not stored: {oracle}"),
                )
            }
            StoreError::Connect { .. } => {
                tracing::error!(error = %e, "database unreachable");
                Problem::new(ProblemKind::Unavailable, "the database does not answer")
            }
            other => {
                tracing::error!(error = %other, "store failure");
                Problem::new(
                    ProblemKind::Internal,
                    "a database operation failed; it was logged",
                )
            }
        }
    }
}

/// Each use-case failure as the problem it stands for: the one place they are mapped.
impl From<AppError> for Problem {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Store(e) => e.into(),
            AppError::Oracle(e) => StoreError::Oracle(e).into(),
            AppError::Platform(PlatformSetup::Unknown(name)) => {
                Problem::invalid_fields(vec![FieldError::new(
                    "backend",
                    "known-backend",
                    format!(
                        "names no voting backend (`{name}`); known: {}",
                        BACKENDS.join(", ")
                    ),
                )])
            }
            AppError::Platform(PlatformSetup::NotConfigured(platform)) => {
                Problem::invalid_fields(vec![FieldError::new(
                    "backend",
                    "configured-backend",
                    format!(
                        "names {platform}, which this community has not set up; an admin sets it \
                         under /v1/admin/communities/{{community}}/sources/"
                    ),
                )])
            }
            AppError::Invalid(reason) => {
                Problem::invalid_fields(vec![FieldError::new("(body)", "backend-accepts", reason)])
            }
            AppError::UnknownVote(id) => Problem::new(
                ProblemKind::UnknownVote,
                format!("the community has no vote {id}"),
            ),
            e @ AppError::VoteEnded { .. } => Problem::new(ProblemKind::Conflict, e.to_string()),
            e @ (AppError::Policy(_) | AppError::Inconsistent(_)) => {
                tracing::error!(error = %e, "a use case met inconsistent stored data");
                Problem::new(
                    ProblemKind::Internal,
                    "stored data could not be used; it was logged",
                )
            }
        }
    }
}

impl From<PickError> for Problem {
    fn from(e: PickError) -> Self {
        match e {
            PickError::UnknownPool(_) => Problem::new(ProblemKind::UnknownPool, e.to_string()),
            PickError::NothingToPick(_) => Problem::new(ProblemKind::NothingToPick, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_slug() {
        let mut slugs: Vec<_> = ProblemKind::ALL.iter().map(|k| k.slug()).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), ProblemKind::ALL.len());
        for kind in ProblemKind::ALL {
            assert_eq!(ProblemKind::from_slug(kind.slug()), Some(kind));
        }
    }

    #[test]
    fn inconsistent_stored_data_stays_out_of_answers() {
        let problem = Problem::from(AppError::Inconsistent("vote 7 names secret row".into()));
        assert_eq!(problem.kind(), ProblemKind::Internal);
        assert!(!problem.detail.contains("secret"));
    }

    #[test]
    fn database_details_stay_out_of_answers() {
        let problem = Problem::from(StoreError::Corrupt("secret row".into()));
        assert_eq!(problem.kind(), ProblemKind::Internal);
        assert!(!problem.detail.contains("secret"));
    }
}
