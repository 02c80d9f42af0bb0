//! A client of Loomio's User API, `/api/b2`, with a user's API key.
//!
//! Endpoints, parameters and bodies follow Loomio's User API documentation
//! (`docs/user_manual/integrations/api/user-api.md`, served at `/help/api2`) and its controllers
//! (`app/controllers/api/b2/`):
//!
//! - the key travels as `Authorization: Bearer <key>`; Loomio 3.1.3 and later refuse it in the
//!   query string, and a URL is what proxies and logs record;
//! - `POST /api/b2/polls` and `PATCH /api/b2/polls/{id}` take the poll's fields nested under
//!   `poll` (`Api::B2::BaseController#permitted_params` prefers the nested hash; a flat JSON body
//!   goes through Rails' parameter wrapping, which keeps only the poll table's columns and so
//!   drops `group_id` and `options`);
//! - a refusal is JSON: `{"error": "…"}` (403, 404 as `{"error": 404}`), `{"errors": {"field":
//!   ["…"]}}` (422); a 429 comes from Rack::Attack as plain text, with `Retry-After` when the
//!   instance sends one.
//!
//! Every call has the HTTP client's timeout. Connection errors, 429 and 5xx are retried with
//! bounded, doubling waits (a 429's or 503's `Retry-After` is honoured up to a limit); other 4xx
//! are final. A create is retried blind only when it certainly did not reach Loomio (the
//! connection was refused, or a 429); after a timeout or a 5xx it may have been applied, so it is
//! retried only if the poll is not found in the group by its intent marker first. Errors carry
//! the platform's reason but never the API key, which is also scrubbed from anything Loomio echoes.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

mod transport;

use super::ballots::PROPOSAL_OPTIONS;
use super::document::{
    DocumentError, Poll, ThreadStances, User, parse_members_page, parse_poll, parse_polls,
    parse_thread_stances,
};
use super::retry::RetryPolicy;
use crate::domain::Timestamp;
use crate::voting::evidence::Document;
use crate::voting::intent::IntentMarker;

/// Polls asked for per page when a group's polls are searched for an intent marker.
const MARKER_SEARCH_PAGE: u32 = 50;

/// Most pages of a group's polls searched for a marker, newest first: 10,000 polls.
const MARKER_SEARCH_PAGES: u32 = 200;

/// Memberships asked for per page (Loomio's default is 50 and it sets no maximum).
const MEMBERS_PAGE: usize = 100;

/// Most pages of memberships read for one vote: 100,000 members.
const MEMBERS_PAGES: usize = 1_000;

/// Longest platform reason kept in an error.
const MAX_REASON_CHARS: usize = 300;

/// Why a Loomio call failed.
#[derive(Debug, thiserror::Error)]
pub enum LoomioError {
    /// No HTTP answer: the connection failed or timed out, every try.
    #[error("Loomio could not be reached ({detail})")]
    Unreachable {
        /// What the connection did.
        detail: String,
    },
    /// Loomio answered with an error status (after any retries).
    #[error("Loomio answered {status}: {detail}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// Loomio's reason, trimmed, without the key.
        detail: String,
        /// How long Loomio asked callers to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The answer was larger than the configured limit.
    #[error("Loomio's answer to {request} is larger than {limit} bytes")]
    TooLarge {
        /// What was asked.
        request: String,
        /// The limit.
        limit: usize,
    },
    /// The answer could not be read.
    #[error("Loomio's answer to {request} could not be read: {detail}")]
    Malformed {
        /// What was asked.
        request: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// A typed value and the document it was read from, exactly as received.
#[derive(Clone, Debug)]
pub struct Read<T> {
    /// What the document says.
    pub value: T,
    /// The document.
    pub document: Document,
}

/// Loomio's poll types this service starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollType {
    /// A proposal: agree, abstain, disagree, block.
    Proposal,
    /// A poll: any options, one choice.
    Poll,
}

impl PollType {
    /// A proposal when every option is one of a proposal's keys as Loomio documents them
    /// (`agree`, `abstain`, `disagree`, `block`), else a poll, whose options Loomio keeps as
    /// written. Loomio stores a proposal's options as translated words with the key as their
    /// icon, which is how they are read back under the names asked for.
    pub fn for_options(options: &[String]) -> Self {
        if !options.is_empty()
            && options
                .iter()
                .all(|o| PROPOSAL_OPTIONS.contains(&o.as_str()))
        {
            PollType::Proposal
        } else {
            PollType::Poll
        }
    }

    /// Loomio's `poll_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            PollType::Proposal => "proposal",
            PollType::Poll => "poll",
        }
    }
}

/// A poll to create.
#[derive(Clone, Debug)]
pub struct NewPoll<'a> {
    /// The group whose members vote.
    pub group_id: u64,
    /// The title.
    pub title: &'a str,
    /// The details, in Markdown.
    pub details: &'a str,
    /// The type.
    pub poll_type: PollType,
    /// The options, in order.
    pub options: &'a [String],
    /// When voting ends (Loomio rounds it down to the hour; it must then still be in the future).
    pub closing_at: Timestamp,
}

impl NewPoll<'_> {
    /// The create body: fields nested under `poll`, results shown as votes arrive, every member
    /// of the group a voter and told (`PollService.invite` reads the recipients from the top
    /// level, not from `poll`).
    fn body(&self) -> Value {
        json!({"recipient_audience": "group", "notify_recipients": true, "poll": {
            "group_id": self.group_id,
            "title": self.title,
            "details": self.details,
            "details_format": "md",
            "poll_type": self.poll_type.as_str(),
            "options": self.options,
            "closing_at": self.closing_at.to_rfc3339(),
            "hide_results": "off",
            "specified_voters_only": false,
            "anonymous": false,
        }})
    }
}

/// A client of one Loomio site with one user's API key.
#[derive(Clone, Debug)]
pub struct LoomioClient {
    http: reqwest::Client,
    site: String,
    api_key: SecretString,
    policy: RetryPolicy,
    max_body_bytes: usize,
}

impl LoomioClient {
    /// A client of the site at `site` (such as `https://www.loomio.com`), whose API lives at
    /// `{site}/api/b2`. The HTTP client carries the timeouts.
    pub fn new(
        http: reqwest::Client,
        site: &str,
        api_key: SecretString,
        policy: RetryPolicy,
        max_body_bytes: usize,
    ) -> Self {
        LoomioClient {
            http,
            site: site.trim_end_matches('/').to_string(),
            api_key,
            policy,
            max_body_bytes,
        }
    }

    /// Where members open a poll: `{site}/p/{key}`.
    pub fn poll_url(&self, key: &str) -> String {
        format!("{}/p/{key}", self.site)
    }

    /// A poll with its options, results and outcome (`GET /api/b2/polls/{id}`).
    pub async fn poll(&self, id: &str) -> Result<Read<Poll>, LoomioError> {
        let document = self
            .call(Method::GET, &format!("/api/b2/polls/{id}"), None)
            .await?;
        read(document, parse_poll)
    }

    /// The current stances in a thread and their voters
    /// (`GET /api/b2/threads/{topic_id}/items?compact=1`; `compact` leaves out the side-loads
    /// this service does not read).
    pub async fn thread_stances(&self, topic_id: u64) -> Result<Read<ThreadStances>, LoomioError> {
        let document = self
            .call(
                Method::GET,
                &format!("/api/b2/threads/{topic_id}/items?compact=1"),
                None,
            )
            .await?;
        read(document, parse_thread_stances)
    }

    /// The poll in the group whose details carry `marker`, searched page by page from the
    /// newest (a retried start looks soon after the first try, so the first page usually has it).
    pub async fn find_poll(
        &self,
        group_id: u64,
        marker: &IntentMarker,
    ) -> Result<Option<Poll>, LoomioError> {
        for page in 0..MARKER_SEARCH_PAGES {
            let offset = page * MARKER_SEARCH_PAGE;
            let document = self
                .call(
                    Method::GET,
                    &format!(
                        "/api/b2/polls?group_id={group_id}&status=all&limit={MARKER_SEARCH_PAGE}&offset={offset}"
                    ),
                    None,
                )
                .await?;
            let polls = read(document, parse_polls)?.value;
            let last_page = polls.len() < MARKER_SEARCH_PAGE as usize;
            if let Some(found) = polls
                .into_iter()
                .find(|p| p.details.lines().any(|line| line.trim() == marker.as_str()))
            {
                return Ok(Some(found));
            }
            if last_page {
                break;
            }
        }
        Ok(None)
    }

    /// The users of a group's members (`GET /api/b2/memberships?group_id=…`), every page of
    /// them, with each page's document as received.
    pub async fn members(
        &self,
        group_id: u64,
    ) -> Result<(HashMap<u64, User>, Vec<Document>), LoomioError> {
        let mut users = HashMap::new();
        let mut documents = Vec::new();
        let mut offset = 0;
        for _ in 0..MEMBERS_PAGES {
            let document = self
                .call(
                    Method::GET,
                    &format!(
                        "/api/b2/memberships?group_id={group_id}&limit={MEMBERS_PAGE}&offset={offset}"
                    ),
                    None,
                )
                .await?;
            let page = read(document, parse_members_page)?;
            documents.push(page.document);
            users.extend(page.value.users);
            offset += page.value.count;
            let complete = page
                .value
                .total
                .map_or(page.value.count < MEMBERS_PAGE, |total| offset >= total);
            if complete || page.value.count == 0 {
                break;
            }
        }
        Ok((users, documents))
    }

    /// Creates a poll (`POST /api/b2/polls`). With a marker in the details, a try that may have
    /// reached Loomio is followed by a search for the poll before the next try, so the poll is
    /// created once; without one such a failure is returned rather than risk a second poll.
    pub async fn create_poll(
        &self,
        poll: &NewPoll<'_>,
        marker: Option<&IntentMarker>,
    ) -> Result<Read<Poll>, LoomioError> {
        let body = poll.body();
        let mut attempt = 1;
        loop {
            match self.once(&Method::POST, "/api/b2/polls", Some(&body)).await {
                Ok(document) => return read(document, parse_poll),
                Err(failure) => {
                    let wait = self.wait_before_retry(&failure, attempt)?;
                    if failure.may_have_run && marker.is_none() {
                        return Err(failure.error);
                    }
                    // The wait comes first, so a create Loomio is still applying can land.
                    tokio::time::sleep(wait).await;
                    if let (true, Some(marker)) = (failure.may_have_run, marker)
                        && let Some(found) = self.find_poll(poll.group_id, marker).await?
                    {
                        tracing::info!(
                            poll = found.id,
                            "a create that failed had reached Loomio; its poll is used"
                        );
                        let document = self
                            .call(Method::GET, &format!("/api/b2/polls/{}", found.id), None)
                            .await?;
                        return read(document, parse_poll);
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// Moves a poll's closing time (`PATCH /api/b2/polls/{id}` with `closing_at`); b2 has no
    /// other way to close a poll.
    pub async fn set_closing_at(&self, id: &str, at: Timestamp) -> Result<Read<Poll>, LoomioError> {
        let body = json!({"poll": {"closing_at": at.to_rfc3339()}});
        let document = self
            .call(Method::PATCH, &format!("/api/b2/polls/{id}"), Some(&body))
            .await?;
        read(document, parse_poll)
    }
}

fn read<T>(
    document: Document,
    parse: fn(&str) -> Result<T, DocumentError>,
) -> Result<Read<T>, LoomioError> {
    match parse(&document.body) {
        Ok(value) => Ok(Read { value, document }),
        Err(e) => Err(LoomioError::Malformed {
            request: document.source,
            detail: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_are_chosen_by_their_options() {
        let options = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            PollType::for_options(&options(&["agree", "disagree"])),
            PollType::Proposal
        );
        assert_eq!(
            PollType::for_options(&options(&["Agree", "disagree"])),
            PollType::Poll,
            "only the keys Loomio documents make a proposal, so names read back as asked"
        );
        assert_eq!(
            PollType::for_options(&options(&["Yes", "No"])),
            PollType::Poll
        );
        assert_eq!(
            PollType::for_options(&options(&["agree", "Maybe"])),
            PollType::Poll
        );
    }

    #[test]
    fn the_create_body_nests_the_poll() {
        let options = vec!["Yes".to_string(), "No".to_string()];
        let body = NewPoll {
            group_id: 7,
            title: "Add Ann?",
            details: "Details",
            poll_type: PollType::Poll,
            options: &options,
            closing_at: Timestamp(1_800_000_000_000),
        }
        .body();
        assert_eq!(body["poll"]["group_id"], 7);
        assert_eq!(body["poll"]["options"], json!(["Yes", "No"]));
        assert_eq!(body["poll"]["closing_at"], "2027-01-15T08:00:00.000Z");
        assert_eq!(body["recipient_audience"], "group", "the group is invited");
        assert_eq!(body["notify_recipients"], true, "and told");
        assert_eq!(
            body.as_object().unwrap().len(),
            3,
            "the recipients beside `poll`, where `PollService.invite` reads them"
        );
    }
}
