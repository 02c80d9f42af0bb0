//! The auditor's edge toward the chain: reads the contract's report logs from a node (splitting
//! ranges the node refuses), the calldata of each transaction that emitted one, and the
//! contract's views at the last block read, into a [`History`]. Nothing here judges anything.

use alloy::consensus::Transaction as _;
use alloy::eips::BlockId;
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::SolCall;
use alloy_primitives::{Address, B256};
use futures_util::{StreamExt, TryStreamExt, stream};
use indicatif::ProgressBar;

use super::history::{ContractViews, HistoryEntry, PoolView, Submission};
use super::progress;
use crate::chain::contract::RevShare;
use crate::chain::convert::{
    entries_from_contract, pool_report_from_contract, signer_report_from_contract,
};
use crate::chain::events::{ContractEvent, EventError, ReportEvent, decode_all};
use crate::chain::logs::report_logs;
use crate::chain::range::LogRange;
use crate::chain::rpc::{RpcFailure, without_urls};
use crate::report::PoolId;

/// Blocks asked for per `eth_getLogs` at first; less when the node refuses.
const LOG_SPAN: u64 = 50_000;
/// Transactions fetched at once.
const TX_CONCURRENCY: usize = 16;

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

/// Every report event of `contract` in `from..=to`, in chain order.
pub async fn events(
    provider: &DynProvider,
    contract: Address,
    from: u64,
    to: u64,
    bar: &ProgressBar,
) -> Result<Vec<ContractEvent>, FetchError> {
    let mut range = LogRange::new(LOG_SPAN);
    let mut logs = Vec::new();
    let mut next = from;
    bar.set_length(to.saturating_sub(from) + 1);
    while next <= to {
        let (last, mut batch) = report_logs(provider, contract, next, to, &mut range).await?;
        logs.append(&mut batch);
        bar.inc(last - next + 1);
        if last == u64::MAX {
            break;
        }
        next = last + 1;
    }
    bar.finish_and_clear();
    Ok(decode_all(&logs)?)
}

/// Each event with the call that submitted it, read from its transaction's calldata.
pub async fn submissions(
    provider: &DynProvider,
    contract: Address,
    events: Vec<ContractEvent>,
    bar: &ProgressBar,
) -> Result<Vec<HistoryEntry>, FetchError> {
    bar.set_length(events.len() as u64);
    let entries = stream::iter(events)
        .map(|event| async move {
            let submission = submission(provider, contract, &event).await?;
            bar.inc(1);
            Ok::<_, FetchError>(HistoryEntry { event, submission })
        })
        .buffered(TX_CONCURRENCY)
        .try_collect()
        .await?;
    bar.finish_and_clear();
    Ok(entries)
}

async fn submission(
    provider: &DynProvider,
    contract: Address,
    event: &ContractEvent,
) -> Result<Submission, FetchError> {
    let hash = event.position.tx_hash;
    let tx = provider
        .get_transaction_by_hash(hash)
        .await
        .map_err(|e| RpcFailure::of("eth_getTransactionByHash", &e))?
        .ok_or_else(|| {
            RpcFailure::unusable(
                "eth_getTransactionByHash",
                format!("the node does not know transaction {hash}, which emitted a log"),
            )
        })?;
    let Some(to) = tx.to() else {
        return Ok(Submission::Deployment);
    };
    Ok(read_call(contract, to, hash, tx.input()))
}

/// What a call to `to` with `input` submitted, if it is a direct submission to `contract`.
fn read_call(contract: Address, to: Address, hash: B256, input: &[u8]) -> Submission {
    if to != contract {
        return Submission::Unreadable {
            reason: format!(
                "transaction {hash} calls {to}, not the contract: the report's signatures are not \
                 in its calldata"
            ),
        };
    }
    if let Ok(call) = RevShare::submitPoolReportCall::abi_decode(input) {
        return Submission::PoolCall {
            report: pool_report_from_contract(&call.report),
            signatures: call.signatures,
        };
    }
    if let Ok(call) = RevShare::submitSignerReportCall::abi_decode(input) {
        return Submission::SignerCall {
            report: signer_report_from_contract(&call.report),
            signatures: call.signatures,
        };
    }
    Submission::Unreadable {
        reason: format!("transaction {hash} is not a submitPoolReport or submitSignerReport call"),
    }
}

/// The contract's views at block `at`, for the signer chain and each pool the events name.
pub async fn views(
    provider: &DynProvider,
    contract: Address,
    at: u64,
    entries: &[HistoryEntry],
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
    for entry in entries {
        if let ReportEvent::Pool(applied) = &entry.event.event
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
        let pool_entries = revshare
            .poolEntries(id.community(), id.pool())
            .block(block)
            .call()
            .await
            .map_err(view("poolEntries"))?;
        pools.push(PoolView {
            id,
            version: pool_head.version,
            last_digest: pool_head.lastDigest,
            entries: entries_from_contract(&pool_entries),
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
    use alloy_primitives::Bytes;

    use super::*;
    use crate::chain::convert::signer_report_to_contract;
    use crate::report::abi;

    fn rotation_input() -> Vec<u8> {
        RevShare::submitSignerReportCall {
            report: signer_report_to_contract(&abi::SignerReport {
                seq: 1,
                prevHash: B256::ZERO,
                signers: vec![Address::repeat_byte(1)],
                threshold: 1,
                observedAt: 0,
                validFrom: 0,
                validUntil: 9,
            }),
            signatures: Bytes::from(vec![7u8; 65]),
        }
        .abi_encode()
    }

    #[test]
    fn a_direct_submission_is_read_from_calldata() {
        let contract = Address::repeat_byte(0xcc);
        let Submission::SignerCall { report, signatures } =
            read_call(contract, contract, B256::ZERO, &rotation_input())
        else {
            panic!("a signer call")
        };
        assert_eq!(report.seq, 1);
        assert_eq!(signatures.len(), 65);
    }

    #[test]
    fn a_call_to_another_contract_is_unreadable() {
        let contract = Address::repeat_byte(0xcc);
        let other = Address::repeat_byte(0xdd);
        assert!(matches!(
            read_call(contract, other, B256::ZERO, &rotation_input()),
            Submission::Unreadable { .. }
        ));
        assert!(matches!(
            read_call(contract, contract, B256::ZERO, &[1, 2, 3, 4]),
            Submission::Unreadable { .. }
        ));
    }
}
