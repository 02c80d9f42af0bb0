//! Text for people and JSON lines for programs: what `policy check` and `policy simulate` print.
//! Pure formatting; the command line reads the files and writes the output.

use std::fmt::Write;

use super::definition::{Policy, RuleKind};
use super::replay::{Happening, Replayed};

/// One paragraph describing a checked policy: its rules, what triggers them and how they decide.
pub fn describe_policy(policy: &Policy) -> String {
    let mut out = format!("policy `{}` is valid", policy.name());
    if let Some(vote) = policy.vote() {
        let _ = write!(
            out,
            "; votes on {} with options {}, closing on {} and deciding by {} (otherwise {})",
            vote.backend,
            vote.options.join("/"),
            vote.close
                .iter()
                .map(|c| c.name.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            vote.decide
                .iter()
                .map(|v| format!("{} → {}", v.when.name, v.outcome.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            vote.otherwise.as_str()
        );
    }
    out.push('\n');
    for rule in policy.rules() {
        let triggers: Vec<&str> = rule.triggers.iter().map(|t| t.as_str()).collect();
        let how = match &rule.kind {
            RuleKind::Vote { .. } => "a vote",
            RuleKind::NoVote { .. } => "no vote",
        };
        let _ = writeln!(
            out,
            "  rule `{}`: on {} → {how}",
            rule.name,
            triggers.join(", ")
        );
    }
    out
}

/// The replay as lines for people: each opening, decision (with its actions and hash) and refusal,
/// then each pool as the decisions left it.
pub fn replay_text(replayed: &Replayed) -> String {
    let mut out = String::new();
    for happening in &replayed.happenings {
        match happening {
            Happening::Opened {
                at,
                proposal,
                policy_version,
                rule,
                backend,
                title,
                actions,
            } => {
                let _ = writeln!(
                    out,
                    "{}  proposal {proposal} opened under policy version {policy_version} (rule `{rule}`): vote on {backend}: {title}",
                    at.to_rfc3339()
                );
                for action in actions {
                    let _ = writeln!(out, "    → {}", action.describe());
                }
            }
            Happening::Decided {
                at,
                proposal,
                policy_version,
                decision,
                reason,
                decision_hash,
            } => {
                let _ = writeln!(
                    out,
                    "{}  proposal {proposal} {} under policy version {policy_version}: {reason}",
                    at.to_rfc3339(),
                    decision.outcome.as_str().to_uppercase()
                );
                for action in &decision.actions {
                    let _ = writeln!(out, "    → {}", action.describe());
                }
                let _ = writeln!(out, "    decision {decision_hash}");
            }
            Happening::Refused { at, line, reason } => {
                let place = line.map_or_else(String::new, |line| format!("line {line} "));
                let _ = writeln!(out, "{}  {place}refused: {reason}", at.to_rfc3339());
            }
        }
    }
    for (name, pool) in &replayed.pools {
        let entries: Vec<String> = pool
            .entries()
            .iter()
            .map(|e| format!("{} ×{}", e.wallet.payment_pointer(), e.weight.get()))
            .collect();
        let _ = writeln!(
            out,
            "pool {name}: {}",
            if entries.is_empty() {
                "empty".to_string()
            } else {
                entries.join(", ")
            }
        );
    }
    out
}

/// The replay as JSON lines: one object per happening, then `{"event":"pools",…}`.
pub fn replay_json_lines(replayed: &Replayed) -> String {
    let mut out = String::new();
    for happening in &replayed.happenings {
        out.push_str(&serde_json::to_string(happening).expect("a happening always serialises"));
        out.push('\n');
    }
    let pools =
        serde_json::json!({ "event": "pools", "pools": replayed.pools, "split": replayed.split });
    out.push_str(&pools.to_string());
    out.push('\n');
    out
}
