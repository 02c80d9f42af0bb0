//! When a report may be applied: from `validFrom` to `validUntil`, both inclusive, in Unix seconds,
//! as the contract compares them with `block.timestamp`. A report that lands too late is refused
//! on chain rather than applied out of date.
//!
//! This module never reads a clock: the edge hands it the times, and the contract does the checking
//! against the block's time.

use super::error::ReportError;

/// A non-empty span of Unix seconds, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValidityWindow {
    valid_from: u64,
    valid_until: u64,
}

impl ValidityWindow {
    /// Refuses a window that ends before it starts: no block could ever apply such a report.
    pub fn new(valid_from: u64, valid_until: u64) -> Result<Self, ReportError> {
        if valid_until < valid_from {
            return Err(ReportError::EmptyWindow {
                valid_from,
                valid_until,
            });
        }
        Ok(ValidityWindow {
            valid_from,
            valid_until,
        })
    }

    /// The window that opens at `valid_from` and stays open for `seconds` more (saturating at the
    /// largest time), the usual way an oracle sets it from the time it observed a decision.
    pub fn starting_at(valid_from: u64, seconds: u64) -> Self {
        ValidityWindow {
            valid_from,
            valid_until: valid_from.saturating_add(seconds),
        }
    }

    /// First Unix second at which the report may be applied.
    pub fn valid_from(&self) -> u64 {
        self.valid_from
    }

    /// Last Unix second at which the report may be applied.
    pub fn valid_until(&self) -> u64 {
        self.valid_until
    }

    /// Whether a block with this timestamp could apply the report (the contract's own test).
    pub fn contains(&self, unix_seconds: u64) -> bool {
        (self.valid_from..=self.valid_until).contains(&unix_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_that_ends_before_it_starts_is_refused() {
        assert_eq!(
            ValidityWindow::new(10, 9),
            Err(ReportError::EmptyWindow {
                valid_from: 10,
                valid_until: 9
            })
        );
        let one_second = ValidityWindow::new(10, 10).unwrap();
        assert!(one_second.contains(10));
        assert!(!one_second.contains(9) && !one_second.contains(11));
    }

    #[test]
    fn a_window_from_a_duration_saturates() {
        let window = ValidityWindow::starting_at(u64::MAX - 1, 3600);
        assert_eq!(window.valid_until(), u64::MAX);
    }
}
