//! The policy engine's record on SQLite and PostgreSQL: versions are append-only and checked on
//! adoption, proposals keep their version and get their vote once, a decision is stored once with
//! its evidence, whose bytes re-hash and re-run to the same decision.

use crate::common;

use common::TestDb;
use revshare_oracle::domain::{Cause, CommunitySlug, MemberId, Timestamp, WalletAddress};
use revshare_oracle::policy::{
    CONSTITUTION_POLICY, Evaluation, Evidence, GRANT_REPORT_POLICY, Opening, Outcome, Subject,
    VoteFacts, VoterStanding, evaluate, open,
};
use revshare_oracle::store::{ProposalState, StoreError};
use revshare_oracle::voting::{Ballot, VoteHandle, Voter};
use sqlx::{Connection, Executor};

fn bootstrap() -> Cause {
    Cause::AdminBootstrap {
        note: Some("shipped policies".into()),
    }
}

async fn community(db: &TestDb) -> i64 {
    db.store
        .create_community(
            &CommunitySlug::parse("forum").unwrap(),
            "Forum",
            Timestamp(1),
        )
        .await
        .unwrap()
        .id
}

async fn policy_versions_are_numbered_checked_and_append_only(db: TestDb) {
    let store = &db.store;
    let c = community(&db).await;
    let err = store
        .adopt_policies(c, &[GRANT_REPORT_POLICY], &bootstrap(), Timestamp(2))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("could never be changed again"),
        "{err}"
    );
    assert!(
        store.policies(c).await.unwrap().versions().is_empty(),
        "nothing was stored"
    );

    let added = store
        .adopt_policies(
            c,
            &[GRANT_REPORT_POLICY, CONSTITUTION_POLICY],
            &bootstrap(),
            Timestamp(2),
        )
        .await
        .unwrap();
    assert_eq!(added.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    let bad = GRANT_REPORT_POLICY.replace("total >= 5", "total >= 'five'");
    let err = store
        .adopt_policies(c, &[&bad], &bootstrap(), Timestamp(3))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::PolicyRefused(_)), "{err}");
    assert!(err.to_string().contains("vote.close `five-votes`"), "{err}");

    let decided = Cause::Decision {
        decision: format!("0x{}", "ab".repeat(32)),
    };
    let next = GRANT_REPORT_POLICY.replace("total >= 5", "total >= 4");
    let added = store
        .adopt_policies(c, &[&next], &decided, Timestamp(4))
        .await
        .unwrap();
    assert_eq!(added[0].version, 3);
    let policies = store.policies(c).await.unwrap();
    assert_eq!(policies.versions().len(), 3);
    assert_eq!(
        policies.version(1).unwrap().policy.source(),
        GRANT_REPORT_POLICY
    );
    assert_eq!(
        policies.in_force().map(|v| v.version).collect::<Vec<_>>(),
        [3, 2]
    );

    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for sql in [
        "UPDATE policy_versions SET source = 'x' WHERE version = 1",
        "DELETE FROM policy_versions WHERE version = 1",
    ] {
        assert!(conn.execute(sql).await.is_err(), "refused: {sql}");
    }
}

fn ballot(name: &str, choice: &str) -> Ballot {
    Ballot {
        voter: Voter {
            platform: "discourse".into(),
            user_id: name.into(),
            username: name.into(),
        },
        choices: vec![choice.into()],
        cast_at: Some(Timestamp(10)),
    }
}

async fn a_proposal_is_opened_voted_and_decided_once_with_its_evidence(db: TestDb) {
    let store = &db.store;
    let c = community(&db).await;
    store
        .adopt_policies(
            c,
            &[GRANT_REPORT_POLICY, CONSTITUTION_POLICY],
            &bootstrap(),
            Timestamp(2),
        )
        .await
        .unwrap();
    let policies = store.policies(c).await.unwrap();
    let policy = policies.version(1).unwrap();
    let subject = Subject::WalletAdded {
        member: MemberId::parse("ann").unwrap(),
        wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
    };
    let Opening::Vote { mut proposal, .. } = open(policy, subject, Timestamp(5)).unwrap() else {
        panic!()
    };
    let id = store.open_proposal(c, &proposal).await.unwrap();
    let handle = VoteHandle {
        backend: "discourse".into(),
        external_id: "77".into(),
        url: Some("https://forum.example/t/x/1".into()),
    };
    store.attach_vote(id, &handle).await.unwrap();
    assert!(
        matches!(
            store.attach_vote(id, &handle).await,
            Err(StoreError::Conflict(_))
        ),
        "a vote is set once"
    );
    proposal.vote = Some(handle);
    let stored = store.proposal(id).await.unwrap().unwrap();
    assert_eq!(stored.proposal, proposal);
    assert_eq!(stored.state, ProposalState::Open);
    assert_eq!(store.open_proposals(c).await.unwrap(), [stored]);

    let facts = VoteFacts {
        ballots: vec![ballot("tess", "approve")],
        voters: vec![VoterStanding {
            voter: Voter {
                platform: "discourse".into(),
                user_id: "tess".into(),
                username: "tess".into(),
            },
            trust_level: Some(3),
            groups: vec![],
        }],
        closed_on_platform: false,
        raw: serde_json::json!({"post_stream": {"posts": [{"polls": [{"name": "poll", "voters": 1}]}]}}),
    };
    let Evaluation::Decided(decision) = evaluate(policy, &proposal, &facts, Timestamp(20)).unwrap()
    else {
        panic!()
    };
    let evidence = Evidence::new(
        CommunitySlug::parse("forum").unwrap(),
        id as u64,
        proposal.clone(),
        policy,
        Some(facts),
        Timestamp(20),
        decision,
    );
    let recorded = store.record_decision(c, id, &evidence).await.unwrap();
    assert_eq!(recorded.hash, evidence.hash());
    assert_eq!(recorded.outcome, Outcome::Passed);
    assert!(
        matches!(
            store.record_decision(c, id, &evidence).await,
            Err(StoreError::Conflict(_))
        ),
        "decided once"
    );

    let read = store.decision(&recorded.hash).await.unwrap().unwrap();
    assert_eq!(read, recorded);
    let (rerun, hash) = Evidence::verify(&read.evidence).unwrap();
    assert_eq!(hash, read.hash);
    assert_eq!(rerun.decision.outcome, Outcome::Passed);
    assert_eq!(rerun.policy.version, 1);
    assert!(store.open_proposals(c).await.unwrap().is_empty());
    let history = store.proposal_evaluations(id).await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.state).collect::<Vec<_>>(),
        [ProposalState::Open, ProposalState::Passed]
    );
    assert_eq!(
        history[1].reason,
        "closed by `tl3-approval`, passed by `tl3-approved`"
    );
    assert_eq!(history[1].evaluated_at, Timestamp(20));

    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for sql in [
        "UPDATE decisions SET outcome = 'failed'",
        "DELETE FROM decisions",
        "UPDATE proposals SET state = 'failed'",
        "UPDATE proposals SET subject = '{}'",
        "DELETE FROM proposals",
        "DELETE FROM proposal_evaluations",
    ] {
        assert!(conn.execute(sql).await.is_err(), "refused: {sql}");
    }
}

on_both_databases!(
    policy_versions_are_numbered_checked_and_append_only,
    a_proposal_is_opened_voted_and_decided_once_with_its_evidence,
);
