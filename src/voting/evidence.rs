//! The documents a vote's status was read from, kept byte for byte.
//!
//! `VoteStatus::raw` is a JSON value; a parsed value would lose the platform's key order and
//! number spelling. So a backend puts each document it read into `raw` as text, with where it
//! came from: `{"documents": [{"source": "GET /api/b2/polls/12", "body": "{…}"}]}`. The store
//! keeps those bodies exactly as received when a vote closes. A backend that puts any other value
//! in `raw` still has it kept, as one document holding the value's JSON text.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One document as read from a platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// What was read, such as `GET /api/b2/polls/12`; never a secret or a full URL with one.
    pub source: String,
    /// The body exactly as received.
    pub body: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Documents {
    documents: Vec<Document>,
}

/// The `raw` value holding these documents.
pub fn raw_of(documents: Vec<Document>) -> Value {
    serde_json::to_value(Documents { documents }).expect("documents always serialise")
}

/// The documents a `raw` value holds: those `raw_of` put there, else the whole value as one.
pub fn documents_of(raw: &Value) -> Vec<Document> {
    match serde_json::from_value::<Documents>(raw.clone()) {
        Ok(Documents { documents }) => documents,
        Err(_) => vec![Document {
            source: "raw".into(),
            body: raw.to_string(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_byte_for_byte() {
        let body = "{\"polls\":[{\"id\":1,\"title\":\"Ünïcode\",\"score\":1.50}]}\n";
        let documents = vec![Document {
            source: "GET /api/b2/polls/1".into(),
            body: body.into(),
        }];
        let raw = raw_of(documents.clone());
        let stored: Value = serde_json::from_str(&raw.to_string()).unwrap();
        assert_eq!(documents_of(&stored), documents);
        assert_eq!(documents_of(&stored)[0].body, body);
    }

    #[test]
    fn any_other_value_is_kept_as_one_document() {
        let raw = serde_json::json!({"post": {"id": 3}});
        assert_eq!(
            documents_of(&raw),
            [Document {
                source: "raw".into(),
                body: r#"{"post":{"id":3}}"#.into()
            }]
        );
    }
}
