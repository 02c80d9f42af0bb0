//! Why a policy was refused or could not be applied. Every message names the policy and the place
//! in it (a rule, a condition, an action), and for an expression the expression and its column.

use super::expr::ExprError;

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not TOML, or its fields are not a policy's (an unknown field, a wrong type).
    #[error("{}: {message}", policy_label(.policy))]
    Format {
        /// The policy's name, when the file got far enough to say it.
        policy: Option<String>,
        /// The TOML reader's message, with line and column.
        message: String,
    },
    /// A field's value breaks a rule of the format.
    #[error("policy `{policy}`, {place}: {message}")]
    Invalid {
        /// The policy's name.
        policy: String,
        /// Where: `rule \`wallet-added\`, on_pass[1]`, `vote.options`, …
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A condition is not a valid expression.
    #[error("policy `{policy}`, {place}: {error}")]
    Expression {
        /// The policy's name.
        policy: String,
        /// Which condition.
        place: String,
        /// The expression's error, with the expression and its column.
        error: ExprError,
    },
}

fn policy_label(policy: &Option<String>) -> String {
    match policy {
        Some(name) => format!("policy `{name}`"),
        None => "policy file".to_string(),
    }
}

/// Why the engine could not evaluate a proposal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The proposal runs under another version than the one given: a running vote finishes under
    /// the version it started with.
    #[error(
        "proposal runs under policy version {expected}, and was evaluated with version {given}"
    )]
    WrongVersion {
        /// The proposal's version.
        expected: u64,
        /// The version passed in.
        given: u64,
    },
    /// No rule of the policy handles this trigger.
    #[error("policy `{policy}` has no rule for {trigger}")]
    NoRule {
        /// The policy.
        policy: String,
        /// The trigger.
        trigger: &'static str,
    },
    /// The proposal names a rule the policy does not have.
    #[error("policy `{policy}` has no rule `{rule}`")]
    UnknownRule {
        /// The policy.
        policy: String,
        /// The rule.
        rule: String,
    },
    /// The rule decides without a vote, but a vote was asked about (or the other way round).
    #[error("policy `{policy}`, rule `{rule}`: {message}")]
    Mismatch {
        /// The policy.
        policy: String,
        /// The rule.
        rule: String,
        /// What does not fit.
        message: String,
    },
    /// A condition failed at evaluation (overflow, out of fuel).
    #[error("policy `{policy}`, {place}: {error}")]
    Expression {
        /// The policy.
        policy: String,
        /// Which condition.
        place: String,
        /// The error, with the expression and its column.
        error: ExprError,
    },
    /// A proposed policy text was refused.
    #[error("the proposed policy is refused: {0}")]
    ProposedPolicy(#[from] PolicyError),
}
