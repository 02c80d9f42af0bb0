//! The standard voting API: one interface over every voting service a community decides on
//! (Discourse polls, Loomio proposals and polls), so that policies and applications never depend on
//! one platform.
//!
//! This module holds the values a vote is described and read with, and the `VotingBackend` trait
//! that each platform's client implements in `sources::{platform}`. It does no I/O itself and knows
//! no platform; choosing a backend for a community and storing what it answers is the caller's.

pub mod evidence;
pub mod intent;
pub mod lifecycle;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::Timestamp;

/// Who may vote. Empty groups and no minimum trust level means every member of the community.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Electorate {
    /// Platform groups whose members may vote; empty means no group restriction.
    pub groups: Vec<String>,
    /// The lowest trust level that may vote, where the platform has trust levels.
    pub min_trust_level: Option<u8>,
}

/// What a backend is asked to start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    /// A one-line title: a Discourse post's first line, a Loomio poll's title.
    pub title: String,
    /// The text shown with the vote (Markdown).
    pub details: String,
    /// The options, in the order voters see them; at least two, each distinct.
    pub options: Vec<String>,
    /// When the platform should close the vote by itself, if it should.
    pub closes_at: Option<Timestamp>,
    /// Who may vote.
    #[serde(default)]
    pub electorate: Electorate,
}

/// Where a started vote lives on its platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteHandle {
    /// The backend's name, as `VotingBackend::name` gives it.
    pub backend: String,
    /// The platform's own id for the vote, enough for the backend to find it again.
    pub external_id: String,
    /// A link members can open to vote, for notifications and the transparency page.
    pub url: Option<String>,
}

/// Whether a vote still takes ballots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum VoteState {
    /// Ballots are still taken.
    Open,
    /// No more ballots; `closed_at` when the platform says when.
    Closed {
        /// When the platform closed it.
        closed_at: Option<Timestamp>,
    },
}

/// A voter as their platform knows them. Trust levels are not here: they are read from the member
/// registry at the moment a decision needs them, because they change after a ballot is cast.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Voter {
    /// The platform, such as `discourse` or `loomio`.
    pub platform: String,
    /// The platform's stable user id, as text.
    pub user_id: String,
    /// The username at the time of reading.
    pub username: String,
}

/// One voter's current choice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    /// Who voted.
    pub voter: Voter,
    /// The options chosen, by their text; one for a single-choice vote.
    pub choices: Vec<String>,
    /// When the ballot was cast, when the platform says.
    pub cast_at: Option<Timestamp>,
}

/// How many chose one option.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// The option's text.
    pub option: String,
    /// Voters who chose it.
    pub votes: u64,
}

/// A vote as read from its platform at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoteStatus {
    /// Open or closed.
    #[serde(flatten)]
    pub state: VoteState,
    /// One tally for every option, in the vote's order.
    pub tallies: Vec<Tally>,
    /// Every current ballot; a withdrawn ballot is absent.
    pub ballots: Vec<Ballot>,
    /// The platform's documents this status was read from, exactly as received, kept as the
    /// evidence a decision is audited against.
    pub raw: serde_json::Value,
}

/// Why a backend could not do what was asked. Messages never carry an API key.
#[derive(Debug, thiserror::Error)]
pub enum VotingError {
    /// The request itself is not one the backend can start (too few options, say).
    #[error("the vote request is invalid: {0}")]
    InvalidRequest(String),
    /// The platform has no such vote.
    #[error("the platform has no vote {0}")]
    NotFound(String),
    /// The platform refused, with its status and reason; retrying the same call will not help.
    #[error("the platform refused the call ({status}): {detail}")]
    Refused {
        /// The HTTP status the platform answered.
        status: u16,
        /// What the platform said, trimmed.
        detail: String,
    },
    /// The platform could not be reached or kept failing; the call may succeed later.
    #[error("the platform is unavailable: {detail}")]
    Unavailable {
        /// What went wrong.
        detail: String,
        /// How long the platform asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The platform answered something this client cannot read.
    #[error("the platform's answer could not be read: {0}")]
    Malformed(String),
}

/// One voting service, as a community's policies use it. Each platform's client implements it;
/// the voting HTTP API and the policy engine's scheduler call only this.
#[async_trait::async_trait]
pub trait VotingBackend: Send + Sync {
    /// The backend's name in policies and in the API: `discourse` or `loomio`.
    fn name(&self) -> &'static str;

    /// Starts a vote and says where it lives.
    async fn start(&self, request: &VoteRequest) -> Result<VoteHandle, VotingError>;

    /// Reads a vote's state, tallies and ballots, with the raw documents they came from.
    async fn status(&self, external_id: &str) -> Result<VoteStatus, VotingError>;

    /// Closes a vote now. Closing a vote that is already closed succeeds.
    async fn close(&self, external_id: &str) -> Result<(), VotingError>;
}
