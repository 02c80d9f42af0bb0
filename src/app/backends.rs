//! The registry of voting backends: builds the backend a community uses on a platform from the
//! community's stored settings. The `match` in [`voting_backend`] is the one place a platform is
//! added: its arm reads the settings, builds the client and the backend, and names the check a
//! request must pass before it is stored.

use std::sync::Arc;
use std::time::Duration;

use crate::config::VotingConfig;
use crate::domain::Timestamp;
use crate::http::AppState;
use crate::sources::discourse::{self, DiscourseVoting, PollSpec};
use crate::sources::loomio::{self, LoomioBackend, LoomioClient, RetryPolicy};
use crate::store::StoreError;
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

/// Why no backend could be built.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No backend has this name.
    #[error("no voting backend is named `{0}`")]
    Unknown(String),
    /// The community has no settings for this platform.
    #[error("the community has no {0} settings")]
    NotConfigured(&'static str),
    /// The settings could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// The backend `name` of the community `community_id`, built from its stored settings.
pub async fn voting_backend(
    state: &AppState,
    community_id: i64,
    name: &str,
) -> Result<Registered, RegistryError> {
    let config = &state.config.voting;
    match name {
        loomio::BACKEND => {
            let source = state
                .store
                .loomio_source(community_id)
                .await?
                .ok_or(RegistryError::NotConfigured("Loomio"))?;
            let client = LoomioClient::new(
                state.voting.http().clone(),
                &source.base_url,
                source.api_key,
                retry_policy(config),
                config.max_response_bytes,
            );
            Ok(Registered {
                backend: Arc::new(LoomioBackend::new(client, source.group_id)),
                check: loomio::check_request,
            })
        }
        discourse::BACKEND_NAME => {
            let source = state
                .store
                .discourse_source(community_id)
                .await?
                .ok_or(RegistryError::NotConfigured("Discourse"))?;
            let voting =
                DiscourseVoting::from_settings(&state.discourse, &source).map_err(|_| {
                    RegistryError::NotConfigured(
                        "Discourse's API (an API key, and a topic or category for polls)",
                    )
                })?;
            Ok(Registered {
                backend: Arc::new(voting),
                check: discourse_check,
            })
        }
        other => Err(RegistryError::Unknown(other.to_string())),
    }
}

/// A request Discourse can run as a poll (options it keeps verbatim, an electorate it can express).
fn discourse_check(request: &VoteRequest, _at: Timestamp) -> Result<(), String> {
    PollSpec::from_request(request)
        .map(drop)
        .map_err(|e| e.to_string())
}
