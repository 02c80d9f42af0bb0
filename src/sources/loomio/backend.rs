//! Loomio as a voting backend: a vote is a Loomio poll in the community's group.
//!
//! - start: a `proposal` when the options are a proposal's (agree, abstain, disagree, block),
//!   else a single-choice `poll`, with `closing_at` (Loomio opens a poll for voting only with
//!   one), results shown as votes arrive, and the group invited and told. A start first looks
//!   for a poll carrying the vote's intent marker, so a retried start never makes a second poll;
//!   a poll whose ballots could never be read (anonymous, results hidden until it closes) is
//!   refused at once rather than at its decision.
//! - status: the poll (`GET /api/b2/polls/{id}`: state, options, every voter of each option in
//!   `results[].voter_scores`) and, when anyone voted, the group's members, every page
//!   (`GET /api/b2/memberships`: each voter's username). Tallies and ballots both come from the
//!   poll's `results` (see `ballots`); `raw` holds every document as received.
//! - close: b2 has no close. Loomio closes a poll itself once its `closing_at` has passed (its
//!   hourly job), and accepts only a `closing_at` that is still in the future after rounding
//!   down to the hour. So close moves `closing_at` to the next full hour (the hour after, when
//!   that is less than a minute away), unless the poll closes by then anyway, and the vote stays
//!   `closing` until a re-read sees `closed_at`. Closing at once needs a member's session in
//!   Loomio's web interface; the API key cannot do it.

use super::BACKEND;
use super::ballots::{anyone_voted, read_status, unreadable_reason};
use super::client::{LoomioClient, LoomioError, NewPoll, PollType};
use crate::clock::Clock;
use crate::domain::Timestamp;
use crate::voting::evidence::{Document, raw_of};
use crate::voting::intent::IntentMarker;
use crate::voting::{VoteHandle, VoteRequest, VoteStatus, VotingBackend, VotingError};

const HOUR_MS: i64 = 3_600_000;

/// Closer to a full hour than this, a close aims at the hour after, so that Loomio, rounding
/// down, still finds the time in the future when the request arrives.
const HOUR_MARGIN_MS: i64 = 60_000;

/// A community's Loomio group as a voting backend.
pub struct LoomioBackend {
    client: LoomioClient,
    group_id: u64,
    clock: Clock,
}

impl LoomioBackend {
    /// The backend for polls in `group_id`, through `client`, on the system clock.
    pub fn new(client: LoomioClient, group_id: u64) -> Self {
        LoomioBackend {
            client,
            group_id,
            clock: Clock::system(),
        }
    }

    /// The same backend, reading the time (a request's earliest close) from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

fn floor_to_hour(t: Timestamp) -> Timestamp {
    Timestamp(t.0 - t.0.rem_euclid(HOUR_MS))
}

/// The earliest `closing_at` Loomio accepts at `now`: the next full hour, or the one after when
/// the next is less than a minute away.
pub fn earliest_closing(now: Timestamp) -> Timestamp {
    let next = floor_to_hour(now).0 + HOUR_MS;
    Timestamp(if next - now.0 < HOUR_MARGIN_MS {
        next + HOUR_MS
    } else {
        next
    })
}

/// Whether Loomio can start this vote at `now`; the reason when it cannot.
pub fn check_request(request: &VoteRequest, now: Timestamp) -> Result<(), String> {
    if !request.electorate.groups.is_empty() || request.electorate.min_trust_level.is_some() {
        return Err(
            "a Loomio poll is voted on by every member of the community's group; Loomio has no \
             trust levels and this service no other groups there, so give no electorate"
                .into(),
        );
    }
    let Some(closes_at) = request.closes_at else {
        return Err(
            "Loomio opens a poll for voting only with a closing time: give closes_at".into(),
        );
    };
    if floor_to_hour(closes_at) < earliest_closing(now) {
        return Err(format!(
            "Loomio rounds the closing time down to the hour and needs it in the future: give \
             closes_at at {} or later",
            earliest_closing(now).to_rfc3339()
        ));
    }
    if request.options.len() < 2 {
        return Err("a vote needs at least two options".into());
    }
    Ok(())
}

/// The voting error a failed Loomio call stands for; `poll` names the poll asked about.
fn voting_error(e: LoomioError, poll: Option<&str>) -> VotingError {
    match e {
        LoomioError::Unreachable { .. } => VotingError::Unavailable {
            detail: e.to_string(),
            retry_after: None,
        },
        LoomioError::Status { status: 404, .. } if poll.is_some() => {
            VotingError::NotFound(poll.unwrap_or_default().to_string())
        }
        LoomioError::Status {
            status,
            retry_after,
            ..
        } if status == 429 || status >= 500 => VotingError::Unavailable {
            detail: e.to_string(),
            retry_after,
        },
        LoomioError::Status { status, detail, .. } => VotingError::Refused { status, detail },
        LoomioError::TooLarge { .. } | LoomioError::Malformed { .. } => {
            VotingError::Malformed(e.to_string())
        }
    }
}

#[async_trait::async_trait]
impl VotingBackend for LoomioBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn start(&self, request: &VoteRequest) -> Result<VoteHandle, VotingError> {
        check_request(request, self.clock.now()).map_err(VotingError::InvalidRequest)?;
        let closing_at = request
            .closes_at
            .expect("check_request requires a closing time");
        let marker = IntentMarker::find_in(&request.details);
        let found = match &marker {
            Some(marker) => self
                .client
                .find_poll(self.group_id, marker)
                .await
                .map_err(|e| voting_error(e, None))?,
            None => None,
        };
        let poll = match found {
            Some(poll) => {
                tracing::info!(
                    poll = poll.id,
                    "the vote was started on Loomio before; its poll is used"
                );
                poll
            }
            None => {
                let new = NewPoll {
                    group_id: self.group_id,
                    title: &request.title,
                    details: &request.details,
                    poll_type: PollType::for_options(&request.options),
                    options: &request.options,
                    closing_at,
                };
                let created = self
                    .client
                    .create_poll(&new, marker.as_ref())
                    .await
                    .map_err(|e| voting_error(e, None))?
                    .value;
                if created.group_id != Some(self.group_id)
                    || created.options.len() != request.options.len()
                {
                    return Err(VotingError::Refused {
                        status: 200,
                        detail: format!(
                            "Loomio created poll {} without its group or its options; this \
                             Loomio reads nested poll fields only from version 3.1.3",
                            created.id
                        ),
                    });
                }
                created
            }
        };
        if let Some(reason) = unreadable_reason(&poll) {
            return Err(VotingError::Refused {
                status: 200,
                detail: reason,
            });
        }
        Ok(VoteHandle {
            backend: BACKEND.into(),
            external_id: poll.id.to_string(),
            url: Some(self.client.poll_url(&poll.key)),
        })
    }

    async fn status(&self, external_id: &str) -> Result<VoteStatus, VotingError> {
        let poll = self
            .client
            .poll(external_id)
            .await
            .map_err(|e| voting_error(e, Some(external_id)))?;
        let mut documents: Vec<Document> = vec![poll.document];
        // Usernames of the voters come from the group's members: only the poll's ballots say
        // who voted, and only once someone has.
        let members = if anyone_voted(&poll.value) {
            let group = poll.value.group_id.unwrap_or(self.group_id);
            let (members, pages) = self
                .client
                .members(group)
                .await
                .map_err(|e| voting_error(e, None))?;
            documents.extend(pages);
            members
        } else {
            Default::default()
        };
        let (state, tallies, ballots) =
            read_status(&poll.value, &members).map_err(VotingError::Malformed)?;
        Ok(VoteStatus {
            state,
            tallies,
            ballots,
            raw: raw_of(documents),
        })
    }

    async fn close(&self, external_id: &str) -> Result<(), VotingError> {
        let poll = self
            .client
            .poll(external_id)
            .await
            .map_err(|e| voting_error(e, Some(external_id)))?
            .value;
        if poll.closed_at.is_some() {
            return Ok(());
        }
        let target = earliest_closing(self.clock.now());
        if poll.closing_at.is_some_and(|at| at <= target) {
            return Ok(());
        }
        self.client
            .set_closing_at(external_id, target)
            .await
            .map_err(|e| voting_error(e, Some(external_id)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voting::Electorate;

    fn at(text: &str) -> Timestamp {
        Timestamp(text.parse::<jiff::Timestamp>().unwrap().as_millisecond())
    }

    fn request(closes_at: Option<&str>) -> VoteRequest {
        VoteRequest {
            title: "Add Ann?".into(),
            details: String::new(),
            options: vec!["Yes".into(), "No".into()],
            closes_at: closes_at.map(at),
            electorate: Electorate::default(),
        }
    }

    #[test]
    fn the_earliest_closing_is_the_next_full_hour_with_a_margin() {
        assert_eq!(
            earliest_closing(at("2026-05-01T10:20:00Z")),
            at("2026-05-01T11:00:00Z")
        );
        assert_eq!(
            earliest_closing(at("2026-05-01T10:59:30Z")),
            at("2026-05-01T12:00:00Z")
        );
        assert_eq!(
            earliest_closing(at("2026-05-01T11:00:00Z")),
            at("2026-05-01T12:00:00Z")
        );
    }

    #[test]
    fn a_request_loomio_cannot_start_is_refused_before_any_call() {
        let now = at("2026-05-01T10:20:00Z");
        assert_eq!(
            check_request(&request(Some("2026-05-01T11:00:00Z")), now),
            Ok(())
        );
        assert!(
            check_request(&request(None), now)
                .unwrap_err()
                .contains("closes_at")
        );
        assert!(
            check_request(&request(Some("2026-05-01T10:59:00Z")), now)
                .unwrap_err()
                .contains("2026-05-01T11:00:00.000Z"),
            "rounded down, it would be in the past"
        );
        let mut grouped = request(Some("2026-05-02T10:00:00Z"));
        grouped.electorate.min_trust_level = Some(2);
        assert!(
            check_request(&grouped, now)
                .unwrap_err()
                .contains("trust levels")
        );
    }

    #[test]
    fn loomio_errors_map_to_what_a_caller_can_do() {
        let status = |status, retry_after| LoomioError::Status {
            status,
            detail: "why".into(),
            retry_after,
        };
        assert!(
            matches!(voting_error(status(404, None), Some("9")), VotingError::NotFound(id) if id == "9")
        );
        assert!(matches!(
            voting_error(status(404, None), None),
            VotingError::Refused { status: 404, .. }
        ));
        assert!(matches!(
            voting_error(status(429, Some(std::time::Duration::from_secs(3))), None),
            VotingError::Unavailable { retry_after: Some(d), .. } if d.as_secs() == 3
        ));
        assert!(matches!(
            voting_error(status(502, None), None),
            VotingError::Unavailable { .. }
        ));
        assert!(matches!(
            voting_error(status(422, None), None),
            VotingError::Refused { status: 422, .. }
        ));
    }
}
