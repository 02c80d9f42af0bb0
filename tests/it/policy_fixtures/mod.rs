//! The shipped revenue-share policy, ann's wallet vote on it, and facts built from
//! (voter, choice, trust level at evaluation), for the policy suites.

use revshare_oracle::domain::{MemberId, Timestamp, WalletAddress};
use revshare_oracle::policy::{
    Opening, PolicyVersion, Proposal, Subject, VoteFacts, VoterStanding, default_policies, open,
};
use revshare_oracle::voting::{Ballot, VoteHandle, Voter};

pub const HOUR: i64 = 3_600_000;
pub const T0: i64 = 1_767_225_600_000;

pub fn at(hours: f64) -> Timestamp {
    Timestamp(T0 + (hours * HOUR as f64) as i64)
}

pub fn revshare() -> PolicyVersion {
    default_policies().version(1).unwrap().clone()
}

pub fn member(name: &str) -> MemberId {
    MemberId::parse(name).unwrap()
}

pub fn ann_adds_wallet() -> Subject {
    Subject::WalletAdded {
        member: member("ann"),
        wallet: WalletAddress::parse("$wallet.example/ann").unwrap(),
    }
}

/// Opens ann's wallet vote at T0 and gives it a Discourse poll.
pub fn wallet_vote(policy: &PolicyVersion) -> Proposal {
    let Opening::Vote {
        mut proposal,
        backend,
        request,
    } = open(policy, ann_adds_wallet(), at(0.0)).unwrap()
    else {
        panic!("a new wallet is put to a vote")
    };
    assert_eq!(backend, "discourse");
    assert_eq!(request.options, ["approve", "disapprove"]);
    assert_eq!(request.closes_at, Some(at(24.0)));
    assert_eq!(request.title, "Add ann's wallet to the revenue share?");
    assert!(
        request.details.contains("$wallet.example/ann"),
        "{}",
        request.details
    );
    proposal.vote = Some(VoteHandle {
        backend,
        external_id: "1234".into(),
        url: Some("https://forum.example/t/wallets/7/3".into()),
    });
    proposal
}

pub fn voter(name: &str) -> Voter {
    Voter {
        platform: "discourse".into(),
        user_id: format!("id-{name}"),
        username: name.into(),
    }
}

/// Facts from (voter, choice, trust level at evaluation).
pub fn facts(ballots: &[(&str, &str, u8)]) -> VoteFacts {
    VoteFacts {
        ballots: ballots
            .iter()
            .map(|(name, choice, _)| Ballot {
                voter: voter(name),
                choices: vec![choice.to_string()],
                cast_at: None,
            })
            .collect(),
        voters: ballots
            .iter()
            .map(|(name, _, level)| VoterStanding {
                voter: voter(name),
                trust_level: Some(*level),
                groups: vec![],
            })
            .collect(),
        closed_on_platform: false,
        raw: serde_json::json!({"post": {"polls": []}}),
    }
}
