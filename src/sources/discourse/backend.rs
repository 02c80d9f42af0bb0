//! Discourse as a [`VotingBackend`]: a vote is a public, single-choice poll in a post, either a
//! reply in the community's voting topic or a new topic in its voting category. Its external id is
//! `{post_id}/{poll_name}`; its status is the post and every page of its voters, read until the
//! voters agree with the counts; closing it toggles its status.

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::json;

use super::DiscourseSource;
use crate::clock::Clock;
use crate::voting::{VoteHandle, VoteRequest, VoteStatus, VotingBackend, VotingError};

use super::client::{DiscourseClient, NewPost};
use super::poll::{PollRef, PollSpec};
use super::status::{standing, voters_match_counts};
use super::transport::{ApiError, DiscourseSites, RawDocument};

/// The backend's name in policies and in the voting API.
pub const BACKEND_NAME: &str = "discourse";

/// Reads of a poll before its voters are taken as they are, when votes keep changing under them.
const CONSISTENT_READ_TRIES: usize = 3;

/// Where the community's polls are posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollDestination {
    /// As replies in this topic.
    Topic(i64),
    /// As new topics in this category.
    Category(i64),
}

/// Why a community's Discourse settings cannot run votes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// No API key and username are set.
    #[error("the community's Discourse settings have no API key and username")]
    NoApiKey,
    /// Neither a voting topic nor a voting category is set.
    #[error("the community's Discourse settings name no topic or category for polls")]
    NoPollDestination,
}

/// Discourse polls as the standard voting interface.
#[derive(Clone, Debug)]
pub struct DiscourseVoting {
    client: DiscourseClient,
    destination: PollDestination,
    clock: Clock,
}

impl DiscourseVoting {
    /// A backend posting polls to `destination` through `client`.
    pub fn new(client: DiscourseClient, destination: PollDestination) -> DiscourseVoting {
        DiscourseVoting {
            client,
            destination,
            clock: Clock::system(),
        }
    }

    /// The same backend, reading the time (when a poll is judged closed) from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The backend of a community, from its stored Discourse settings.
    pub fn from_settings(
        sites: &DiscourseSites,
        source: &DiscourseSource,
    ) -> Result<DiscourseVoting, SetupError> {
        let (key, username) = api_access(source).ok_or(SetupError::NoApiKey)?;
        let destination = match (source.poll_topic_id, source.poll_category_id) {
            (Some(topic), _) => PollDestination::Topic(topic),
            (None, Some(category)) => PollDestination::Category(category),
            (None, None) => return Err(SetupError::NoPollDestination),
        };
        Ok(DiscourseVoting::new(
            DiscourseClient::new(sites, &source.base_url, key, username),
            destination,
        ))
    }

    /// The client, for calls beyond voting.
    pub fn client(&self) -> &DiscourseClient {
        &self.client
    }
}

/// The API key and username of a community's settings, when both are set.
pub fn api_access(source: &DiscourseSource) -> Option<(SecretString, &str)> {
    Some((source.api_key.clone()?, source.api_username.as_deref()?))
}

fn voting_error(external_id: &str, e: ApiError) -> VotingError {
    match e {
        ApiError::Invalid(detail) => VotingError::InvalidRequest(detail),
        ApiError::NotFound { .. } => VotingError::NotFound(external_id.to_string()),
        ApiError::Refused { status, detail, .. } => VotingError::Refused { status, detail },
        ApiError::Unavailable {
            request,
            detail,
            retry_after,
        } => VotingError::Unavailable {
            detail: format!("{request}: {detail}"),
            retry_after,
        },
        e @ ApiError::Malformed { .. } => VotingError::Malformed(e.to_string()),
    }
}

/// A random `external_id` for a new topic, so that a retried creation is not posted twice.
fn new_external_id() -> String {
    format!("revshare-vote-{}", hex::encode(rand::random::<[u8; 12]>()))
}

#[async_trait]
impl VotingBackend for DiscourseVoting {
    fn name(&self) -> &'static str {
        BACKEND_NAME
    }

    async fn start(&self, request: &VoteRequest) -> Result<VoteHandle, VotingError> {
        let spec = PollSpec::from_request(request)
            .map_err(|e| VotingError::InvalidRequest(e.to_string()))?;
        let details = request.details.trim();
        let post = match self.destination {
            PollDestination::Topic(topic_id) => NewPost::Reply {
                topic_id,
                raw: format!(
                    "**{}**\n\n{details}\n\n{}",
                    request.title.trim(),
                    spec.markup()
                ),
            },
            PollDestination::Category(category_id) => NewPost::Topic {
                title: request.title.trim().to_string(),
                raw: format!("{details}\n\n{}", spec.markup()),
                category_id,
                external_id: new_external_id(),
            },
        };
        let created = self
            .client
            .create_post(&post)
            .await
            .map_err(|e| voting_error("(new poll)", e))?;
        let poll = PollRef {
            post_id: created.post_id,
            name: spec.name,
        };
        tracing::info!(poll = %poll, url = %created.url, "Discourse poll started");
        Ok(VoteHandle {
            backend: BACKEND_NAME.to_string(),
            external_id: poll.to_string(),
            url: Some(created.url),
        })
    }

    async fn status(&self, external_id: &str) -> Result<VoteStatus, VotingError> {
        let poll_ref = PollRef::parse(external_id)
            .ok_or_else(|| VotingError::NotFound(external_id.to_string()))?;
        let fail = |e| voting_error(external_id, e);
        let mut tries = 0;
        loop {
            tries += 1;
            let (post, post_raw) = self.client.post(poll_ref.post_id).await.map_err(fail)?;
            let poll = post
                .polls
                .iter()
                .find(|p| p.name == poll_ref.name)
                .ok_or_else(|| VotingError::NotFound(external_id.to_string()))?;
            let mut documents: Vec<RawDocument> = vec![post_raw];
            let mut voters = BTreeMap::new();
            if poll.public {
                for option in &poll.options {
                    let (list, pages) = self
                        .client
                        .poll_voters(poll_ref.post_id, &poll_ref.name, &option.id)
                        .await
                        .map_err(fail)?;
                    documents.extend(pages);
                    voters.insert(option.id.clone(), list);
                }
            }
            if !voters_match_counts(poll, &voters) && tries < CONSISTENT_READ_TRIES {
                tracing::debug!(poll = %poll_ref, "votes changed while reading; reading again");
                continue;
            }
            let read = standing(poll, post.raw.as_deref(), &voters, self.clock.now());
            return Ok(VoteStatus {
                state: read.state,
                tallies: read.tallies,
                ballots: read.ballots,
                raw: json!({
                    "platform": BACKEND_NAME,
                    "base_url": self.client.base_url(),
                    "documents": documents,
                }),
            });
        }
    }

    async fn close(&self, external_id: &str) -> Result<(), VotingError> {
        let poll = PollRef::parse(external_id)
            .ok_or_else(|| VotingError::NotFound(external_id.to_string()))?;
        self.client
            .set_poll_status(poll.post_id, &poll.name, true)
            .await
            .map_err(|e| voting_error(external_id, e))?;
        tracing::info!(poll = %poll, "Discourse poll closed");
        Ok(())
    }
}
