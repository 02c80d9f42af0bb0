//! A Discourse vote's ballots, re-read from the documents its status was read from: the
//! `GET /posts/{id}.json` document and every `GET /polls/voters.json` page, as the backend keeps
//! them in a status's `raw` (`{"platform", "base_url", "documents": [{"method", "path",
//! "status", "body"}]}`). The same [`standing`] that read them then reads them again, so honest
//! documents give exactly the ballots recorded.
//!
//! Pure. It does not look at trust levels: the voters pages carry none, and a decision takes
//! them from the member registry at closing.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::Timestamp;
use crate::voting::evidence::{DocumentedVote, DocumentsError};

use super::api::{PostDoc, VoterDoc, VotersDoc};
use super::client::encode;
use super::poll::PollRef;
use super::status::standing;

#[derive(Deserialize)]
struct Raw {
    documents: Vec<RawDoc>,
}

#[derive(Deserialize)]
struct RawDoc {
    path: String,
    body: String,
}

/// The ballots the documents in `raw` show for the poll `external_id` (`{post_id}/{poll_name}`).
/// `at` is handed to [`standing`] as the moment of reading; ballots do not depend on it.
///
/// Whether the poll was closed is known only from its status: an open poll with a `close` time
/// was closed when read if that time had passed by then, and the moment of reading is not in
/// the documents (a decision's time may precede it, the scheduler taking its time first).
pub fn documented_vote(
    raw: &serde_json::Value,
    external_id: &str,
    at: Timestamp,
) -> Result<DocumentedVote, DocumentsError> {
    let poll_ref = PollRef::parse(external_id).ok_or_else(|| {
        DocumentsError::Unreadable(format!("{external_id:?} is not a Discourse poll"))
    })?;
    let raw: Raw = serde_json::from_value(raw.clone())
        .map_err(|e| DocumentsError::Unreadable(format!("the Discourse documents: {e}")))?;
    let post_path = format!("/posts/{}.json", poll_ref.post_id);
    let post_doc = raw
        .documents
        .iter()
        .find(|d| d.path == post_path)
        .ok_or_else(|| DocumentsError::Missing(format!("GET {post_path}")))?;
    let post: PostDoc = serde_json::from_str(&post_doc.body)
        .map_err(|e| DocumentsError::Unreadable(format!("GET {post_path}: {e}")))?;
    if post.id != poll_ref.post_id {
        return Err(DocumentsError::OtherPoll {
            expected: poll_ref.to_string(),
            found: format!("post {}", post.id),
        });
    }
    let poll = post
        .polls
        .iter()
        .find(|p| p.name == poll_ref.name)
        .ok_or_else(|| DocumentsError::Missing(format!("poll {poll_ref} in GET {post_path}")))?;

    let voters_path = format!(
        "/polls/voters.json?post_id={}&poll_name={}&",
        poll_ref.post_id,
        encode(&poll_ref.name)
    );
    let mut voters: BTreeMap<String, Vec<VoterDoc>> = BTreeMap::new();
    for document in &raw.documents {
        if document.path == post_path {
            continue;
        }
        if !document.path.starts_with(&voters_path) {
            return Err(DocumentsError::OtherPoll {
                expected: poll_ref.to_string(),
                found: format!("GET {}", document.path),
            });
        }
        let page: VotersDoc = serde_json::from_str(&document.body)
            .map_err(|e| DocumentsError::Unreadable(format!("GET {}: {e}", document.path)))?;
        for (option, batch) in page.voters {
            let known = voters.entry(option).or_default();
            for voter in batch {
                if !known.iter().any(|v| v.id == voter.id) {
                    known.push(voter);
                }
            }
        }
    }
    let read = standing(poll, post.raw.as_deref(), &voters, at);
    let closed = match (poll.status.as_str(), &poll.close) {
        ("closed", _) => Some(true),
        (_, None) => Some(false),
        (_, Some(_)) => None,
    };
    Ok(DocumentedVote {
        ballots: read.ballots,
        closed,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sources::discourse::option_digest;

    /// The documents the backend keeps for poll `12/revshare`: the post (as the fake and
    /// Discourse's `PostSerializer` write it) and one voters page per option.
    fn raw(status: &str, close: Option<&str>) -> serde_json::Value {
        let post = json!({
            "id": 12, "topic_id": 7, "post_number": 2, "topic_slug": "votes",
            "raw": "**Add ann?**\n\n[poll type=regular results=always public=true chartType=bar name=revshare]\n* approve\n* disapprove\n[/poll]",
            "polls": [{
                "id": 3, "name": "revshare", "type": "regular", "status": status, "public": true,
                "results": "always", "voters": 3, "chart_type": "bar", "close": close,
                "options": [
                    {"id": option_digest("approve"), "html": "approve", "votes": 2},
                    {"id": option_digest("disapprove"), "html": "disapprove", "votes": 1}
                ]
            }]
        });
        let page = |option: &str, users: serde_json::Value| {
            let id = option_digest(option);
            json!({
                "method": "GET",
                "path": format!("/polls/voters.json?post_id=12&poll_name=revshare&option_id={id}&page=1&limit=50"),
                "status": 200,
                "body": json!({"voters": {id: users}}).to_string(),
            })
        };
        json!({
            "platform": "discourse",
            "base_url": "https://forum.example",
            "documents": [
                {"method": "GET", "path": "/posts/12.json", "status": 200, "body": post.to_string()},
                page("approve", json!([
                    {"id": 5, "username": "ann", "name": "Ann", "avatar_template": "/a/{size}.png"},
                    {"id": 6, "username": "bob", "name": null, "avatar_template": "/b/{size}.png"}
                ])),
                page("disapprove", json!([{"id": 7, "username": "pat", "name": "Pat", "avatar_template": "/p/{size}.png"}])),
            ]
        })
    }

    fn choices(vote: &DocumentedVote) -> Vec<(String, String, Vec<String>)> {
        vote.ballots
            .iter()
            .map(|b| {
                (
                    b.voter.user_id.clone(),
                    b.voter.username.clone(),
                    b.choices.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn the_documents_give_who_chose_what() {
        let vote = documented_vote(&raw("open", None), "12/revshare", Timestamp(0)).unwrap();
        assert_eq!(
            choices(&vote),
            [
                ("5".into(), "ann".into(), vec!["approve".into()]),
                ("6".into(), "bob".into(), vec!["approve".into()]),
                ("7".into(), "pat".into(), vec!["disapprove".into()]),
            ]
        );
        assert!(vote.ballots.iter().all(|b| b.voter.platform == "discourse"));
        assert_eq!(vote.closed, Some(false));
    }

    #[test]
    fn closed_is_known_from_the_status_alone() {
        let closed = documented_vote(&raw("closed", None), "12/revshare", Timestamp(0)).unwrap();
        assert_eq!(closed.closed, Some(true));
        let open = documented_vote(&raw("open", None), "12/revshare", Timestamp(0)).unwrap();
        assert_eq!(open.closed, Some(false), "no close time: open until closed");
        let timed = documented_vote(
            &raw("open", Some("2026-03-01T10:00:00.000Z")),
            "12/revshare",
            Timestamp(0),
        );
        assert_eq!(
            timed.unwrap().closed,
            None,
            "whether it was read after its close time is not in the documents"
        );
    }

    #[test]
    fn documents_of_another_poll_or_without_the_post_are_refused() {
        assert!(matches!(
            documented_vote(&raw("open", None), "13/revshare", Timestamp(0)),
            Err(DocumentsError::Missing(what)) if what == "GET /posts/13.json"
        ));
        assert!(matches!(
            documented_vote(&raw("open", None), "12/other", Timestamp(0)),
            Err(DocumentsError::Missing(_))
        ));
        let mut foreign = raw("open", None);
        foreign["documents"][1]["path"] =
            json!("/polls/voters.json?post_id=99&poll_name=revshare&option_id=x&page=1&limit=50");
        assert!(matches!(
            documented_vote(&foreign, "12/revshare", Timestamp(0)),
            Err(DocumentsError::OtherPoll { .. })
        ));
        assert!(matches!(
            documented_vote(&json!({"post": {"polls": []}}), "12/revshare", Timestamp(0)),
            Err(DocumentsError::Unreadable(_))
        ));
    }
}
