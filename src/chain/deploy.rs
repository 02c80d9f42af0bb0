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
    let builder =
        RevShare::deploy_builder(provider, signers.signers().to_vec(), signers.threshold());
    let receipt = builder.send().await?.get_receipt().await?;
    let address = receipt.contract_address.ok_or(DeployError::NotDeployed)?;
    let block = receipt.block_number.unwrap_or_default();
    Ok((address, block))
}
