//! Loomio's b2 documents, read into typed values. Pure: the client hands in the bodies.
//!
//! Shapes follow Loomio's User API documentation (`docs/user_manual/integrations/api/user-api.md`
//! in Loomio's repository, the page served at `/help/api2`) and the serializers it names:
//! `PollSerializer` (a poll's `results`, `stance_counts`, `closing_at`, `closed_at`,
//! `current_outcome_id`, `topic_id`), `PollOptionSerializer`, `OutcomeSerializer`,
//! `StanceSerializer` (`participant_id`, `latest`, `cast_at`, `revoked_at`, `option_scores`
//! keyed by poll option id), `TopicItemSerializer` and `MembershipSerializer`. Every b2 answer is
//! a "compound" document:
//! the records asked for under their plural root (`polls`), related records side-loaded under
//! theirs (`poll_options`, `outcomes`, `users`, `stances`), and `meta`. Fields this service does
//! not use are ignored, so newer Loomio versions that add fields still read.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::domain::Timestamp;

/// Why a document could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentError {
    /// Not JSON of the expected shape.
    #[error("unexpected shape: {0}")]
    Shape(String),
    /// JSON of the right shape, without what was asked for.
    #[error("{0}")]
    Missing(String),
}

/// A poll as the API user sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Poll {
    /// The numeric id (`GET /api/b2/polls/{id}` takes it, or the key).
    pub id: u64,
    /// The short key of the poll's web address, `/p/{key}`.
    pub key: String,
    /// The title.
    pub title: String,
    /// The details, as stored (Markdown or HTML).
    pub details: String,
    /// `proposal`, `poll`, …
    pub poll_type: String,
    /// The group it belongs to; `None` for a poll outside any group.
    pub group_id: Option<u64>,
    /// The thread (topic) holding the poll and its stances (Loomio 3.1 and later).
    pub topic_id: Option<u64>,
    /// When voting ends; Loomio rounds it down to the hour.
    pub closing_at: Option<Timestamp>,
    /// When it closed; `None` while open.
    pub closed_at: Option<Timestamp>,
    /// The options in the order voters see them (by `priority`).
    pub options: Vec<PollOption>,
    /// How option names are stored: `plain` (the words voters read) or the legacy `i18n`
    /// (translation keys such as `agree`).
    pub option_name_format: Option<String>,
    /// Whether the poll is anonymous: Loomio then links no ballot to its voter.
    pub anonymous: bool,
    /// `off`, `until_vote` or `until_closed` (results, voters included, only once closed).
    pub hide_results: Option<String>,
    /// Each option's voters; `None` while Loomio hides the results.
    pub results: Option<Vec<OptionResult>>,
    /// Loomio's own count of stances per option, in option order, when it shows it.
    pub stance_counts: Option<Vec<u64>>,
    /// The outcome an author published, when there is one.
    pub outcome: Option<Outcome>,
    /// Users side-loaded with the poll (its author, at least).
    pub users: HashMap<u64, User>,
}

/// One option of a poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollOption {
    /// Its id, as stances and results name it.
    pub id: u64,
    /// Its name as Loomio stores it: a common proposal option comes back translated (`Agree`),
    /// except in the legacy `i18n` format, which keeps the key (`agree`).
    pub name: String,
    /// The icon of a common proposal option (`agree`, `abstain`, `disagree`, `block`): Loomio's
    /// own stable key for it, whatever the language of the name.
    pub icon: Option<String>,
}

/// The voters of one option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionResult {
    /// The option's id.
    pub option_id: u64,
    /// How many chose it.
    pub voter_count: u64,
    /// Who chose it, by user id: at most 50 (`Poll::RESULT_VOTER_IDS_MAX`), so only a sample.
    pub voter_ids: Vec<u64>,
    /// Every latest, unrevoked voter who chose it, by user id, with the score given: the whole
    /// list (`PollOption#voter_scores`), empty in an anonymous poll.
    pub voter_scores: BTreeMap<u64, i64>,
}

/// A poll's published outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Its id.
    pub id: u64,
    /// The statement (Markdown or HTML).
    pub statement: String,
    /// The option the outcome settles on, when it names one.
    pub poll_option_id: Option<u64>,
}

/// A user, as side-loaded (`AuthorSerializer`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct User {
    /// The numeric id.
    pub id: u64,
    /// The username (`@handle` without the `@`).
    #[serde(default)]
    pub username: Option<String>,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A voter's current stance in a thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stance {
    /// The poll it belongs to.
    pub poll_id: u64,
    /// Who took it; `None` in an anonymous poll.
    pub participant_id: Option<u64>,
    /// When it was cast; `None` for an invitation not voted on yet, or a withdrawn vote.
    pub cast_at: Option<Timestamp>,
    /// The options chosen (score above zero), by id.
    pub option_ids: Vec<u64>,
}

/// One page of a group's members, from `GET /api/b2/memberships?group_id=…`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MembersPage {
    /// The members' users on this page.
    pub users: HashMap<u64, User>,
    /// The memberships on this page.
    pub count: usize,
    /// How many memberships the group has in all (`meta.total`), when Loomio says.
    pub total: Option<usize>,
}

/// The stances and users of a thread, from `GET /api/b2/threads/{topic_id}/items`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadStances {
    /// Every latest, unrevoked stance.
    pub stances: Vec<Stance>,
    /// Every user the thread's items name.
    pub users: HashMap<u64, User>,
}

#[derive(Deserialize)]
struct PollRow {
    id: u64,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    poll_type: Option<String>,
    #[serde(default)]
    group_id: Option<u64>,
    #[serde(default)]
    topic_id: Option<u64>,
    #[serde(default)]
    closing_at: Option<String>,
    #[serde(default)]
    closed_at: Option<String>,
    #[serde(default)]
    results: Option<Vec<ResultRow>>,
    #[serde(default)]
    stance_counts: Option<Vec<u64>>,
    #[serde(default)]
    current_outcome_id: Option<u64>,
    #[serde(default)]
    poll_option_name_format: Option<String>,
    #[serde(default)]
    anonymous: Option<bool>,
    #[serde(default)]
    hide_results: Option<String>,
}

#[derive(Deserialize)]
struct ResultRow {
    id: i64,
    #[serde(default)]
    voter_ids: Vec<u64>,
    #[serde(default)]
    voter_count: u64,
    #[serde(default)]
    voter_scores: HashMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct OptionRow {
    id: u64,
    poll_id: u64,
    name: String,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    icon: Option<String>,
}

#[derive(Deserialize)]
struct OutcomeRow {
    id: u64,
    poll_id: u64,
    #[serde(default)]
    statement: Option<String>,
    #[serde(default)]
    poll_option_id: Option<u64>,
    #[serde(default)]
    latest: Option<bool>,
}

#[derive(Deserialize)]
struct StanceRow {
    poll_id: u64,
    #[serde(default)]
    participant_id: Option<u64>,
    #[serde(default)]
    latest: Option<bool>,
    #[serde(default)]
    cast_at: Option<String>,
    #[serde(default)]
    revoked_at: Option<String>,
    #[serde(default)]
    option_scores: HashMap<String, i64>,
}

#[derive(Deserialize)]
struct PollsDocument {
    polls: Vec<PollRow>,
    #[serde(default)]
    poll_options: Vec<OptionRow>,
    #[serde(default)]
    outcomes: Vec<OutcomeRow>,
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Deserialize)]
struct MembershipRow {
    #[serde(default)]
    user_id: Option<u64>,
}

#[derive(Deserialize)]
struct MembershipsMeta {
    #[serde(default)]
    total: Option<usize>,
}

#[derive(Deserialize)]
struct MembershipsDocument {
    memberships: Vec<MembershipRow>,
    #[serde(default)]
    users: Vec<User>,
    #[serde(default)]
    meta: Option<MembershipsMeta>,
}

#[derive(Deserialize)]
struct ItemsDocument {
    #[serde(default)]
    stances: Vec<StanceRow>,
    #[serde(default)]
    users: Vec<User>,
}

fn shape(e: serde_json::Error) -> DocumentError {
    DocumentError::Shape(e.to_string())
}

fn time(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, DocumentError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<jiff::Timestamp>()
                .map(|t| Timestamp(t.as_millisecond()))
                .map_err(|e| DocumentError::Shape(format!("`{field}` is not a time ({v:?}): {e}")))
        })
        .transpose()
}

/// Every poll of a `polls` document (a show, a create, an update or a list), in its order.
pub fn parse_polls(body: &str) -> Result<Vec<Poll>, DocumentError> {
    let doc: PollsDocument = serde_json::from_str(body).map_err(shape)?;
    let users: HashMap<u64, User> = doc.users.into_iter().map(|u| (u.id, u)).collect();
    doc.polls
        .into_iter()
        .map(|row| {
            let mut options: Vec<&OptionRow> = doc
                .poll_options
                .iter()
                .filter(|o| o.poll_id == row.id)
                .collect();
            options.sort_by_key(|o| (o.priority, o.id));
            let outcome = doc
                .outcomes
                .iter()
                .filter(|o| o.poll_id == row.id && o.latest != Some(false))
                .find(|o| row.current_outcome_id.is_none_or(|id| id == o.id))
                .map(|o| Outcome {
                    id: o.id,
                    statement: o.statement.clone().unwrap_or_default(),
                    poll_option_id: o.poll_option_id,
                });
            Ok(Poll {
                id: row.id,
                key: row.key.unwrap_or_else(|| row.id.to_string()),
                title: row.title.unwrap_or_default(),
                details: row.details.unwrap_or_default(),
                poll_type: row.poll_type.unwrap_or_default(),
                group_id: row.group_id,
                topic_id: row.topic_id,
                closing_at: time("closing_at", row.closing_at.as_deref())?,
                closed_at: time("closed_at", row.closed_at.as_deref())?,
                options: options
                    .into_iter()
                    .map(|o| PollOption {
                        id: o.id,
                        name: o.name.clone(),
                        icon: o.icon.clone().filter(|i| !i.is_empty()),
                    })
                    .collect(),
                option_name_format: row.poll_option_name_format,
                anonymous: row.anonymous.unwrap_or(false),
                hide_results: row.hide_results,
                // The "undecided" and "none of the above" entries Loomio adds to the results
                // have no option id (≤ 0).
                results: row
                    .results
                    .map(|results| {
                        results
                            .into_iter()
                            .filter_map(|r| {
                                let option_id = u64::try_from(r.id).ok().filter(|id| *id > 0)?;
                                Some(voter_scores(r.voter_scores).map(|voter_scores| {
                                    OptionResult {
                                        option_id,
                                        voter_count: r.voter_count,
                                        voter_ids: r.voter_ids,
                                        voter_scores,
                                    }
                                }))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?,
                stance_counts: row.stance_counts,
                outcome,
                users: users.clone(),
            })
        })
        .collect()
}

/// A result's `voter_scores` (user ids as JSON keys, scores as numbers) as typed values.
fn voter_scores(
    raw: HashMap<String, serde_json::Value>,
) -> Result<BTreeMap<u64, i64>, DocumentError> {
    raw.into_iter()
        .map(|(voter, score)| {
            let id = voter.parse::<u64>().map_err(|_| {
                DocumentError::Shape(format!("`voter_scores` names `{voter}`, not a user id"))
            })?;
            let score = score
                .as_i64()
                .or_else(|| score.as_f64().map(|f| f.round() as i64))
                .ok_or_else(|| {
                    DocumentError::Shape(format!("`voter_scores` gives user {id} no number"))
                })?;
            Ok((id, score))
        })
        .collect()
}

/// One page of a group's memberships and their users.
pub fn parse_members_page(body: &str) -> Result<MembersPage, DocumentError> {
    let doc: MembershipsDocument = serde_json::from_str(body).map_err(shape)?;
    let ids: std::collections::HashSet<u64> =
        doc.memberships.iter().filter_map(|m| m.user_id).collect();
    Ok(MembersPage {
        count: doc.memberships.len(),
        total: doc.meta.and_then(|m| m.total),
        users: doc
            .users
            .into_iter()
            .filter(|u| ids.contains(&u.id))
            .map(|u| (u.id, u))
            .collect(),
    })
}

/// The one poll of a show, create or update answer.
pub fn parse_poll(body: &str) -> Result<Poll, DocumentError> {
    parse_polls(body)?
        .into_iter()
        .next()
        .ok_or_else(|| DocumentError::Missing("the answer holds no poll".into()))
}

/// The latest, unrevoked stances and the users of a thread's items.
pub fn parse_thread_stances(body: &str) -> Result<ThreadStances, DocumentError> {
    let doc: ItemsDocument = serde_json::from_str(body).map_err(shape)?;
    let stances = doc
        .stances
        .into_iter()
        .filter(|s| s.latest != Some(false) && s.revoked_at.is_none())
        .map(|s| {
            let mut option_ids: Vec<u64> = s
                .option_scores
                .iter()
                .filter(|(_, score)| **score > 0)
                .filter_map(|(id, _)| id.parse().ok())
                .collect();
            option_ids.sort_unstable();
            Ok(Stance {
                poll_id: s.poll_id,
                participant_id: s.participant_id,
                cast_at: time("cast_at", s.cast_at.as_deref())?,
                option_ids,
            })
        })
        .collect::<Result<_, DocumentError>>()?;
    Ok(ThreadStances {
        stances,
        users: doc.users.into_iter().map(|u| (u.id, u)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = r#"{
      "users": [{"id": 502, "name": "Grace Sample", "username": "grace"}],
      "outcomes": [{"id": 801, "statement": "Adopted.", "poll_id": 301, "poll_option_id": 1, "latest": true}],
      "polls": [{"id": 301, "key": "polKEY01", "title": "Adopt the budget?", "details": "Yes?",
        "poll_type": "proposal", "group_id": 7, "topic_id": 711,
        "closing_at": "2026-10-01T12:00:00Z", "closed_at": "2026-10-01T12:03:10.123Z",
        "stance_counts": [3, 1, 0], "current_outcome_id": 801,
        "results": [
          {"id": 1, "poll_id": 301, "name": "Agree", "score": 3, "voter_ids": [502, 503, 504], "voter_count": 3},
          {"id": 2, "poll_id": 301, "name": "Disagree", "score": 1, "voter_ids": [505], "voter_count": 1},
          {"id": 3, "poll_id": 301, "name": "Abstain", "score": 0, "voter_ids": [], "voter_count": 0},
          {"id": -1, "poll_id": 301, "name": "undecided", "score": 0, "voter_ids": [506], "voter_count": 1}
        ]}],
      "poll_options": [
        {"id": 3, "poll_id": 301, "name": "Abstain", "priority": 2},
        {"id": 1, "poll_id": 301, "name": "Agree", "priority": 0},
        {"id": 2, "poll_id": 301, "name": "Disagree", "priority": 1}
      ],
      "meta": {"root": "polls"}
    }"#;

    #[test]
    fn a_poll_show_reads_with_its_results_and_outcome() {
        let poll = parse_poll(SHOW).unwrap();
        assert_eq!((poll.id, poll.key.as_str()), (301, "polKEY01"));
        assert_eq!((poll.group_id, poll.topic_id), (Some(7), Some(711)));
        let names: Vec<&str> = poll.options.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["Agree", "Disagree", "Abstain"], "by priority");
        let results = poll.results.unwrap();
        assert_eq!(results.len(), 3, "the undecided entry is not an option");
        assert_eq!(results[0].voter_ids, [502, 503, 504]);
        assert_eq!(poll.stance_counts, Some(vec![3, 1, 0]));
        assert_eq!(
            poll.closed_at,
            Some(Timestamp(
                "2026-10-01T12:03:10.123Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    .as_millisecond()
            ))
        );
        assert_eq!(poll.outcome.unwrap().poll_option_id, Some(1));
        assert_eq!(poll.users[&502].username.as_deref(), Some("grace"));
    }

    #[test]
    fn voter_scores_name_every_voter_and_members_pages_their_users() {
        let poll = parse_poll(
            r#"{"polls": [{"id": 5, "anonymous": true, "hide_results": "until_closed",
                "poll_option_name_format": "i18n",
                "results": [{"id": 9, "voter_ids": [1], "voter_scores": {"1": 1, "2": 2.0}, "voter_count": 2}]}],
                "poll_options": [{"id": 9, "poll_id": 5, "name": "agree", "icon": "agree"}]}"#,
        )
        .unwrap();
        let results = poll.results.unwrap();
        assert_eq!(results[0].voter_scores, BTreeMap::from([(1, 1), (2, 2)]));
        assert!(poll.anonymous);
        assert_eq!(poll.hide_results.as_deref(), Some("until_closed"));
        assert_eq!(poll.option_name_format.as_deref(), Some("i18n"));
        assert_eq!(poll.options[0].icon.as_deref(), Some("agree"));
        let bad = parse_poll(
            r#"{"polls": [{"id": 5, "results": [{"id": 9, "voter_scores": {"ann": 1}}]}]}"#,
        );
        assert!(
            matches!(&bad, Err(DocumentError::Shape(m)) if m.contains("ann")),
            "{bad:?}"
        );
        let page = parse_members_page(
            r#"{"memberships": [{"id": 1, "group_id": 7, "user_id": 502}],
                "users": [{"id": 502, "username": "grace"}, {"id": 9, "username": "inviter"}],
                "meta": {"root": "memberships", "total": 120}}"#,
        )
        .unwrap();
        assert_eq!((page.count, page.total), (1, Some(120)));
        assert_eq!(page.users.len(), 1, "only members' users");
        assert_eq!(page.users[&502].username.as_deref(), Some("grace"));
    }

    #[test]
    fn hidden_results_and_open_polls_read_as_such() {
        let poll = parse_poll(
            r#"{"polls": [{"id": 5, "key": "k", "title": "t", "poll_type": "poll",
                "closing_at": "2026-10-01T12:00:00Z", "closed_at": null}]}"#,
        )
        .unwrap();
        assert_eq!(poll.results, None);
        assert_eq!(poll.closed_at, None);
        assert!(poll.options.is_empty());
    }

    #[test]
    fn malformed_documents_say_what_is_wrong() {
        assert!(matches!(parse_poll("<html>"), Err(DocumentError::Shape(_))));
        assert!(matches!(
            parse_poll(r#"{"polls": []}"#),
            Err(DocumentError::Missing(_))
        ));
        let bad_time = parse_poll(r#"{"polls": [{"id": 5, "closed_at": "yesterday"}]}"#);
        assert!(
            matches!(&bad_time, Err(DocumentError::Shape(m)) if m.contains("closed_at")),
            "{bad_time:?}"
        );
    }

    #[test]
    fn thread_items_give_the_current_stances() {
        let stances = parse_thread_stances(
            r#"{"items": [], "stances": [
              {"id": 1, "poll_id": 301, "participant_id": 502, "latest": false, "cast_at": "2026-09-02T10:00:00Z", "revoked_at": null, "option_scores": {"2": 1}},
              {"id": 2, "poll_id": 301, "participant_id": 502, "latest": true, "cast_at": "2026-09-03T10:00:00Z", "revoked_at": null, "option_scores": {"1": 1, "2": 0}},
              {"id": 3, "poll_id": 301, "participant_id": 503, "latest": true, "cast_at": null, "revoked_at": null, "option_scores": {}},
              {"id": 4, "poll_id": 301, "participant_id": 504, "latest": true, "cast_at": "2026-09-03T10:00:00Z", "revoked_at": "2026-09-04T10:00:00Z", "option_scores": {"1": 1}}
            ], "users": [{"id": 502, "username": "grace", "name": "Grace"}], "meta": {"root": "items", "total": 4}}"#,
        )
        .unwrap();
        assert_eq!(
            stances.stances.len(),
            2,
            "older and revoked stances are left out"
        );
        assert_eq!(stances.stances[0].option_ids, [1]);
        assert_eq!(stances.stances[1].cast_at, None);
        assert_eq!(stances.users[&502].username.as_deref(), Some("grace"));
    }
}
