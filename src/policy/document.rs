//! The policy file as written: TOML read into plain structs that refuse unknown fields. Nothing
//! here is checked beyond its shape; `definition` turns it into a policy or names what is wrong.

use serde::Deserialize;

use crate::domain::{PoolName, SplitRules, Weight};
use crate::voting::Electorate;

use super::subject::TriggerKind;

/// A whole policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub vote: Option<RawVote>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RawRule>,
}

/// `[vote]`: how the policy's votes are run, closed and decided.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVote {
    pub backend: String,
    pub options: Vec<String>,
    #[serde(default)]
    pub electorate: Electorate,
    pub closes_after: Option<String>,
    #[serde(default)]
    pub close: Vec<RawCondition>,
    #[serde(default)]
    pub decide: Vec<RawVerdict>,
    pub otherwise: RawOutcome,
}

/// `[[vote.close]]`: a condition under which the vote closes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    pub name: String,
    pub when: String,
}

/// `[[vote.decide]]`: a condition that, once the vote is closed, gives the outcome.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVerdict {
    pub name: String,
    pub when: String,
    pub outcome: RawOutcome,
}

/// `pass` or `fail`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawOutcome {
    Pass,
    Fail,
}

/// `[[rule]]`: what one kind of trigger leads to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub name: String,
    pub on: Vec<TriggerKind>,
    pub vote: bool,
    pub title: Option<String>,
    pub text: Option<String>,
    pub on_open: Option<Vec<RawAction>>,
    pub on_pass: Option<Vec<RawAction>>,
    pub on_fail: Option<Vec<RawAction>>,
    pub then: Option<Vec<RawAction>>,
}

/// One action, tagged by `do`.
#[derive(Debug, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum RawAction {
    AddEntry { pool: PoolName, weight: Weight },
    ReplaceEntry { pool: PoolName, weight: Weight },
    RemoveEntry { pool: PoolName },
    SetSplit { rules: SplitRules },
    Notify { title: Option<String>, text: String },
    AdoptPolicy {},
    ApplyRequest {},
}
