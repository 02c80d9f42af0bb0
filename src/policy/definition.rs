//! A policy as the engine uses it: read from its TOML text and checked whole, so that a value of
//! these types is always a policy that can be run. Every refusal names the policy and the place.

use std::collections::HashSet;

use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

use crate::domain::{PolicyName, RuleName};
use crate::voting::Electorate;

use super::action::ActionSpec;
use super::document::{RawAction, RawOutcome, RawPolicy, RawRule, RawVote};
use super::error::PolicyError;
use super::expr::{Condition, MAX_TRUST_LEVEL};
use super::subject::TriggerKind;
use super::template::{Placeholder, Template};

/// Most steps all of a policy's conditions may take together: the fuel of one evaluation.
pub const MAX_POLICY_COST: u32 = 1024;
/// Most rules, options and conditions (of each list) a policy may have.
pub const MAX_ITEMS: usize = 16;
/// Longest policy file accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// The voting backends a policy may name.
pub const BACKENDS: [&str; 2] = ["discourse", "loomio"];

/// How a decided proposal came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The proposal passed: the `on_pass` (or `then`) actions follow.
    Passed,
    /// The proposal failed: the `on_fail` actions follow.
    Failed,
}

impl Outcome {
    /// `passed` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
        }
    }
}

impl From<RawOutcome> for Outcome {
    fn from(raw: RawOutcome) -> Self {
        match raw {
            RawOutcome::Pass => Outcome::Passed,
            RawOutcome::Fail => Outcome::Failed,
        }
    }
}

/// A named condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Named {
    /// Its name, as decisions cite it.
    pub name: RuleName,
    /// The condition.
    pub condition: Condition,
}

/// A condition that gives an outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The condition and its name.
    pub when: Named,
    /// The outcome when it holds.
    pub outcome: Outcome,
}

/// How the policy's votes are run, closed and decided.
#[derive(Clone, Debug, PartialEq)]
pub struct VoteProcess {
    /// The voting backend's name (`discourse`, `loomio`).
    pub backend: String,
    /// The options, in order; at least two, distinct.
    pub options: Vec<String>,
    /// Who may vote; ballots of anyone else are not counted.
    pub electorate: Electorate,
    /// When the platform should close the vote by itself, after it opens, in milliseconds.
    pub closes_after_ms: Option<i64>,
    /// The vote closes when the first of these holds.
    pub close: Vec<Named>,
    /// Once closed, the first of these that holds gives the outcome.
    pub decide: Vec<Verdict>,
    /// The outcome when no verdict holds.
    pub otherwise: Outcome,
}

/// What a rule does.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleKind {
    /// Run a vote, then act on its outcome.
    Vote {
        /// The vote's title.
        title: Template,
        /// The vote's text.
        text: Template,
        /// Done once the vote has started (it has a link).
        on_open: Vec<ActionSpec>,
        /// Done when it passes.
        on_pass: Vec<ActionSpec>,
        /// Done when it fails.
        on_fail: Vec<ActionSpec>,
    },
    /// Act at once, with no vote.
    NoVote {
        /// What is done.
        then: Vec<ActionSpec>,
    },
}

/// One rule: the triggers it answers and what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Its name.
    pub name: RuleName,
    /// The triggers it answers.
    pub triggers: Vec<TriggerKind>,
    /// What it does.
    pub kind: RuleKind,
}

/// A checked policy, with the text it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    name: PolicyName,
    description: String,
    vote: Option<VoteProcess>,
    rules: Vec<Rule>,
    source: String,
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn parse(source: &str) -> Result<Policy, PolicyError> {
        if source.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::Format {
                policy: None,
                message: format!(
                    "a policy file may be {MAX_POLICY_BYTES} bytes long, this one is {}",
                    source.len()
                ),
            });
        }
        let table: toml::Table = toml::from_str(source).map_err(|e| PolicyError::Format {
            policy: None,
            message: format!("not valid TOML: {}", e.to_string().trim_end()),
        })?;
        let name = table
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_string);
        let raw: RawPolicy = toml::from_str(source).map_err(|e| PolicyError::Format {
            policy: name.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let name = PolicyName::parse(&raw.name).map_err(|e| PolicyError::Format {
            policy: None,
            message: format!("`name`: {e}"),
        })?;
        Checker {
            policy: name.to_string(),
        }
        .policy(name, raw, source)
    }

    /// The policy's name.
    pub fn name(&self) -> &PolicyName {
        &self.name
    }

    /// What the policy is for, in its authors' words.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// How its votes run, when any rule votes.
    pub fn vote(&self) -> Option<&VoteProcess> {
        self.vote.as_ref()
    }

    /// Its rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule answering a trigger.
    pub fn rule_for(&self, trigger: TriggerKind) -> Option<&Rule> {
        self.rules.iter().find(|r| r.triggers.contains(&trigger))
    }

    /// The rule of this name.
    pub fn rule(&self, name: &RuleName) -> Option<&Rule> {
        self.rules.iter().find(|r| &r.name == name)
    }

    /// The text the policy was read from, exactly.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// keccak256 of the text, which decisions' evidence carries.
    pub fn source_hash(&self) -> B256 {
        keccak256(self.source.as_bytes())
    }

    /// Every trigger some rule answers.
    pub fn triggers(&self) -> impl Iterator<Item = TriggerKind> + '_ {
        self.rules.iter().flat_map(|r| r.triggers.iter().copied())
    }
}

struct Checker {
    policy: String,
}

impl Checker {
    fn invalid(&self, place: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            policy: self.policy.clone(),
            place: place.into(),
            message: message.into(),
        }
    }

    fn policy(
        &self,
        name: PolicyName,
        raw: RawPolicy,
        source: &str,
    ) -> Result<Policy, PolicyError> {
        if raw.rules.is_empty() {
            return Err(self.invalid("rule", "a policy needs at least one [[rule]]"));
        }
        if raw.rules.len() > MAX_ITEMS {
            return Err(self.invalid("rule", format!("at most {MAX_ITEMS} rules")));
        }
        let votes = raw.rules.iter().any(|r| r.vote);
        let vote = match (raw.vote, votes) {
            (Some(vote), true) => Some(self.vote(vote)?),
            (None, false) => None,
            (None, true) => {
                return Err(self.invalid("vote", "a rule has `vote = true`, so [vote] is needed"));
            }
            (Some(_), false) => {
                return Err(self.invalid("vote", "no rule votes, so [vote] would never be used"));
            }
        };
        let mut names = HashSet::new();
        let mut seen_triggers = HashSet::new();
        let mut rules = Vec::new();
        for raw_rule in raw.rules {
            let rule = self.rule(raw_rule)?;
            if !names.insert(rule.name.clone()) {
                return Err(
                    self.invalid(format!("rule `{}`", rule.name), "two rules have this name")
                );
            }
            for trigger in &rule.triggers {
                if !seen_triggers.insert(*trigger) {
                    return Err(self.invalid(
                        format!("rule `{}`", rule.name),
                        format!("another rule already answers {}", trigger.as_str()),
                    ));
                }
            }
            rules.push(rule);
        }
        Ok(Policy {
            name,
            description: raw.description,
            vote,
            rules,
            source: source.to_string(),
        })
    }

    fn vote(&self, raw: RawVote) -> Result<VoteProcess, PolicyError> {
        if !BACKENDS.contains(&raw.backend.as_str()) {
            return Err(self.invalid(
                "vote.backend",
                format!(
                    "unknown backend `{}`; the backends are {}",
                    raw.backend,
                    BACKENDS.join(", ")
                ),
            ));
        }
        let options = raw.options;
        if options.len() < 2 || options.len() > MAX_ITEMS {
            return Err(self.invalid(
                "vote.options",
                format!("from 2 to {MAX_ITEMS} options, found {}", options.len()),
            ));
        }
        let mut distinct = HashSet::new();
        for option in &options {
            if option.trim().is_empty()
                || option.len() > 100
                || option.chars().any(char::is_control)
            {
                return Err(self.invalid(
                    "vote.options",
                    format!(
                        "option {option:?} must be 1 to 100 characters, without control characters"
                    ),
                ));
            }
            if !distinct.insert(option.as_str()) {
                return Err(
                    self.invalid("vote.options", format!("option {option:?} is listed twice"))
                );
            }
        }
        if let Some(level) = raw
            .electorate
            .min_trust_level
            .filter(|l| *l > MAX_TRUST_LEVEL)
        {
            return Err(self.invalid(
                "vote.electorate.min_trust_level",
                format!("trust levels go from 0 to {MAX_TRUST_LEVEL}, found {level}"),
            ));
        }
        let closes_after_ms = raw
            .closes_after
            .map(|text| match super::expr::duration_ms(&text) {
                Some(ms) if ms > 0 => Ok(ms),
                _ => Err(self.invalid(
                    "vote.closes_after",
                    format!("expected a duration such as \"24h\", found {text:?}"),
                )),
            })
            .transpose()?;
        if raw.close.is_empty() {
            return Err(self.invalid(
                "vote.close",
                "a vote needs at least one [[vote.close]] condition",
            ));
        }
        if raw.close.len() > MAX_ITEMS || raw.decide.len() > MAX_ITEMS {
            return Err(self.invalid(
                "vote",
                format!("at most {MAX_ITEMS} close and {MAX_ITEMS} decide conditions"),
            ));
        }
        let mut names = HashSet::new();
        let mut cost = 0u32;
        let mut named = |section: &str, name: &str, when: &str| -> Result<Named, PolicyError> {
            let place = format!("vote.{section} `{name}`");
            let name =
                RuleName::parse(name).map_err(|e| self.invalid(place.clone(), e.to_string()))?;
            if !names.insert(name.clone()) {
                return Err(self.invalid(place, "two conditions have this name"));
            }
            let condition =
                Condition::compile(when, &options).map_err(|error| PolicyError::Expression {
                    policy: self.policy.clone(),
                    place: place.clone(),
                    error,
                })?;
            cost += condition.cost();
            if cost > MAX_POLICY_COST {
                return Err(self.invalid(place, format!("the conditions together are too costly to evaluate: more than {MAX_POLICY_COST} steps")));
            }
            Ok(Named { name, condition })
        };
        let close = raw
            .close
            .iter()
            .map(|c| named("close", &c.name, &c.when))
            .collect::<Result<Vec<_>, _>>()?;
        let decide = raw
            .decide
            .iter()
            .map(|v| {
                Ok(Verdict {
                    when: named("decide", &v.name, &v.when)?,
                    outcome: v.outcome.into(),
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        Ok(VoteProcess {
            backend: raw.backend,
            options,
            electorate: raw.electorate,
            closes_after_ms,
            close,
            decide,
            otherwise: raw.otherwise.into(),
        })
    }

    fn rule(&self, raw: RawRule) -> Result<Rule, PolicyError> {
        let place = format!("rule `{}`", raw.name);
        let name =
            RuleName::parse(&raw.name).map_err(|e| self.invalid(place.clone(), e.to_string()))?;
        if raw.on.is_empty() {
            return Err(self.invalid(place, "`on` names no trigger"));
        }
        let triggers = raw.on;
        let subject = TriggerKind::common_placeholders(&triggers);
        let kind = if raw.vote {
            if raw.then.is_some() {
                return Err(self.invalid(
                    place,
                    "`then` is for rules without a vote; use on_pass and on_fail",
                ));
            }
            let title = self.template(&place, "title", raw.title.as_deref(), &subject)?;
            let text = self.template(&place, "text", raw.text.as_deref(), &subject)?;
            let with_link: Vec<Placeholder> =
                subject.iter().copied().chain([Placeholder::Link]).collect();
            let after: Vec<Placeholder> = with_link
                .iter()
                .copied()
                .chain([Placeholder::Outcome, Placeholder::Reason])
                .collect();
            let on_open =
                self.actions(&place, "on_open", raw.on_open, &triggers, &with_link, true)?;
            let on_pass = self.actions(&place, "on_pass", raw.on_pass, &triggers, &after, false)?;
            let on_fail = self.actions(&place, "on_fail", raw.on_fail, &triggers, &after, false)?;
            RuleKind::Vote {
                title,
                text,
                on_open,
                on_pass,
                on_fail,
            }
        } else {
            for (field, present) in [
                ("title", raw.title.is_some()),
                ("text", raw.text.is_some()),
                ("on_open", raw.on_open.is_some()),
                ("on_pass", raw.on_pass.is_some()),
                ("on_fail", raw.on_fail.is_some()),
            ] {
                if present {
                    return Err(self.invalid(
                        place,
                        format!(
                            "`{field}` needs `vote = true`; a rule without a vote has only `then`"
                        ),
                    ));
                }
            }
            let then = self.actions(&place, "then", raw.then, &triggers, &subject, false)?;
            if then.is_empty() {
                return Err(self.invalid(
                    place,
                    "a rule without a vote needs at least one action in `then`",
                ));
            }
            RuleKind::NoVote { then }
        };
        Ok(Rule {
            name,
            triggers,
            kind,
        })
    }

    fn template(
        &self,
        place: &str,
        field: &str,
        text: Option<&str>,
        allowed: &[Placeholder],
    ) -> Result<Template, PolicyError> {
        let text = text
            .ok_or_else(|| self.invalid(place, format!("a rule with a vote needs a `{field}`")))?;
        Template::parse(text, allowed).map_err(|m| self.invalid(format!("{place}, {field}"), m))
    }

    fn actions(
        &self,
        place: &str,
        field: &str,
        raw: Option<Vec<RawAction>>,
        triggers: &[TriggerKind],
        allowed: &[Placeholder],
        only_notify: bool,
    ) -> Result<Vec<ActionSpec>, PolicyError> {
        let raw = raw.unwrap_or_default();
        if raw.len() > MAX_ITEMS {
            return Err(self.invalid(
                format!("{place}, {field}"),
                format!("at most {MAX_ITEMS} actions"),
            ));
        }
        raw.into_iter()
            .enumerate()
            .map(|(i, action)| {
                let at = format!("{place}, {field}[{i}]");
                let spec = match action {
                    RawAction::AddEntry { pool, weight } => ActionSpec::AddEntry { pool, weight },
                    RawAction::ReplaceEntry { pool, weight } => {
                        ActionSpec::ReplaceEntry { pool, weight }
                    }
                    RawAction::RemoveEntry { pool } => ActionSpec::RemoveEntry { pool },
                    RawAction::SetSplit { rules } => {
                        rules
                            .validate()
                            .map_err(|e| self.invalid(at.clone(), e.to_string()))?;
                        ActionSpec::SetSplit { rules }
                    }
                    RawAction::Notify { title, text } => ActionSpec::Notify {
                        title: title
                            .map(|t| Template::parse(&t, allowed))
                            .transpose()
                            .map_err(|m| self.invalid(format!("{at}.title"), m))?,
                        text: Template::parse(&text, allowed)
                            .map_err(|m| self.invalid(format!("{at}.text"), m))?,
                    },
                    RawAction::AdoptPolicy {} => ActionSpec::AdoptPolicy,
                    RawAction::ApplyRequest {} => ActionSpec::ApplyRequest,
                };
                if only_notify && !matches!(spec, ActionSpec::Notify { .. }) {
                    return Err(self.invalid(
                        at,
                        format!(
                            "`{}` cannot run when a vote opens; only `notify` can",
                            spec.name()
                        ),
                    ));
                }
                if let ActionSpec::Notify { title: None, .. } = spec
                    && field == "then"
                {
                    return Err(self.invalid(
                        at,
                        "a rule without a vote has no title to reuse: give `notify` a `title`",
                    ));
                }
                if let Some(needs) = spec.needs()
                    && let Some(missing) = triggers.iter().find(|t| !needs.contains(t))
                {
                    return Err(self.invalid(
                        at,
                        format!(
                            "`{}` needs a trigger among {}, and this rule also answers {}",
                            spec.name(),
                            needs
                                .iter()
                                .map(|t| t.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            missing.as_str()
                        ),
                    ));
                }
                Ok(spec)
            })
            .collect()
    }
}
