//! The counts a vote's conditions read, computed once per evaluation from the ballots and each
//! voter's standing at that moment, so that every name in an expression is a constant-time look-up.
//!
//! A ballot counts when its voter belongs to the electorate at the time of evaluation; of a voter
//! who appears twice, the last ballot counts; choices that are not options are ignored.

use std::collections::{BTreeMap, HashMap};

use crate::voting::{Ballot, Electorate};

use super::engine::VoterStanding;
use super::expr::{Facts, MAX_TRUST_LEVEL};

const LEVELS: usize = MAX_TRUST_LEVEL as usize + 1;

/// The counts of one vote at one moment.
pub(super) struct Tally {
    /// Per option, per trust level `k`: ballots choosing it from voters at level `k` or above.
    by_level: Vec<[u64; LEVELS]>,
    /// Per trust level `k`: ballots from voters at level `k` or above.
    totals: [u64; LEVELS],
    /// Per (option, group): ballots choosing it from members of the group.
    by_group: HashMap<(usize, String), u64>,
    elapsed_ms: i64,
}

impl Tally {
    pub(super) fn new(
        options: &[String],
        electorate: &Electorate,
        ballots: &[Ballot],
        voters: &[VoterStanding],
        elapsed_ms: i64,
    ) -> Tally {
        let standing: HashMap<(&str, &str), &VoterStanding> = voters
            .iter()
            .map(|v| ((v.voter.platform.as_str(), v.voter.user_id.as_str()), v))
            .collect();
        let latest: BTreeMap<(&str, &str), &Ballot> = ballots
            .iter()
            .map(|b| ((b.voter.platform.as_str(), b.voter.user_id.as_str()), b))
            .collect();
        let mut tally = Tally {
            by_level: vec![[0; LEVELS]; options.len()],
            totals: [0; LEVELS],
            by_group: HashMap::new(),
            elapsed_ms,
        };
        for (key, ballot) in latest {
            let (level, groups) = standing.get(&key).map_or((0, &[][..]), |s| {
                (s.trust_level.unwrap_or(0), &s.groups[..])
            });
            let level = usize::from(level.min(MAX_TRUST_LEVEL));
            let eligible = electorate
                .min_trust_level
                .is_none_or(|min| level >= usize::from(min))
                && (electorate.groups.is_empty()
                    || groups.iter().any(|g| electorate.groups.contains(g)));
            if !eligible {
                continue;
            }
            for k in 0..=level {
                tally.totals[k] += 1;
            }
            let mut chosen: Vec<usize> = ballot
                .choices
                .iter()
                .filter_map(|c| options.iter().position(|o| o == c))
                .collect();
            chosen.sort_unstable();
            chosen.dedup();
            for option in chosen {
                for k in 0..=level {
                    tally.by_level[option][k] += 1;
                }
                for group in groups {
                    *tally.by_group.entry((option, group.clone())).or_default() += 1;
                }
            }
        }
        tally
    }
}

impl Facts for Tally {
    fn total(&self) -> u64 {
        self.totals[0]
    }
    fn total_at(&self, level: u8) -> u64 {
        self.totals[usize::from(level.min(MAX_TRUST_LEVEL))]
    }
    fn count(&self, option: usize) -> u64 {
        self.by_level[option][0]
    }
    fn count_at(&self, option: usize, level: u8) -> u64 {
        self.by_level[option][usize::from(level.min(MAX_TRUST_LEVEL))]
    }
    fn count_in(&self, option: usize, group: &str) -> u64 {
        self.by_group
            .get(&(option, group.to_string()))
            .copied()
            .unwrap_or(0)
    }
    fn elapsed_ms(&self) -> i64 {
        self.elapsed_ms
    }
}
