//! The condition language of policies. The first byte picks how many options the vote has; a
//! condition that compiles is evaluated against arbitrary counts, within its fuel.
#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_oracle::policy::expr::{Condition, Facts, Fuel};

struct Counts(u64);

impl Facts for Counts {
    fn total(&self) -> u64 {
        self.0
    }
    fn total_at(&self, level: u8) -> u64 {
        self.0 >> level.min(63)
    }
    fn count(&self, option: usize) -> u64 {
        self.0 / (option as u64 + 2)
    }
    fn count_at(&self, option: usize, level: u8) -> u64 {
        self.count(option) >> level.min(63)
    }
    fn count_in(&self, option: usize, group: &str) -> u64 {
        self.count(option).saturating_sub(group.len() as u64)
    }
    fn elapsed_ms(&self) -> i64 {
        self.0 as i64
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let Ok(source) = std::str::from_utf8(rest) else {
        return;
    };
    let options: Vec<String> = (0..options % 6).map(|i| format!("option {i}")).collect();
    let Ok(condition) = Condition::compile(source, &options) else {
        return;
    };
    for counts in [0, 1, 7, u64::MAX] {
        let mut fuel = Fuel::new(condition.cost());
        let _ = condition.holds(&Counts(counts), &mut fuel);
    }
});
