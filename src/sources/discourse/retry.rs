//! When to try a Discourse call again, and how long to wait: the rate-limit gate that every call
//! to one site shares, the bounded exponential backoff for server errors and lost connections,
//! and the reading of a 429's `Retry-After` header and `extras.wait_seconds`.
//!
//! The gate holds the site's "not before" moment. A 429 moves it forward; every call to the site
//! waits for it before sending, so a rate-limited site sees no request from this process until
//! the wait it asked for is over, however many calls are under way.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Settings of the Discourse API client.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Longest wait for one HTTP exchange (connect, send, read the whole answer), in ms.
    pub timeout_ms: u64,
    /// Tries of one call that meets server errors or lost connections (429s are not counted).
    pub attempts: u32,
    /// First backoff between tries, in ms; it doubles each time.
    pub backoff_base_ms: u64,
    /// Longest backoff between tries, in ms.
    pub backoff_max_ms: u64,
    /// Longest rate-limit wait a call sits through; a longer one (Discourse's daily limits)
    /// fails the call as unavailable, with the wait, for the caller to schedule.
    pub max_rate_limit_wait_secs: u64,
    /// Most rate-limit waits one call sits through before it gives up.
    pub max_rate_limit_waits: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            timeout_ms: 10_000,
            attempts: 4,
            backoff_base_ms: 250,
            backoff_max_ms: 8_000,
            max_rate_limit_wait_secs: 120,
            max_rate_limit_waits: 20,
        }
    }
}

impl ApiConfig {
    /// The per-exchange timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    /// The wait before try `retry` (1 for the first retry): the doubled base, capped, of which
    /// the upper half is random so that many callers do not retry in step.
    pub fn backoff(&self, retry: u32) -> Duration {
        let doubled = self
            .backoff_base_ms
            .saturating_mul(1u64 << retry.saturating_sub(1).min(20));
        let capped = doubled.min(self.backoff_max_ms);
        let half = capped / 2;
        let jitter = if half == 0 {
            0
        } else {
            rand::random_range(0..=half)
        };
        Duration::from_millis(half + jitter)
    }
}

/// The shared "not before" moment of one Discourse site.
#[derive(Debug, Default)]
pub struct RateGate {
    not_before: std::sync::Mutex<Option<Instant>>,
}

impl RateGate {
    /// Waits until the site accepts requests again (at once when it is not rate-limited).
    pub async fn wait(&self) {
        loop {
            let until = *self.not_before.lock().expect("not poisoned");
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// How long calls are still held back, when they are.
    pub fn remaining(&self) -> Option<Duration> {
        let until = (*self.not_before.lock().expect("not poisoned"))?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Holds every call back until `wait` from now (or later, when another 429 said so).
    pub fn hold_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut guard = self.not_before.lock().expect("not poisoned");
        if guard.is_none_or(|current| current < until) {
            *guard = Some(until);
        }
    }
}

/// How long a 429 asks to wait: the longer of its `Retry-After` header (seconds, or an HTTP
/// date read against `now`) and Discourse's `extras.wait_seconds`; one second when it says
/// neither.
pub fn rate_limit_wait(
    retry_after: Option<&str>,
    wait_seconds: Option<f64>,
    now: jiff::Timestamp,
) -> Duration {
    let header = retry_after.and_then(|value| {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
        let ms = at.as_millisecond().saturating_sub(now.as_millisecond());
        Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    });
    let body = wait_seconds
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0 * 7.0)));
    match (header, body) {
        (None, None) => Duration::from_secs(1),
        (a, b) => a.unwrap_or_default().max(b.unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_or_as_a_date() {
        let now: jiff::Timestamp = "2025-03-01T10:00:00Z".parse().unwrap();
        assert_eq!(
            rate_limit_wait(Some("7"), None, now),
            Duration::from_secs(7)
        );
        assert_eq!(
            rate_limit_wait(Some("Sat, 01 Mar 2025 10:00:30 GMT"), None, now),
            Duration::from_secs(30)
        );
        assert_eq!(
            rate_limit_wait(Some("Sat, 01 Mar 2025 09:00:00 GMT"), None, now),
            Duration::ZERO,
            "a date in the past means now"
        );
        assert_eq!(
            rate_limit_wait(Some("3"), Some(12.0), now),
            Duration::from_secs(12),
            "the longer of header and body"
        );
        assert_eq!(
            rate_limit_wait(None, Some(2.5), now),
            Duration::from_millis(2500)
        );
        assert_eq!(
            rate_limit_wait(Some("soon"), None, now),
            Duration::from_secs(1),
            "an unreadable header counts as none"
        );
        assert_eq!(rate_limit_wait(None, None, now), Duration::from_secs(1));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let config = ApiConfig {
            backoff_base_ms: 100,
            backoff_max_ms: 1_000,
            ..ApiConfig::default()
        };
        for _ in 0..50 {
            let first = config.backoff(1).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let third = config.backoff(3).as_millis();
            assert!((200..=400).contains(&third), "{third}");
            let late = config.backoff(30).as_millis();
            assert!((500..=1_000).contains(&late), "{late}");
        }
    }

    #[tokio::test]
    async fn the_gate_holds_every_caller_until_the_latest_wait() {
        let gate = std::sync::Arc::new(RateGate::default());
        let start = Instant::now();
        gate.hold_for(Duration::from_millis(300));
        gate.hold_for(Duration::from_millis(100));
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move {
                    gate.wait().await;
                    Instant::now()
                })
            })
            .collect();
        for waiter in waiters {
            let released = waiter.await.unwrap();
            assert!(released - start >= Duration::from_millis(300));
        }
    }
}
