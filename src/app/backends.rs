//! The registry of voting backends: builds the backend a community uses on a platform from the
//! community's stored settings. The `match` in [`Backends::backend`] is the one place a platform is
//! added: its arm reads the settings, builds the client and the backend, and names the check a
//! request must pass before it is stored.

use std::sync::Arc;
use std::time::Duration;

use super::{AppError, PlatformSetup};
use crate::clock::Clock;
use crate::config::VotingConfig;
use crate::domain::Timestamp;
use crate::sources::discourse::{self, DiscourseSites, DiscourseVoting, PollSpec};
use crate::sources::loomio::{self, LoomioBackend, LoomioClient, RetryPolicy};
use crate::store::Store;
use crate::voting::{VoteRequest, VotingBackend};

/// The backends a community may name, for messages and the API's documentation.
pub const BACKENDS: &[&str] = &[discourse::BACKEND_NAME, loomio::BACKEND];

/// A backend ready for a community.
pub struct Registered {
    /// The backend.
    pub backend: Arc<dyn VotingBackend>,
    /// Whether the backend can start a request at a moment, checked before the intent is stored
    /// so that a request the platform could never start stores nothing.
    pub check: fn(&VoteRequest, Timestamp) -> Result<(), String>,
}

/// The retry policy of platform calls, from the configuration.
pub fn retry_policy(config: &VotingConfig) -> RetryPolicy {
    RetryPolicy {
        attempts: config.call_attempts.max(1),
        base_delay: Duration::from_millis(config.retry_base_ms),
        max_delay: Duration::from_millis(config.retry_max_ms.max(config.retry_base_ms)),
        max_wait: Duration::from_secs(config.max_retry_after_secs),
    }
}

/// What building a community's backend reads: its stored settings, and the HTTP clients of the
/// platforms (one for every Loomio, and Discourse's sites with their rate-limit gates).
#[derive(Clone)]
pub struct Backends {
    store: Store,
    discourse: DiscourseSites,
    http: reqwest::Client,
    config: Arc<VotingConfig>,
    clock: Clock,
}

impl Backends {
    /// The registry, with a platform HTTP client that has the configured timeouts.
    pub fn new(
        store: Store,
        discourse: DiscourseSites,
        config: &VotingConfig,
        clock: Clock,
    ) -> Result<Self, reqwest::Error> {
        let timeout = Duration::from_millis(config.request_timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("revshare-oracle/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Backends {
            store,
            discourse,
            http,
            config: Arc::new(config.clone()),
            clock,
        })
    }

    /// The Discourse sites every Discourse client of this service shares.
    pub fn discourse(&self) -> &DiscourseSites {
        &self.discourse
    }

    /// The backend `name` of the community `community_id`, built from its stored settings.
    pub async fn backend(&self, community_id: i64, name: &str) -> Result<Registered, AppError> {
        let config = &self.config;
        match name {
            loomio::BACKEND => {
                let source = self
                    .store
                    .loomio_source(community_id)
                    .await?
                    .ok_or(PlatformSetup::NotConfigured("Loomio"))?;
                let client = LoomioClient::new(
                    self.http.clone(),
                    &source.base_url,
                    source.api_key,
                    retry_policy(config),
                    config.max_response_bytes,
                );
                Ok(Registered {
                    backend: Arc::new(
                        LoomioBackend::new(client, source.group_id).with_clock(self.clock.clone()),
                    ),
                    check: loomio::check_request,
                })
            }
            discourse::BACKEND_NAME => {
                let source = self
                    .store
                    .discourse_source(community_id)
                    .await?
                    .ok_or(PlatformSetup::NotConfigured("Discourse"))?;
                let voting =
                    DiscourseVoting::from_settings(&self.discourse, &source).map_err(|_| {
                        PlatformSetup::NotConfigured(
                            "Discourse's API (an API key, and a topic or category for polls)",
                        )
                    })?;
                Ok(Registered {
                    backend: Arc::new(voting.with_clock(self.clock.clone())),
                    check: discourse_check,
                })
            }
            other => Err(PlatformSetup::Unknown(other.to_string()).into()),
        }
    }
}

/// A request Discourse can run as a poll (options it keeps verbatim, an electorate it can express).
fn discourse_check(request: &VoteRequest, _at: Timestamp) -> Result<(), String> {
    PollSpec::from_request(request)
        .map(drop)
        .map_err(|e| e.to_string())
}
