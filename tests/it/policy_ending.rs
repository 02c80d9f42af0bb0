//! Ending a proposal without its vote's verdict, in the pure core: a newer change of the same
//! member's wallet supersedes it (failed, the vote closed, the member told, no pool action), a
//! vote the platform refused or an admin cancelled before it started fails it (and `on_fail`
//! follows); the evidence of each re-runs, and the replay does what the scheduler does.

use crate::policy_fixtures;

use policy_fixtures::{HOUR, T0, ann_adds_wallet, at, facts, member, revshare, wallet_vote};
use revshare_oracle::domain::{CommunitySlug, PoolName, Timestamp, WalletAddress};
use revshare_oracle::policy::{
    Action, Closing, Event, Evidence, EvidenceError, Fact, GRANT_REPORT_POLICY, Happening, Outcome,
    Policy, PolicyVersion, Replayed, Subject, cancelled, default_policies, is_superseded_by,
    parse_events, refused, replay, supersede,
};

fn ann_clears_wallet() -> Subject {
    Subject::WalletRemoved {
        member: member("ann"),
        old_wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
    }
}

fn notes(actions: &[Action]) -> Vec<(String, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify { title, text, .. } => Some((title.clone(), text.clone())),
            _ => None,
        })
        .collect()
}

/// Each decision a replay made: (proposal, outcome, reason), in order.
fn decided(replayed: &Replayed) -> Vec<(u64, Outcome, String)> {
    replayed
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::Decided {
                proposal,
                decision,
                reason,
                ..
            } => Some((*proposal, decision.outcome, reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_newer_wallet_change_fails_the_vote_closes_it_and_tells_the_member_once() {
    let policy = revshare();
    let proposal = wallet_vote(&policy);
    let decision = supersede(&policy, &proposal, ann_clears_wallet()).unwrap();
    assert_eq!(decision.outcome, Outcome::Failed);
    assert_eq!(
        decision.closed_by,
        Some(Closing::Superseded {
            by: Box::new(ann_clears_wallet())
        })
    );
    assert_eq!(decision.decided_by, None);
    assert_eq!(
        decision.reason(),
        "superseded by a newer change of the wallet (wallet_removed) before the vote decided, failed"
    );
    assert_eq!(
        decision.actions[0],
        Action::CloseVote {
            vote: proposal.vote.clone().unwrap()
        }
    );
    assert!(
        decision.actions.iter().all(|a| a.pool().is_none()),
        "no pool action: {:?}",
        decision.actions
    );
    let told = notes(&decision.actions);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "Your wallet was not added");
    assert!(told[0].1.contains("superseded"), "{}", told[0].1);
    assert!(
        told[0].1.contains("https://forum.example/t/wallets/7/3"),
        "{}",
        told[0].1
    );
}

#[test]
fn only_a_later_change_of_the_same_members_wallet_supersedes() {
    let policy = revshare();
    let proposal = wallet_vote(&policy);
    let bob = Subject::WalletRemoved {
        member: member("bob"),
        old_wallet: WalletAddress::parse("$wallet.example/bob").unwrap(),
    };
    assert!(supersede(&policy, &proposal, bob.clone()).is_err());
    let policy_change = Subject::PolicyChange {
        policy: revshare_oracle::domain::PolicyName::parse("revshare").unwrap(),
        source: GRANT_REPORT_POLICY.to_string(),
    };
    assert!(supersede(&policy, &proposal, policy_change).is_err());

    assert!(is_superseded_by(&proposal, &ann_clears_wallet(), at(1.0)));
    assert!(!is_superseded_by(&proposal, &bob, at(1.0)));
    assert!(
        !is_superseded_by(&proposal, &ann_adds_wallet(), at(0.0)),
        "the change that opened the proposal does not supersede it"
    );
    assert!(
        !is_superseded_by(&proposal, &ann_clears_wallet(), at(-1.0)),
        "an older change does not supersede a newer proposal"
    );
}

#[test]
fn a_vote_the_platform_refused_fails_and_on_fail_follows() {
    let policy = revshare();
    let mut proposal = wallet_vote(&policy);
    proposal.vote = None;
    let detail = "the platform refused the call (403): You are not permitted".to_string();
    let decision = refused(&policy, &proposal, detail.clone()).unwrap();
    assert_eq!(decision.outcome, Outcome::Failed);
    assert_eq!(decision.closed_by, Some(Closing::Refused { detail }));
    assert!(
        decision.reason().contains("refused to start the vote"),
        "{}",
        decision.reason()
    );
    assert!(
        !decision
            .actions
            .iter()
            .any(|a| matches!(a, Action::CloseVote { .. })),
        "no vote to close"
    );
    let told = notes(&decision.actions);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].1.contains("(403)"), "{}", told[0].1);
    assert!(told[0].1.contains("no vote was started"), "{}", told[0].1);
}

#[test]
fn a_vote_cancelled_before_it_started_fails_and_on_fail_follows() {
    let policy = revshare();
    let mut proposal = wallet_vote(&policy);
    proposal.vote = None;
    let decision = cancelled(&policy, &proposal).unwrap();
    assert_eq!(decision.outcome, Outcome::Failed);
    assert_eq!(decision.closed_by, Some(Closing::Cancelled));
    assert_eq!(
        decision.reason(),
        "the vote was cancelled before it started, failed"
    );
    assert!(
        !decision
            .actions
            .iter()
            .any(|a| matches!(a, Action::CloseVote { .. })),
        "no vote to close"
    );
    let told = notes(&decision.actions);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].1.contains("cancelled"), "{}", told[0].1);
    assert!(told[0].1.contains("no vote was started"), "{}", told[0].1);
    assert_eq!(
        refused(&policy, &proposal, "x".into())
            .unwrap()
            .actions
            .len(),
        decision.actions.len(),
        "the same `on_fail` actions as a refused vote"
    );
}

#[test]
fn the_member_is_told_even_when_on_fail_says_nothing() {
    let start = GRANT_REPORT_POLICY
        .find("on_fail = [\n  { do = \"notify\", title = \"Your wallet was not added\"")
        .unwrap();
    let end = start + GRANT_REPORT_POLICY[start..].find("]\n").unwrap() + 2;
    let source = format!(
        "{}on_fail = []\n{}",
        &GRANT_REPORT_POLICY[..start],
        &GRANT_REPORT_POLICY[end..]
    );
    let policy = PolicyVersion {
        version: 1,
        policy: Policy::parse(&source).unwrap(),
    };
    let proposal = wallet_vote(&policy);
    for decision in [
        supersede(&policy, &proposal, ann_clears_wallet()).unwrap(),
        refused(&policy, &proposal, "(422) topic closed".into()).unwrap(),
    ] {
        let told = notes(&decision.actions);
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].0, "Add ann's wallet to the revenue share?");
        assert!(told[0].1.contains(&decision.reason()), "{}", told[0].1);
    }
}

#[test]
fn evidence_of_an_ended_proposal_reruns_and_refuses_tampering() {
    let policy = revshare();
    let proposal = wallet_vote(&policy);
    let decisions = [
        supersede(&policy, &proposal, ann_clears_wallet()).unwrap(),
        refused(&policy, &proposal, "(403) forbidden".into()).unwrap(),
        cancelled(&policy, &proposal).unwrap(),
    ];
    for decision in decisions {
        let evidence = Evidence::new(
            CommunitySlug::parse("forum").unwrap(),
            7,
            proposal.clone(),
            &policy,
            Some(facts(&[("pat", "approve", 3)])),
            at(2.0),
            decision,
        );
        let (read, hash) = Evidence::verify(&evidence.to_bytes()).unwrap();
        assert_eq!(read, evidence);
        assert_eq!(hash, evidence.hash());

        let mut tampered = evidence.clone();
        tampered.decision.actions.push(Action::AddEntry {
            pool: PoolName::parse("default").unwrap(),
            entry: revshare_oracle::domain::Entry {
                wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
                weight: revshare_oracle::domain::Weight::new(1).unwrap(),
                label: None,
                member: None,
            },
        });
        assert!(matches!(
            Evidence::verify(&tampered.to_bytes()),
            Err(EvidenceError::Differs { .. })
        ));
    }
}

fn event(line: usize, hours: i64, fact: Fact) -> Event {
    Event {
        at: Timestamp(T0 + hours * HOUR),
        fact,
        line,
    }
}

#[test]
fn the_replay_supersedes_and_fails_refused_votes_as_the_scheduler_does() {
    let wallet = |who: &str, w: Option<&str>| Fact::Wallet {
        member: member(who),
        wallet: w.map(str::to_string),
    };
    let events = [
        event(
            1,
            0,
            Fact::TrustLevel {
                member: member("tess"),
                level: 3,
            },
        ),
        event(2, 0, wallet("ann", Some("$wallet.example/ann"))),
        event(3, 0, wallet("bob", Some("$wallet.example/bob"))),
        event(4, 1, wallet("ann", None)),
        event(
            5,
            2,
            Fact::Ballot {
                proposal: 1,
                member: member("tess"),
                choices: vec!["approve".into()],
            },
        ),
        event(
            6,
            3,
            Fact::VoteRefused {
                proposal: 2,
                detail: "(403) forbidden".into(),
            },
        ),
    ];
    let replayed = replay(
        CommunitySlug::parse("forum").unwrap(),
        default_policies(),
        &events,
    )
    .unwrap();
    let decided = decided(&replayed);
    assert_eq!(decided.len(), 3, "{decided:?}");
    assert_eq!(decided[0].0, 1);
    assert_eq!(decided[0].1, Outcome::Failed);
    assert!(decided[0].2.starts_with("superseded"), "{}", decided[0].2);
    assert_eq!(
        (decided[1].0, decided[1].1),
        (3, Outcome::Passed),
        "ann's removal"
    );
    assert_eq!(decided[2].0, 2);
    assert_eq!(decided[2].1, Outcome::Failed);
    assert!(decided[2].2.contains("(403) forbidden"), "{}", decided[2].2);
    assert!(
        replayed
            .happenings
            .iter()
            .any(|h| matches!(h, Happening::Refused { line: Some(5), .. })),
        "tess's late approval of the superseded proposal is not counted"
    );
    assert!(
        replayed
            .pools
            .get(&PoolName::parse("default").unwrap())
            .is_none_or(|p| p.entries().is_empty()),
        "{:?}",
        replayed.pools
    );
}

#[test]
fn the_replay_fails_a_cancelled_vote_once() {
    let log = r#"
{"at": "2026-01-01T00:00:00Z", "fact": "wallet", "member": "ann", "wallet": "$wallet.example/ann"}
{"at": "2026-01-01T01:00:00Z", "fact": "vote_cancelled", "proposal": 1}
{"at": "2026-01-01T02:00:00Z", "fact": "vote_cancelled", "proposal": 1}
{"at": "2026-01-01T03:00:00Z", "fact": "ballot", "proposal": 1, "member": "ann", "choices": ["approve"]}
"#;
    let events = parse_events(log).unwrap();
    let replayed = replay(
        CommunitySlug::parse("forum").unwrap(),
        default_policies(),
        &events,
    )
    .unwrap();
    let decided = decided(&replayed);
    assert_eq!(
        decided,
        [(
            1,
            Outcome::Failed,
            "the vote was cancelled before it started, failed".to_string()
        )]
    );
    assert!(
        replayed
            .happenings
            .iter()
            .any(|h| matches!(h, Happening::Refused { line: Some(4), .. })),
        "a second cancellation changes nothing: {:?}",
        replayed.happenings
    );
    assert!(
        replayed
            .pools
            .get(&PoolName::parse("default").unwrap())
            .is_none_or(|p| p.entries().is_empty()),
        "the wallet never joins: {:?}",
        replayed.pools
    );
    assert!(
        parse_events(r#"{"at": "2026-01-01T00:00:00Z", "fact": "vote_cancelled"}"#).is_err(),
        "a cancellation names its proposal"
    );
}
