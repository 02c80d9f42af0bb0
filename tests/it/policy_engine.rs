//! The policy engine on the shipped policies: every closing condition alone and combined, ties,
//! withdrawals, trust levels at closing, the clock as an input, the actions that follow, the
//! no-vote removal, and evidence that re-runs to the same decision.

use crate::policy_fixtures;

use policy_fixtures::{ann_adds_wallet, at, facts, member, revshare, wallet_vote};
use revshare_oracle::domain::{PoolName, RuleName, WalletAddress};
use revshare_oracle::policy::{
    Action, Closing, Decision, Evaluation, Opening, Outcome, Policy, PolicyVersion, Subject,
    default_policies, evaluate, open, opened,
};
use revshare_oracle::voting::VoteHandle;

fn decide(ballots: &[(&str, &str, u8)], hours: f64) -> Option<Decision> {
    let policy = revshare();
    match evaluate(&policy, &wallet_vote(&policy), &facts(ballots), at(hours)).unwrap() {
        Evaluation::Pending => None,
        Evaluation::Decided(decision) => Some(decision),
    }
}

fn rule(name: &str) -> RuleName {
    RuleName::parse(name).unwrap()
}

fn closed(name: &str) -> Option<Closing> {
    Some(Closing::Condition(rule(name)))
}

fn assert_decided(
    decision: Option<Decision>,
    outcome: Outcome,
    closed_by: &str,
    decided_by: Option<&str>,
) {
    let decision = decision.expect("the vote is decided");
    assert_eq!(decision.outcome, outcome, "{}", decision.reason());
    assert_eq!(
        decision.closed_by,
        closed(closed_by),
        "{}",
        decision.reason()
    );
    assert_eq!(
        decision.decided_by,
        decided_by.map(rule),
        "{}",
        decision.reason()
    );
}

#[test]
fn the_vote_stays_open_until_a_close_condition_holds() {
    assert_eq!(decide(&[], 0.5), None);
    assert_eq!(
        decide(&[("bob", "approve", 2), ("cat", "disapprove", 1)], 23.99),
        None
    );
    assert_eq!(
        decide(
            &[
                ("a", "approve", 2),
                ("b", "approve", 2),
                ("c", "approve", 2),
                ("d", "disapprove", 0)
            ],
            12.0
        ),
        None
    );
}

#[test]
fn twenty_four_hours_close_the_vote_on_a_controlled_clock() {
    let ballots = [
        ("bob", "approve", 2),
        ("cat", "approve", 1),
        ("dan", "disapprove", 1),
    ];
    assert_eq!(decide(&ballots, 23.999), None);
    assert_decided(
        decide(&ballots, 24.0),
        Outcome::Passed,
        "day-passed",
        Some("majority-approved"),
    );
    assert_decided(
        decide(&ballots, 300.0),
        Outcome::Passed,
        "day-passed",
        Some("majority-approved"),
    );
}

#[test]
fn one_tl3_approval_closes_and_passes() {
    assert_decided(
        decide(&[("tess", "approve", 3)], 0.1),
        Outcome::Passed,
        "tl3-approval",
        Some("tl3-approved"),
    );
}

#[test]
fn one_tl3_disapproval_closes_and_fails() {
    assert_decided(
        decide(&[("bob", "approve", 2), ("tess", "disapprove", 3)], 0.1),
        Outcome::Failed,
        "tl3-disapproval",
        Some("tl3-disapproved"),
    );
}

#[test]
fn five_votes_close_and_the_majority_decides() {
    let mut ballots = vec![
        ("a", "approve", 1),
        ("b", "approve", 1),
        ("c", "disapprove", 1),
        ("d", "approve", 0),
    ];
    assert_eq!(decide(&ballots, 1.0), None);
    ballots.push(("e", "disapprove", 2));
    assert_decided(
        decide(&ballots, 1.0),
        Outcome::Passed,
        "five-votes",
        Some("majority-approved"),
    );
    let against = [
        ("a", "approve", 1),
        ("b", "disapprove", 1),
        ("c", "disapprove", 1),
        ("d", "disapprove", 0),
        ("e", "approve", 0),
    ];
    assert_decided(decide(&against, 1.0), Outcome::Failed, "five-votes", None);
}

#[test]
fn combined_conditions_close_on_the_first_listed_and_a_tl3_disapproval_wins() {
    let both = [("tess", "approve", 3), ("tom", "disapprove", 4)];
    assert_decided(
        decide(&both, 2.0),
        Outcome::Failed,
        "tl3-approval",
        Some("tl3-disapproved"),
    );
    let five_with_tl3 = [
        ("a", "approve", 1),
        ("b", "approve", 1),
        ("c", "approve", 1),
        ("d", "approve", 1),
        ("tom", "disapprove", 3),
    ];
    assert_decided(
        decide(&five_with_tl3, 2.0),
        Outcome::Failed,
        "tl3-disapproval",
        Some("tl3-disapproved"),
    );
    let late_and_many = [
        ("a", "approve", 1),
        ("b", "approve", 1),
        ("c", "disapprove", 1),
        ("d", "approve", 1),
        ("e", "approve", 1),
    ];
    assert_decided(
        decide(&late_and_many, 30.0),
        Outcome::Passed,
        "day-passed",
        Some("majority-approved"),
    );
}

#[test]
fn a_tie_fails_by_otherwise() {
    let tie = [("a", "approve", 1), ("b", "disapprove", 2)];
    let decision = decide(&tie, 24.0);
    assert_decided(decision.clone(), Outcome::Failed, "day-passed", None);
    assert_eq!(
        decision.unwrap().reason(),
        "closed by `day-passed`, failed by `otherwise`"
    );
    assert_decided(decide(&[], 24.0), Outcome::Failed, "day-passed", None);
}

#[test]
fn a_withdrawn_ballot_is_not_counted() {
    let five = [
        ("a", "approve", 1),
        ("b", "approve", 1),
        ("c", "approve", 1),
        ("d", "approve", 1),
        ("e", "disapprove", 1),
    ];
    assert!(decide(&five, 3.0).is_some());
    assert_eq!(decide(&five[..4], 3.0), None, "e withdrew before the close");
    assert_eq!(
        decide(&[("a", "approve", 1)], 3.0),
        None,
        "the TL3 approval was withdrawn"
    );
}

#[test]
fn the_trust_level_at_closing_counts() {
    let policy = revshare();
    let proposal = wallet_vote(&policy);
    let mut promoted = facts(&[("pat", "approve", 2)]);
    assert_eq!(
        evaluate(&policy, &proposal, &promoted, at(1.0)).unwrap(),
        Evaluation::Pending
    );
    promoted.voters[0].trust_level = Some(3);
    let Evaluation::Decided(decision) = evaluate(&policy, &proposal, &promoted, at(2.0)).unwrap()
    else {
        panic!("pat, promoted to TL3 after voting, closes the vote")
    };
    assert_eq!(decision.closed_by, closed("tl3-approval"));
    let mut demoted = facts(&[("tess", "disapprove", 3)]);
    demoted.voters[0].trust_level = Some(2);
    assert_eq!(
        evaluate(&policy, &proposal, &demoted, at(2.0)).unwrap(),
        Evaluation::Pending
    );
    let mut unknown = facts(&[("ghost", "approve", 3)]);
    unknown.voters.clear();
    assert_eq!(
        evaluate(&policy, &proposal, &unknown, at(2.0)).unwrap(),
        Evaluation::Pending,
        "an unknown standing counts as TL0"
    );
}

#[test]
fn passing_adds_the_wallet_with_equal_weight_and_tells_the_member() {
    let decision = decide(&[("tess", "approve", 3)], 1.0).unwrap();
    let [
        Action::CloseVote { vote },
        Action::AddEntry { pool, entry },
        Action::Notify {
            member: to,
            title,
            text,
        },
    ] = &decision.actions[..]
    else {
        panic!("close, add, notify: {:?}", decision.actions)
    };
    assert_eq!(vote.external_id, "1234");
    assert_eq!(pool, &PoolName::parse("default").unwrap());
    assert_eq!(
        entry.wallet,
        WalletAddress::parse("$wallet.example/ann").unwrap()
    );
    assert_eq!(entry.weight.get(), 1);
    assert_eq!(entry.member, Some(member("ann")));
    assert_eq!(to, &member("ann"));
    assert_eq!(title, "Your wallet joined the revenue share");
    assert!(
        text.contains("https://forum.example/t/wallets/7/3"),
        "{text}"
    );
    assert!(
        text.contains("closed by `tl3-approval`, passed by `tl3-approved`"),
        "{text}"
    );
}

#[test]
fn failing_leaves_the_pool_and_tells_the_member() {
    let decision = decide(&[("tess", "disapprove", 3)], 1.0).unwrap();
    assert!(
        decision.actions.iter().all(|a| a.pool().is_none()),
        "{:?}",
        decision.actions
    );
    let [
        Action::CloseVote { .. },
        Action::Notify {
            member: to,
            title,
            text,
        },
    ] = &decision.actions[..]
    else {
        panic!("close, notify: {:?}", decision.actions)
    };
    assert_eq!(to, &member("ann"));
    assert_eq!(title, "Your wallet was not added");
    assert!(
        text.contains("stays as it was") && text.contains("https://forum.example/t/wallets/7/3"),
        "{text}"
    );
}

#[test]
fn the_member_is_told_with_the_link_when_the_vote_opens() {
    let policy = revshare();
    let actions = opened(&policy, &wallet_vote(&policy)).unwrap();
    let [
        Action::Notify {
            member: to, text, ..
        },
    ] = &actions[..]
    else {
        panic!("{actions:?}")
    };
    assert_eq!(to, &member("ann"));
    assert!(
        text.ends_with("https://forum.example/t/wallets/7/3"),
        "{text}"
    );
}

#[test]
fn a_vote_the_platform_closed_is_decided_without_closing_it_again() {
    let policy = revshare();
    let mut facts = facts(&[("a", "approve", 1)]);
    facts.closed_on_platform = true;
    let Evaluation::Decided(decision) =
        evaluate(&policy, &wallet_vote(&policy), &facts, at(5.0)).unwrap()
    else {
        panic!("a closed poll is decided")
    };
    assert_eq!(decision.closed_by, Some(Closing::Platform));
    assert_eq!(decision.outcome, Outcome::Passed);
    assert!(
        !decision
            .actions
            .iter()
            .any(|a| matches!(a, Action::CloseVote { .. }))
    );
}

#[test]
fn removing_the_wallet_removes_the_entry_with_no_vote() {
    let subject = Subject::WalletRemoved {
        member: member("ann"),
        old_wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
    };
    let Opening::Decided { proposal, decision } = open(&revshare(), subject, at(3.0)).unwrap()
    else {
        panic!("the policy file says removal takes no vote")
    };
    assert_eq!(proposal.vote, None);
    assert_eq!(decision.outcome, Outcome::Passed);
    assert_eq!(decision.closed_by, None);
    assert_eq!(
        decision.reason(),
        "passed by rule `wallet-removed` without a vote"
    );
    assert!(
        matches!(&decision.actions[0], Action::RemoveEntry { wallet, .. } if wallet.as_str() == "https://wallet.example/ann")
    );
    assert!(matches!(&decision.actions[1], Action::Notify { .. }));
}

#[test]
fn the_backend_is_one_line() {
    let source = revshare_oracle::policy::GRANT_REPORT_POLICY
        .replace("backend = \"discourse\"", "backend = \"loomio\"");
    let changed: Vec<_> = revshare_oracle::policy::GRANT_REPORT_POLICY
        .lines()
        .zip(source.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1);
    let policy = PolicyVersion {
        version: 1,
        policy: Policy::parse(&source).unwrap(),
    };
    let Opening::Vote { backend, .. } = open(&policy, ann_adds_wallet(), at(0.0)).unwrap() else {
        panic!()
    };
    assert_eq!(backend, "loomio");
}

#[test]
fn a_proposal_is_evaluated_only_under_its_own_version() {
    let policy = revshare();
    let proposal = wallet_vote(&policy);
    let later = PolicyVersion {
        version: 3,
        policy: policy.policy.clone(),
    };
    let err = evaluate(&later, &proposal, &facts(&[]), at(1.0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "proposal runs under policy version 1, and was evaluated with version 3"
    );
}

#[test]
fn the_constitution_counts_only_its_electorate() {
    let policies = default_policies();
    let constitution = policies.version(2).unwrap();
    let subject = policies
        .propose(revshare_oracle::policy::GRANT_REPORT_POLICY)
        .unwrap();
    let Opening::Vote {
        mut proposal,
        request,
        ..
    } = open(constitution, subject, at(0.0)).unwrap()
    else {
        panic!()
    };
    assert_eq!(request.electorate.min_trust_level, Some(2));
    proposal.vote = Some(VoteHandle {
        backend: "discourse".into(),
        external_id: "9".into(),
        url: None,
    });
    let low = facts(&[
        ("a", "approve", 1),
        ("b", "approve", 1),
        ("c", "approve", 1),
    ]);
    let Evaluation::Decided(decision) = evaluate(constitution, &proposal, &low, at(72.0)).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        decision.outcome,
        Outcome::Failed,
        "TL1 ballots are not counted: {}",
        decision.reason()
    );
    let trusted = facts(&[
        ("a", "approve", 2),
        ("b", "approve", 2),
        ("c", "disapprove", 3),
    ]);
    let Evaluation::Decided(decision) =
        evaluate(constitution, &proposal, &trusted, at(72.0)).unwrap()
    else {
        panic!()
    };
    assert_eq!(decision.outcome, Outcome::Passed, "{}", decision.reason());
    assert!(matches!(
        decision.actions.last(),
        Some(Action::AdoptPolicy { .. })
    ));
}
