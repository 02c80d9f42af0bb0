//! Whether a decision's ballots are the platform's: the ballots in its evidence must be the
//! ones its platform's documents (kept in the same evidence, byte for byte) show, voter by voter
//! and choice by choice, and the documents must be of the vote's own poll. Otherwise an oracle
//! could keep genuine documents and decide on invented ballots, and the re-run of the policy
//! would still agree.
//!
//! Pure. Each platform re-reads its documents with its own parser (`sources::*::documented_vote`);
//! this module only compares. Trust levels and groups are not compared: the documents do not
//! carry them (a decision takes them from the member registry at closing). Evidence without a
//! vote's facts (a rule that decides at once, a refused vote) has nothing to compare.

use std::collections::BTreeMap;

use crate::policy::Evidence;
use crate::sources::{discourse, loomio};
use crate::voting::Ballot;
use crate::voting::evidence::DocumentedVote;

/// Compares the evidence's ballots with its documents: `Ok(true)` when they were compared and
/// agree, `Ok(false)` when there is nothing to compare, and what differs otherwise.
pub fn check(evidence: &Evidence) -> Result<bool, String> {
    let Some(facts) = &evidence.facts else {
        return Ok(false);
    };
    if facts.raw.is_null() && facts.ballots.is_empty() {
        return Ok(false);
    }
    let vote = evidence
        .proposal
        .vote
        .as_ref()
        .ok_or("the evidence has ballots but its proposal names no vote")?;
    let read = match vote.backend.as_str() {
        discourse::BACKEND_NAME => {
            discourse::documented_vote(&facts.raw, &vote.external_id, evidence.decided_at)
        }
        loomio::BACKEND => loomio::documented_vote(&facts.raw, &vote.external_id),
        other => {
            return Err(format!(
                "no reader of {other:?} documents to check the ballots"
            ));
        }
    }
    .map_err(|e| format!("the ballots cannot be read from the platform's documents: {e}"))?;
    compare(&read, &facts.ballots, facts.closed_on_platform)?;
    Ok(true)
}

/// The first difference between the documents and the recorded ballots, in voter order.
fn compare(read: &DocumentedVote, recorded: &[Ballot], closed: bool) -> Result<(), String> {
    let by_voter = |ballots: &[Ballot]| -> BTreeMap<(String, String), Ballot> {
        ballots
            .iter()
            .map(|b| {
                (
                    (b.voter.platform.clone(), b.voter.user_id.clone()),
                    b.clone(),
                )
            })
            .collect()
    };
    let documented = by_voter(&read.ballots);
    let recorded_by_voter = by_voter(recorded);
    if recorded_by_voter.len() != recorded.len() {
        return Err("the evidence records two ballots of one voter".into());
    }
    let mut voters: Vec<&(String, String)> =
        documented.keys().chain(recorded_by_voter.keys()).collect();
    voters.sort();
    voters.dedup();
    for key in voters {
        let name = |b: &Ballot| {
            format!(
                "voter {} {} ({})",
                b.voter.platform, b.voter.user_id, b.voter.username
            )
        };
        match (documented.get(key), recorded_by_voter.get(key)) {
            (Some(doc), None) => {
                return Err(format!(
                    "{} chose {:?} in the platform's documents, but the evidence has no ballot of theirs",
                    name(doc),
                    doc.choices
                ));
            }
            (None, Some(rec)) => {
                return Err(format!(
                    "{} has a ballot for {:?} in the evidence, but none in the platform's documents",
                    name(rec),
                    rec.choices
                ));
            }
            (Some(doc), Some(rec)) if doc != rec => {
                let what = if doc.choices != rec.choices {
                    format!("{:?}, the evidence {:?}", doc.choices, rec.choices)
                } else if doc.voter.username != rec.voter.username {
                    format!(
                        "username {:?}, the evidence {:?}",
                        doc.voter.username, rec.voter.username
                    )
                } else {
                    format!("cast at {:?}, the evidence {:?}", doc.cast_at, rec.cast_at)
                };
                return Err(format!(
                    "{}: the platform's documents show {what}",
                    name(doc)
                ));
            }
            _ => {}
        }
    }
    match read.closed {
        Some(shown) if shown != closed => Err(format!(
            "the platform's documents show the vote {}, the evidence records it {}",
            open_or_closed(shown),
            open_or_closed(closed)
        )),
        _ => Ok(()),
    }
}

fn open_or_closed(closed: bool) -> &'static str {
    if closed { "closed" } else { "open" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voting::Voter;

    fn ballot(user_id: &str, choice: &str) -> Ballot {
        Ballot {
            voter: Voter {
                platform: "discourse".into(),
                user_id: user_id.into(),
                username: format!("u{user_id}"),
            },
            choices: vec![choice.into()],
            cast_at: None,
        }
    }

    fn read(ballots: Vec<Ballot>) -> DocumentedVote {
        DocumentedVote {
            ballots,
            closed: Some(false),
        }
    }

    #[test]
    fn ballots_compare_by_voter_whatever_their_order() {
        let documents = read(vec![ballot("501", "approve"), ballot("1000", "disapprove")]);
        let stored = [ballot("1000", "disapprove"), ballot("501", "approve")];
        assert_eq!(compare(&documents, &stored, false), Ok(()));
    }

    #[test]
    fn the_first_voter_that_differs_is_named() {
        let documents = read(vec![ballot("1", "approve"), ballot("2", "approve")]);
        let stored = [ballot("1", "approve"), ballot("2", "disapprove")];
        let why = compare(&documents, &stored, false).unwrap_err();
        assert!(why.starts_with("voter discourse 2 (u2)"), "{why}");
        let twice = [ballot("1", "approve"), ballot("1", "disapprove")];
        assert!(
            compare(&documents, &twice, false)
                .unwrap_err()
                .contains("two ballots")
        );
    }

    #[test]
    fn the_closed_state_is_compared_only_where_the_documents_tell() {
        let mut documents = read(vec![]);
        assert!(compare(&documents, &[], true).is_err());
        documents.closed = None;
        assert_eq!(compare(&documents, &[], true), Ok(()));
        assert_eq!(compare(&documents, &[], false), Ok(()));
    }
}
