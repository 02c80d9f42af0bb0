//! A Discourse poll's standing, read from its documents: open or closed, a tally per option and
//! a ballot per voter. Pure: the documents and the moment of reading are handed in.

use std::collections::BTreeMap;

use crate::domain::Timestamp;
use crate::voting::{Ballot, Tally, VoteState, Voter};

use super::PLATFORM;
use super::api::{PollDoc, VoterDoc};
use super::poll::{option_digest, option_texts};

/// The parts of a `VoteStatus` that come from the poll (everything but the raw evidence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollStanding {
    /// Open or closed.
    pub state: VoteState,
    /// One tally per option, in the poll's order.
    pub tallies: Vec<Tally>,
    /// One ballot per voter, by user id.
    pub ballots: Vec<Ballot>,
}

/// Each option's text, by option id: from the post's Markdown when an option's text hashes to
/// its id (exact, unescaped), else the option's cooked HTML as Discourse gave it.
pub fn option_labels(poll: &PollDoc, post_raw: Option<&str>) -> BTreeMap<String, String> {
    let from_raw: BTreeMap<String, String> = post_raw
        .map(|raw| option_texts(raw, &poll.name))
        .unwrap_or_default()
        .into_iter()
        .map(|text| (option_digest(&text), text))
        .collect();
    poll.options
        .iter()
        .map(|o| {
            let text = from_raw
                .get(&o.id)
                .cloned()
                .unwrap_or_else(|| o.html.clone());
            (o.id.clone(), text)
        })
        .collect()
}

/// Whether the poll takes no more ballots at `now`: Discourse refuses votes once its status is
/// `closed` or its `close` time has passed (before its job flips the status).
pub fn poll_state(poll: &PollDoc, now: Timestamp) -> VoteState {
    let close = poll
        .close
        .as_deref()
        .and_then(|c| c.parse::<jiff::Timestamp>().ok())
        .map(|t| Timestamp(t.as_millisecond()));
    let past_close = close.filter(|c| *c <= now);
    if poll.status == "closed" || past_close.is_some() {
        VoteState::Closed {
            closed_at: past_close,
        }
    } else {
        VoteState::Open
    }
}

/// The poll's standing from its document and its voters by option id. Tallies are Discourse's
/// counts where it gives them, else the voters read.
pub fn standing(
    poll: &PollDoc,
    post_raw: Option<&str>,
    voters: &BTreeMap<String, Vec<VoterDoc>>,
    now: Timestamp,
) -> PollStanding {
    let labels = option_labels(poll, post_raw);
    let tallies = poll
        .options
        .iter()
        .map(|o| Tally {
            option: labels[&o.id].clone(),
            votes: o
                .votes
                .unwrap_or_else(|| voters.get(&o.id).map_or(0, |v| v.len() as u64)),
        })
        .collect();
    let mut by_user: BTreeMap<i64, Ballot> = BTreeMap::new();
    for option in &poll.options {
        for voter in voters.get(&option.id).into_iter().flatten() {
            let ballot = by_user.entry(voter.id).or_insert_with(|| Ballot {
                voter: Voter {
                    platform: PLATFORM.to_string(),
                    user_id: voter.id.to_string(),
                    username: voter.username.clone(),
                },
                choices: Vec::new(),
                cast_at: None,
            });
            ballot.choices.push(labels[&option.id].clone());
        }
    }
    PollStanding {
        state: poll_state(poll, now),
        tallies,
        ballots: by_user.into_values().collect(),
    }
}

/// Whether the voters read agree with Discourse's counts (a vote cast or withdrawn while the
/// pages were read makes them differ).
pub fn voters_match_counts(poll: &PollDoc, voters: &BTreeMap<String, Vec<VoterDoc>>) -> bool {
    poll.options.iter().all(|o| {
        o.votes
            .is_none_or(|n| voters.get(&o.id).map_or(0, |v| v.len() as u64) == n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::discourse::api::PostDoc;

    fn post() -> PostDoc {
        serde_json::from_value(serde_json::json!({
            "id": 12, "topic_id": 7, "post_number": 2, "topic_slug": "votes",
            "raw": "Vote!\n\n[poll type=regular name=revshare public=true]\n* Yes\n* Ann & Bob\n[/poll]",
            "polls": [{
                "id": 3, "name": "revshare", "type": "regular", "status": "open", "public": true,
                "results": "always", "voters": 3, "chart_type": "bar",
                "options": [
                    {"id": option_digest("Yes"), "html": "Yes", "votes": 2},
                    {"id": option_digest("Ann & Bob"), "html": "Ann &amp; Bob", "votes": 1}
                ]
            }]
        }))
        .unwrap()
    }

    fn voter(id: i64, name: &str) -> VoterDoc {
        VoterDoc {
            id,
            username: name.into(),
        }
    }

    #[test]
    fn ballots_and_tallies_carry_the_options_text() {
        let post = post();
        let poll = &post.polls[0];
        let mut voters = BTreeMap::new();
        voters.insert(option_digest("Yes"), vec![voter(5, "ann"), voter(6, "bob")]);
        voters.insert(option_digest("Ann & Bob"), vec![voter(7, "cy")]);
        let standing = standing(poll, post.raw.as_deref(), &voters, Timestamp(0));
        assert_eq!(standing.state, VoteState::Open);
        assert_eq!(
            standing.tallies,
            [
                Tally {
                    option: "Yes".into(),
                    votes: 2
                },
                Tally {
                    option: "Ann & Bob".into(),
                    votes: 1
                }
            ]
        );
        assert_eq!(standing.ballots.len(), 3);
        assert_eq!(standing.ballots[2].voter.username, "cy");
        assert_eq!(standing.ballots[2].voter.platform, "discourse");
        assert_eq!(standing.ballots[2].choices, ["Ann & Bob"]);
        assert!(voters_match_counts(poll, &voters));
        voters.get_mut(&option_digest("Yes")).unwrap().pop();
        assert!(!voters_match_counts(poll, &voters));
    }

    #[test]
    fn without_the_markdown_the_html_names_the_option() {
        let post = post();
        let labels = option_labels(&post.polls[0], None);
        assert_eq!(labels[&option_digest("Ann & Bob")], "Ann &amp; Bob");
    }

    #[test]
    fn a_poll_is_closed_by_status_or_once_its_close_time_passed() {
        let mut poll = post().polls.remove(0);
        poll.close = Some("2025-03-01T10:00:00.000Z".into());
        let close = Timestamp(
            "2025-03-01T10:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond(),
        );
        assert_eq!(poll_state(&poll, Timestamp(close.0 - 1)), VoteState::Open);
        assert_eq!(
            poll_state(&poll, close),
            VoteState::Closed {
                closed_at: Some(close)
            }
        );
        poll.status = "closed".into();
        assert_eq!(
            poll_state(&poll, Timestamp(0)),
            VoteState::Closed { closed_at: None }
        );
    }
}
