//! Loomio's webhooks are unsigned hints that something changed: anyone who knows the hook's URL
//! can send one. A hint is recorded (the community's last one only) and makes the community's
//! open Loomio votes re-read; each community's hints are rate-limited, so a stream of them
//! neither grows the store nor makes the service write without bound.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{AppError, Votes};
use crate::clock::Clock;
use crate::store::{HintRecord, Store};

/// What became of a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HintOutcome {
    /// Recorded; the community's open Loomio votes will be re-read.
    Recorded(HintRecord),
    /// Over the community's rate: nothing recorded, try again after this long.
    Throttled {
        /// How long until the community's next hint is taken.
        retry_after: Duration,
    },
}

/// The use case of receiving Loomio hints.
#[derive(Clone)]
pub struct LoomioHints {
    store: Store,
    votes: Votes,
    clock: Clock,
    limiter: std::sync::Arc<DefaultKeyedRateLimiter<i64>>,
}

impl LoomioHints {
    /// Hints of one community are taken at `per_minute` on average, in bursts of as many.
    pub fn new(store: Store, votes: Votes, clock: Clock, per_minute: u32) -> Self {
        let rate = NonZeroU32::new(per_minute.max(1)).expect("at least one");
        LoomioHints {
            store,
            votes,
            clock,
            limiter: std::sync::Arc::new(RateLimiter::keyed(Quota::per_minute(rate))),
        }
    }

    /// Takes a hint for the community whose body hashes to `digest`.
    pub async fn receive(&self, community_id: i64, digest: &str) -> Result<HintOutcome, AppError> {
        if let Err(not_until) = self.limiter.check_key(&community_id) {
            let retry_after = not_until.wait_time_from(DefaultClock::default().now());
            return Ok(HintOutcome::Throttled { retry_after });
        }
        let record = self
            .store
            .record_loomio_hint(community_id, digest, self.clock.now())
            .await?;
        self.votes.hint(community_id);
        Ok(HintOutcome::Recorded(record))
    }
}
