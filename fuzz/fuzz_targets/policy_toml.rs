//! Policy documents as an admin proposes them: TOML, then every rule and condition checked. A
//! policy that parses describes itself without failing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_oracle::policy::{Policy, describe_policy};

fuzz_target!(|source: &str| {
    if let Ok(policy) = Policy::parse(source) {
        let _ = describe_policy(&policy);
    }
});
