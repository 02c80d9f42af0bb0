//! Request extractors whose every rejection is a problem detail, not axum's plain-text default.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::problem::{FieldError, Problem, ProblemKind};
use crate::domain::{CommunitySlug, MemberId, PoolName, TopicId};

/// A JSON body: 415 unless declared as JSON, 413 past the route's limit, 400 when not JSON, and
/// 422 naming the field when JSON of the wrong shape.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(Problem::new(
                ProblemKind::UnsupportedMediaType,
                "send the body with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(ProblemKind::PayloadTooLarge, e.body_text())
                } else {
                    Problem::new(ProblemKind::MalformedJson, e.body_text())
                }
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Any JSON value whose objects each name a key once: a document that names one twice is
/// refused, since which of the two counts would be the parser's guess, not the sender's.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate field `{key}`")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
}

/// Parses JSON, telling a syntax error (400) from a shape error at a path (422). A key named
/// twice in one object is a shape error at that object, whatever the target type.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    parse_at_path::<UniqueKeys>(bytes)?;
    parse_at_path(bytes)
}

fn parse_at_path<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => Problem::invalid_fields(vec![FieldError::new(
                if path == "." {
                    "(body)".to_string()
                } else {
                    path
                },
                "schema",
                inner,
            )]),
            _ => Problem::new(
                ProblemKind::MalformedJson,
                format!("the body is not valid JSON: {inner}"),
            ),
        }
    })?;
    deserializer.end().map_err(|e| {
        Problem::new(
            ProblemKind::MalformedJson,
            format!("trailing characters after the JSON value: {e}"),
        )
    })?;
    Ok(value)
}

/// Path segments a route may carry, each parsed into its domain name (400 when invalid).
#[derive(Debug, serde::Deserialize)]
pub struct RawPath {
    community: Option<String>,
    pool: Option<String>,
    topic: Option<String>,
    member: Option<String>,
    version: Option<String>,
}

/// The parsed path segments of a route.
#[derive(Debug)]
pub struct PathNames {
    /// `{community}`.
    pub community: Option<CommunitySlug>,
    /// `{pool}`.
    pub pool: Option<PoolName>,
    /// `{topic}`.
    pub topic: Option<TopicId>,
    /// `{member}`.
    pub member: Option<MemberId>,
    /// `{version}`: a pool version, 1 or more.
    pub version: Option<u64>,
}

impl PathNames {
    /// The community segment, which every route that extracts this has.
    pub fn community(&self) -> &CommunitySlug {
        self.community
            .as_ref()
            .expect("the route has a {community} segment")
    }
    /// The pool segment.
    pub fn pool(&self) -> &PoolName {
        self.pool.as_ref().expect("the route has a {pool} segment")
    }
    /// The topic segment.
    pub fn topic(&self) -> &TopicId {
        self.topic
            .as_ref()
            .expect("the route has a {topic} segment")
    }
    /// The member segment.
    pub fn member(&self) -> &MemberId {
        self.member
            .as_ref()
            .expect("the route has a {member} segment")
    }
    /// The version segment.
    pub fn version(&self) -> u64 {
        self.version.expect("the route has a {version} segment")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathNames {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<RawPath>::from_request_parts(parts, state)
                .await
                .map_err(|e| Problem::new(ProblemKind::InvalidParameter, e.body_text()))?;
        fn parse<T>(
            field: &str,
            value: Option<String>,
            parse: fn(&str) -> Result<T, crate::domain::NameError>,
        ) -> Result<Option<T>, Problem> {
            value
                .map(|v| {
                    parse(&v).map_err(|e| Problem::invalid_parameter(FieldError::name(field, &e)))
                })
                .transpose()
        }
        Ok(PathNames {
            community: parse("community", raw.community, CommunitySlug::parse)?,
            pool: parse("pool", raw.pool, PoolName::parse)?,
            topic: parse("topic", raw.topic, TopicId::parse)?,
            member: parse("member", raw.member, MemberId::parse)?,
            version: raw
                .version
                .map(|v| {
                    v.parse::<u64>()
                        .ok()
                        .filter(|&v| v >= 1 && v <= i64::MAX as u64)
                        .ok_or_else(|| {
                            Problem::invalid_parameter(FieldError::new(
                                "version",
                                "version",
                                format!("must be a whole number from 1, found `{v}`"),
                            ))
                        })
                })
                .transpose()?,
        })
    }
}

/// The problem a query string that does not parse stands for: a 400 naming the query.
pub fn query_problem(e: QueryRejection) -> Problem {
    Problem::invalid_parameter(FieldError::new("query", "schema", e.body_text()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        entries: Vec<Item>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        weight: u64,
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        let problem = parse_json::<Body>(b"{\"entries\": [").unwrap_err();
        assert_eq!(problem.kind(), ProblemKind::MalformedJson);
    }

    #[test]
    fn shape_errors_name_the_field() {
        let problem =
            parse_json::<Body>(br#"{"entries": [{"weight": 1}, {"weight": "x"}]}"#).unwrap_err();
        assert_eq!(problem.kind(), ProblemKind::InvalidField);
        assert!(
            format!("{problem:?}").contains("entries[1].weight"),
            "{problem:?}"
        );
    }
}
