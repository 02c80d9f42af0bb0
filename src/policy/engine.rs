//! The engine: pure functions from (policy version, subject or recorded facts, recorded time) to
//! what happens next. No clock, no I/O: the same inputs give the same answer on any node, which is
//! what lets the scheduler re-evaluate at will and an auditor re-run a decision from its evidence.
//!
//! ```text
//! open(policy, subject, at) ──▶ Opening::Vote { proposal, request } ──(scheduler starts the vote)──▶
//!     opened(policy, proposal with its vote) ──▶ on_open actions (the member is told, with the link)
//!     evaluate(policy, proposal, facts, now) ──▶ Pending | Decided(decision with its actions)
//! open(policy, subject, at) ──▶ Opening::Decided (a rule without a vote decides at once)
//! ```

use serde::{Deserialize, Serialize};

use crate::domain::{PolicyName, RuleName, Timestamp};
use crate::voting::{Ballot, VoteHandle, VoteRequest, Voter};

use super::action::{Action, ActionSpec};
use super::definition::{MAX_POLICY_COST, Outcome, Policy, Rule, RuleKind, VoteProcess};
use super::error::EngineError;
use super::expr::{Condition, Fuel};
use super::subject::Subject;
use super::tally::Tally;
use super::template::Placeholder;

/// A policy as adopted: the community-wide version number that decisions and reports cite.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyVersion {
    /// 1 for the community's first adopted policy, then +1 for each adoption of any policy.
    pub version: u64,
    /// The policy.
    pub policy: Policy,
}

/// A proposal as the engine needs it: what it is about, and the version and rule it runs under
/// for its whole life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// The policy version it opened under, and is decided under.
    pub policy_version: u64,
    /// That policy's name.
    pub policy: PolicyName,
    /// The rule that answered its trigger.
    pub rule: RuleName,
    /// What it is about.
    pub subject: Subject,
    /// When it opened, as recorded.
    pub opened_at: Timestamp,
    /// The vote deciding it, once started; `None` for a rule without a vote.
    pub vote: Option<VoteHandle>,
}

/// A voter's standing at the time of evaluation, from the member registry: the trust level at
/// closing is the one that counts, whatever it was when the ballot was cast.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoterStanding {
    /// The voter.
    pub voter: Voter,
    /// Their trust level (unknown counts as 0).
    pub trust_level: Option<u8>,
    /// Their groups.
    pub groups: Vec<String>,
}

/// What is known of a vote at one moment, as read from its platform and the registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteFacts {
    /// The current ballots; a withdrawn ballot is simply absent.
    pub ballots: Vec<Ballot>,
    /// Each voter's standing now.
    pub voters: Vec<VoterStanding>,
    /// Whether the platform says the vote is closed.
    pub closed_on_platform: bool,
    /// The platform's documents these facts were read from, exactly as received.
    pub raw: serde_json::Value,
}

/// What closed a vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closing {
    /// This close condition held.
    Condition(RuleName),
    /// The platform closed the vote (its closing time came, or someone closed it there) before
    /// any close condition held.
    Platform,
    /// A newer change of the same member's wallet arrived while the vote ran: the proposal is
    /// about a wallet the member no longer states, so it fails without its `on_fail` effects.
    Superseded {
        /// The newer change.
        by: Box<Subject>,
    },
    /// The platform refused to start the vote, for good: it fails, and `on_fail` follows.
    Refused {
        /// What the platform said.
        detail: String,
    },
    /// The vote was cancelled (through the voting API) before it started: it fails, and
    /// `on_fail` follows.
    Cancelled,
}

/// A decided proposal: the outcome, the conditions that fired, and what follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Passed or failed.
    pub outcome: Outcome,
    /// The rule that decided.
    pub rule: RuleName,
    /// What closed the vote; `None` for a rule without a vote.
    pub closed_by: Option<Closing>,
    /// The verdict that gave the outcome; `None` when the policy's `otherwise` did, or no vote
    /// was held.
    pub decided_by: Option<RuleName>,
    /// The actions to take, in order.
    pub actions: Vec<Action>,
}

impl Decision {
    /// Why, in one line naming the conditions that fired.
    pub fn reason(&self) -> String {
        let decided = match &self.decided_by {
            Some(verdict) => format!("{} by `{verdict}`", self.outcome.as_str()),
            None if self.closed_by.is_none() => {
                format!(
                    "{} by rule `{}` without a vote",
                    self.outcome.as_str(),
                    self.rule
                )
            }
            None => format!("{} by `otherwise`", self.outcome.as_str()),
        };
        let outcome = self.outcome.as_str();
        match &self.closed_by {
            Some(Closing::Condition(name)) => format!("closed by `{name}`, {decided}"),
            Some(Closing::Platform) => format!("closed on the platform, {decided}"),
            Some(Closing::Superseded { by }) => format!(
                "superseded by a newer change of the wallet ({}) before the vote decided, {outcome}",
                by.kind().as_str()
            ),
            Some(Closing::Refused { detail }) => {
                format!("the platform refused to start the vote ({detail}), {outcome}")
            }
            Some(Closing::Cancelled) => {
                format!("the vote was cancelled before it started, {outcome}")
            }
            None => decided,
        }
    }
}

/// What opening a proposal leads to.
#[derive(Clone, Debug, PartialEq)]
pub enum Opening {
    /// Start this vote on `backend`, then record the proposal with its handle and call [`opened`].
    Vote {
        /// The proposal, without its vote yet.
        proposal: Proposal,
        /// The backend to start it on.
        backend: String,
        /// What to start.
        request: VoteRequest,
    },
    /// The rule takes no vote: the proposal is decided as it opens.
    Decided {
        /// The proposal.
        proposal: Proposal,
        /// Its decision.
        decision: Decision,
    },
}

/// The result of evaluating an open proposal.
#[derive(Clone, Debug, PartialEq)]
pub enum Evaluation {
    /// No close condition holds yet.
    Pending,
    /// Closed and decided.
    Decided(Decision),
}

pub(super) fn rule_of<'a>(
    policy: &'a PolicyVersion,
    proposal: &Proposal,
) -> Result<&'a Rule, EngineError> {
    if proposal.policy_version != policy.version {
        return Err(EngineError::WrongVersion {
            expected: proposal.policy_version,
            given: policy.version,
        });
    }
    policy
        .policy
        .rule(&proposal.rule)
        .ok_or_else(|| EngineError::UnknownRule {
            policy: policy.policy.name().to_string(),
            rule: proposal.rule.to_string(),
        })
}

pub(super) fn mismatch(policy: &Policy, rule: &Rule, message: &str) -> EngineError {
    EngineError::Mismatch {
        policy: policy.name().to_string(),
        rule: rule.name.to_string(),
        message: message.to_string(),
    }
}

/// Opens a proposal about `subject` under `policy`, at the recorded time `at`.
pub fn open(
    policy: &PolicyVersion,
    subject: Subject,
    at: Timestamp,
) -> Result<Opening, EngineError> {
    let rule = policy
        .policy
        .rule_for(subject.kind())
        .ok_or_else(|| EngineError::NoRule {
            policy: policy.policy.name().to_string(),
            trigger: subject.kind().as_str(),
        })?;
    let proposal = Proposal {
        policy_version: policy.version,
        policy: policy.policy.name().clone(),
        rule: rule.name.clone(),
        subject,
        opened_at: at,
        vote: None,
    };
    match &rule.kind {
        RuleKind::NoVote { then } => {
            let fill = |p: Placeholder| proposal.subject.fill(p);
            let decision = Decision {
                outcome: Outcome::Passed,
                rule: rule.name.clone(),
                closed_by: None,
                decided_by: None,
                actions: resolve(then, &proposal.subject, rule.name.as_str(), &fill),
            };
            Ok(Opening::Decided { proposal, decision })
        }
        RuleKind::Vote { title, text, .. } => {
            let process = vote_process(&policy.policy);
            let fill = |p: Placeholder| proposal.subject.fill(p);
            let request = VoteRequest {
                title: title.render(fill),
                details: text.render(fill),
                options: process.options.clone(),
                closes_at: process
                    .closes_after_ms
                    .map(|ms| Timestamp(at.millis().saturating_add(ms))),
                electorate: process.electorate.clone(),
            };
            Ok(Opening::Vote {
                proposal,
                backend: process.backend.clone(),
                request,
            })
        }
    }
}

/// The actions once the proposal's vote has started (the member told, with the vote's link).
pub fn opened(policy: &PolicyVersion, proposal: &Proposal) -> Result<Vec<Action>, EngineError> {
    let rule = rule_of(policy, proposal)?;
    let RuleKind::Vote { title, on_open, .. } = &rule.kind else {
        return Err(mismatch(
            &policy.policy,
            rule,
            "the rule takes no vote, so no vote opens",
        ));
    };
    let vote = proposal
        .vote
        .as_ref()
        .ok_or_else(|| mismatch(&policy.policy, rule, "the proposal has no vote yet"))?;
    let fill = |p: Placeholder| match p {
        Placeholder::Link => Some(link(vote)),
        other => proposal.subject.fill(other),
    };
    Ok(resolve(
        on_open,
        &proposal.subject,
        &title.render(fill),
        &fill,
    ))
}

/// Evaluates an open proposal on the facts recorded at `now`: pending until a close condition
/// holds (or the platform closed the vote), then decided by the first verdict that holds.
pub fn evaluate(
    policy: &PolicyVersion,
    proposal: &Proposal,
    facts: &VoteFacts,
    now: Timestamp,
) -> Result<Evaluation, EngineError> {
    let rule = rule_of(policy, proposal)?;
    let RuleKind::Vote {
        title,
        on_pass,
        on_fail,
        ..
    } = &rule.kind
    else {
        return Err(mismatch(
            &policy.policy,
            rule,
            "the rule takes no vote; it decided when it opened",
        ));
    };
    let vote = proposal
        .vote
        .as_ref()
        .ok_or_else(|| mismatch(&policy.policy, rule, "the proposal has no vote yet"))?;
    let process = vote_process(&policy.policy);
    let tally = Tally::new(
        &process.options,
        &process.electorate,
        &facts.ballots,
        &facts.voters,
        now.millis().saturating_sub(proposal.opened_at.millis()),
    );
    let mut fuel = Fuel::new(MAX_POLICY_COST);
    let holds = |section: &str, name: &RuleName, condition: &Condition, fuel: &mut Fuel| {
        condition
            .holds(&tally, fuel)
            .map_err(|error| EngineError::Expression {
                policy: policy.policy.name().to_string(),
                place: format!("vote.{section} `{name}`"),
                error,
            })
    };
    let mut closed_by = None;
    for close in &process.close {
        if holds("close", &close.name, &close.condition, &mut fuel)? {
            closed_by = Some(Closing::Condition(close.name.clone()));
            break;
        }
    }
    let Some(closed_by) = closed_by.or(facts.closed_on_platform.then_some(Closing::Platform))
    else {
        return Ok(Evaluation::Pending);
    };
    let mut verdict = None;
    for candidate in &process.decide {
        if holds(
            "decide",
            &candidate.when.name,
            &candidate.when.condition,
            &mut fuel,
        )? {
            verdict = Some(candidate);
            break;
        }
    }
    let outcome = verdict.map_or(process.otherwise, |v| v.outcome);
    let mut decision = Decision {
        outcome,
        rule: rule.name.clone(),
        closed_by: Some(closed_by),
        decided_by: verdict.map(|v| v.when.name.clone()),
        actions: Vec::new(),
    };
    let reason = decision.reason();
    let fill = |p: Placeholder| match p {
        Placeholder::Link => Some(link(vote)),
        Placeholder::Outcome => Some(outcome.as_str().to_string()),
        Placeholder::Reason => Some(reason.clone()),
        other => proposal.subject.fill(other),
    };
    let specs = match outcome {
        Outcome::Passed => on_pass,
        Outcome::Failed => on_fail,
    };
    if decision.closed_by != Some(Closing::Platform) {
        decision
            .actions
            .push(Action::CloseVote { vote: vote.clone() });
    }
    decision.actions.extend(resolve(
        specs,
        &proposal.subject,
        &title.render(fill),
        &fill,
    ));
    Ok(Evaluation::Decided(decision))
}

pub(super) fn vote_process(policy: &Policy) -> &VoteProcess {
    policy
        .vote()
        .expect("the parser requires [vote] when a rule votes")
}

pub(super) fn link(vote: &VoteHandle) -> String {
    vote.url
        .clone()
        .unwrap_or_else(|| format!("{} vote {}", vote.backend, vote.external_id))
}

pub(super) fn resolve(
    specs: &[ActionSpec],
    subject: &Subject,
    default_title: &str,
    fill: &dyn Fn(Placeholder) -> Option<String>,
) -> Vec<Action> {
    specs
        .iter()
        .map(|spec| spec.resolve(subject, default_title, fill))
        .collect()
}
