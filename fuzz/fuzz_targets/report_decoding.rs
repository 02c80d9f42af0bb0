//! Reports and signatures as they come back from storage and from the chain: ABI-decoded, then
//! checked into the service's types. A report that decodes re-encodes to the same bytes.
#![no_main]

use alloy_sol_types::SolValue;
use libfuzzer_sys::fuzz_target;
use revshare_oracle::report::{
    Digest, Domain, PoolReport, Signature, SignedReport, SignerReport, SignerSet, abi, verify,
};

fuzz_target!(|data: &[u8]| {
    let domain = Domain::new(31337, Default::default());
    if let Ok(decoded) = abi::PoolReport::abi_decode(data)
        && let Ok(report) = PoolReport::try_from(&decoded)
    {
        let again = abi::PoolReport::from(&report);
        assert_eq!(
            again.abi_encode(),
            decoded.abi_encode(),
            "a checked pool report round-trips"
        );
        if let Ok(signed) = SignedReport::from_blob(report, domain, data) {
            let set = SignerSet::new(vec![Default::default()], 1).expect("one signer is a set");
            let _ = verify(&signed, &set);
        }
    }
    if let Ok(decoded) = abi::SignerReport::abi_decode(data)
        && let Ok(report) = SignerReport::try_from(&decoded)
    {
        let again = abi::SignerReport::from(&report);
        assert_eq!(
            again.abi_encode(),
            decoded.abi_encode(),
            "a checked signer report round-trips"
        );
    }
    if let Ok(signature) = Signature::from_bytes(data) {
        let _ = signature.recover(Digest::ZERO);
    }
});
