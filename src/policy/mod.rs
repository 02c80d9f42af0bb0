//! Policies: the community's own rules as data, and the pure engine that applies them.
//!
//! A policy is a TOML file (`policies/grant-report.toml` is the default) read into types that can
//! only hold a runnable policy: its triggers, how its votes run, the conditions (in a small typed
//! language, `expr`) that close and decide them, and the actions that follow. The engine is a set
//! of pure functions of the policy version, the recorded facts and the recorded time; decisions
//! keep their evidence as canonical bytes whose keccak256 is the report's `decisionHash`. The
//! constitution governs changes to the policies themselves.
//!
//! Nothing here does I/O, reads a clock or draws randomness. Starting votes, reading them, sending
//! messages and changing pools are the scheduler's, which executes the [`Action`]s it is given.

mod action;
mod constitution;
mod definition;
mod document;
mod ending;
mod engine;
mod error;
mod event_log;
mod evidence;
pub mod expr;
mod render;
mod replay;
mod subject;
mod tally;
mod template;

pub use action::{Action, ActionSpec};
pub use constitution::Policies;
pub use definition::{
    BACKENDS, MAX_ITEMS, MAX_POLICY_BYTES, MAX_POLICY_COST, Named, Outcome, Policy, Rule, RuleKind,
    Verdict, VoteProcess,
};
pub use ending::{cancelled, is_superseded_by, refused, supersede};
pub use engine::{
    Closing, Decision, Evaluation, Opening, PolicyVersion, Proposal, VoteFacts, VoterStanding,
    evaluate, open, opened,
};
pub use error::{EngineError, PolicyError};
pub use event_log::{Event, Fact, ReplayError, parse_events};
pub use evidence::{EVIDENCE_FORMAT, Evidence, EvidenceError, PolicyRecord};
pub use render::{describe_policy, replay_json_lines, replay_text};
pub use replay::{Happening, Replayed, replay};
pub use subject::{RequestedChange, Subject, TriggerKind};
pub use template::{Placeholder, Template};

/// The grant report's revenue-share policy, as shipped (`policies/grant-report.toml`).
pub const GRANT_REPORT_POLICY: &str = include_str!("../../policies/grant-report.toml");

/// The default constitution (`policies/constitution.toml`): how policies are changed.
pub const CONSTITUTION_POLICY: &str = include_str!("../../policies/constitution.toml");

/// The policies a community starts with: the grant report's policy (version 1) and the
/// constitution (version 2).
pub fn default_policies() -> Policies {
    let parse = |source| Policy::parse(source).expect("the shipped policies are valid");
    Policies::bootstrap(vec![parse(GRANT_REPORT_POLICY), parse(CONSTITUTION_POLICY)])
        .expect("the shipped policies are coherent")
}
