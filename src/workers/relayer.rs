//! The relayer: submits the outbox's signed reports to the RevShare contract until each is on
//! chain (invariant 5), each chain on its own: every pass takes the first open report of each pool
//! chain and of the signer chain one step, so that one pool's stuck, failing or not-yet-valid report
//! delays no other pool. A chain whose step fails backs off alone. Only the signer chain orders
//! against the rest, because a rotation changes who may sign: a pool report waits for the
//! rotations signed before it, and a rotation for the pool reports signed before it.
//!
//! Exactly once in effect: before sending, it reads the chain's head for the report's chain. A head
//! already at or past the report's seq means an earlier try landed (before a crash, or a
//! transaction that was slow to mine), and the report is marked applied without sending again; the
//! contract's seq check refuses any duplicate that still lands. A report the chain can never accept
//! (it fails local verification, the contract refuses it for a reason another try cannot change,
//! named by its decoded error, or it needs more gas than a transaction may use) is refused with the
//! reason, counted, and never sent; its chain moves on, the open reports after it re-signed one seq
//! lower. A pool report refused because a rotation landed before it is re-signed by the set in
//! force instead. A node that cannot be reached is retried with backoff.
//!
//! A report whose window closed before it landed (judged by the chain's latest block time, or
//! refused by the contract as expired) would block its chain for good: it is re-issued instead,
//! with every later open report of its chain, re-signed with a window opening at the chain's time
//! (see `Store::reissue_expired`). Only a report not on chain is ever re-issued: the head check
//! comes first, and the chain's time is read before the head, so a report that landed in time is
//! always seen as applied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::network::EthereumWallet;
use alloy::primitives::{B256, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use secrecy::ExposeSecret;

use super::Running;
use crate::app::Doorbell;
use crate::chain::contract::RevShare::{self, RevShareErrors, RevShareInstance};
use crate::chain::rpc::without_urls;
use crate::clock::Clock;
use crate::config::ChainConfig;
use crate::oracle::Oracle;
use crate::report::{ChainKey, Head, verify};
use crate::store::{Store, StoreError, StoredReport, StoredSigned};
use crate::telemetry::Metrics;

/// Why the relayer could not start or take a step.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sender's key could not be loaded.
    #[error("the relayer's sender key: {0}")]
    Sender(#[from] crate::keys::KeyError),
    /// The RPC URL is not a URL (which is not repeated: it may hold an API key).
    #[error("chain.rpc_url is not a valid URL")]
    RpcUrl,
    /// The node could not be reached or answered with an error that a later try may not get.
    #[error("the chain node is unavailable: {0}")]
    Node(String),
}

/// What one step of the relayer did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do.
    Idle,
    /// A report moved (applied or refused); look for the next at once.
    Progress,
}

/// Submits reports from one store to one contract.
pub struct Relayer {
    store: Store,
    oracle: Arc<Oracle>,
    contract: RevShareInstance<DynProvider>,
    config: ChainConfig,
    metrics: Arc<Metrics>,
    clock: Clock,
    /// The chains whose last step failed, and when each may try again.
    backoff: Mutex<HashMap<ChainKey, ChainBackoff>>,
}

/// A failing chain's wait before its next try, doubled per failure up to `max_backoff_ms`.
#[derive(Clone, Copy, Debug)]
struct ChainBackoff {
    delay: Duration,
    until: Instant,
}

/// The chain fronts a pass may move: every pool chain's first open report that no earlier open
/// rotation precedes, and the signer chain's if no earlier open pool report precedes it. `fronts`
/// are the first open report of each chain, in outbox order.
pub fn movable(fronts: &[StoredReport]) -> Vec<&StoredReport> {
    let first_of = |signers: bool| {
        fronts
            .iter()
            .filter(|r| matches!(r.signed.chain(), ChainKey::Signers) == signers)
            .map(|r| r.place)
            .min()
    };
    let (first_rotation, first_pool) = (first_of(true), first_of(false));
    fronts
        .iter()
        .filter(|r| {
            let before = |other: Option<i64>| other.is_none_or(|place| r.place < place);
            match r.signed.chain() {
                ChainKey::Signers => before(first_pool),
                ChainKey::Pool(_) => before(first_rotation),
            }
        })
        .collect()
}

impl Relayer {
    /// A relayer sending from the configured sender (the oracle's first key when unset).
    pub fn new(
        store: Store,
        oracle: Arc<Oracle>,
        config: &ChainConfig,
        oracle_keys: &[crate::config::KeySource],
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> Result<Self, RelayError> {
        let sender_source = config
            .sender
            .as_ref()
            .or(oracle_keys.first())
            .ok_or_else(|| RelayError::Node("no sender key: set [chain.sender]".into()))?;
        let key = crate::keys::load(sender_source)?;
        let mut bytes = key.to_bytes();
        let signer = PrivateKeySigner::from_bytes(&B256::from(bytes))
            .map_err(|_| RelayError::Node("the sender key is not a valid key".into()))?;
        bytes.fill(0);
        let url = config
            .rpc_url
            .expose_secret()
            .parse()
            .map_err(|_| RelayError::RpcUrl)?;
        // The nonce is read from the node before each send, never cached: a send the contract
        // refuses at estimation would otherwise use up a cached nonce, and every later transaction
        // would wait behind the gap for good. The relayer sends one transaction at a time.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(EthereumWallet::from(signer))
            .connect_http(url)
            .erased();
        let contract = RevShare::new(oracle.domain().verifying_contract(), provider);
        Ok(Relayer {
            store,
            oracle,
            contract,
            config: config.clone(),
            metrics,
            clock,
            backoff: Mutex::new(HashMap::new()),
        })
    }

    /// Starts the relayer on the current runtime: it relays what is waiting, then waits to be woken
    /// (or polls, for reports another process stored).
    pub fn start(self: Arc<Self>, doorbell: Doorbell) -> Running {
        let worker = doorbell.clone();
        let task = tokio::spawn(async move {
            let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
            let max_backoff = Duration::from_millis(self.config.max_backoff_ms.max(1));
            let mut backoff = Duration::from_millis(200).min(max_backoff);
            while !worker.is_stopping() {
                match self.step().await {
                    Ok(Step::Progress) => {
                        backoff = Duration::from_millis(200).min(max_backoff);
                        continue;
                    }
                    Ok(Step::Idle) => {
                        backoff = Duration::from_millis(200).min(max_backoff);
                        let wait = self.next_retry().map_or(poll, |retry| retry.min(poll));
                        tokio::select! {
                            () = worker.rung() => {},
                            () = tokio::time::sleep(wait) => {},
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64,
                            "reading the outbox failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(max_backoff);
                    }
                }
            }
        });
        Running::new(doorbell, task)
    }

    /// One pass: takes the first open report of every chain that may move one step (applied,
    /// refused, re-issued, or an error that backs off that chain alone). `Progress` when any
    /// report moved; an error only when the outbox cannot be read.
    pub async fn step(&self) -> Result<Step, RelayError> {
        let fronts = self.store.open_chain_fronts(self.oracle.domain()).await?;
        let mut progress = false;
        for row in movable(&fronts) {
            let chain = row.signed.chain();
            if self.backing_off(chain) {
                continue;
            }
            match self.step_report(row).await {
                Ok(step) => {
                    self.backoff.lock().expect("not poisoned").remove(&chain);
                    progress |= step == Step::Progress;
                }
                Err(e) => {
                    let delay = self.back_off(chain);
                    tracing::warn!(error = %e, report = row.id, %chain,
                        retry_in_ms = delay.as_millis() as u64,
                        "relaying a report failed; retrying its chain while the others go on");
                    self.metrics.relay_retries.inc();
                }
            }
        }
        Ok(if progress { Step::Progress } else { Step::Idle })
    }

    /// Whether `chain` failed lately and waits before its next try.
    fn backing_off(&self, chain: ChainKey) -> bool {
        let backoff = self.backoff.lock().expect("not poisoned");
        backoff
            .get(&chain)
            .is_some_and(|b| Instant::now() < b.until)
    }

    /// Records a failure of `chain`; returns how long it now waits.
    fn back_off(&self, chain: ChainKey) -> Duration {
        let max = Duration::from_millis(self.config.max_backoff_ms.max(1));
        let mut backoff = self.backoff.lock().expect("not poisoned");
        let delay = backoff
            .get(&chain)
            .map_or(Duration::from_millis(200), |b| b.delay * 2)
            .min(max);
        backoff.insert(
            chain,
            ChainBackoff {
                delay,
                until: Instant::now() + delay,
            },
        );
        delay
    }

    /// How long until the first backing-off chain may try again, if one is.
    fn next_retry(&self) -> Option<Duration> {
        let now = Instant::now();
        self.backoff
            .lock()
            .expect("not poisoned")
            .values()
            .map(|b| b.until.saturating_duration_since(now))
            .min()
    }

    /// Takes one chain's first open report one step.
    async fn step_report(&self, row: &StoredReport) -> Result<Step, RelayError> {
        let set = self.store.signer_set_before(row.id, &self.oracle).await?;
        let verified = match &row.signed {
            StoredSigned::Pool(signed) => verify(signed, &set).map(drop),
            StoredSigned::Signer(signed) => verify(signed, &set).map(drop),
        };
        if let Err(e) = verified {
            return self
                .unlandable(row, &format!("failed local verification: {e}"))
                .await;
        }

        // The time first: a report that lands after this read is in a block at least this late.
        let chain_time = self.chain_time().await?;
        let head = self.chain_head(&row.signed).await?;
        let seq = row.signed.seq();
        if head.seq >= seq {
            return self.already_on_chain(row, head).await;
        }
        if head.seq + 1 != seq || head.digest != row.signed.prev_hash() {
            let reason = format!(
                "does not follow the chain's head (seq {}, digest {}): an earlier report of this chain is missing",
                head.seq, head.digest
            );
            return self.refuse(row, &reason).await;
        }
        if chain_time > row.signed.valid_until() {
            return self.reissue(row, chain_time).await;
        }
        self.submit(row).await
    }

    /// The latest block's timestamp: the chain's own time, which decides whether a report expired.
    async fn chain_time(&self) -> Result<u64, RelayError> {
        let block = self
            .contract
            .provider()
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(node_error)?
            .ok_or_else(|| RelayError::Node("the node has no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// Re-issues `row`, whose window closed before `chain_time`, and the open reports after it in
    /// its chain, with a fresh window; the next step sends the first of them.
    async fn reissue(&self, row: &StoredReport, chain_time: u64) -> Result<Step, RelayError> {
        let reissued = self
            .store
            .reissue_expired(row, &self.oracle, chain_time, self.clock.now())
            .await?;
        tracing::warn!(
            report = row.id,
            chain = %row.signed.chain(),
            seq = row.signed.seq(),
            valid_until = row.signed.valid_until(),
            chain_time,
            reissued = reissued.len(),
            "report expired before it landed: re-signed it and the open reports after it in its chain with a fresh window"
        );
        Ok(self.reissued(&reissued))
    }

    /// Re-signs `row`, refused because a rotation landed before it, and the open reports after
    /// it in its pool, with the signer set in force; they then land after the rotation.
    async fn resign_after_rotation(&self, row: &StoredReport) -> Result<Step, RelayError> {
        let chain_time = self.chain_time().await?;
        let reissued = self
            .store
            .reissue_after_rotation(row, &self.oracle, chain_time, self.clock.now())
            .await?;
        tracing::warn!(
            report = row.id,
            chain = %row.signed.chain(),
            seq = row.signed.seq(),
            reissued = reissued.len(),
            "a rotation landed before this report: re-signed it and the open reports after it in its chain with the set in force"
        );
        Ok(self.reissued(&reissued))
    }

    fn reissued(&self, reissued: &[crate::store::Reissue]) -> Step {
        for reissue in reissued {
            tracing::info!(
                seq = reissue.seq,
                superseded = %reissue.superseded,
                successor = %reissue.successor,
                "report superseded by its re-issue"
            );
        }
        self.metrics.reports_reissued.inc_by(reissued.len() as u64);
        Step::Progress
    }

    async fn chain_head(&self, signed: &StoredSigned) -> Result<Head, RelayError> {
        let (seq, digest) = match signed {
            StoredSigned::Pool(signed) => {
                let id = signed.report().id();
                let head = self
                    .contract
                    .poolHead(id.community(), id.pool())
                    .call()
                    .await
                    .map_err(node_error)?;
                (head.version, head.lastDigest)
            }
            StoredSigned::Signer(_) => {
                let head = self
                    .contract
                    .signerHead()
                    .call()
                    .await
                    .map_err(node_error)?;
                (head.seq, head.lastDigest)
            }
        };
        Ok(Head {
            seq,
            digest: crate::report::Digest::new(digest),
        })
    }

    async fn already_on_chain(&self, row: &StoredReport, head: Head) -> Result<Step, RelayError> {
        if head.seq == row.signed.seq() && head.digest != row.signed.digest() {
            let reason = format!(
                "the chain holds another report at seq {} (digest {})",
                head.seq, head.digest
            );
            return self.refuse(row, &reason).await;
        }
        tracing::info!(
            report = row.id,
            seq = row.signed.seq(),
            "report is already on chain"
        );
        self.store
            .mark_report_applied(row.id, row.tx_hash, row.block_number, self.clock.now())
            .await?;
        self.metrics.reports_applied.inc();
        Ok(Step::Progress)
    }

    async fn submit(&self, row: &StoredReport) -> Result<Step, RelayError> {
        let sent = match &row.signed {
            StoredSigned::Pool(signed) => {
                let call = self.contract.submitPoolReport(
                    RevShare::PoolReport::from(signed.report()),
                    Bytes::from(signed.blob()),
                );
                // Estimated on the pending block, the one it would land in, as the node's own
                // estimate for the send would be: a window that closes before it shows here.
                match call.clone().block(BlockId::pending()).estimate_gas().await {
                    Ok(gas) if gas > TRANSACTION_GAS_CAP => {
                        let reason = format!(
                            "it needs {gas} gas, which exceeds the gas cap of {TRANSACTION_GAS_CAP} a transaction"
                        );
                        return self.unlandable(row, &reason).await;
                    }
                    Ok(gas) => call.gas(gas_with_margin(gas)).send().await,
                    Err(e) => Err(e),
                }
            }
            StoredSigned::Signer(signed) => {
                let call = self.contract.submitSignerReport(
                    RevShare::SignerReport::from(signed.report()),
                    Bytes::from(signed.blob()),
                );
                call.send().await
            }
        };
        let pending = match sent {
            Ok(pending) => pending,
            Err(e) => return self.send_failed(row, e).await,
        };
        let tx_hash = *pending.tx_hash();
        self.store
            .mark_report_submitted(row.id, tx_hash, self.clock.now())
            .await?;
        tracing::info!(report = row.id, seq = row.signed.seq(), tx = %tx_hash, "report submitted");
        let receipt = pending
            .with_timeout(Some(Duration::from_secs(
                self.config.receipt_timeout_secs.max(1),
            )))
            .get_receipt()
            .await
            .map_err(|e| {
                RelayError::Node(format!(
                    "no receipt for {tx_hash}: {}",
                    without_urls(&e.to_string())
                ))
            })?;
        if receipt.status() {
            self.store
                .mark_report_applied(
                    row.id,
                    Some(tx_hash),
                    receipt.block_number,
                    self.clock.now(),
                )
                .await?;
            self.metrics.reports_applied.inc();
            tracing::info!(report = row.id, tx = %tx_hash, block = receipt.block_number, "report applied");
            Ok(Step::Progress)
        } else {
            // Reverted after estimation passed: the chain moved in between. The next step reads
            // the head again and decides.
            self.store
                .mark_report_retry(
                    row.id,
                    &format!("transaction {tx_hash} reverted"),
                    self.clock.now(),
                )
                .await?;
            Ok(Step::Progress)
        }
    }

    /// Sorts a failed send: the contract's refusal (seen when the node estimates gas) or the node.
    async fn send_failed(
        &self,
        row: &StoredReport,
        error: alloy::contract::Error,
    ) -> Result<Step, RelayError> {
        let Some(refusal) = error.as_decoded_interface_error::<RevShareErrors>() else {
            return Err(node_error(error));
        };
        match refusal {
            // Landed meanwhile: the next step finds it on chain.
            RevShareErrors::ReportReplayed(_) => Ok(Step::Progress),
            RevShareErrors::ReportNotYetValid(e) => Err(RelayError::Node(format!(
                "the report is valid from {}, the chain is at {}",
                e.validFrom, e.timestamp
            ))),
            // The block it would land in is past its window: the chain's clock passed it between
            // the check and the send.
            RevShareErrors::ReportExpired(_) => {
                let chain_time = self.chain_time().await?;
                self.reissue(row, chain_time).await
            }
            RevShareErrors::SignerRotatedOut(_) if matches!(row.signed, StoredSigned::Pool(_)) => {
                self.resign_after_rotation(row).await
            }
            other => {
                let reason = format!("the contract refused it: {other:?}");
                self.unlandable(row, &reason).await
            }
        }
    }

    /// Refuses `row`, which the chain can never accept, and moves its chain on: the open reports
    /// after it are re-signed one seq lower, so the next lands in its place.
    async fn unlandable(&self, row: &StoredReport, reason: &str) -> Result<Step, RelayError> {
        let chain_time = self.chain_time().await?;
        let reissued = self
            .store
            .refuse_and_rebase(row, reason, &self.oracle, chain_time, self.clock.now())
            .await?;
        tracing::error!(
            report = row.id,
            chain = %row.signed.chain(),
            seq = row.signed.seq(),
            reason,
            reissued = reissued.len(),
            "report can never land: refused it, and its chain moves on without it"
        );
        self.metrics.reports_refused.inc();
        Ok(self.reissued(&reissued))
    }

    async fn refuse(&self, row: &StoredReport, reason: &str) -> Result<Step, RelayError> {
        tracing::error!(
            report = row.id,
            seq = row.signed.seq(),
            reason,
            "report refused; it will not be sent"
        );
        self.store
            .mark_report_refused(row.id, reason, self.clock.now())
            .await?;
        self.metrics.reports_refused.inc();
        Ok(Step::Progress)
    }
}

/// Most gas one transaction may use (EIP-7825): a report that needs more can never land. The
/// contract's size bound keeps every report the service signs far below it.
pub const TRANSACTION_GAS_CAP: u64 = 1 << 24;

/// The gas limit sent for an estimate: a fifth more, for state that changes between the
/// estimate and the block, within the cap.
fn gas_with_margin(estimate: u64) -> u64 {
    estimate
        .saturating_add(estimate / 5)
        .min(TRANSACTION_GAS_CAP)
}

/// A node's failure in words, without the node's URL.
fn node_error(e: impl std::fmt::Display) -> RelayError {
    RelayError::Node(without_urls(&e.to_string()))
}
