//! The auditor's edge toward the chain: reads the contract's report logs from a node (splitting
//! ranges the node refuses) and the contract's views at the last block read, into a
//! [`History`](super::History). The logs carry every report with its signatures, so no
//! transaction is read. Nothing here judges anything.

use alloy::eips::BlockId;
use alloy::providers::{DynProvider, Provider};
use alloy_primitives::Address;
use futures_util::{StreamExt, TryStreamExt, stream};
use indicatif::ProgressBar;

use super::history::{ContractViews, PoolView};
use super::progress;
use crate::chain::contract::RevShare;
use crate::chain::events::{ContractEvent, EventError, ReportEvent, decode_all};
use crate::chain::logs::report_logs;
use crate::chain::range::LogRange;
use crate::chain::rpc::{RpcFailure, without_urls};
use crate::report::PoolId;

/// Blocks asked for per `eth_getLogs` at first; less when the node refuses.
const LOG_SPAN: u64 = 50_000;
/// Parts of the range read at once.
const READ_PARTS: u64 = 4;

/// Why the chain could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The node failed.
    #[error(transparent)]
    Rpc(#[from] RpcFailure),
    /// A log could not be decoded.
    #[error(transparent)]
    Event(#[from] EventError),
    /// No contract code at the address.
    #[error("no contract at {address} on this chain (at block {block})")]
    NoContract {
        /// The address given.
        address: Address,
        /// The block looked at.
        block: u64,
    },
}

/// The first block at which `contract` has code: its deployment block, found by bisection over
/// `eth_getCode`. A node without the old state answers errors; then the search starts at 0.
pub async fn deployment_block(
    provider: &DynProvider,
    contract: Address,
    head: u64,
) -> Result<u64, FetchError> {
    if !has_code(provider, contract, head).await? {
        return Err(FetchError::NoContract {
            address: contract,
            block: head,
        });
    }
    let (mut low, mut high) = (0, head);
    while low < high {
        let mid = low + (high - low) / 2;
        match has_code(provider, contract, mid).await {
            Ok(true) => high = mid,
            Ok(false) => low = mid + 1,
            Err(_) => return Ok(0),
        }
    }
    Ok(low)
}

async fn has_code(
    provider: &DynProvider,
    contract: Address,
    block: u64,
) -> Result<bool, FetchError> {
    let code = provider
        .get_code_at(contract)
        .block_id(BlockId::number(block))
        .await
        .map_err(|e| RpcFailure::of("eth_getCode", &e))?;
    Ok(!code.is_empty())
}

/// Every report event of `contract` in `from..=to`, in chain order. The range is read in
/// [`READ_PARTS`] parts at once, each decoded as it arrives, so that the node's encoding and this
/// side's decoding overlap.
pub async fn events(
    provider: &DynProvider,
    contract: Address,
    from: u64,
    to: u64,
    bar: &ProgressBar,
) -> Result<Vec<ContractEvent>, FetchError> {
    bar.set_length(to.saturating_sub(from) + 1);
    let parts: Vec<Vec<ContractEvent>> = stream::iter(parts_of(from, to, READ_PARTS))
        .map(|(first, last)| read_part(provider, contract, first, last, bar))
        .buffered(READ_PARTS as usize)
        .try_collect()
        .await?;
    bar.finish_and_clear();
    Ok(parts.concat())
}

/// Parts of about equal length that cover `from..=to` in order; fewer when the range is short.
fn parts_of(from: u64, to: u64, parts: u64) -> Vec<(u64, u64)> {
    if to < from {
        return Vec::new();
    }
    let length = (to - from) / parts + 1;
    (0..parts)
        .map(|i| from.saturating_add(i.saturating_mul(length)))
        .take_while(|first| *first <= to)
        .map(|first| (first, first.saturating_add(length - 1).min(to)))
        .collect()
}

/// The report events of `first..=last`, decoded, in chain order.
async fn read_part(
    provider: &DynProvider,
    contract: Address,
    first: u64,
    last: u64,
    bar: &ProgressBar,
) -> Result<Vec<ContractEvent>, FetchError> {
    let mut range = LogRange::new(LOG_SPAN);
    let mut logs = Vec::new();
    let mut next = first;
    while next <= last {
        let (covered, mut batch) = report_logs(provider, contract, next, last, &mut range).await?;
        logs.append(&mut batch);
        bar.inc(covered - next + 1);
        if covered == u64::MAX {
            break;
        }
        next = covered + 1;
    }
    Ok(decode_all(&logs)?)
}

/// The contract's views at block `at`, for the signer chain and each pool the events name.
pub async fn views(
    provider: &DynProvider,
    contract: Address,
    at: u64,
    events: &[ContractEvent],
) -> Result<ContractViews, FetchError> {
    let revshare = RevShare::new(contract, provider);
    let block = BlockId::number(at);
    let view = |method| {
        move |e: alloy::contract::Error| RpcFailure::unusable(method, without_urls(&e.to_string()))
    };
    let domain_separator = revshare
        .domainSeparator()
        .block(block)
        .call()
        .await
        .map_err(view("domainSeparator"))?;
    let set = revshare
        .signerSet()
        .block(block)
        .call()
        .await
        .map_err(view("signerSet"))?;
    let head = revshare
        .signerHead()
        .block(block)
        .call()
        .await
        .map_err(view("signerHead"))?;
    let mut ids: Vec<PoolId> = Vec::new();
    for event in events {
        if let ReportEvent::Pool(applied) = &event.event
            && !ids.contains(&applied.pool_id())
        {
            ids.push(applied.pool_id());
        }
    }
    let mut pools = Vec::with_capacity(ids.len());
    for id in ids {
        let pool_head = revshare
            .poolHead(id.community(), id.pool())
            .block(block)
            .call()
            .await
            .map_err(view("poolHead"))?;
        let commitment = revshare
            .poolCommitment(id.community(), id.pool())
            .block(block)
            .call()
            .await
            .map_err(view("poolCommitment"))?;
        pools.push(PoolView {
            id,
            version: pool_head.version,
            last_digest: pool_head.lastDigest,
            root: commitment.root,
            total_weight: commitment.totalWeight,
            payee_weight: commitment.payeeWeight,
        });
    }
    Ok(ContractViews {
        domain_separator,
        signers: set.signers,
        threshold: set.threshold,
        epoch: set.epoch,
        signer_seq: head.seq,
        signer_digest: head.lastDigest,
        pools,
    })
}

/// A hidden bar when progress is not wanted, else one on stderr with `message`.
pub fn bar(show: bool, message: &'static str) -> ProgressBar {
    if show {
        progress::bar(message)
    } else {
        ProgressBar::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::parts_of;

    #[test]
    fn parts_cover_the_range_in_order_without_overlap() {
        assert_eq!(
            parts_of(0, 99, 4),
            vec![(0, 24), (25, 49), (50, 74), (75, 99)]
        );
        assert_eq!(parts_of(10, 12, 4), vec![(10, 10), (11, 11), (12, 12)]);
        assert_eq!(parts_of(5, 5, 4), vec![(5, 5)]);
        assert_eq!(parts_of(7, 6, 4), vec![]);
        assert_eq!(parts_of(0, u64::MAX, 4).last().unwrap().1, u64::MAX);
        for (from, to) in [(0, 1_000), (3, 17), (100, 20_101)] {
            let parts = parts_of(from, to, 4);
            assert_eq!(parts.first().unwrap().0, from);
            assert_eq!(parts.last().unwrap().1, to);
            assert!(parts.windows(2).all(|w| w[1].0 == w[0].1 + 1));
        }
    }
}
