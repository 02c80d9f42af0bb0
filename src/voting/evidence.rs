//! The documents a vote's status was read from, kept byte for byte.
//!
//! `VoteStatus::raw` is a JSON value; a parsed value would lose the platform's key order and
//! number spelling. So a backend puts each document it read into `raw` as text, with where it
//! came from: `{"documents": [{"source": "GET /api/b2/polls/12", "body": "{…}"}]}`. The store
//! keeps those bodies exactly as received when a vote closes. A backend that puts any other value
//! in `raw` still has it kept, as one document holding the value's JSON text.
//!
//! Each platform re-reads its own documents into a [`DocumentedVote`], with the same pure code
//! that turned them into a status when they were read, so that an auditor can compare the ballots
//! a decision was made on with the ballots the platform's documents show.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Ballot;

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

/// What a vote's documents show on their own, as their platform's parser reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentedVote {
    /// Every ballot in the documents: who chose what.
    pub ballots: Vec<Ballot>,
    /// Whether the documents show the vote closed; `None` when they cannot tell by themselves
    /// (an open Discourse poll with a `close` time, read at a moment the documents do not give).
    pub closed: Option<bool>,
}

/// Why a vote's documents do not show its ballots.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DocumentsError {
    /// A document the platform always sends for a vote is not there.
    #[error("the documents hold no {0}")]
    Missing(String),
    /// A document is not what its platform sends.
    #[error("a document cannot be read: {0}")]
    Unreadable(String),
    /// The documents are of another poll than the vote's.
    #[error("the documents are of {found}, the vote is {expected}")]
    OtherPoll {
        /// The vote's poll, as its handle names it.
        expected: String,
        /// The poll the documents name.
        found: String,
    },
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
