//! A Loomio vote's state, tallies and ballots, read from its documents. Pure: the backend reads
//! them when it re-reads a vote, and the auditor again from the documents kept as evidence, with
//! the same functions, so honest documents always give the recorded ballots.
//!
//! Every ballot comes from the poll's `results[].voter_scores` (`PollOption#voter_scores`: every
//! latest, unrevoked voter of an option and the score they gave), which Loomio does not truncate,
//! and each voter's username from the group's memberships, read page by page. Neither
//! `results[].voter_ids` (at most 50 an option, `Poll::RESULT_VOTER_IDS_MAX`) nor the thread
//! (which holds a stance only when it was given with a reason, `Stance#add_to_thread?`) names
//! every voter. An option is named as the vote asked for it: a proposal's common options by the
//! icon Loomio keeps as their key (`agree`), not by the translated word voters read (`Agree`).

use std::collections::{BTreeSet, HashMap};

use super::PLATFORM;
use super::document::{Poll, PollOption, ThreadStances, User};
use crate::voting::{Ballot, Tally, VoteState, Voter};

/// The option keys of a Loomio proposal, as this service asks for them and Loomio keeps them as
/// icons.
pub const PROPOSAL_OPTIONS: [&str; 4] = ["agree", "abstain", "disagree", "block"];

/// The name a vote asked for this option by: for a proposal's common options the icon Loomio
/// keeps as their key (in the legacy `i18n` format, the stored name is that key already); for any
/// other option its name as stored.
pub fn option_key(poll: &Poll, option: &PollOption) -> String {
    let plain = poll.option_name_format.as_deref() != Some("i18n");
    match option.icon.as_deref() {
        Some(icon) if plain && poll.poll_type == "proposal" && PROPOSAL_OPTIONS.contains(&icon) => {
            icon.to_string()
        }
        _ => option.name.clone(),
    }
}

/// Why this poll's ballots cannot be read at all, so that a vote on it must not start: an
/// anonymous poll links no ballot to a voter, and one whose results are hidden until it closes
/// shows nobody's vote while it runs.
pub fn unreadable_reason(poll: &Poll) -> Option<String> {
    if poll.anonymous {
        return Some(format!(
            "Loomio made poll {} anonymous: it links no ballot to its voter, so the ballots can \
             be neither counted by person nor audited",
            poll.id
        ));
    }
    if poll.hide_results.as_deref() == Some("until_closed") && poll.closed_at.is_none() {
        return Some(format!(
            "Loomio hides the results of poll {} until it closes: no ballot can be read while \
             it runs",
            poll.id
        ));
    }
    None
}

fn state_of(poll: &Poll) -> VoteState {
    match poll.closed_at {
        Some(at) => VoteState::Closed {
            closed_at: Some(at),
        },
        None => VoteState::Open,
    }
}

/// Whether anyone has voted on the poll, by Loomio's own counts (what decides whether the
/// group's members must be read to name the voters).
pub fn anyone_voted(poll: &Poll) -> bool {
    poll.results
        .as_ref()
        .is_some_and(|results| results.iter().any(|r| r.voter_count > 0))
}

/// State, tallies and ballots of a poll, from its results' `voter_scores` and the users of the
/// group's members (`members`; the poll's own side-loaded users also count).
pub fn read_status(
    poll: &Poll,
    members: &HashMap<u64, User>,
) -> Result<(VoteState, Vec<Tally>, Vec<Ballot>), String> {
    if let Some(reason) = unreadable_reason(poll) {
        return Err(reason);
    }
    let results = poll.results.as_ref().ok_or_else(|| {
        format!(
            "Loomio sent poll {} without its results; the service starts polls with results shown",
            poll.id
        )
    })?;
    let mut tallies = Vec::with_capacity(poll.options.len());
    let mut chose: Vec<(String, BTreeSet<u64>)> = Vec::with_capacity(poll.options.len());
    for option in &poll.options {
        let key = option_key(poll, option);
        let (count, voters) = match results.iter().find(|r| r.option_id == option.id) {
            Some(r) => (
                r.voter_count,
                r.voter_scores
                    .iter()
                    .filter(|(_, score)| **score > 0)
                    .map(|(voter, _)| *voter)
                    .collect::<BTreeSet<u64>>(),
            ),
            None => (0, BTreeSet::new()),
        };
        if voters.len() as u64 != count {
            return Err(format!(
                "Loomio counts {count} voters for `{key}` of poll {} but names {}; the votes \
                 changed while it answered, so the poll is read again",
                poll.id,
                voters.len()
            ));
        }
        tallies.push(Tally {
            option: key.clone(),
            votes: count,
        });
        chose.push((key, voters));
    }
    let voters: BTreeSet<u64> = chose.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    let ballots = voters
        .into_iter()
        .map(|voter| {
            let user = members
                .get(&voter)
                .or_else(|| poll.users.get(&voter))
                .ok_or_else(|| {
                    format!(
                        "user {voter} voted on poll {} but is not among its group's members",
                        poll.id
                    )
                })?;
            Ok(Ballot {
                voter: Voter {
                    platform: PLATFORM.into(),
                    user_id: voter.to_string(),
                    username: user.username.clone().unwrap_or_default(),
                },
                choices: chose
                    .iter()
                    .filter(|(_, v)| v.contains(&voter))
                    .map(|(key, _)| key.clone())
                    .collect(),
                cast_at: None,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok((state_of(poll), tallies, ballots))
}

/// State, tallies and ballots of a poll as this service first read them, from the results'
/// `voter_ids` and the thread's stances: how votes recorded before every ballot was read from
/// `voter_scores` are re-read for their audit. `voter_ids` holds at most 50 voters an option, and
/// a thread only the stances given with a reason, so new readings use [`read_status`].
pub fn read_status_of_thread(
    poll: &Poll,
    thread: &ThreadStances,
) -> Result<(VoteState, Vec<Tally>, Vec<Ballot>), String> {
    let state = state_of(poll);
    let results = poll.results.as_ref().ok_or_else(|| {
        format!(
            "Loomio hides the results of poll {} until it closes; the service starts polls with \
             results shown",
            poll.id
        )
    })?;
    let voters_of = |option_id: u64| {
        results
            .iter()
            .find(|r| r.option_id == option_id)
            .map(|r| (r.voter_count, r.voter_ids.as_slice()))
            .unwrap_or((0, &[]))
    };
    let tallies = poll
        .options
        .iter()
        .map(|o| Tally {
            option: o.name.clone(),
            votes: voters_of(o.id).0,
        })
        .collect();
    let voters: BTreeSet<u64> = results
        .iter()
        .flat_map(|r| r.voter_ids.iter().copied())
        .collect();
    let ballots = voters
        .into_iter()
        .map(|voter| {
            let user = thread
                .users
                .get(&voter)
                .or_else(|| poll.users.get(&voter))
                .ok_or_else(|| {
                    format!(
                        "Loomio did not send user {voter}, who voted on poll {}",
                        poll.id
                    )
                })?;
            let cast_at = thread
                .stances
                .iter()
                .find(|s| s.poll_id == poll.id && s.participant_id == Some(voter))
                .and_then(|s| s.cast_at);
            Ok(Ballot {
                voter: Voter {
                    platform: PLATFORM.into(),
                    user_id: voter.to_string(),
                    username: user.username.clone().unwrap_or_default(),
                },
                choices: poll
                    .options
                    .iter()
                    .filter(|o| voters_of(o.id).1.contains(&voter))
                    .map(|o| o.name.clone())
                    .collect(),
                cast_at,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok((state, tallies, ballots))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;
    use crate::domain::Timestamp;
    use crate::sources::loomio::document::{OptionResult, Stance};

    fn at(text: &str) -> Timestamp {
        Timestamp(text.parse::<jiff::Timestamp>().unwrap().as_millisecond())
    }

    fn option(id: u64, name: &str, icon: Option<&str>) -> PollOption {
        PollOption {
            id,
            name: name.into(),
            icon: icon.map(str::to_string),
        }
    }

    /// A result whose `voter_ids` Loomio truncated to 50, with every voter in `voter_scores`.
    fn result(option_id: u64, voters: &[u64]) -> OptionResult {
        OptionResult {
            option_id,
            voter_count: voters.len() as u64,
            voter_ids: voters.iter().copied().take(50).collect(),
            voter_scores: voters.iter().map(|v| (*v, 1)).collect::<BTreeMap<_, _>>(),
        }
    }

    fn users(ids: impl IntoIterator<Item = u64>) -> HashMap<u64, User> {
        ids.into_iter()
            .map(|id| {
                (
                    id,
                    User {
                        id,
                        username: Some(format!("u{id}")),
                        name: None,
                    },
                )
            })
            .collect()
    }

    fn poll(closed_at: Option<&str>) -> Poll {
        Poll {
            id: 301,
            key: "k".into(),
            title: "t".into(),
            details: String::new(),
            poll_type: "poll".into(),
            group_id: Some(7),
            topic_id: Some(711),
            closing_at: Some(at("2026-10-01T12:00:00Z")),
            closed_at: closed_at.map(at),
            options: vec![option(1, "Yes", None), option(2, "No", None)],
            option_name_format: Some("plain".into()),
            anonymous: false,
            hide_results: Some("off".into()),
            results: Some(vec![result(2, &[503]), result(1, &[502])]),
            stance_counts: Some(vec![1, 1]),
            outcome: None,
            users: HashMap::new(),
        }
    }

    fn thread() -> ThreadStances {
        ThreadStances {
            stances: vec![Stance {
                poll_id: 301,
                participant_id: Some(502),
                cast_at: Some(at("2026-09-02T10:00:00Z")),
                option_ids: vec![1],
            }],
            users: [502, 503]
                .into_iter()
                .map(|id| {
                    (
                        id,
                        User {
                            id,
                            username: Some(format!("u{id}")),
                            name: None,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_first_reading_took_tallies_in_option_order_and_ballots_from_voter_ids() {
        let (state, tallies, ballots) = read_status_of_thread(&poll(None), &thread()).unwrap();
        assert_eq!(state, VoteState::Open);
        let counts: Vec<(&str, u64)> = tallies
            .iter()
            .map(|t| (t.option.as_str(), t.votes))
            .collect();
        assert_eq!(counts, [("Yes", 1), ("No", 1)]);
        assert_eq!(ballots.len(), 2);
        assert_eq!(ballots[0].voter.user_id, "502");
        assert_eq!(ballots[0].voter.username, "u502");
        assert_eq!(ballots[0].choices, ["Yes"]);
        assert_eq!(ballots[0].cast_at, Some(at("2026-09-02T10:00:00Z")));
        assert_eq!(ballots[1].choices, ["No"]);
        assert_eq!(ballots[1].cast_at, None, "no stance read for 503");
        let (closed, ..) =
            read_status_of_thread(&poll(Some("2026-10-01T12:02:00Z")), &thread()).unwrap();
        assert_eq!(
            closed,
            VoteState::Closed {
                closed_at: Some(at("2026-10-01T12:02:00Z"))
            }
        );
    }

    #[test]
    fn the_first_reading_refused_hidden_results_and_unknown_voters() {
        let mut hidden = poll(None);
        hidden.results = None;
        assert!(
            read_status_of_thread(&hidden, &thread())
                .unwrap_err()
                .contains("hides the results")
        );
        assert!(
            read_status_of_thread(&poll(None), &ThreadStances::default())
                .unwrap_err()
                .contains("user 502")
        );
    }

    #[test]
    fn every_voter_is_read_past_the_fifty_loomio_names_by_id() {
        let many: Vec<u64> = (1000..1120).collect();
        let mut poll = poll(None);
        poll.results = Some(vec![result(1, &many), result(2, &[503])]);
        let (_, tallies, ballots) =
            read_status(&poll, &users(many.iter().copied().chain([503]))).unwrap();
        assert_eq!(tallies[0].votes, 120);
        assert_eq!(
            ballots.len(),
            121,
            "all 120 and the one, not 50 and the one"
        );
        assert!(ballots.iter().filter(|b| b.choices == ["Yes"]).count() == 120);
        assert_eq!(
            read_status_of_thread(
                &poll,
                &ThreadStances {
                    stances: vec![],
                    users: users(many.iter().copied().chain([503]))
                }
            )
            .unwrap()
            .2
            .len(),
            51,
            "what the first reading saw: voter_ids stops at 50"
        );
    }

    #[test]
    fn a_voter_missing_from_the_members_or_a_count_that_disagrees_is_an_error() {
        let poll = poll(None);
        assert!(
            read_status(&poll, &users([502]))
                .unwrap_err()
                .contains("user 503")
        );
        let mut moving = poll.clone();
        moving.results.as_mut().unwrap()[0].voter_count = 2;
        assert!(
            read_status(&moving, &users([502, 503]))
                .unwrap_err()
                .contains("read again")
        );
    }

    #[test]
    fn proposal_options_are_named_by_their_key_whatever_words_voters_read() {
        let mut proposal = poll(None);
        proposal.poll_type = "proposal".into();
        proposal.options = vec![
            option(1, "D'accord", Some("agree")),
            option(2, "Pas d'accord", Some("disagree")),
        ];
        let (_, tallies, ballots) = read_status(&proposal, &users([502, 503])).unwrap();
        let names: Vec<&str> = tallies.iter().map(|t| t.option.as_str()).collect();
        assert_eq!(names, ["agree", "disagree"]);
        assert_eq!(ballots[0].choices, ["agree"]);
        let mut legacy = proposal.clone();
        legacy.option_name_format = Some("i18n".into());
        legacy.options = vec![option(1, "agree", None), option(2, "disagree", None)];
        assert_eq!(read_status(&legacy, &users([502, 503])).unwrap().1, tallies);
        let mut poll_with_icons = proposal;
        poll_with_icons.poll_type = "poll".into();
        assert_eq!(
            option_key(&poll_with_icons, &poll_with_icons.options[0]),
            "D'accord",
            "only a proposal's common options are keyed by icon"
        );
    }

    #[test]
    fn anonymous_polls_and_results_hidden_until_closing_cannot_be_read() {
        let mut anonymous = poll(None);
        anonymous.anonymous = true;
        assert!(unreadable_reason(&anonymous).unwrap().contains("anonymous"));
        assert!(read_status(&anonymous, &users([502, 503])).is_err());
        let mut hidden = poll(None);
        hidden.hide_results = Some("until_closed".into());
        assert!(
            unreadable_reason(&hidden)
                .unwrap()
                .contains("until it closes")
        );
        hidden.closed_at = Some(at("2026-10-01T12:00:00Z"));
        assert_eq!(unreadable_reason(&hidden), None, "closed, its results show");
        assert_eq!(unreadable_reason(&poll(None)), None);
    }
}
