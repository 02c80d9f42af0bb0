//! The policy engine on the shipped revenue-share policy: reading and checking the policy file,
//! one evaluation of a running vote with N ballots (pending, so every close condition runs), and
//! a decision's evidence (canonical bytes and keccak256) with N ballots. Per call, on one core.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use revshare_oracle::domain::{CommunitySlug, MemberId, Timestamp, WalletAddress};
use revshare_oracle::policy::{
    Evaluation, Evidence, GRANT_REPORT_POLICY, Opening, Policy, PolicyVersion, Proposal, Subject,
    VoteFacts, VoterStanding, default_policies, evaluate, open,
};
use revshare_oracle::voting::{Ballot, VoteHandle, Voter};

fn proposal(policy: &PolicyVersion) -> Proposal {
    let subject = Subject::WalletAdded {
        member: MemberId::parse("ann").unwrap(),
        wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
    };
    let Opening::Vote { mut proposal, .. } = open(policy, subject, Timestamp(0)).unwrap() else {
        panic!("the shipped policy votes on a new wallet")
    };
    proposal.vote = Some(VoteHandle {
        backend: "discourse".into(),
        external_id: "1".into(),
        url: None,
    });
    proposal
}

/// `n` ballots, alternating approve and disapprove, all below Trust Level 3.
fn facts(n: usize) -> VoteFacts {
    let voter = |i: usize| Voter {
        platform: "discourse".into(),
        user_id: i.to_string(),
        username: format!("v{i}"),
    };
    VoteFacts {
        ballots: (0..n)
            .map(|i| Ballot {
                voter: voter(i),
                choices: vec![if i % 2 == 0 { "approve" } else { "disapprove" }.into()],
                cast_at: None,
            })
            .collect(),
        voters: (0..n)
            .map(|i| VoterStanding {
                voter: voter(i),
                trust_level: Some((i % 3) as u8),
                groups: vec!["members".into()],
            })
            .collect(),
        closed_on_platform: false,
        raw: serde_json::json!({"polls": []}),
    }
}

fn bench(c: &mut Criterion) {
    c.bench_function("policy/parse the grant-report policy", |b| {
        b.iter(|| Policy::parse(black_box(GRANT_REPORT_POLICY)).unwrap())
    });
    let policy = default_policies().version(1).unwrap().clone();
    let proposal = proposal(&policy);
    for n in [4, 1_000] {
        let facts = facts(n);
        let now = Timestamp(if n < 5 { 3_600_000 } else { 0 });
        c.bench_function(&format!("policy/evaluate {n} ballots"), |b| {
            b.iter(|| evaluate(&policy, &proposal, black_box(&facts), now).unwrap())
        });
    }
    let facts = facts(100);
    let Evaluation::Decided(decision) =
        evaluate(&policy, &proposal, &facts, Timestamp(90_000_000)).unwrap()
    else {
        panic!("a day has passed")
    };
    let evidence = Evidence::new(
        CommunitySlug::parse("forum").unwrap(),
        1,
        proposal.clone(),
        &policy,
        Some(facts),
        Timestamp(90_000_000),
        decision,
    );
    c.bench_function("policy/evidence hash, 100 ballots", |b| {
        b.iter(|| black_box(&evidence).hash())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
