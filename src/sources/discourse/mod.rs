//! Discourse: webhook signatures, payloads, and what each event changes in the member registry
//! and the topic facts (pure; `http::hooks` checks and stores deliveries and `app::ingest` applies
//! them); and the API client with its voting backend (I/O: `transport`, `client`, `backend`).
//!
//! A wallet found in a member's custom user field is only recorded in the registry (with its
//! history); turning a wallet change into a vote or a pool entry is the policy engine's job.
//! The wallet field's name is resolved to its id through the API when the settings are set.

pub mod api;
mod backend;
mod client;
mod evidence;
mod payload;
mod plan;
mod poll;
mod retry;
mod settings;
mod signature;
mod status;
mod transport;

pub use backend::{BACKEND_NAME, DiscourseVoting, PollDestination, SetupError, api_access};
pub use client::{CreatedPost, DiscourseClient, NewPost, VOTERS_PAGE_LIMIT};
pub use evidence::documented_vote;
pub use payload::{
    BasicUser, Event, GroupRef, PayloadError, Post, TagRef, Topic, User, UserEvent, parse_event,
};
pub use plan::{
    MemberPlan, TopicRecord, TopicUpdate, WalletChange, plan_member, plan_topic, topic_id,
};
pub use poll::{POLL_NAME, PollRef, PollSpec, PollSpecError, option_digest, option_texts};
pub use retry::{RateGate, rate_limit_wait};
pub use settings::DiscourseSource;
pub use signature::{SIGNATURE_PREFIX, SignatureError, sign, verify_signature};
pub use status::{PollStanding, option_labels, poll_state, standing, voters_match_counts};
pub use transport::{ApiError, DiscourseSites, RawDocument, Repeat, Transport};

/// The platform's name in the store.
pub const PLATFORM: &str = "discourse";

/// Shortest webhook secret Discourse accepts.
pub const MIN_SECRET_CHARS: usize = 12;

/// The headers Discourse sends with every webhook.
pub mod headers {
    /// The site's base URL, such as `https://forum.example`.
    pub const INSTANCE: &str = "x-discourse-instance";
    /// The id of this event on the site; a redelivery keeps it.
    pub const EVENT_ID: &str = "x-discourse-event-id";
    /// The kind of object (`user`, `topic`, `post`, `ping`).
    pub const EVENT_TYPE: &str = "x-discourse-event-type";
    /// The event's name (`user_updated`, `post_created`, …).
    pub const EVENT: &str = "x-discourse-event";
    /// `sha256=` and the HMAC-SHA256 of the body, keyed with the webhook secret.
    pub const SIGNATURE: &str = "x-discourse-event-signature";
}

/// Whether two instance URLs name the same site (a trailing slash and the case of the scheme
/// and host do not matter).
pub fn same_instance(configured: &str, presented: &str) -> bool {
    super::normalise_site_url(configured) == super::normalise_site_url(presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_compare_without_trailing_slash_or_case() {
        assert!(same_instance(
            "https://Forum.example/",
            "https://forum.example"
        ));
        assert!(same_instance(
            "https://forum.example/community",
            "https://forum.example/community/"
        ));
        assert!(!same_instance(
            "https://forum.example",
            "https://forum.example.evil"
        ));
        assert!(!same_instance(
            "https://forum.example",
            "http://forum.example"
        ));
    }
}
