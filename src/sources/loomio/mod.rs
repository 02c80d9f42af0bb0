//! Loomio: a client of its User API (`/api/b2`), the voting backend built on it, and what its
//! chatbot webhooks are worth.
//!
//! Loomio's webhooks (its "chat integrations") carry only text rendered for a chat room (Slack,
//! Markdown, Discord, Microsoft, Webex formats) and no signature, so anyone who knows the URL
//! can send one. The service therefore takes a webhook only as a hint that something changed in
//! the community's Loomio group: it stores the delivery and re-reads the community's open Loomio
//! votes through the API. Nothing in a webhook's body is read as data.

mod backend;
mod ballots;
mod client;
mod document;
mod evidence;
mod retry;
mod settings;

use sha2::{Digest, Sha256};

pub use backend::{LoomioBackend, check_request, earliest_closing};
pub use ballots::{read_status, read_status_of_thread};
pub use client::{LoomioClient, LoomioError, NewPoll, PollType, Read};
pub use document::{
    DocumentError, OptionResult, Outcome, Poll, PollOption, Stance, ThreadStances, User,
    parse_poll, parse_polls, parse_thread_stances,
};
pub use evidence::documented_vote;
pub use retry::{RetryPolicy, retry_after};
pub use settings::LoomioSource;

/// The platform's name for voters and in the store.
pub const PLATFORM: &str = "loomio";

/// The voting backend's name in the API.
pub const BACKEND: &str = "loomio";

/// A webhook's stand-in for an event id: Loomio sends none, so the same body delivered again
/// (Loomio retries a delivery that failed to connect) is recognised by its SHA-256.
pub fn hint_id(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_is_known_by_its_body() {
        assert_eq!(
            hint_id(b"{}"),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_ne!(hint_id(b"{\"text\":\"a\"}"), hint_id(b"{\"text\":\"b\"}"));
    }
}
