//! Documents of Loomio's API as an instance (or anything answering in its place) returns them:
//! poll lists, one poll, and a thread's stances.
#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_oracle::sources::loomio::{parse_poll, parse_polls, parse_thread_stances};

fuzz_target!(|body: &str| {
    let _ = parse_polls(body);
    let _ = parse_poll(body);
    let _ = parse_thread_stances(body);
});
