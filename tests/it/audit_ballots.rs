//! The auditor's ballot check (`audit::check_ballots`) on decision evidence whose documents come
//! from the real Discourse and Loomio backends reading their fakes: honest evidence agrees with
//! its documents once it has gone through its canonical bytes; ballots changed, added or dropped
//! (and the decision re-run on them, so that the policy still agrees) are each caught and the
//! voter named; documents of another poll and a closed state the documents deny are caught; and
//! decisions without a vote's documents (a rule that decides at once, a superseded or refused
//! proposal) pass by construction.

use crate::ballot_fixtures;
use crate::policy_fixtures;

use ballot_fixtures::{Forgery, ReadVote, decided, discourse_vote, loomio_vote};
use policy_fixtures::{at, member, revshare, wallet_vote};
use revshare_oracle::audit::check_ballots;
use revshare_oracle::domain::{CommunitySlug, WalletAddress};
use revshare_oracle::policy::{Evidence, Opening, Outcome, Subject, open, refused, supersede};

/// The evidence as an auditor reads it: through its canonical bytes and the policy re-run.
fn as_served(evidence: &Evidence) -> Evidence {
    Evidence::verify(&evidence.to_bytes()).unwrap().0
}

fn forgeries_are_named<F>(vote: &ReadVote<F>) {
    let honest = decided(vote, vote.facts.clone());
    assert_eq!(
        honest.decision.outcome,
        Outcome::Failed,
        "pat's TL3 disapproval"
    );
    assert_eq!(check_ballots(&as_served(&honest)), Ok(true));
    let first = vote.facts.ballots[0].voter.username.clone();
    for forgery in Forgery::ALL {
        let forged = as_served(&decided(vote, forgery.apply(&vote.facts)));
        let why = check_ballots(&forged).expect_err(&format!("{forgery:?} is caught"));
        let (voter, what) = match forgery {
            Forgery::Changed => (first.as_str(), "the platform's documents show"),
            Forgery::Added => ("eve", "none in the platform's documents"),
            Forgery::Dropped => (first.as_str(), "the evidence has no ballot of theirs"),
        };
        assert!(
            why.contains(&format!("({voter})")) && why.contains(what),
            "{forgery:?}: {why}"
        );
    }
}

#[tokio::test]
async fn discourse_ballots_are_checked_against_the_post_and_its_voters_pages() {
    let vote = discourse_vote().await;
    assert_eq!(vote.facts.ballots.len(), 2);
    forgeries_are_named(&vote);
}

#[tokio::test]
async fn loomio_ballots_are_checked_against_the_poll_and_its_members() {
    let vote = loomio_vote().await;
    assert_eq!(vote.facts.ballots.len(), 2);
    assert!(
        vote.facts.ballots.iter().all(|b| b.cast_at.is_none()),
        "Loomio's results say who chose what, not when"
    );
    forgeries_are_named(&vote);

    let mut recast = vote.facts.clone();
    recast.ballots[1].cast_at = Some(revshare_oracle::domain::Timestamp(1));
    let why = check_ballots(&decided(&vote, recast)).unwrap_err();
    assert!(why.contains("cast at"), "{why}");
}

#[tokio::test]
async fn documents_of_another_poll_are_caught() {
    let mut vote = discourse_vote().await;
    let handle = vote.proposal.vote.as_mut().unwrap();
    handle.external_id = format!("{}/other", handle.external_id.split('/').next().unwrap());
    let why = check_ballots(&decided(&vote, vote.facts.clone())).unwrap_err();
    assert!(
        why.contains("cannot be read from the platform's documents"),
        "{why}"
    );

    let mut vote = loomio_vote().await;
    vote.proposal.vote.as_mut().unwrap().external_id = "424242".into();
    let why = check_ballots(&decided(&vote, vote.facts.clone())).unwrap_err();
    assert!(why.contains("Loomio poll 424242"), "{why}");
}

#[tokio::test]
async fn a_closed_state_the_documents_deny_is_caught() {
    let vote = discourse_vote().await;
    let mut facts = vote.facts.clone();
    assert!(!facts.closed_on_platform);
    facts.closed_on_platform = true;
    let why = check_ballots(&decided(&vote, facts)).unwrap_err();
    assert!(
        why.contains("show the vote open, the evidence records it closed"),
        "{why}"
    );
}

#[tokio::test]
async fn ballots_without_their_documents_are_caught() {
    let vote = discourse_vote().await;
    let mut facts = vote.facts.clone();
    facts.raw = serde_json::Value::Null;
    let why = check_ballots(&decided(&vote, facts)).unwrap_err();
    assert!(why.contains("cannot be read"), "{why}");
}

fn evidence_without_facts(
    proposal: revshare_oracle::policy::Proposal,
    decision: revshare_oracle::policy::Decision,
) -> Evidence {
    Evidence::new(
        CommunitySlug::parse("forum").unwrap(),
        1,
        proposal,
        &revshare(),
        None,
        at(2.0),
        decision,
    )
}

#[test]
fn a_rule_that_decides_at_once_has_no_ballots_to_check() {
    let policy = revshare();
    let removed = Subject::WalletRemoved {
        member: member("ann"),
        old_wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
    };
    let Opening::Decided { decision, proposal } = open(&policy, removed, at(1.0)).unwrap() else {
        panic!("removing a wallet takes no vote by default")
    };
    let evidence = Evidence::new(
        CommunitySlug::parse("forum").unwrap(),
        1,
        proposal,
        &policy,
        None,
        at(1.0),
        decision,
    );
    assert_eq!(check_ballots(&as_served(&evidence)), Ok(false));
}

#[test]
fn superseded_and_refused_proposals_without_readings_pass() {
    let policy = revshare();
    let proposal = wallet_vote(&policy);
    let by = Subject::WalletRemoved {
        member: member("ann"),
        old_wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
    };
    let superseded = supersede(&policy, &proposal, by).unwrap();
    let evidence = evidence_without_facts(proposal.clone(), superseded.clone());
    assert_eq!(check_ballots(&as_served(&evidence)), Ok(false));

    let mut unread = evidence;
    unread.facts = Some(policy_fixtures::facts(&[]));
    unread.facts.as_mut().unwrap().raw = serde_json::Value::Null;
    assert_eq!(
        check_ballots(&as_served(&unread)),
        Ok(false),
        "a vote superseded before its first reading has neither ballots nor documents"
    );

    let failed = refused(&policy, &proposal, "the category is read-only".into()).unwrap();
    let evidence = evidence_without_facts(proposal, failed);
    assert_eq!(check_ballots(&as_served(&evidence)), Ok(false));
}

#[tokio::test]
async fn a_superseded_vote_with_readings_keeps_its_ballots_checked() {
    let vote = discourse_vote().await;
    let by = Subject::WalletRemoved {
        member: member("ann"),
        old_wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
    };
    let decision = supersede(&vote.policy, &vote.proposal, by).unwrap();
    let mut evidence = evidence_without_facts(vote.proposal.clone(), decision);
    evidence.facts = Some(vote.facts.clone());
    assert_eq!(check_ballots(&as_served(&evidence)), Ok(true));
    evidence.facts = Some(Forgery::Added.apply(&vote.facts));
    let why = check_ballots(&as_served(&evidence)).unwrap_err();
    assert!(why.contains("(eve)"), "{why}");
}
