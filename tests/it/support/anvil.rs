//! A real local chain for tests: Anvil from the repository's pinned npm package (run `npm ci`, as
//! README's test command does), started on a free port and stopped when the value drops, with
//! the RevShare contract deployed by the library's own `chain::deploy`.

use std::path::PathBuf;

use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use revshare_oracle::report::{SignerSet, SigningKey};

/// The anvil binary the repository pins.
pub fn anvil_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
}

/// A running Anvil and a provider that sends from its first funded account.
pub struct LocalChain {
    pub anvil: AnvilInstance,
    pub provider: DynProvider,
}

impl LocalChain {
    /// Starts Anvil (chain id 31337, blocks mined on each transaction).
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts Anvil with extra command-line arguments, such as `--block-time`.
    pub async fn start_with(args: &[&str]) -> Self {
        let binary = anvil_binary();
        assert!(
            binary.exists(),
            "anvil is missing at {}: run `npm ci` at the repository root",
            binary.display()
        );
        let anvil = Anvil::at(binary).args(args.iter().copied()).spawn();
        let provider = provider_for(&anvil, 0);
        LocalChain { anvil, provider }
    }

    /// Starts Anvil on `port` with extra arguments, for a test that stops a node and starts it
    /// again where the service expects it.
    pub async fn start_on(port: u16, args: &[String]) -> Self {
        let anvil = Anvil::at(anvil_binary())
            .port(port)
            .args(args.iter().cloned())
            .spawn();
        let provider = provider_for(&anvil, 0);
        LocalChain { anvil, provider }
    }

    /// Stops Anvil as Ctrl-C would (SIGTERM), so that `--state` saves the chain, and waits for it.
    pub fn stop_gracefully(mut self) {
        let pid = self.anvil.child().id();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "anvil could not be signalled");
        self.anvil
            .child_mut()
            .wait()
            .expect("anvil exits after SIGTERM");
    }

    /// The HTTP endpoint.
    pub fn rpc_url(&self) -> String {
        self.anvil.endpoint()
    }

    /// The private key of Anvil's funded account `index`, as the oracle's signing key type.
    pub fn oracle_key(&self, index: usize) -> SigningKey {
        let bytes: [u8; 32] = self.anvil.keys()[index].to_bytes().into();
        SigningKey::from_bytes(&bytes).expect("anvil's keys are valid secp256k1 keys")
    }

    /// Deploys RevShare with `signers`; returns its address and deployment block.
    pub async fn deploy(&self, signers: &SignerSet) -> (Address, u64) {
        revshare_oracle::chain::deploy::deploy(&self.provider, signers)
            .await
            .expect("RevShare deploys on anvil")
    }
}

/// A provider sending from Anvil's funded account `index`.
pub fn provider_for(anvil: &AnvilInstance, index: usize) -> DynProvider {
    let signer = PrivateKeySigner::from(anvil.keys()[index].clone());
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(anvil.endpoint_url())
        .erased()
}

/// A port that was free a moment ago on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on loopback")
}
