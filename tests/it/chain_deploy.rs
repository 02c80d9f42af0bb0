//! Deploying RevShare to a real Anvil chain through the library's bindings.

use crate::support;

use revshare_oracle::chain::contract::RevShare;
use revshare_oracle::report::SignerSet;
use support::anvil::LocalChain;

#[tokio::test]
async fn a_deployed_contract_holds_the_signer_set_it_was_given() {
    let chain = LocalChain::start().await;
    let mut signers: Vec<_> = (1..=3).map(|i| chain.oracle_key(i).address()).collect();
    signers.sort();
    let set = SignerSet::new(signers.clone(), 2).unwrap();
    let (address, block) = chain.deploy(&set).await;
    assert!(block >= 1, "the deployment is mined in a block");

    let contract = RevShare::new(address, &chain.provider);
    let current = contract.signerSet().call().await.unwrap();
    assert_eq!(current.signers, signers);
    assert_eq!(current.threshold, 2);
    assert_eq!(current.epoch, 1);
}
