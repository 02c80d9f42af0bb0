//! Reading the contract's report logs over a block range, in as many requests as the node needs:
//! a refused range is split (see [`range`](super::range)) and asked for again, so a node with a
//! small `eth_getLogs` limit still gives everything.

use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy_primitives::Address;

use super::events::report_topics;
use super::range::{LogRange, refusal};
use super::rpc::RpcFailure;

/// Reads the report logs of `contract` from `from` on, up to `limit` at most, in one accepted
/// request; returns the last block covered and the logs. Shrinks `range` while the node refuses.
pub async fn report_logs<P: Provider>(
    provider: &P,
    contract: Address,
    from: u64,
    limit: u64,
    range: &mut LogRange,
) -> Result<(u64, Vec<Log>), RpcFailure> {
    loop {
        let to = range.end(from, limit);
        let filter = Filter::new()
            .address(contract)
            .event_signature(report_topics())
            .from_block(from)
            .to_block(to);
        match provider.get_logs(&filter).await {
            Ok(logs) => {
                range.succeeded();
                return Ok((to, logs));
            }
            Err(error) => match refusal(&error) {
                Some(refused) => {
                    tracing::debug!(
                        from,
                        to,
                        span = range.span(),
                        "the node refused the log range; splitting it"
                    );
                    range
                        .refused(from, to, refused)
                        .map_err(|e| RpcFailure::unusable("eth_getLogs", e.to_string()))?;
                }
                None => return Err(RpcFailure::of("eth_getLogs", &error)),
            },
        }
    }
}
