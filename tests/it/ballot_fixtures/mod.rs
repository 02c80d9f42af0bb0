//! Decision evidence whose documents are real: ann's wallet vote run through the real Discourse
//! and Loomio backends against their fakes (pat, at trust level 3, disapproves; bob approves),
//! read back with the documents the backends keep, then decided; and forgeries of it whose
//! ballots were changed, added or dropped and whose decision was re-run, so that everything but
//! the documents agrees. Suites that use it also declare `policy_fixtures` and `support`.

use revshare_oracle::config::DiscourseApiConfig;
use revshare_oracle::domain::CommunitySlug;
use revshare_oracle::policy::{
    Evaluation, Evidence, PolicyVersion, Proposal, VoteFacts, VoterStanding, evaluate,
};
use revshare_oracle::sources::discourse::{
    DiscourseClient, DiscourseSites, DiscourseVoting, PollDestination,
};
use revshare_oracle::sources::loomio::{LoomioBackend, LoomioClient, RetryPolicy};
use revshare_oracle::voting::{
    Ballot, Electorate, VoteHandle, VoteRequest, VoteState, VoteStatus, Voter, VotingBackend,
};

use crate::policy_fixtures::{at, revshare, wallet_vote};
use crate::support::discourse_api::{API_USERNAME, FakeDiscourseApi};
use crate::support::loomio::FakeLoomio;

/// A vote read from its platform, with the fake it lives on kept alive.
pub struct ReadVote<F> {
    pub _fake: F,
    pub policy: PolicyVersion,
    pub proposal: Proposal,
    pub facts: VoteFacts,
}

/// Ann's wallet vote as the service asks a backend to start it, closing in `closes_in_days`.
pub fn request(closes_in_days: Option<i64>) -> VoteRequest {
    VoteRequest {
        title: "Add ann's wallet to the revenue share?".into(),
        details: "ann asks that `$wallet.example/ann` share the revenue.".into(),
        options: vec!["approve".into(), "disapprove".into()],
        closes_at: closes_in_days.map(|days| {
            revshare_oracle::domain::Timestamp(
                jiff::Timestamp::now().as_millisecond() + days * 86_400_000,
            )
        }),
        electorate: Electorate::default(),
    }
}

/// The facts of a status, with pat at trust level 3 and everyone else at 1.
pub fn facts_of(status: VoteStatus) -> VoteFacts {
    VoteFacts {
        voters: status.ballots.iter().map(|b| standing(&b.voter)).collect(),
        ballots: status.ballots,
        closed_on_platform: matches!(status.state, VoteState::Closed { .. }),
        raw: status.raw,
    }
}

fn standing(voter: &Voter) -> VoterStanding {
    VoterStanding {
        voter: voter.clone(),
        trust_level: Some(if voter.username == "pat" { 3 } else { 1 }),
        groups: vec![],
    }
}

/// Ann's wallet vote as a Discourse poll on the fake Discourse, voted on and read.
pub async fn discourse_vote() -> ReadVote<FakeDiscourseApi> {
    let fake = FakeDiscourseApi::start(&[]).await;
    let sites = DiscourseSites::new(&DiscourseApiConfig::default()).unwrap();
    let client = DiscourseClient::new(
        &sites,
        &fake.base_url,
        fake.api_key.clone().into(),
        API_USERNAME,
    );
    let backend = DiscourseVoting::new(client, PollDestination::Topic(10));
    let handle = backend.start(&request(None)).await.unwrap();
    let post: i64 = handle
        .external_id
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    fake.add_user(501, "pat", &[]);
    fake.promote("pat", 3);
    fake.add_user(502, "bob", &[]);
    fake.vote(post, "revshare", "pat", "disapprove").unwrap();
    fake.vote(post, "revshare", "bob", "approve").unwrap();
    let status = backend.status(&handle.external_id).await.unwrap();
    let policy = revshare();
    let mut proposal = wallet_vote(&policy);
    proposal.vote = Some(handle);
    ReadVote {
        _fake: fake,
        policy,
        proposal,
        facts: facts_of(status),
    }
}

/// The API key of the fake Loomio's bot.
pub const LOOMIO_KEY: &str = "bot-api-key-5f0c9a7e1d2b";

/// A client of the fake Loomio with its bot's key and quick retries.
pub fn loomio_client(fake: &FakeLoomio) -> LoomioClient {
    LoomioClient::new(
        reqwest::Client::new(),
        &fake.base_url(),
        LOOMIO_KEY.to_string().into(),
        RetryPolicy {
            attempts: 3,
            base_delay: std::time::Duration::from_millis(10),
            max_delay: std::time::Duration::from_millis(40),
            max_wait: std::time::Duration::from_secs(5),
        },
        1 << 20,
    )
}

/// The voting backend of the fake Loomio's group.
pub fn loomio_backend(fake: &FakeLoomio) -> LoomioBackend {
    LoomioBackend::new(loomio_client(fake), fake.group_id)
}

/// The vote `backend` read with `facts`, under the shipped revenue-share policy.
pub fn read_vote<F>(fake: F, handle: VoteHandle, facts: VoteFacts) -> ReadVote<F> {
    let policy = revshare();
    let mut proposal = wallet_vote(&policy);
    proposal.vote = Some(handle);
    ReadVote {
        _fake: fake,
        policy,
        proposal,
        facts,
    }
}

/// Ann's wallet vote as a Loomio poll on the fake Loomio, voted on and read.
pub async fn loomio_vote() -> ReadVote<FakeLoomio> {
    let fake = FakeLoomio::start(LOOMIO_KEY).await;
    let backend = loomio_backend(&fake);
    let handle = backend.start(&request(Some(3))).await.unwrap();
    let poll: u64 = handle.external_id.parse().unwrap();
    let [pat, bob] = [&fake.members[0], &fake.members[1]];
    fake.vote(poll, pat, &["disapprove"]);
    fake.vote(poll, bob, &["approve"]);
    let status = backend.status(&handle.external_id).await.unwrap();
    let pat_name = pat.username.clone();
    let policy = revshare();
    let mut proposal = wallet_vote(&policy);
    proposal.vote = Some(handle);
    let mut facts = facts_of(status);
    for standing in &mut facts.voters {
        standing.trust_level = Some(if standing.voter.username == pat_name {
            3
        } else {
            1
        });
    }
    ReadVote {
        _fake: fake,
        policy,
        proposal,
        facts,
    }
}

/// How a forger changes the ballots before deciding on them.
#[derive(Clone, Copy, Debug)]
pub enum Forgery {
    /// The first voter's choice is turned around.
    Changed,
    /// A voter who never voted approves, at trust level 3.
    Added,
    /// The first voter's ballot is dropped.
    Dropped,
}

impl Forgery {
    pub const ALL: [Forgery; 3] = [Forgery::Changed, Forgery::Added, Forgery::Dropped];

    /// The facts with this forgery applied.
    pub fn apply(self, facts: &VoteFacts) -> VoteFacts {
        let mut forged = facts.clone();
        match self {
            Forgery::Changed => {
                let ballot = &mut forged.ballots[0];
                ballot.choices = vec![if ballot.choices[0] == "approve" {
                    "disapprove".into()
                } else {
                    "approve".into()
                }];
            }
            Forgery::Added => {
                let platform = forged.ballots[0].voter.platform.clone();
                let eve = Voter {
                    platform,
                    user_id: "9999".into(),
                    username: "eve".into(),
                };
                forged.voters.push(VoterStanding {
                    voter: eve.clone(),
                    trust_level: Some(3),
                    groups: vec![],
                });
                forged.ballots.push(Ballot {
                    voter: eve,
                    choices: vec!["approve".into()],
                    cast_at: None,
                });
            }
            Forgery::Dropped => {
                let dropped = forged.ballots.remove(0);
                forged.voters.retain(|s| s.voter != dropped.voter);
            }
        }
        forged
    }
}

/// The evidence of deciding `facts` at 25 hours (after the vote's 24-hour close, so that every
/// variant decides), as the service would store it.
pub fn decided(vote: &ReadVote<impl Sized>, facts: VoteFacts) -> Evidence {
    decided_at_hour(vote, facts, 25.0)
}

/// The evidence of deciding `facts` at `hours` after the proposal opened.
pub fn decided_at_hour(vote: &ReadVote<impl Sized>, facts: VoteFacts, hours: f64) -> Evidence {
    let Evaluation::Decided(decision) =
        evaluate(&vote.policy, &vote.proposal, &facts, at(hours)).unwrap()
    else {
        panic!("the vote is decided at {hours} hours")
    };
    Evidence::new(
        CommunitySlug::parse("forum").unwrap(),
        1,
        vote.proposal.clone(),
        &vote.policy,
        Some(facts),
        at(hours),
        decision,
    )
}
