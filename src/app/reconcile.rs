//! Reconciliation: compares what this oracle signed with what the chain index says the contract
//! holds, pool by pool, and flags divergence in logs, metrics and the API: a report still missing
//! on chain after N indexed blocks, or an on-chain head that is not the report this oracle signed.
//!
//! The comparison is a pure function ([`classify`]); the edge reads the outbox and the index, and
//! records in the store, per report, the indexed block at which it was first seen missing, so a
//! restart does not start the patience again.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Timestamp;
use crate::http::AppState;
use crate::report::Digest;
use crate::store::{IndexedContract, StoreError, StoredSigned};

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

/// Compares every reported pool with the index of `indexed`, flagging what diverges after
/// `patience_blocks` indexed blocks. `None` while the index has not read anything yet.
pub async fn check(
    state: &AppState,
    indexed: &IndexedContract,
    patience_blocks: u64,
) -> Result<Option<Reconciliation>, StoreError> {
    let Some(oracle) = &state.oracle else {
        return Ok(None);
    };
    let Some(cursor) = state.store.chain_cursor(indexed).await? else {
        return Ok(None);
    };
    let mut pools = Vec::new();
    for report in state.store.latest_pool_reports(oracle.domain()).await? {
        let StoredSigned::Pool(signed) = &report.signed else {
            continue;
        };
        let id = signed.report().id();
        let chain = state
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
        let since = state.store.first_missing(indexed, local.1).await?;
        let blocks = |since: u64| cursor.block.saturating_sub(since);
        let mut standing = classify(local, chain, since.map_or(0, blocks), patience_blocks);
        if since.is_none() && is_missing(&standing) {
            let now = Timestamp(jiff::Timestamp::now().as_millisecond());
            let since = state
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
        pools.push(PoolReconciliation {
            pool,
            local_seq: local.0,
            local_digest: local.1.to_string(),
            chain_seq: chain.map_or(0, |(seq, _)| seq),
            standing,
        });
    }
    let divergences = pools.iter().filter(|p| p.standing.is_divergence()).count();
    state
        .metrics
        .reconciliation_divergences
        .set(divergences as i64);
    Ok(Some(Reconciliation {
        indexed_block: cursor.block,
        pools,
        divergences,
    }))
}

/// Whether the chain lacks reports this oracle signed (for a while or not yet).
fn is_missing(standing: &Standing) -> bool {
    matches!(
        standing,
        Standing::Behind { .. } | Standing::MissingOnChain { .. }
    )
}

/// Reconciles on the configured interval until stopped through `state.reconciler`, keeping the
/// last result for the API.
pub fn start(state: AppState, indexed: IndexedContract) {
    let controls = state.reconciler.clone();
    let task = tokio::spawn(async move {
        let interval =
            std::time::Duration::from_millis(state.config.chain.reconcile_interval_ms.max(100));
        while !state.reconciler.is_stopping() {
            match check(&state, &indexed, state.config.chain.missing_after_blocks).await {
                Ok(Some(result)) => {
                    *state.reconciliation.lock().expect("not poisoned") = Some(result);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "reconciliation could not read the store"),
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {},
                () = state.reconciler.woken() => {},
            }
        }
    });
    controls.hold(task);
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
