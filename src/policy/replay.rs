//! Replaying a recorded event log through a community's policies, purely: the same log gives the
//! same decisions (and decision hashes) on any node, which `policy simulate` prints.
//!
//! The log's format is `event_log`'s. Proposals are numbered 1, 2, … in the order they open.
//! Facts recorded at the same moment are applied together in a canonical order (standings,
//! ballots, wallets, proposals, then by content) before the open proposals are evaluated once, so
//! the order in which simultaneous facts arrived changes nothing. The platform is taken to close a vote at its `closes_after`. A wallet fact
//! that changes a member's wallet supersedes their open wallet proposals before it opens its own,
//! as the scheduler does.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::domain::{
    CommunitySlug, MemberId, Pool, PoolName, SplitRules, Timestamp, WalletAddress,
};
use crate::voting::{Ballot, VoteHandle, Voter};

use super::action::Action;
use super::constitution::Policies;
use super::ending;
use super::engine::{self, Decision, Evaluation, Opening, Proposal, VoteFacts, VoterStanding};
use super::event_log::{Event, Fact, ReplayError};
use super::evidence::Evidence;
use super::subject::Subject;

/// What happened during a replay, in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Happening {
    /// A proposal opened with a vote.
    Opened {
        /// When.
        at: Timestamp,
        /// The proposal's number.
        proposal: u64,
        /// The policy version it runs under.
        policy_version: u64,
        /// The rule.
        rule: String,
        /// The backend its vote runs on.
        backend: String,
        /// The vote's title.
        title: String,
        /// What is done now that the vote has started.
        actions: Vec<Action>,
    },
    /// A proposal was decided.
    Decided {
        /// When.
        at: Timestamp,
        /// The proposal's number.
        proposal: u64,
        /// The policy version that decided it.
        policy_version: u64,
        /// The decision.
        #[serde(flatten)]
        decision: Decision,
        /// The reason in words.
        reason: String,
        /// keccak256 of the decision's canonical evidence.
        decision_hash: String,
    },
    /// A fact was refused or had no effect, and why.
    Refused {
        /// When.
        at: Timestamp,
        /// The fact's line in the log; `None` when no single fact caused it (an evaluation, an
        /// action).
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
        /// Why.
        reason: String,
    },
}

/// The end state of a replay.
#[derive(Clone, Debug, PartialEq)]
pub struct Replayed {
    /// What happened, in order.
    pub happenings: Vec<Happening>,
    /// Each pool as the decisions left it.
    pub pools: BTreeMap<PoolName, Pool>,
    /// The split rules, if a decision set them.
    pub split: Option<SplitRules>,
    /// The policies, with every version adopted during the replay.
    pub policies: Policies,
}

#[derive(Default)]
struct MemberState {
    wallet: Option<WalletAddress>,
    trust_level: Option<u8>,
    groups: Vec<String>,
}

struct Open {
    id: u64,
    proposal: Proposal,
    ballots: BTreeMap<MemberId, (Vec<String>, Timestamp)>,
    closes_at: Option<Timestamp>,
}

struct Run {
    community: CommunitySlug,
    policies: Policies,
    members: HashMap<MemberId, MemberState>,
    open: Vec<Open>,
    decided: Vec<u64>,
    next_id: u64,
    out: Replayed,
}

/// Replays `events` through `policies` for `community`.
pub fn replay(
    community: CommunitySlug,
    policies: Policies,
    events: &[Event],
) -> Result<Replayed, ReplayError> {
    let mut run = Run {
        community,
        policies: policies.clone(),
        members: HashMap::new(),
        open: Vec::new(),
        decided: Vec::new(),
        next_id: 1,
        out: Replayed {
            happenings: Vec::new(),
            pools: BTreeMap::new(),
            split: None,
            policies,
        },
    };
    for batch in events.chunk_by(|a, b| a.at == b.at) {
        let mut batch: Vec<&Event> = batch.iter().collect();
        batch.sort_by_cached_key(|e| {
            (
                e.fact.rank(),
                serde_json::to_string(&e.fact).expect("a fact always serialises"),
            )
        });
        let at = batch[0].at;
        for event in batch {
            run.apply(event)?;
        }
        run.evaluate(at);
    }
    run.out.policies = run.policies;
    Ok(run.out)
}

impl Run {
    fn refuse(&mut self, event: &Event, reason: String) {
        self.out.happenings.push(Happening::Refused {
            at: event.at,
            line: Some(event.line),
            reason,
        });
    }

    fn apply(&mut self, event: &Event) -> Result<(), ReplayError> {
        let fail = |message: String| ReplayError {
            line: event.line,
            message,
        };
        match &event.fact {
            Fact::TrustLevel { member, level } => {
                self.members.entry(member.clone()).or_default().trust_level = Some(*level);
            }
            Fact::Groups { member, groups } => {
                self.members.entry(member.clone()).or_default().groups = groups.clone();
            }
            Fact::Ballot {
                proposal, member, ..
            }
            | Fact::Withdraw { proposal, member } => {
                let Some(open) = self.open.iter_mut().find(|o| o.id == *proposal) else {
                    if self.decided.contains(proposal) {
                        self.refuse(
                            event,
                            format!("proposal {proposal} is decided; the ballot is not counted"),
                        );
                        return Ok(());
                    }
                    return Err(fail(format!("there is no proposal {proposal}")));
                };
                match &event.fact {
                    Fact::Ballot { choices, .. } => {
                        open.ballots
                            .insert(member.clone(), (choices.clone(), event.at));
                    }
                    _ => {
                        open.ballots.remove(member);
                    }
                }
            }
            Fact::Wallet { member, wallet } => {
                let wallet = wallet
                    .as_deref()
                    .map(WalletAddress::parse)
                    .transpose()
                    .map_err(|e| fail(format!("`wallet`: {e}")))?;
                let state = self.members.entry(member.clone()).or_default();
                let before = std::mem::replace(&mut state.wallet, wallet.clone());
                if let Some(subject) = Subject::of_wallet_change(member.clone(), before, wallet) {
                    self.supersede(event.at, &subject);
                    self.open_proposal(event, subject);
                }
            }
            Fact::VoteRefused { proposal, .. } | Fact::VoteCancelled { proposal } => {
                let Some(index) = self.open.iter().position(|o| o.id == *proposal) else {
                    if self.decided.contains(proposal) {
                        self.refuse(event, format!("proposal {proposal} is decided already"));
                        return Ok(());
                    }
                    return Err(fail(format!("there is no proposal {proposal}")));
                };
                let open = self.open.remove(index);
                let policy = self.version_of(&open.proposal);
                let ended = match &event.fact {
                    Fact::VoteRefused { detail, .. } => {
                        ending::refused(&policy, &open.proposal, detail.clone())
                    }
                    _ => ending::cancelled(&policy, &open.proposal),
                };
                match ended {
                    Ok(decision) => self.decide(open.id, open.proposal, None, event.at, decision),
                    Err(e) => {
                        self.refuse(event, format!("proposal {proposal}: {e}"));
                        self.open.push(open);
                    }
                }
            }
            Fact::ProposePolicy { source } => match self.policies.propose(source) {
                Ok(subject) => self.open_proposal(event, subject),
                Err(e) => self.refuse(event, e.to_string()),
            },
            Fact::AdminRequest { note, change } => {
                let subject = Subject::AdminRequest {
                    note: note.clone(),
                    change: change.clone(),
                };
                self.open_proposal(event, subject);
            }
            Fact::Tick {} => {}
        }
        Ok(())
    }

    fn version_of(&self, proposal: &Proposal) -> super::engine::PolicyVersion {
        self.policies
            .version(proposal.policy_version)
            .expect("a proposal's version is kept")
            .clone()
    }

    /// Fails the open proposals that `by`, a wallet change at `at`, makes moot.
    fn supersede(&mut self, at: Timestamp, by: &Subject) {
        let (ended, still): (Vec<Open>, Vec<Open>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|o| ending::is_superseded_by(&o.proposal, by, at));
        self.open = still;
        for open in ended {
            let policy = self.version_of(&open.proposal);
            match ending::supersede(&policy, &open.proposal, by.clone()) {
                Ok(decision) => {
                    let facts = self.facts(&open, at);
                    self.decide(open.id, open.proposal, Some(facts), at, decision);
                }
                Err(e) => {
                    self.out.happenings.push(Happening::Refused {
                        at,
                        line: None,
                        reason: format!("proposal {}: {e}", open.id),
                    });
                    self.open.push(open);
                }
            }
        }
    }

    fn open_proposal(&mut self, event: &Event, subject: Subject) {
        let Some(policy) = self.policies.for_trigger(subject.kind()).cloned() else {
            self.refuse(
                event,
                format!("no policy in force answers {}", subject.kind().as_str()),
            );
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        match engine::open(&policy, subject, event.at) {
            Ok(Opening::Decided { proposal, decision }) => {
                self.decide(id, proposal, None, event.at, decision);
            }
            Ok(Opening::Vote {
                mut proposal,
                backend,
                request,
            }) => {
                proposal.vote = Some(VoteHandle {
                    backend: backend.clone(),
                    external_id: format!("sim-{id}"),
                    url: None,
                });
                let actions = engine::opened(&policy, &proposal)
                    .expect("the proposal has its vote and its version");
                self.out.happenings.push(Happening::Opened {
                    at: event.at,
                    proposal: id,
                    policy_version: policy.version,
                    rule: proposal.rule.to_string(),
                    backend,
                    title: request.title,
                    actions,
                });
                self.open.push(Open {
                    id,
                    proposal,
                    ballots: BTreeMap::new(),
                    closes_at: request.closes_at,
                });
            }
            Err(e) => self.refuse(event, e.to_string()),
        }
    }

    fn facts(&self, open: &Open, now: Timestamp) -> VoteFacts {
        let platform = open
            .proposal
            .vote
            .as_ref()
            .map_or_else(String::new, |v| v.backend.clone());
        let voter = |member: &MemberId| Voter {
            platform: platform.clone(),
            user_id: member.to_string(),
            username: member.to_string(),
        };
        let ballots: Vec<Ballot> = open
            .ballots
            .iter()
            .map(|(member, (choices, cast_at))| Ballot {
                voter: voter(member),
                choices: choices.clone(),
                cast_at: Some(*cast_at),
            })
            .collect();
        let voters = open
            .ballots
            .keys()
            .map(|member| {
                let state = self.members.get(member);
                VoterStanding {
                    voter: voter(member),
                    trust_level: state.and_then(|s| s.trust_level),
                    groups: state.map(|s| s.groups.clone()).unwrap_or_default(),
                }
            })
            .collect();
        VoteFacts {
            raw: serde_json::json!({ "simulated": true, "ballots": ballots }),
            ballots,
            voters,
            closed_on_platform: open.closes_at.is_some_and(|t| now >= t),
        }
    }

    fn evaluate(&mut self, now: Timestamp) {
        let mut still_open = Vec::new();
        for open in std::mem::take(&mut self.open) {
            let policy = self
                .policies
                .version(open.proposal.policy_version)
                .expect("a proposal's version is kept")
                .clone();
            let facts = self.facts(&open, now);
            match engine::evaluate(&policy, &open.proposal, &facts, now) {
                Ok(Evaluation::Pending) => still_open.push(open),
                Ok(Evaluation::Decided(decision)) => {
                    self.decide(open.id, open.proposal, Some(facts), now, decision);
                }
                Err(e) => {
                    self.out.happenings.push(Happening::Refused {
                        at: now,
                        line: None,
                        reason: format!("proposal {}: {e}", open.id),
                    });
                    still_open.push(open);
                }
            }
        }
        self.open = still_open;
    }

    fn decide(
        &mut self,
        id: u64,
        proposal: Proposal,
        facts: Option<VoteFacts>,
        at: Timestamp,
        decision: Decision,
    ) {
        let policy = self
            .policies
            .version(proposal.policy_version)
            .expect("a proposal's version is kept")
            .clone();
        let evidence = Evidence::new(
            self.community.clone(),
            id,
            proposal,
            &policy,
            facts,
            at,
            decision.clone(),
        );
        self.decided.push(id);
        self.out.happenings.push(Happening::Decided {
            at,
            proposal: id,
            policy_version: policy.version,
            reason: decision.reason(),
            decision_hash: evidence.hash().to_string(),
            decision: decision.clone(),
        });
        for action in &decision.actions {
            self.execute(action, at);
        }
    }

    fn execute(&mut self, action: &Action, at: Timestamp) {
        if let Some(name) = action.pool() {
            let pool = self.out.pools.entry(name.clone()).or_default();
            if let Some(result) = action.apply(pool) {
                match result {
                    Ok(changed) => *pool = changed,
                    Err(e) => self.out.happenings.push(Happening::Refused {
                        at,
                        line: None,
                        reason: e.to_string(),
                    }),
                }
            }
            return;
        }
        match action {
            Action::SetSplit { rules } => self.out.split = Some(rules.clone()),
            Action::AdoptPolicy { source, .. } => {
                if let Err(e) = self.policies.adopt(source) {
                    self.out.happenings.push(Happening::Refused {
                        at,
                        line: None,
                        reason: e.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
}
