//! The recorded event log that `policy simulate` replays: its facts and how it is read.
//!
//! The log is JSON lines, each a fact with the time it was recorded (`at`, RFC 3339), in
//! non-decreasing time order:
//!
//! | `fact` | fields | meaning |
//! | --- | --- | --- |
//! | `wallet` | `member`, `wallet` (a payment pointer, or `null`) | the member's profile now states this wallet |
//! | `trust_level` | `member`, `level` | the platform gave the member this trust level |
//! | `groups` | `member`, `groups` | the member now belongs to these groups |
//! | `ballot` | `proposal`, `member`, `choices` | the member's ballot on a proposal's vote (replacing an earlier one) |
//! | `withdraw` | `proposal`, `member` | the member withdrew their ballot |
//! | `vote_refused` | `proposal`, `detail` | the platform refused to start the proposal's vote, for good |
//! | `vote_cancelled` | `proposal` | the proposal's vote was cancelled before it started |
//! | `propose_policy` | `source` | a new policy version is proposed (its TOML text) |
//! | `admin_request` | `note`, `change` | an admin asks for a change (see `RequestedChange`) |
//! | `tick` | | the clock only: time passed |
//!
//! Reading checks only the form and the time order; what a fact means is the replay's.

use serde::{Deserialize, Serialize};

use crate::domain::{MemberId, Timestamp};

use super::subject::RequestedChange;

/// One fact of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fact {
    /// The member's profile states this wallet (`None`: no wallet).
    Wallet {
        /// The member.
        member: MemberId,
        /// The wallet, as written.
        wallet: Option<String>,
    },
    /// The member's trust level.
    TrustLevel {
        /// The member.
        member: MemberId,
        /// The level.
        level: u8,
    },
    /// The member's groups.
    Groups {
        /// The member.
        member: MemberId,
        /// The groups.
        groups: Vec<String>,
    },
    /// A ballot, replacing the member's earlier one.
    Ballot {
        /// The proposal.
        proposal: u64,
        /// The voter.
        member: MemberId,
        /// The options chosen.
        choices: Vec<String>,
    },
    /// A withdrawn ballot.
    Withdraw {
        /// The proposal.
        proposal: u64,
        /// The voter.
        member: MemberId,
    },
    /// The platform refused to start a proposal's vote, for good.
    VoteRefused {
        /// The proposal.
        proposal: u64,
        /// What the platform said.
        detail: String,
    },
    /// A proposal's vote was cancelled before it started.
    VoteCancelled {
        /// The proposal.
        proposal: u64,
    },
    /// A proposed policy version.
    ProposePolicy {
        /// Its TOML text.
        source: String,
    },
    /// An admin's request.
    AdminRequest {
        /// Why.
        note: String,
        /// What.
        change: RequestedChange,
    },
    /// Time passed.
    Tick {},
}

impl Fact {
    /// Where the fact goes among facts recorded at the same moment.
    pub(super) fn rank(&self) -> u8 {
        match self {
            Fact::TrustLevel { .. } | Fact::Groups { .. } => 0,
            Fact::Ballot { .. }
            | Fact::Withdraw { .. }
            | Fact::VoteRefused { .. }
            | Fact::VoteCancelled { .. } => 1,
            Fact::Wallet { .. } => 2,
            Fact::ProposePolicy { .. } | Fact::AdminRequest { .. } => 3,
            Fact::Tick {} => 4,
        }
    }
}

/// A fact with its recorded time and its line in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When it was recorded.
    pub at: Timestamp,
    /// What.
    pub fact: Fact,
    /// Its line in the log, from 1.
    pub line: usize,
}

/// A log that cannot be replayed, with the line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event log line {line}: {message}")]
pub struct ReplayError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads a JSON-lines event log; blank lines and lines starting with `#` are skipped.
pub fn parse_events(text: &str) -> Result<Vec<Event>, ReplayError> {
    let mut events: Vec<Event> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let fail = |message: String| ReplayError { line, message };
        let mut value: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| fail(format!("not JSON: {e}")))?;
        let at = value
            .as_object_mut()
            .and_then(|o| o.remove("at"))
            .ok_or_else(|| fail("each fact needs its time in `at`".into()))?;
        let at: Timestamp = serde_json::from_value(at).map_err(|e| fail(format!("`at`: {e}")))?;
        let fact: Fact = serde_json::from_value(value).map_err(|e| fail(e.to_string()))?;
        if let Some(previous) = events.last().filter(|p| p.at > at) {
            return Err(fail(format!(
                "recorded at {}, before line {} ({}): the log must be in time order",
                at.to_rfc3339(),
                previous.line,
                previous.at.to_rfc3339()
            )));
        }
        events.push(Event { at, fact, line });
    }
    Ok(events)
}
