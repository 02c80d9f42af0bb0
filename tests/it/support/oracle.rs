//! An honest oracle for chain tests: builds each pool's next report with the report module, signs
//! it with the given keys, and submits it through the contract bindings, keeping every pool's
//! head so that reports chain as the service's would.

use std::collections::HashMap;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, TxHash, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use revshare_oracle::chain::contract::RevShare;
use revshare_oracle::chain::convert::{
    pool_report_from_contract, pool_report_to_contract, signer_report_to_contract,
};
use revshare_oracle::domain::{WalletAddress, Weight};
use revshare_oracle::report::{
    Domain, EntryTree, Head, PoolChange, PoolId, PoolReport, ReportEntry, SignedReport,
    SignerChange, SignerReport, SignerSet, SigningKey, ValidityWindow, abi,
};

/// A pool of the tests' community, by number.
pub fn pool(n: u32) -> PoolId {
    PoolId::from_hashes(keccak256("forum"), keccak256(format!("pool-{n}")))
}

/// The evidence document of a decision, and the decision hash a report carries for it.
pub fn evidence_of(pool: u32, seq: u64) -> (B256, Vec<u8>) {
    let document = format!("{{\"pool\":{pool},\"seq\":{seq},\"votes\":[\"yes\",\"yes\"]}}");
    (keccak256(&document), document.into_bytes())
}

/// Signs and submits reports to one deployed contract.
pub struct Oracle {
    pub provider: DynProvider,
    pub contract: Address,
    pub domain: Domain,
    keys: Vec<SigningKey>,
    heads: HashMap<PoolId, Head>,
    signer_head: Head,
}

impl Oracle {
    /// An oracle signing with `keys` for the contract at `contract`.
    pub async fn new(provider: DynProvider, contract: Address, keys: Vec<SigningKey>) -> Self {
        let chain_id = provider.get_chain_id().await.expect("the node answers");
        Oracle {
            provider,
            contract,
            domain: Domain::new(chain_id, contract),
            keys,
            heads: HashMap::new(),
            signer_head: Head::GENESIS,
        }
    }

    /// The next report of `pool` with one entry of `weight`, signed by the oracle's keys.
    pub fn next_report(&mut self, pool_number: u32, weight: u64) -> SignedReport<PoolReport> {
        let id = pool(pool_number);
        let head = self.heads.get(&id).copied().unwrap_or(Head::GENESIS);
        self.report_after(pool_number, head, weight)
    }

    /// A report of `pool` following `head` (e.g. the contract's head at a fork), signed.
    pub fn report_after(
        &mut self,
        pool_number: u32,
        head: Head,
        weight: u64,
    ) -> SignedReport<PoolReport> {
        let (decision, _) = evidence_of(pool_number, head.seq + 1);
        self.report_deciding(pool_number, head, weight, decision)
    }

    /// A report of `pool` following `head` whose decision hash is `decision`, signed.
    pub fn report_deciding(
        &mut self,
        pool_number: u32,
        head: Head,
        weight: u64,
        decision: B256,
    ) -> SignedReport<PoolReport> {
        let id = pool(pool_number);
        let entries = vec![ReportEntry::new(
            WalletAddress::parse(&format!("$wallet.example/p{pool_number}")).unwrap(),
            Weight::new(weight).unwrap(),
            None,
        )];
        let change = PoolChange::new(
            id,
            entries,
            decision,
            1,
            1_700_000_000,
            ValidityWindow::new(0, u64::MAX).unwrap(),
        )
        .unwrap();
        let report = PoolReport::after(head, change).unwrap();
        self.heads.insert(id, Head::of(&report, &self.domain));
        let keys: Vec<&SigningKey> = self.keys.iter().collect();
        SignedReport::sign(report, self.domain, &keys).unwrap()
    }

    /// Every pool's head as this oracle knows it (to go back to after a revert).
    pub fn heads(&self) -> HashMap<PoolId, Head> {
        self.heads.clone()
    }

    /// Takes back heads saved with [`Oracle::heads`], after the chain was reverted.
    pub fn restore_heads(&mut self, heads: HashMap<PoolId, Head>) {
        self.heads = heads;
    }

    /// The calldata of `submitPoolReport` for a signed report.
    pub fn pool_call(signed: &SignedReport<PoolReport>) -> Bytes {
        RevShare::submitPoolReportCall {
            report: pool_report_to_contract(&abi::PoolReport::from(signed.report())),
            signatures: Bytes::from(signed.blob()),
        }
        .abi_encode()
        .into()
    }

    /// Submits a signed report and checks that the contract applied it.
    pub async fn submit(&self, signed: &SignedReport<PoolReport>) -> TxHash {
        let tx = TransactionRequest::default()
            .with_to(self.contract)
            .with_input(Self::pool_call(signed));
        self.send(tx).await
    }

    /// Deploys a forwarder: a contract that calls `self.contract` with its own calldata and
    /// returns (or reverts) with the answer. A Safe, an ERC-4337 account or any wrapper submits
    /// a report the same way, so the contract sees the forwarder, not the account, as the caller.
    pub async fn deploy_forwarder(&self) -> Address {
        let mut runtime = vec![0x36, 0x5f, 0x5f, 0x37, 0x5f, 0x5f, 0x36, 0x5f, 0x5f, 0x73];
        runtime.extend_from_slice(self.contract.as_slice());
        runtime.extend_from_slice(&[
            0x5a, 0xf1, 0x3d, 0x5f, 0x5f, 0x3e, 0x60, 0x2a, 0x57, 0x3d, 0x5f, 0xfd, 0x5b, 0x3d,
            0x5f, 0xf3,
        ]);
        assert_eq!(runtime[0x2a], 0x5b, "the jump lands on its JUMPDEST");
        let length = u8::try_from(runtime.len()).expect("a short runtime");
        let mut init = vec![0x60, length, 0x80, 0x60, 0x09, 0x5f, 0x39, 0x5f, 0xf3];
        init.extend_from_slice(&runtime);
        let pending = self
            .provider
            .send_transaction(TransactionRequest::default().with_deploy_code(init))
            .await
            .expect("the node accepts the deployment");
        let receipt = receipt_of(&self.provider, *pending.tx_hash()).await;
        receipt.contract_address.expect("the forwarder was created")
    }

    /// Submits a signed report through `forwarder` (see [`Oracle::deploy_forwarder`]).
    pub async fn submit_through(
        &self,
        forwarder: Address,
        signed: &SignedReport<PoolReport>,
    ) -> TxHash {
        let tx = TransactionRequest::default()
            .with_to(forwarder)
            .with_input(Self::pool_call(signed));
        self.send(tx).await
    }

    /// Signs and submits the next report of `pool`, committing to the evidence hashing to
    /// `decision`.
    pub async fn publish_decided(
        &mut self,
        pool_number: u32,
        weight: u64,
        decision: B256,
    ) -> TxHash {
        let head = self
            .heads
            .get(&pool(pool_number))
            .copied()
            .unwrap_or(Head::GENESIS);
        let signed = self.report_deciding(pool_number, head, weight, decision);
        self.submit(&signed).await
    }

    /// Signs and submits the next report of `pool`.
    pub async fn publish(&mut self, pool_number: u32, weight: u64) -> TxHash {
        let signed = self.next_report(pool_number, weight);
        self.submit(&signed).await
    }

    /// Rotates the signer set to `keys` (signed by the current keys) and signs with them from
    /// now on.
    pub async fn rotate(&mut self, keys: Vec<SigningKey>, threshold: u8) -> TxHash {
        let set =
            SignerSet::new(keys.iter().map(SigningKey::address).collect(), threshold).unwrap();
        let change = SignerChange {
            set,
            observed_at: 1_700_000_000,
            window: ValidityWindow::new(0, u64::MAX).unwrap(),
        };
        let report = SignerReport::after(self.signer_head, change).unwrap();
        self.signer_head = Head::of(&report, &self.domain);
        let signing: Vec<&SigningKey> = self.keys.iter().collect();
        let signed = SignedReport::sign(report, self.domain, &signing).unwrap();
        let input: Bytes = RevShare::submitSignerReportCall {
            report: signer_report_to_contract(&abi::SignerReport::from(signed.report())),
            signatures: Bytes::from(signed.blob()),
        }
        .abi_encode()
        .into();
        let hash = self
            .send(
                TransactionRequest::default()
                    .with_to(self.contract)
                    .with_input(input),
            )
            .await;
        self.keys = keys;
        hash
    }

    async fn send(&self, tx: TransactionRequest) -> TxHash {
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .expect("the node accepts the submission");
        let hash = *pending.tx_hash();
        let receipt = receipt_of(&self.provider, hash).await;
        assert!(receipt.status(), "the contract refused the report {hash}");
        hash
    }
}

/// The receipt of a transaction anvil is mining, polled a bounded number of times.
pub async fn receipt_of(
    provider: &DynProvider,
    hash: TxHash,
) -> alloy::rpc::types::TransactionReceipt {
    for _ in 0..5_000 {
        if let Some(receipt) = provider
            .get_transaction_receipt(hash)
            .await
            .expect("the node answers")
        {
            return receipt;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    panic!("transaction {hash} was never mined")
}

/// The entries `contract` holds for a pool, as (wallet, weight): those of the pool's last
/// `PoolReportApplied` log, after checking that they are what the contract commits to.
pub async fn on_chain_entries(
    provider: &DynProvider,
    contract: Address,
    community: &str,
    pool: &str,
) -> Vec<(String, u64)> {
    let (community, pool) = (keccak256(community), keccak256(pool));
    let filter = Filter::new()
        .address(contract)
        .event_signature(RevShare::PoolReportApplied::SIGNATURE_HASH)
        .topic1(community)
        .topic2(pool)
        .from_block(0);
    let logs = provider.get_logs(&filter).await.expect("the node answers");
    let commitment = RevShare::new(contract, provider)
        .poolCommitment(community, pool)
        .call()
        .await
        .unwrap();
    let Some(last) = logs.last() else {
        assert_eq!(
            commitment.root,
            B256::ZERO,
            "a pool without reports commits to nothing"
        );
        return Vec::new();
    };
    let applied = RevShare::PoolReportApplied::decode_log_data(last.data()).unwrap();
    let entries = pool_report_from_contract(&applied.report).entries;
    assert_eq!(
        EntryTree::new(&entries).root(),
        commitment.root,
        "the last report's entries are the ones the contract commits to"
    );
    entries
        .into_iter()
        .map(|entry| (entry.wallet, entry.weight.to::<u64>()))
        .collect()
}
