//! Pool reports: one signed replacement of the entries of one (community, pool), saying where it
//! stands in the pool's chain, which decision and policy version it comes from, when it was observed
//! and when it may be applied.
//!
//! A report is built from a [`PoolChange`] (what changes) and the chain's head (where it goes), so
//! `seq` and `prevHash` are always computed, never typed in. This module decides nothing about the
//! entries themselves and reads no clock: times are handed to it.

use alloy_primitives::{B256, keccak256};
use alloy_sol_types::SolStruct;

use super::abi;
use super::chain::{ChainKey, Head, Link, Report};
use super::digest::Digest;
use super::domain::Domain;
use super::entry::{ReportEntry, check_size};
use super::error::ReportError;
use super::window::ValidityWindow;
use crate::domain::{CommunitySlug, PoolName};

/// Which pool a report is about, as the contract keys it: keccak256 of the UTF-8 community slug and
/// of the UTF-8 pool name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolId {
    community: B256,
    pool: B256,
}

impl PoolId {
    /// The contract's ids of a community's pool.
    pub fn new(community: &CommunitySlug, pool: &PoolName) -> Self {
        PoolId {
            community: keccak256(community.as_str()),
            pool: keccak256(pool.as_str()),
        }
    }

    /// Ids read from a report or a log, whose names are not known.
    pub const fn from_hashes(community: B256, pool: B256) -> Self {
        PoolId { community, pool }
    }

    /// keccak256 of the community's slug.
    pub fn community(&self) -> B256 {
        self.community
    }

    /// keccak256 of the pool's name.
    pub fn pool(&self) -> B256 {
        self.pool
    }
}

/// What a pool report says, apart from its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolChange {
    id: PoolId,
    entries: Vec<ReportEntry>,
    decision_hash: B256,
    policy_version: u64,
    observed_at: u64,
    window: ValidityWindow,
}

impl PoolChange {
    /// The new entries of `id`, caused by the decision whose stored evidence hashes to
    /// `decision_hash` under policy `policy_version`, observed at `observed_at` (Unix seconds).
    /// Refuses entries larger than the contract takes, so a built report is one it can apply.
    pub fn new(
        id: PoolId,
        entries: Vec<ReportEntry>,
        decision_hash: B256,
        policy_version: u64,
        observed_at: u64,
        window: ValidityWindow,
    ) -> Result<Self, ReportError> {
        check_size(&entries)?;
        Ok(PoolChange {
            id,
            entries,
            decision_hash,
            policy_version,
            observed_at,
            window,
        })
    }
}

/// A pool report: a [`PoolChange`] at its place in the pool's chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolReport {
    link: Link,
    change: PoolChange,
}

impl PoolReport {
    /// The report that follows `previous` (or starts the chain, if `None`), with seq and prevHash
    /// filled in from it. `previous` must be a report of the same pool.
    pub fn next(
        previous: Option<&PoolReport>,
        domain: &Domain,
        change: PoolChange,
    ) -> Result<Self, ReportError> {
        let head = match previous {
            None => Head::GENESIS,
            Some(previous) if previous.change.id == change.id => Head::of(previous, domain),
            Some(previous) => {
                return Err(ReportError::OtherChain {
                    expected: Box::new(ChainKey::Pool(change.id)),
                    found: Box::new(previous.chain()),
                });
            }
        };
        PoolReport::after(head, change)
    }

    /// The report that follows `head` (e.g. the contract's `poolHead` for the pool).
    pub fn after(head: Head, change: PoolChange) -> Result<Self, ReportError> {
        Ok(PoolReport {
            link: head.next_link()?,
            change,
        })
    }

    /// The same change re-issued after `head` with a new validity window: what the oracle signs
    /// again when this report (or one before it in the chain) expired before it landed. Only the
    /// window and the link differ; entries, decision, policy version and observed time are kept.
    pub fn reissued(&self, head: Head, window: ValidityWindow) -> Result<Self, ReportError> {
        PoolReport::after(
            head,
            PoolChange {
                window,
                ..self.change.clone()
            },
        )
    }

    /// A report exactly as read from a log, a transaction or a store. Its link is whatever it says:
    /// check it with [`check_chain`](super::check_chain) before trusting it.
    pub fn from_parts(link: Link, change: PoolChange) -> Self {
        PoolReport { link, change }
    }

    /// The pool it replaces the entries of.
    pub fn id(&self) -> PoolId {
        self.change.id
    }

    /// Its position in the pool's chain.
    pub fn seq(&self) -> u64 {
        self.link.seq
    }

    /// The previous report's digest (zero for seq 1).
    pub fn prev_hash(&self) -> Digest {
        self.link.prev_hash
    }

    /// The pool's new entries, in order.
    pub fn entries(&self) -> &[ReportEntry] {
        &self.change.entries
    }

    /// The hash of the stored evidence of the decision it comes from.
    pub fn decision_hash(&self) -> B256 {
        self.change.decision_hash
    }

    /// The policy version that turned the decision into these entries.
    pub fn policy_version(&self) -> u64 {
        self.change.policy_version
    }

    /// When the oracle observed the decision, in Unix seconds.
    pub fn observed_at(&self) -> u64 {
        self.change.observed_at
    }

    /// When the contract may apply it.
    pub fn window(&self) -> ValidityWindow {
        self.change.window
    }
}

impl Report for PoolReport {
    fn chain(&self) -> ChainKey {
        ChainKey::Pool(self.change.id)
    }

    fn link(&self) -> Link {
        self.link
    }

    fn digest(&self, domain: &Domain) -> Digest {
        domain.digest_of(abi::PoolReport::from(self).eip712_hash_struct())
    }
}

impl From<&PoolReport> for abi::PoolReport {
    fn from(report: &PoolReport) -> Self {
        let change = &report.change;
        abi::PoolReport {
            community: change.id.community,
            pool: change.id.pool,
            seq: report.link.seq,
            prevHash: report.link.prev_hash.get(),
            entries: change.entries.iter().map(abi::Entry::from).collect(),
            decisionHash: change.decision_hash,
            policyVersion: change.policy_version,
            observedAt: change.observed_at,
            validFrom: change.window.valid_from(),
            validUntil: change.window.valid_until(),
        }
    }
}

impl TryFrom<&abi::PoolReport> for PoolReport {
    type Error = ReportError;

    /// Checks a report decoded from the contract's types (e.g. a `PoolReportApplied` log): every
    /// entry valid and in normal form, the window non-empty. Its link is not checked here.
    fn try_from(report: &abi::PoolReport) -> Result<Self, ReportError> {
        let entries = report
            .entries
            .iter()
            .enumerate()
            .map(|(index, entry)| ReportEntry::from_abi(index, entry))
            .collect::<Result<Vec<_>, _>>()?;
        let change = PoolChange::new(
            PoolId::from_hashes(report.community, report.pool),
            entries,
            report.decisionHash,
            report.policyVersion,
            report.observedAt,
            ValidityWindow::new(report.validFrom, report.validUntil)?,
        )?;
        Ok(PoolReport::from_parts(
            Link {
                seq: report.seq,
                prev_hash: Digest::new(report.prevHash),
            },
            change,
        ))
    }
}
