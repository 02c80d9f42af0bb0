//! The use cases' one error: each variant names what failed, so a caller can act on it (the HTTP
//! layer maps each to its problem in one place; the workers retry or log).

use crate::oracle::OracleError;
use crate::policy::EngineError;
use crate::store::StoreError;
use crate::voting::lifecycle::Lifecycle;

/// Why a use case did not complete.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store failed or refused the write.
    #[error(transparent)]
    Store(StoreError),
    /// The oracle could not sign the change, so nothing was stored.
    #[error("the change was not stored: {0}")]
    Oracle(Box<OracleError>),
    /// The policies in force cannot run on what was stored.
    #[error("the stored policies cannot run: {0}")]
    Policy(#[from] EngineError),
    /// No platform backend can serve the request.
    #[error(transparent)]
    Platform(#[from] PlatformSetup),
    /// The request is one the platform could never take.
    #[error("{0}")]
    Invalid(String),
    /// The community has no such vote.
    #[error("no vote {0}")]
    UnknownVote(i64),
    /// The vote never started, so there is nothing to close.
    #[error("vote {id} is {state}: there is nothing to close")]
    VoteEnded {
        /// The vote.
        id: i64,
        /// Its state.
        state: Lifecycle,
    },
    /// Stored records contradict each other (a record names one that is not there).
    #[error("stored data is inconsistent: {0}")]
    Inconsistent(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Oracle(e) => AppError::Oracle(e),
            e => AppError::Store(e),
        }
    }
}

impl AppError {
    /// Whether the database itself failed, so that a pass should stop rather than step over it.
    pub fn is_database(&self) -> bool {
        matches!(self, AppError::Store(StoreError::Database(_)))
    }
}

/// Why no backend of a platform is available to a community.
#[derive(Debug, thiserror::Error)]
pub enum PlatformSetup {
    /// No backend has this name.
    #[error("no voting backend is named `{0}`")]
    Unknown(String),
    /// The community has no settings for this platform.
    #[error("the community has no {0} settings")]
    NotConfigured(&'static str),
}
