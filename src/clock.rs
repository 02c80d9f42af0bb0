//! The one clock the service reads. The service runs on the system clock; tests run on a manual
//! one they set and move, through the same seam, so time-driven steps (a vote's closing time, a
//! retry falling due) are tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::domain::Timestamp;

/// What time it is, for every use case and worker of one service.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock; `Some`: a manual clock at this many milliseconds.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that stays at `at` until it is set or moved.
    ///
    /// ```
    /// use std::time::Duration;
    /// use revshare_oracle::clock::Clock;
    /// use revshare_oracle::domain::Timestamp;
    ///
    /// let clock = Clock::manual(Timestamp(0));
    /// let workers_view = clock.clone();
    /// clock.advance(Duration::from_secs(60));
    /// assert_eq!(workers_view.now(), Timestamp(60_000));
    /// ```
    pub fn manual(at: Timestamp) -> Self {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(at.0))),
        }
    }

    /// The time now.
    pub fn now(&self) -> Timestamp {
        match &self.manual {
            Some(millis) => Timestamp(millis.load(Ordering::SeqCst)),
            None => Timestamp(jiff::Timestamp::now().as_millisecond()),
        }
    }

    /// Moves a manual clock to `at`; the system clock cannot be set, so this panics on it.
    pub fn set(&self, at: Timestamp) {
        self.manual
            .as_ref()
            .expect("only a manual clock can be set")
            .store(at.0, Ordering::SeqCst);
    }

    /// Moves a manual clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.set(after(self.now(), by));
    }
}

/// `at` plus `wait`, saturating at the end of time.
pub fn after(at: Timestamp, wait: Duration) -> Timestamp {
    Timestamp(at.0.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_shows_what_it_was_set_to_in_every_clone() {
        let clock = Clock::manual(Timestamp(1_000));
        let seen_by_a_worker = clock.clone();
        clock.advance(Duration::from_secs(2));
        assert_eq!(seen_by_a_worker.now(), Timestamp(3_000));
        clock.set(Timestamp(10));
        assert_eq!(seen_by_a_worker.now(), Timestamp(10));
    }

    #[test]
    fn the_system_clock_moves_on() {
        let clock = Clock::system();
        assert!(clock.now().0 > 1_700_000_000_000, "after 2023");
    }

    #[test]
    fn after_saturates_instead_of_overflowing() {
        assert_eq!(
            after(Timestamp(i64::MAX - 1), Duration::from_secs(1)),
            Timestamp(i64::MAX)
        );
    }
}
