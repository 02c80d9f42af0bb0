//! Payment pointers and wallet addresses, as admins, webhooks and member fields give them. A
//! parsed wallet is in normal form: parsing its URL or its pointer again gives the same wallet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_oracle::domain::WalletAddress;

fuzz_target!(|input: &str| {
    let Ok(wallet) = WalletAddress::parse(input) else {
        return;
    };
    let from_url = WalletAddress::parse(wallet.as_str()).expect("a normal form parses");
    assert_eq!(from_url, wallet, "the normal form is a fixed point");
    let from_pointer =
        WalletAddress::parse(&wallet.payment_pointer()).expect("its payment pointer parses");
    assert_eq!(from_pointer, wallet, "the pointer names the same wallet");
});
