//! Discourse webhook deliveries: the first byte picks the `X-Discourse-Event` name, the rest is
//! the body, as an unauthenticated sender could post it before the signature is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_oracle::sources::discourse::parse_event;

const EVENTS: [&str; 8] = [
    "ping",
    "user_created",
    "user_updated",
    "user_promoted",
    "topic_created",
    "post_created",
    "post_edited",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let event = EVENTS[usize::from(which) % EVENTS.len()];
    let _ = parse_event(event, body);
});
