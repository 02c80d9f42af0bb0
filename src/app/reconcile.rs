//! Reconciliation: compares what this oracle signed with what the chain index says the contract
//! holds, pool by pool, and flags divergence in logs, metrics and the API: a report still missing
//! on chain after N indexed blocks, or an on-chain head that is not the report this oracle signed.
//! Each pool's row also names the reports of it that the chain could never accept (refused for
//! good, their seqs taken by later reports).
//!
//! The comparison is a pure function ([`classify`]); the edge reads the outbox and the index, and
//! records in the store, per report, the indexed block at which it was first seen missing, so a
//! restart does not start the patience again.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::{AppError, Doorbell};
use crate::clock::Clock;
use crate::config::ChainConfig;
use crate::oracle::Oracle;
use crate::report::Digest;
use crate::store::{IndexedContract, Store, StoredSigned};
use crate::telemetry::Metrics;

/// How one pool stands between this oracle and the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "standing", rename_all = "snake_case")]
pub enum Standing {
    /// The chain's head is this oracle's latest report.
    InSync,
    /// The chain is behind by reports this oracle signed; not yet for long.
    Behind {
        /// Reports not yet on chain.
        missing: u64,
    },
    /// The chain is behind for `blocks` indexed blocks, at least the configured patience.
    MissingOnChain {
        /// Reports not on chain.
        missing: u64,
        /// Indexed blocks since the oracle's latest report was first seen missing.
        blocks: u64,
    },
    /// The chain holds a report of this pool that this oracle did not sign as its latest.
    Differs {
        /// The seq the chain's head holds.
        chain_seq: u64,
        /// Its digest.
        chain_digest: String,
    },
}

impl Standing {
    /// Whether this is a divergence to flag.
    pub fn is_divergence(&self) -> bool {
        matches!(
            self,
            Standing::MissingOnChain { .. } | Standing::Differs { .. }
        )
    }
}

/// One pool's row of the reconciliation.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PoolReconciliation {
    /// `community/pool`.
    pub pool: String,
    /// This oracle's latest report of the pool.
    pub local_seq: u64,
    /// Its digest.
    pub local_digest: String,
    /// The chain's head seq of the pool, as indexed (0: none yet).
    pub chain_seq: u64,
    /// How the two compare.
    #[serde(flatten)]
    pub standing: Standing,
    /// This pool's reports that can never land, in outbox order.
    pub refused: Vec<RefusedReport>,
}

/// A report refused for good: never sent, or refused by the contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RefusedReport {
    /// The seq it was signed at (taken since by the report after it).
    pub seq: u64,
    /// Its digest.
    pub digest: String,
    /// Why it can never land: the failed check, or the contract's decoded error.
    pub reason: String,
}

/// The last reconciliation.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    /// The last block the index has read.
    pub indexed_block: u64,
    /// Every pool this oracle has reported.
    pub pools: Vec<PoolReconciliation>,
    /// How many pools diverge.
    pub divergences: usize,
}

/// The pure comparison of one pool: this oracle's latest report (seq, digest) against the chain's
/// head (seq, digest), with how many indexed blocks the report has been missing for.
pub fn classify(
    local: (u64, Digest),
    chain: Option<(u64, Digest)>,
    blocks_missing: u64,
    patience_blocks: u64,
) -> Standing {
    let (chain_seq, chain_digest) = chain.unwrap_or((0, Digest::ZERO));
    if chain_seq > local.0 || (chain_seq == local.0 && chain_digest != local.1) {
        return Standing::Differs {
            chain_seq,
            chain_digest: chain_digest.to_string(),
        };
    }
    if chain_seq == local.0 {
        return Standing::InSync;
    }
    let missing = local.0 - chain_seq;
    if blocks_missing >= patience_blocks {
        Standing::MissingOnChain {
            missing,
            blocks: blocks_missing,
        }
    } else {
        Standing::Behind { missing }
    }
}

/// Reconciling this oracle's outbox with the chain index: what it reads and where it keeps the
/// result.
#[derive(Clone)]
pub struct Reconciler {
    store: Store,
    metrics: Arc<Metrics>,
    oracle: Arc<Oracle>,
    indexed: IndexedContract,
    patience_blocks: u64,
    interval: Duration,
    clock: Clock,
    /// The loop waits on it between rounds; shutdown rings it.
    doorbell: Doorbell,
}

impl Reconciler {
    /// The reconciler of one service's oracle with the index of `indexed`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        oracle: Arc<Oracle>,
        indexed: IndexedContract,
        config: &ChainConfig,
        clock: Clock,
        doorbell: Doorbell,
    ) -> Self {
        Reconciler {
            store,
            metrics,
            oracle,
            indexed,
            patience_blocks: config.missing_after_blocks,
            interval: Duration::from_millis(config.reconcile_interval_ms.max(100)),
            clock,
            doorbell,
        }
    }

    /// The doorbell the loop waits on.
    pub fn doorbell(&self) -> &Doorbell {
        &self.doorbell
    }

    /// How long the loop waits between two rounds.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// One round: reconciles and keeps the result in the store, where every replica's API
    /// reads it.
    pub async fn run_once(&self) -> Result<(), AppError> {
        if let Some(result) = self.check().await? {
            let json = serde_json::to_string(&result)
                .map_err(|e| AppError::Inconsistent(format!("a reconciliation as JSON: {e}")))?;
            self.store
                .save_latest_reconciliation(&self.indexed, &json, self.clock.now())
                .await?;
        }
        Ok(())
    }

    /// Compares every reported pool with the index, flagging what diverges after the configured
    /// patience in indexed blocks. `None` while the index has not read anything yet.
    pub async fn check(&self) -> Result<Option<Reconciliation>, AppError> {
        let (oracle, indexed, patience_blocks) =
            (&self.oracle, &self.indexed, self.patience_blocks);
        let Some(cursor) = self.store.chain_cursor(indexed).await? else {
            return Ok(None);
        };
        let refused = self.store.refused_pool_reports(oracle.domain()).await?;
        let mut pools = Vec::new();
        for report in self.store.latest_pool_reports(oracle.domain()).await? {
            let StoredSigned::Pool(signed) = &report.signed else {
                continue;
            };
            let id = signed.report().id();
            let chain = self
                .store
                .chain_pool_head(indexed, id, false)
                .await?
                .and_then(|head| match head.event.event {
                    crate::chain::events::ReportEvent::Pool(applied) => {
                        Some((applied.report.seq, applied.digest))
                    }
                    crate::chain::events::ReportEvent::Signers(_) => None,
                });
            let local = (signed.report().seq(), signed.digest());
            let since = self.store.first_missing(indexed, local.1).await?;
            let blocks = |since: u64| cursor.block.saturating_sub(since);
            let mut standing = classify(local, chain, since.map_or(0, blocks), patience_blocks);
            if since.is_none() && is_missing(&standing) {
                let now = self.clock.now();
                let since = self
                    .store
                    .record_first_missing(indexed, local.1, cursor.block, now)
                    .await?;
                standing = classify(local, chain, blocks(since), patience_blocks);
            }
            let pool = format!(
                "{}/{}",
                report.community.as_deref().unwrap_or("?"),
                report.pool.as_deref().unwrap_or("?")
            );
            if standing.is_divergence() {
                tracing::warn!(
                    pool,
                    ?standing,
                    "the chain diverges from what this oracle signed"
                );
            }
            let refused = refused
                .iter()
                .filter(|r| matches!(&r.signed, StoredSigned::Pool(s) if s.report().id() == id))
                .map(|r| RefusedReport {
                    seq: r.signed.seq(),
                    digest: r.signed.digest().to_string(),
                    reason: r.last_error.clone().unwrap_or_default(),
                })
                .collect();
            pools.push(PoolReconciliation {
                pool,
                local_seq: local.0,
                local_digest: local.1.to_string(),
                chain_seq: chain.map_or(0, |(seq, _)| seq),
                standing,
                refused,
            });
        }
        let divergences = pools.iter().filter(|p| p.standing.is_divergence()).count();
        self.metrics
            .reconciliation_divergences
            .set(divergences as i64);
        Ok(Some(Reconciliation {
            indexed_block: cursor.block,
            pools,
            divergences,
        }))
    }
}

/// Whether the chain lacks reports this oracle signed (for a while or not yet).
fn is_missing(standing: &Standing) -> bool {
    matches!(
        standing,
        Standing::Behind { .. } | Standing::MissingOnChain { .. }
    )
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;

    fn digest(byte: u8) -> Digest {
        Digest::new(B256::repeat_byte(byte))
    }

    #[test]
    fn a_chain_at_the_oracles_latest_report_is_in_sync() {
        assert_eq!(
            classify((3, digest(3)), Some((3, digest(3))), 0, 10),
            Standing::InSync
        );
    }

    #[test]
    fn a_chain_behind_is_flagged_only_after_the_patience_runs_out() {
        assert_eq!(
            classify((3, digest(3)), Some((1, digest(1))), 9, 10),
            Standing::Behind { missing: 2 }
        );
        assert_eq!(
            classify((3, digest(3)), None, 10, 10),
            Standing::MissingOnChain {
                missing: 3,
                blocks: 10
            }
        );
    }

    #[test]
    fn another_report_at_the_head_or_past_it_differs() {
        assert!(matches!(
            classify((3, digest(3)), Some((3, digest(9))), 0, 10),
            Standing::Differs { chain_seq: 3, .. }
        ));
        assert!(matches!(
            classify((3, digest(3)), Some((4, digest(4))), 0, 10),
            Standing::Differs { chain_seq: 4, .. }
        ));
    }
}
