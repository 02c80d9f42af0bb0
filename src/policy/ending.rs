//! Ending an open proposal without its vote's verdict, purely: a newer change of the same
//! member's wallet supersedes it ([`supersede`]), the platform refused to start its vote for
//! good ([`refused`]), or someone cancelled the vote before it started ([`cancelled`]). Each
//! fails the proposal, with a reason that says why, and tells the member:
//!
//! - superseded: the vote is closed (when it started) and only the `on_fail` messages follow,
//!   never a pool, split or policy action, since the proposal is about a wallet the member no
//!   longer states;
//! - refused or cancelled: every `on_fail` action follows, as for any failure; there is no vote
//!   to close.
//!
//! When `on_fail` tells the member nothing, a plain message with the reason is added, so the
//! member always learns what became of their proposal. The scheduler and the replay call these
//! the same way, and evidence verification re-runs them.

use crate::domain::Timestamp;

use super::action::{Action, ActionSpec};
use super::definition::{Outcome, Rule, RuleKind};
use super::engine::{Closing, Decision, PolicyVersion, Proposal, link, mismatch, resolve, rule_of};
use super::error::EngineError;
use super::subject::Subject;
use super::template::Placeholder;

/// What `{link}` says when no vote was ever started.
const NO_VOTE: &str = "no vote was started";

/// The decision that fails `proposal` because `by`, a newer change of the same member's wallet,
/// arrived while its vote ran.
pub fn supersede(
    policy: &PolicyVersion,
    proposal: &Proposal,
    by: Subject,
) -> Result<Decision, EngineError> {
    let rule = rule_of(policy, proposal)?;
    if !by.supersedes(&proposal.subject) {
        return Err(mismatch(
            &policy.policy,
            rule,
            "only a newer change of the same member's wallet supersedes a proposal",
        ));
    }
    let closing = Closing::Superseded { by: Box::new(by) };
    let mut actions: Vec<Action> = proposal
        .vote
        .iter()
        .map(|vote| Action::CloseVote { vote: vote.clone() })
        .collect();
    actions.extend(
        failure(policy, rule, proposal, closing.clone())?
            .into_iter()
            .filter(|action| matches!(action, Action::Notify { .. })),
    );
    Ok(failed(rule, closing, actions))
}

/// The decision that fails `proposal` because its platform refused to start the vote for good,
/// saying `detail`.
pub fn refused(
    policy: &PolicyVersion,
    proposal: &Proposal,
    detail: String,
) -> Result<Decision, EngineError> {
    unstarted(policy, proposal, Closing::Refused { detail })
}

/// The decision that fails `proposal` because its vote was cancelled before it started (an
/// admin closed it through the voting API while the platform had not taken it yet).
pub fn cancelled(policy: &PolicyVersion, proposal: &Proposal) -> Result<Decision, EngineError> {
    unstarted(policy, proposal, Closing::Cancelled)
}

/// A failure, closed by `closing`, of a proposal whose vote never ran: every `on_fail` action.
fn unstarted(
    policy: &PolicyVersion,
    proposal: &Proposal,
    closing: Closing,
) -> Result<Decision, EngineError> {
    let rule = rule_of(policy, proposal)?;
    let actions = failure(policy, rule, proposal, closing.clone())?;
    Ok(failed(rule, closing, actions))
}

/// A failure of `rule`'s proposal, closed by `closing`, without its vote's verdict.
fn failed(rule: &Rule, closing: Closing, actions: Vec<Action>) -> Decision {
    Decision {
        outcome: Outcome::Failed,
        rule: rule.name.clone(),
        closed_by: Some(closing),
        decided_by: None,
        actions,
    }
}

/// The `on_fail` actions for a failure closed by `closing`, with a message to the member added
/// when they tell them nothing.
fn failure(
    policy: &PolicyVersion,
    rule: &Rule,
    proposal: &Proposal,
    closing: Closing,
) -> Result<Vec<Action>, EngineError> {
    let RuleKind::Vote { title, on_fail, .. } = &rule.kind else {
        return Err(mismatch(
            &policy.policy,
            rule,
            "the rule takes no vote; it decided when it opened",
        ));
    };
    let reason = failed(rule, closing, Vec::new()).reason();
    let fill = |p: Placeholder| match p {
        Placeholder::Link => Some(proposal.vote.as_ref().map_or_else(|| NO_VOTE.into(), link)),
        Placeholder::Outcome => Some(Outcome::Failed.as_str().to_string()),
        Placeholder::Reason => Some(reason.clone()),
        other => proposal.subject.fill(other),
    };
    let title = title.render(fill);
    let mut actions = resolve(on_fail, &proposal.subject, &title, &fill);
    let told = on_fail
        .iter()
        .any(|spec| matches!(spec, ActionSpec::Notify { .. }));
    if let (false, Some(member)) = (told, proposal.subject.member()) {
        actions.push(Action::Notify {
            member: member.clone(),
            text: format!("{title}: {reason}."),
            title,
        });
    }
    Ok(actions)
}

/// Whether `by`, a wallet change recorded at `at`, supersedes the open `proposal`: it is a change
/// of the same member's wallet, and not the very change that opened the proposal (found again
/// after a crash).
pub fn is_superseded_by(proposal: &Proposal, by: &Subject, at: Timestamp) -> bool {
    by.supersedes(&proposal.subject)
        && proposal.opened_at <= at
        && !(proposal.opened_at == at && proposal.subject == *by)
}
