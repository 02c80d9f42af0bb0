//! When to try a Discourse call again, and how long to wait: the rate-limit gate that every call
//! to one site shares, the bounded exponential backoff for server errors and lost connections,
//! and the reading of a 429's `Retry-After` header and `extras.wait_seconds`.
//!
//! The gate holds the site's "not before" moment. A 429 moves it forward; every call to the site
//! waits for it before sending, so a rate-limited site sees no request from this process until
//! the wait it asked for is over, however many calls are under way.

use std::time::Duration;

use tokio::time::Instant;

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
    use crate::config::DiscourseApiConfig;

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
        let config = DiscourseApiConfig {
            backoff_base_ms: 100,
            backoff_max_ms: 1_000,
            ..DiscourseApiConfig::default()
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
