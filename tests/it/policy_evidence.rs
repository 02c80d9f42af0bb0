//! Decision evidence: canonical bytes that re-hash and re-run to the recorded decision, refused
//! when tampered with; and evaluation is deterministic over any facts.

use crate::policy_fixtures;

use policy_fixtures::{at, facts, member, revshare, wallet_vote};
use proptest::prelude::*;
use revshare_oracle::domain::{CommunitySlug, WalletAddress};
use revshare_oracle::policy::{
    Decision, Evaluation, Evidence, EvidenceError, Opening, Outcome, Proposal, Subject, VoteFacts,
    evaluate, open,
};

fn evidence_of(
    decision: Decision,
    facts: Option<VoteFacts>,
    proposal: Proposal,
    hours: f64,
) -> Evidence {
    Evidence::new(
        CommunitySlug::parse("forum").unwrap(),
        7,
        proposal,
        &revshare(),
        facts,
        at(hours),
        decision,
    )
}

#[test]
fn evidence_rehashes_and_reruns_to_the_recorded_decision() {
    let policy = revshare();
    let proposal = wallet_vote(&policy);
    let facts = facts(&[("pat", "approve", 3), ("bob", "disapprove", 1)]);
    let Evaluation::Decided(decision) = evaluate(&policy, &proposal, &facts, at(2.0)).unwrap()
    else {
        panic!()
    };
    let evidence = evidence_of(decision.clone(), Some(facts.clone()), proposal.clone(), 2.0);
    let bytes = evidence.to_bytes();
    let (read, hash) = Evidence::verify(&bytes).unwrap();
    assert_eq!(read, evidence);
    assert_eq!(hash, evidence.hash());
    assert_eq!(hash, alloy_primitives::keccak256(&bytes));
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\"raw\":{\"post\":{\"polls\":[]}}"), "{text}");
    assert!(text.contains("\"trust_level\":3"), "{text}");

    let mut forged = evidence.clone();
    forged.decision.outcome = Outcome::Failed;
    assert!(matches!(
        Evidence::verify(&forged.to_bytes()),
        Err(EvidenceError::Differs { .. })
    ));
    let mut demoted = evidence.clone();
    demoted.facts.as_mut().unwrap().voters[0].trust_level = Some(2);
    assert!(matches!(
        Evidence::verify(&demoted.to_bytes()),
        Err(EvidenceError::Differs { .. })
    ));
    let pretty = serde_json::to_vec_pretty(&evidence).unwrap();
    assert!(matches!(
        Evidence::verify(&pretty),
        Err(EvidenceError::NotCanonical)
    ));
    let mut other_policy = evidence.clone();
    other_policy.policy.source.push('\n');
    assert!(matches!(
        Evidence::verify(&other_policy.to_bytes()),
        Err(EvidenceError::PolicyHash { .. })
    ));
}

#[test]
fn evidence_of_a_decision_without_a_vote_reruns_too() {
    let subject = Subject::WalletRemoved {
        member: member("ann"),
        old_wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
    };
    let Opening::Decided { proposal, decision } = open(&revshare(), subject, at(3.0)).unwrap()
    else {
        panic!()
    };
    let evidence = evidence_of(decision, None, proposal, 3.0);
    assert_eq!(
        Evidence::verify(&evidence.to_bytes()).unwrap().1,
        evidence.hash()
    );
}

/// Ballots from up to 8 voters: (approves, trust level at closing).
fn ballots() -> impl Strategy<Value = Vec<(bool, u8)>> {
    prop::collection::vec((any::<bool>(), 0u8..=4), 0..8)
}

proptest! {
    #[test]
    fn evaluation_is_deterministic_and_its_evidence_reruns(ballots in ballots(), minutes in 0i64..2000) {
        let names: Vec<String> = (0..ballots.len()).map(|i| format!("v{i}")).collect();
        let spec: Vec<(&str, &str, u8)> = ballots
            .iter()
            .zip(&names)
            .map(|((yes, level), name)| (name.as_str(), if *yes { "approve" } else { "disapprove" }, *level))
            .collect();
        let policy = revshare();
        let proposal = wallet_vote(&policy);
        let facts = facts(&spec);
        let now = at(minutes as f64 / 60.0);
        let first = evaluate(&policy, &proposal, &facts, now).unwrap();
        prop_assert_eq!(&first, &evaluate(&policy, &proposal, &facts, now).unwrap());
        let tl3 = |yes: bool| ballots.iter().any(|(y, l)| *y == yes && *l >= 3);
        let should_close = minutes >= 24 * 60 || tl3(true) || tl3(false) || ballots.len() >= 5;
        match first {
            Evaluation::Pending => prop_assert!(!should_close),
            Evaluation::Decided(decision) => {
                prop_assert!(should_close);
                let approvals = ballots.iter().filter(|(y, _)| *y).count();
                let passes = !tl3(false) && (tl3(true) || approvals * 2 > ballots.len());
                prop_assert_eq!(decision.outcome == Outcome::Passed, passes);
                let evidence = evidence_of(decision, Some(facts), proposal, minutes as f64 / 60.0);
                let (_, hash) = Evidence::verify(&evidence.to_bytes()).unwrap();
                prop_assert_eq!(hash, evidence.hash());
            }
        }
    }
}
