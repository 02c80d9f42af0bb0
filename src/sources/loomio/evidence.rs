//! A Loomio vote's ballots, re-read from the documents its status was read from, kept in `raw`
//! by the evidence convention of `voting::evidence`: the poll (`GET /api/b2/polls/{id}`) and,
//! once anyone voted, every page of its group's memberships (`GET /api/b2/memberships…`), read
//! by [`read_status`]. Votes recorded before ballots were read from `voter_scores` kept the
//! thread's items (`GET /api/b2/threads/{topic_id}/items…`) instead, and are read by
//! [`read_status_of_thread`], the code that first read them. Either way honest documents give
//! exactly the ballots recorded.
//!
//! Pure. It does not look at trust levels: Loomio has none, and a decision takes voters'
//! standings from the member registry at closing.

use crate::voting::VoteState;
use crate::voting::evidence::{DocumentedVote, DocumentsError, documents_of};

use std::collections::HashMap;

use super::ballots::{read_status, read_status_of_thread};
use super::document::{ThreadStances, parse_members_page, parse_poll, parse_thread_stances};

const POLL_SOURCE: &str = "GET /api/b2/polls/";
const MEMBERS_SOURCE: &str = "GET /api/b2/memberships?group_id=";
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
    let member_pages: Vec<_> = documents
        .iter()
        .filter(|d| d.source.starts_with(MEMBERS_SOURCE))
        .collect();
    let thread_document = documents
        .iter()
        .find(|d| d.source.starts_with(THREAD_SOURCE));
    if !member_pages.is_empty() || thread_document.is_none() {
        let mut members = HashMap::new();
        for page in member_pages {
            let own = poll
                .group_id
                .map(|group| format!("{MEMBERS_SOURCE}{group}&"));
            check_own(&page.source, own, || {
                format!("the group of Loomio poll {}", poll.id)
            })?;
            let read = parse_members_page(&page.body)
                .map_err(|e| DocumentsError::Unreadable(format!("{}: {e}", page.source)))?;
            members.extend(read.users);
        }
        let (state, _, ballots) =
            read_status(&poll, &members).map_err(DocumentsError::Unreadable)?;
        return Ok(DocumentedVote {
            ballots,
            closed: Some(matches!(state, VoteState::Closed { .. })),
        });
    }
    let thread = match thread_document {
        Some(document) => {
            let own = poll
                .topic_id
                .map(|topic| format!("{THREAD_SOURCE}{topic}/items"));
            check_own(&document.source, own, || {
                format!("the thread of Loomio poll {}", poll.id)
            })?;
            parse_thread_stances(&document.body)
                .map_err(|e| DocumentsError::Unreadable(format!("{}: {e}", document.source)))?
        }
        None => ThreadStances::default(),
    };
    let (state, _, ballots) =
        read_status_of_thread(&poll, &thread).map_err(DocumentsError::Unreadable)?;
    Ok(DocumentedVote {
        ballots,
        closed: Some(matches!(state, VoteState::Closed { .. })),
    })
}

/// That a document was read from the poll's own `own` prefix (its group, its thread), not
/// another poll's.
fn check_own(
    source: &str,
    own: Option<String>,
    expected: impl FnOnce() -> String,
) -> Result<(), DocumentsError> {
    if own.is_none_or(|own| !source.starts_with(&own)) {
        return Err(DocumentsError::OtherPoll {
            expected: expected(),
            found: source.to_string(),
        });
    }
    Ok(())
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

    /// The poll as Loomio answers it now: every voter in `voter_scores`, 50 at most in
    /// `voter_ids` (here none: the reader must not need them).
    const POLL_WITH_SCORES: &str = r#"{
      "users": [],
      "polls": [{"id": 301, "key": "polKEY01", "title": "Add ann's wallet?", "details": "",
        "poll_type": "poll", "group_id": 7, "topic_id": 711, "anonymous": false,
        "hide_results": "off", "poll_option_name_format": "plain",
        "closing_at": "2026-10-01T12:00:00Z", "closed_at": null,
        "results": [
          {"id": 1, "name": "approve", "voter_ids": [], "voter_scores": {"502": 1}, "voter_count": 1},
          {"id": 2, "name": "disapprove", "voter_ids": [], "voter_scores": {"503": 1, "504": 0}, "voter_count": 1},
          {"id": -1, "name": "poll_common_votes_panel.undecided", "voter_ids": [505], "voter_scores": {}, "voter_count": 1}
        ]}],
      "poll_options": [
        {"id": 1, "poll_id": 301, "name": "approve", "priority": 0, "icon": null},
        {"id": 2, "poll_id": 301, "name": "disapprove", "priority": 1, "icon": null}
      ]
    }"#;

    fn members(users: &[(u64, &str)], total: usize) -> String {
        json!({
            "memberships": users.iter().map(|(id, _)| json!({"group_id": 7, "user_id": id})).collect::<Vec<_>>(),
            "users": users.iter().map(|(id, name)| json!({"id": id, "username": name})).collect::<Vec<_>>(),
            "meta": {"root": "memberships", "total": total},
        })
        .to_string()
    }

    #[test]
    fn every_members_page_names_the_voters_of_the_scores() {
        let documents = |second_group: u64| {
            raw_of(vec![
                Document {
                    source: "GET /api/b2/polls/301".into(),
                    body: POLL_WITH_SCORES.into(),
                },
                Document {
                    source: "GET /api/b2/memberships?group_id=7&limit=100&offset=0".into(),
                    body: members(&[(502, "grace")], 2),
                },
                Document {
                    source: format!(
                        "GET /api/b2/memberships?group_id={second_group}&limit=100&offset=1"
                    ),
                    body: members(&[(503, "hal")], 2),
                },
            ])
        };
        let vote = documented_vote(&documents(7), "301").unwrap();
        let read: Vec<(&str, Vec<String>)> = vote
            .ballots
            .iter()
            .map(|b| (b.voter.username.as_str(), b.choices.clone()))
            .collect();
        assert_eq!(
            read,
            [
                ("grace", vec!["approve".to_string()]),
                ("hal", vec!["disapprove".to_string()]),
            ],
            "a score of 0 is no choice, an undecided voter no ballot"
        );
        assert!(matches!(
            documented_vote(&documents(8), "301"),
            Err(DocumentsError::OtherPoll { .. })
        ));
        let one_page = raw_of(vec![
            Document {
                source: "GET /api/b2/polls/301".into(),
                body: POLL_WITH_SCORES.into(),
            },
            Document {
                source: "GET /api/b2/memberships?group_id=7&limit=100&offset=0".into(),
                body: members(&[(502, "grace")], 2),
            },
        ]);
        let missing = documented_vote(&one_page, "301").unwrap_err();
        assert!(missing.to_string().contains("user 503"), "{missing}");
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
