//! The entries a pool report commits to: each wallet, its weight and, optionally, the EVM account
//! the contract's `fund` credits for it. Built from the service's pools, or checked when decoded
//! from the contract's types.
//!
//! Entries keep the pool's order, because the order is signed and the contract's `pick` depends on
//! it. Nothing here decides who belongs in a pool: that is governance's job.

use alloy_primitives::Address;
use alloy_primitives::aliases::U96;

use super::abi;
use super::error::ReportError;
use crate::domain::{Entry, Pool, WalletAddress, Weight};

/// Most entries one pool report may carry: the contract's `MAX_ENTRIES`. With
/// [`MAX_REPORT_WALLET_BYTES`] it keeps the largest report's transaction under 8,000,000 gas, so
/// every report the oracle signs can land.
pub const MAX_REPORT_ENTRIES: usize = 1000;

/// Most bytes of wallets one pool report may carry: the contract's `MAX_WALLET_BYTES`. Each
/// wallet counts as its normal form's UTF-8 length rounded up to 32 bytes, the words it takes in
/// the transaction and the event, which is what costs gas ([`padded_len`]).
pub const MAX_REPORT_WALLET_BYTES: usize = 64_000;

/// A wallet's length as the contract counts it: rounded up to a multiple of 32 bytes.
pub fn padded_len(wallet: &WalletAddress) -> usize {
    wallet.as_str().len().div_ceil(32) * 32
}

/// One wallet of a pool, as a report commits to it. The weight is never zero (the contract refuses
/// zero) and fits `uint96` (the service's weights are at most 2^32 - 1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReportEntry {
    wallet: WalletAddress,
    weight: Weight,
    payee: Option<Address>,
}

impl ReportEntry {
    /// An entry; a payee of `Some(Address::ZERO)` is the same as none, as the contract reads it.
    pub fn new(wallet: WalletAddress, weight: Weight, payee: Option<Address>) -> Self {
        ReportEntry {
            wallet,
            weight,
            payee: payee.filter(|payee| !payee.is_zero()),
        }
    }

    /// The wallet address, in normal form (what the contract stores as `wallet`).
    pub fn wallet(&self) -> &WalletAddress {
        &self.wallet
    }

    /// The entry's weight.
    pub fn weight(&self) -> Weight {
        self.weight
    }

    /// The account `fund` credits for this entry, if any.
    pub fn payee(&self) -> Option<Address> {
        self.payee
    }

    /// The same entry, credited to `payee` by the contract's `fund`.
    pub fn with_payee(self, payee: Address) -> Self {
        ReportEntry::new(self.wallet, self.weight, Some(payee))
    }

    /// Checks an entry decoded from the contract's types: the wallet must already be in normal form
    /// (so it re-hashes to the same digest) and the weight must be a service weight.
    pub fn from_abi(index: usize, entry: &abi::Entry) -> Result<Self, ReportError> {
        let wallet = WalletAddress::parse(&entry.wallet)
            .ok()
            .filter(|wallet| wallet.as_str() == entry.wallet)
            .ok_or_else(|| ReportError::EntryWallet {
                index,
                found: entry.wallet.chars().take(80).collect(),
            })?;
        let weight = u64::try_from(entry.weight)
            .ok()
            .and_then(|weight| Weight::new(weight).ok())
            .ok_or_else(|| ReportError::EntryWeight {
                index,
                found: entry.weight.to_string(),
            })?;
        Ok(ReportEntry::new(wallet, weight, Some(entry.payee)))
    }
}

impl From<&Entry> for ReportEntry {
    /// A pool entry without a payee: the service's pools do not know members' EVM accounts.
    fn from(entry: &Entry) -> Self {
        ReportEntry::new(entry.wallet.clone(), entry.weight, None)
    }
}

impl From<&ReportEntry> for abi::Entry {
    fn from(entry: &ReportEntry) -> Self {
        abi::Entry {
            wallet: entry.wallet.as_str().to_owned(),
            weight: U96::from(entry.weight.get()),
            payee: entry.payee.unwrap_or(Address::ZERO),
        }
    }
}

/// The report entries of a pool, in the pool's order, without payees. Refuses a pool larger than
/// a report may carry rather than cutting it short.
pub fn entries_of(pool: &Pool) -> Result<Vec<ReportEntry>, ReportError> {
    let entries: Vec<ReportEntry> = pool.entries().iter().map(ReportEntry::from).collect();
    check_size(&entries)?;
    Ok(entries)
}

/// Refuses entries the contract would refuse for their size (`TooManyEntries`,
/// `WalletBytesOverLimit`), so that no report that cannot land is ever signed.
pub fn check_size(entries: &[ReportEntry]) -> Result<(), ReportError> {
    if entries.len() > MAX_REPORT_ENTRIES {
        return Err(ReportError::TooManyEntries {
            max: MAX_REPORT_ENTRIES,
            found: entries.len(),
        });
    }
    let wallet_bytes: usize = entries.iter().map(|e| padded_len(&e.wallet)).sum();
    if wallet_bytes > MAX_REPORT_WALLET_BYTES {
        return Err(ReportError::WalletBytes {
            max: MAX_REPORT_WALLET_BYTES,
            found: wallet_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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
    fn a_pool_becomes_entries_in_its_order() {
        let pool = Pool::new(vec![entry("$b.example", 2), entry("$a.example/x", 1)]).unwrap();
        let entries = entries_of(&pool).unwrap();
        assert_eq!(
            entries[0].wallet().as_str(),
            "https://b.example/.well-known/pay"
        );
        assert_eq!(entries[1].wallet().as_str(), "https://a.example/x");
        assert_eq!(entries[1].weight().get(), 1);
        assert!(entries.iter().all(|e| e.payee().is_none()));
    }

    #[test]
    fn a_pool_larger_than_the_contract_holds_is_refused() {
        let pool = Pool::new(
            (0..=MAX_REPORT_ENTRIES)
                .map(|i| entry(&format!("$w{i}.example"), 1))
                .collect(),
        )
        .unwrap();
        assert_eq!(
            entries_of(&pool),
            Err(ReportError::TooManyEntries {
                max: 1000,
                found: 1001
            })
        );
    }

    #[test]
    fn a_pool_whose_wallets_are_too_long_together_is_refused() {
        // "https://w00.example/" is 20 bytes: with a path of 1,580 the wallet takes exactly 1,600,
        // so 40 fit and a 41st does not.
        let path = "p".repeat(1580);
        let long = |i: usize| entry(&format!("$w{i:02}.example/{path}"), 1);
        assert_eq!(long(0).wallet.as_str().len(), 1600);
        let pool = Pool::new((0..40).map(long).collect()).unwrap();
        assert!(entries_of(&pool).is_ok(), "40 wallets of 1,600 bytes fit");
        let pool = Pool::new((0..41).map(long).collect()).unwrap();
        assert_eq!(
            entries_of(&pool),
            Err(ReportError::WalletBytes {
                max: MAX_REPORT_WALLET_BYTES,
                found: 41 * 1600
            })
        );
    }

    #[test]
    fn wallets_count_as_the_words_they_take() {
        let wallet = |text: &str| WalletAddress::parse(text).unwrap();
        assert_eq!(padded_len(&wallet("https://a.example/xyz")), 32, "21 bytes");
        assert_eq!(
            padded_len(&wallet("https://a.example/xyzxyzxyzxyzxy")),
            32,
            "32 bytes"
        );
        assert_eq!(
            padded_len(&wallet("https://a.example/xyzxyzxyzxyzxyz")),
            64,
            "33 bytes"
        );
        // As in the contract's test: 1,000 wallets of 33 bytes take all 64,000.
        let pool = Pool::new(
            (0..1000)
                .map(|i| entry(&format!("https://w{i:03}.example/pppppppppppp"), 1))
                .collect(),
        )
        .unwrap();
        assert!(pool.entries().iter().all(|e| e.wallet.as_str().len() == 33));
        assert!(entries_of(&pool).is_ok());
    }

    #[test]
    fn a_zero_payee_is_no_payee() {
        let e = ReportEntry::from(&entry("$a.example", 1)).with_payee(Address::ZERO);
        assert_eq!(e.payee(), None);
    }

    #[test]
    fn decoded_entries_must_be_in_normal_form_with_a_service_weight() {
        let good = abi::Entry {
            wallet: "https://a.example/x".into(),
            weight: U96::from(5u64),
            payee: Address::repeat_byte(7),
        };
        assert!(ReportEntry::from_abi(0, &good).is_ok());
        let spelled = abi::Entry {
            wallet: "$a.example/x".into(),
            ..good.clone()
        };
        assert!(matches!(
            ReportEntry::from_abi(3, &spelled),
            Err(ReportError::EntryWallet { index: 3, .. })
        ));
        for weight in [U96::ZERO, U96::from(u64::from(u32::MAX) + 1)] {
            let heavy = abi::Entry {
                weight,
                ..good.clone()
            };
            assert!(matches!(
                ReportEntry::from_abi(1, &heavy),
                Err(ReportError::EntryWeight { index: 1, .. })
            ));
        }
    }

    proptest! {
        #[test]
        fn entries_round_trip_through_the_contract_types(
            host in "[a-z]{1,12}\\.example",
            weight in 1u64..=u64::from(u32::MAX),
            payee in proptest::option::of(any::<[u8; 20]>()),
        ) {
            let e = ReportEntry::new(
                WalletAddress::parse(&format!("${host}/p")).unwrap(),
                Weight::new(weight).unwrap(),
                payee.map(Address::from),
            );
            let back = ReportEntry::from_abi(0, &abi::Entry::from(&e)).unwrap();
            prop_assert_eq!(back, e);
        }
    }
}
