//! Pools: the lists of wallets a community's revenue is shared among, and the versions that record
//! every change to them. A [`Pool`] can only be built valid: weights are at least 1 and no wallet
//! appears twice.

use std::collections::HashMap;
use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use super::name::{Label, MemberId};
use super::wallet::WalletAddress;
use super::{Cause, Timestamp};

/// Most entries one pool may hold; bounds the memory of a snapshot and keeps selection's integer
/// arithmetic far from overflow (entries × largest weight < 2^53).
pub const MAX_POOL_ENTRIES: usize = 100_000;

/// A share weight: a whole number of at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Weight(NonZeroU32);

/// Why a weight was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a weight must be a whole number from 1 to {max}, found {found}", max = u32::MAX)]
pub struct WeightError {
    /// The refused number.
    pub found: u64,
}

impl Weight {
    /// Accepts 1 ..= 4,294,967,295.
    pub fn new(value: u64) -> Result<Self, WeightError> {
        u32::try_from(value)
            .ok()
            .and_then(NonZeroU32::new)
            .map(Weight)
            .ok_or(WeightError { found: value })
    }

    /// The weight as a number.
    pub fn get(self) -> u64 {
        u64::from(self.0.get())
    }
}

impl TryFrom<u64> for Weight {
    type Error = WeightError;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Weight::new(value)
    }
}

impl From<Weight> for u64 {
    fn from(w: Weight) -> u64 {
        w.get()
    }
}

/// One wallet in a pool, with its weight and, optionally, who it is and which member it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Where the money goes.
    pub wallet: WalletAddress,
    /// Its relative share within the pool.
    pub weight: Weight,
    /// A name for people to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// The member this entry belongs to, when a member's wallet vote put it there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberId>,
}

/// Why a list of entries cannot be a pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// One wallet, perhaps spelled two ways, appears twice.
    #[error(
        "entries {first} and {second} name the same wallet {wallet}; a pool holds a wallet once"
    )]
    DuplicateWallet {
        /// The wallet in normal form.
        wallet: WalletAddress,
        /// Index of the first entry naming it.
        first: usize,
        /// Index of the second.
        second: usize,
    },
    /// More entries than a pool may hold.
    #[error("a pool holds at most {MAX_POOL_ENTRIES} entries, found {0}")]
    TooManyEntries(usize),
}

/// A valid list of entries: each wallet once, at most [`MAX_POOL_ENTRIES`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Pool {
    entries: Vec<Entry>,
}

impl Pool {
    /// Checks the entries and keeps their order (the order is part of what a report commits to).
    pub fn new(entries: Vec<Entry>) -> Result<Self, PoolError> {
        if entries.len() > MAX_POOL_ENTRIES {
            return Err(PoolError::TooManyEntries(entries.len()));
        }
        let mut seen: HashMap<&WalletAddress, usize> = HashMap::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            if let Some(&first) = seen.get(&entry.wallet) {
                return Err(PoolError::DuplicateWallet {
                    wallet: entry.wallet.clone(),
                    first,
                    second: index,
                });
            }
            seen.insert(&entry.wallet, index);
        }
        Ok(Pool { entries })
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The sum of all weights (0 for an empty pool).
    pub fn total_weight(&self) -> u64 {
        self.entries.iter().map(|e| e.weight.get()).sum()
    }

    /// Whether the pool has no entries, in which case nothing can be picked from it.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One recorded state of a pool: what it held, why it changed, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolVersion {
    /// 1 for the first state, then +1 for each change.
    pub version: u64,
    /// The entries this version holds.
    pub pool: Pool,
    /// Why this version exists.
    pub cause: Cause,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(wallet: &str, weight: u64) -> Entry {
        Entry {
            wallet: WalletAddress::parse(wallet).unwrap(),
            weight: Weight::new(weight).unwrap(),
            label: None,
            member: None,
        }
    }

    #[test]
    fn weight_zero_is_refused() {
        assert_eq!(Weight::new(0), Err(WeightError { found: 0 }));
        assert!(Weight::new(u64::from(u32::MAX) + 1).is_err());
        assert_eq!(Weight::new(7).unwrap().get(), 7);
    }

    #[test]
    fn two_spellings_of_one_wallet_cannot_share_a_pool() {
        let err = Pool::new(vec![
            entry("$example.com", 1),
            entry("https://EXAMPLE.com/", 2),
        ])
        .unwrap_err();
        assert!(matches!(
            err,
            PoolError::DuplicateWallet {
                first: 0,
                second: 1,
                ..
            }
        ));
    }

    #[test]
    fn total_weight_sums_entries() {
        let pool = Pool::new(vec![entry("$a.example", 2), entry("$b.example", 3)]).unwrap();
        assert_eq!(pool.total_weight(), 5);
    }
}
