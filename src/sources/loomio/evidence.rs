//! A Loomio vote's ballots, re-read from the documents its status was read from: the poll
//! (`GET /api/b2/polls/{id}`) and, once anyone voted, its thread's items
//! (`GET /api/b2/threads/{topic_id}/items…`), kept in `raw` by the evidence convention of
//! `voting::evidence`. The same [`read_status`] that read them then reads them again, so honest
//! documents give exactly the ballots recorded.
//!
//! Pure. It does not look at trust levels: Loomio has none, and a decision takes voters'
//! standings from the member registry at closing.

use crate::voting::VoteState;
use crate::voting::evidence::{DocumentedVote, DocumentsError, documents_of};

use super::backend::read_status;
use super::document::{ThreadStances, parse_poll, parse_thread_stances};

const POLL_SOURCE: &str = "GET /api/b2/polls/";
const THREAD_SOURCE: &str = "GET /api/b2/threads/";

/// The ballots the documents in `raw` show for the poll `external_id` (the poll's id).
pub fn documented_vote(
    raw: &serde_json::Value,
    external_id: &str,
) -> Result<DocumentedVote, DocumentsError> {
    let documents = documents_of(raw);
    let poll_document = documents
        .iter()
        .find(|d| d.source.starts_with(POLL_SOURCE))
        .ok_or_else(|| DocumentsError::Missing(format!("{POLL_SOURCE}{external_id}")))?;
    let poll = parse_poll(&poll_document.body)
        .map_err(|e| DocumentsError::Unreadable(format!("{}: {e}", poll_document.source)))?;
    if poll.id.to_string() != external_id {
        return Err(DocumentsError::OtherPoll {
            expected: format!("Loomio poll {external_id}"),
            found: format!("Loomio poll {}", poll.id),
        });
    }
    let thread = match documents
        .iter()
        .find(|d| d.source.starts_with(THREAD_SOURCE))
    {
        Some(document) => {
            let own = poll
                .topic_id
                .map(|topic| format!("{THREAD_SOURCE}{topic}/items"));
            if own.is_none_or(|own| !document.source.starts_with(&own)) {
                return Err(DocumentsError::OtherPoll {
                    expected: format!("the thread of Loomio poll {}", poll.id),
                    found: document.source.clone(),
                });
            }
            parse_thread_stances(&document.body)
                .map_err(|e| DocumentsError::Unreadable(format!("{}: {e}", document.source)))?
        }
        None => ThreadStances::default(),
    };
    let (state, _, ballots) = read_status(&poll, &thread).map_err(DocumentsError::Unreadable)?;
    Ok(DocumentedVote {
        ballots,
        closed: Some(matches!(state, VoteState::Closed { .. })),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::voting::evidence::{Document, raw_of};

    /// A poll show as Loomio's b2 API writes it, with two voters.
    const POLL: &str = r#"{
      "users": [{"id": 502, "name": "Grace Sample", "username": "grace"}],
      "polls": [{"id": 301, "key": "polKEY01", "title": "Add ann's wallet?", "details": "",
        "poll_type": "poll", "group_id": 7, "topic_id": 711,
        "closing_at": "2026-10-01T12:00:00Z", "closed_at": null,
        "stance_counts": [1, 1],
        "results": [
          {"id": 1, "poll_id": 301, "name": "approve", "score": 1, "voter_ids": [502], "voter_count": 1},
          {"id": 2, "poll_id": 301, "name": "disapprove", "score": 1, "voter_ids": [503], "voter_count": 1}
        ]}],
      "poll_options": [
        {"id": 1, "poll_id": 301, "name": "approve", "priority": 0},
        {"id": 2, "poll_id": 301, "name": "disapprove", "priority": 1}
      ],
      "meta": {"root": "polls"}
    }"#;

    const THREAD: &str = r#"{"items": [], "stances": [
      {"id": 1, "poll_id": 301, "participant_id": 502, "latest": true, "cast_at": "2026-09-02T10:00:00Z", "revoked_at": null, "option_scores": {"1": 1}},
      {"id": 2, "poll_id": 301, "participant_id": 503, "latest": true, "cast_at": "2026-09-02T11:00:00Z", "revoked_at": null, "option_scores": {"2": 1}}
    ], "users": [{"id": 502, "username": "grace", "name": "Grace"}, {"id": 503, "username": "hal", "name": "Hal"}],
    "meta": {"root": "items", "total": 2}}"#;

    fn raw(poll: &str, thread_source: &str) -> serde_json::Value {
        raw_of(vec![
            Document {
                source: "GET /api/b2/polls/301".into(),
                body: poll.into(),
            },
            Document {
                source: thread_source.into(),
                body: THREAD.into(),
            },
        ])
    }

    #[test]
    fn the_documents_give_who_chose_what_and_when() {
        let vote =
            documented_vote(&raw(POLL, "GET /api/b2/threads/711/items?compact=1"), "301").unwrap();
        let read: Vec<(&str, &str, Vec<String>)> = vote
            .ballots
            .iter()
            .map(|b| {
                (
                    b.voter.user_id.as_str(),
                    b.voter.username.as_str(),
                    b.choices.clone(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                ("502", "grace", vec!["approve".to_string()]),
                ("503", "hal", vec!["disapprove".to_string()]),
            ]
        );
        assert!(vote.ballots.iter().all(|b| b.cast_at.is_some()));
        assert_eq!(vote.closed, Some(false));
        let closed = POLL.replace(
            r#""closed_at": null"#,
            r#""closed_at": "2026-10-01T12:03:00Z""#,
        );
        let vote = documented_vote(
            &raw(&closed, "GET /api/b2/threads/711/items?compact=1"),
            "301",
        );
        assert_eq!(vote.unwrap().closed, Some(true));
    }

    #[test]
    fn documents_of_another_poll_or_thread_are_refused() {
        let thread = "GET /api/b2/threads/711/items?compact=1";
        assert!(matches!(
            documented_vote(&raw(POLL, thread), "302"),
            Err(DocumentsError::OtherPoll { .. })
        ));
        assert!(matches!(
            documented_vote(&raw(POLL, "GET /api/b2/threads/9/items?compact=1"), "301"),
            Err(DocumentsError::OtherPoll { .. })
        ));
        assert!(matches!(
            documented_vote(&json!({"documents": []}), "301"),
            Err(DocumentsError::Missing(_))
        ));
        assert!(matches!(
            documented_vote(&raw("<html>", thread), "301"),
            Err(DocumentsError::Unreadable(_))
        ));
    }
}
