//! Where a vote the service was asked for stands: from the stored intent to the kept evidence.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A vote's place in its life, as the service records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Stored; the platform has not confirmed the start yet (the worker retries it).
    Starting,
    /// Started on the platform and taking ballots.
    Open,
    /// Asked to close; the platform has not said it is closed yet.
    Closing,
    /// Closed on the platform; the final reading is kept as evidence.
    Closed,
    /// The platform refused to start it; it will not be retried.
    Failed,
    /// Closed before it ever started; it will not be started.
    Cancelled,
}

impl Lifecycle {
    /// Every state, in order of life.
    pub const ALL: [Lifecycle; 6] = [
        Lifecycle::Starting,
        Lifecycle::Open,
        Lifecycle::Closing,
        Lifecycle::Closed,
        Lifecycle::Failed,
        Lifecycle::Cancelled,
    ];

    /// The state's name in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Starting => "starting",
            Lifecycle::Open => "open",
            Lifecycle::Closing => "closing",
            Lifecycle::Closed => "closed",
            Lifecycle::Failed => "failed",
            Lifecycle::Cancelled => "cancelled",
        }
    }

    /// The state of this name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the platform still holds a vote that may change (it is re-read).
    pub fn is_live(self) -> bool {
        matches!(self, Lifecycle::Open | Lifecycle::Closing)
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in Lifecycle::ALL {
            assert_eq!(Lifecycle::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::String(state.as_str().into())
            );
        }
        assert_eq!(Lifecycle::parse("pending"), None);
    }
}
