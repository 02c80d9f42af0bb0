//! Deploying the RevShare contract with its first signer set: for local chains (the anvil
//! scripts, tests) and for anyone setting up a new deployment from the command line.

use alloy::primitives::Address;
use alloy::providers::Provider;

use super::contract::RevShare;
use crate::report::SignerSet;

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The node refused or could not run the deployment transaction.
    #[error("deploying RevShare failed: {0}")]
    Contract(#[from] alloy::contract::Error),
    /// The transaction was sent but its receipt could not be had.
    #[error("the deployment's receipt could not be read: {0}")]
    Receipt(#[from] alloy::providers::PendingTransactionError),
    /// The receipt names no contract: the deployment reverted.
    #[error("the deployment transaction created no contract")]
    NotDeployed,
}

/// Deploys RevShare from the provider's default sender with `signers` as epoch 1 and waits for
/// the receipt; returns the contract's address and the block it was deployed in (where an
/// indexer starts reading).
pub async fn deploy<P: Provider>(
    provider: P,
    signers: &SignerSet,
) -> Result<(Address, u64), DeployError> {
    deploy_from(provider, signers, None).await
}

/// As [`deploy`], sent from `from` when given: an account the node holds unlocked, as Anvil's are.
pub async fn deploy_from<P: Provider>(
    provider: P,
    signers: &SignerSet,
    from: Option<Address>,
) -> Result<(Address, u64), DeployError> {
    let mut builder =
        RevShare::deploy_builder(provider, signers.signers().to_vec(), signers.threshold());
    if let Some(from) = from {
        builder = builder.from(from);
    }
    let receipt = builder.send().await?.get_receipt().await?;
    let address = receipt.contract_address.ok_or(DeployError::NotDeployed)?;
    let block = receipt.block_number.unwrap_or_default();
    Ok((address, block))
}

/// What `ensure_deployed` found or did.
#[derive(Debug, PartialEq, Eq)]
pub enum Deployment {
    /// The expected contract was already there, with the expected first signer set or a later one.
    AlreadyDeployed {
        /// Its address.
        address: Address,
    },
    /// A new contract was deployed.
    Deployed {
        /// Its address.
        address: Address,
        /// The block it was deployed in.
        block: u64,
    },
}

/// Why `ensure_deployed` stopped.
#[derive(Debug, thiserror::Error)]
pub enum EnsureError {
    /// Deploying failed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// The node could not be asked.
    #[error("the chain node could not be asked: {0}")]
    Node(String),
    /// Something else is at the expected address.
    #[error(
        "{address} holds code that is not a RevShare contract with this oracle's signers: {detail}"
    )]
    Occupied {
        /// The address.
        address: Address,
        /// What differs.
        detail: String,
    },
}

/// Deploys RevShare with `signers` (from `from`, when given) unless the contract at `expected` already is one whose first
/// signer set was `signers` (checked through its current set when it never rotated). Safe to run
/// again and again, as the local scripts do on every start.
pub async fn ensure_deployed<P: Provider>(
    provider: P,
    expected: Address,
    signers: &SignerSet,
    from: Option<Address>,
) -> Result<Deployment, EnsureError> {
    let code = provider
        .get_code_at(expected)
        .await
        .map_err(|e| EnsureError::Node(e.to_string()))?;
    if code.is_empty() {
        let (address, block) = deploy_from(provider, signers, from).await?;
        return Ok(Deployment::Deployed { address, block });
    }
    let contract = RevShare::new(expected, &provider);
    let current = contract
        .signerSet()
        .call()
        .await
        .map_err(|e| EnsureError::Occupied {
            address: expected,
            detail: format!("signerSet() failed: {e}"),
        })?;
    let mut found = current.signers.clone();
    found.sort();
    let mut wanted = signers.signers().to_vec();
    wanted.sort();
    if current.epoch == 1 && (found != wanted || current.threshold != signers.threshold()) {
        return Err(EnsureError::Occupied {
            address: expected,
            detail: format!(
                "its signers are {found:?} ({} needed), this oracle's are {wanted:?} ({} needed)",
                current.threshold,
                signers.threshold()
            ),
        });
    }
    Ok(Deployment::AlreadyDeployed { address: expected })
}
