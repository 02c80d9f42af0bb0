//! The event logs that `policy simulate` replays: JSON lines an admin writes by hand. A log that
//! parses replays under the shipped policies without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_oracle::domain::CommunitySlug;
use revshare_oracle::policy::{default_policies, parse_events, replay};

fuzz_target!(|text: &str| {
    if let Ok(events) = parse_events(text) {
        let community = CommunitySlug::parse("fuzz").expect("a valid slug");
        let _ = replay(community, default_policies(), &events);
    }
});
