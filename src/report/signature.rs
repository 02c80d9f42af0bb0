//! Signatures in the one form the contract takes: 65 bytes `r ‖ s ‖ v`, v = 27 or 28, s in the lower
//! half of the group order (the contract refuses the other, malleable half), over a report's digest.
//! Recovery gives the Ethereum address that signed, as `ecrecover` does.
//!
//! This module checks one signature; [`signed`](super::signed) checks a set of them against a signer
//! set. It uses the `secp256k1` crate's context without randomisation, so it takes no randomness.

use std::fmt;
use std::sync::LazyLock;

use alloy_primitives::{Address, B256, U256, hex, keccak256};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{All, Message, PublicKey, Secp256k1};

use super::digest::Digest;
use super::error::SignatureFault;

/// secp256k1's group order n.
const ORDER: U256 = U256::from_be_bytes(hex!(
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
));
/// n / 2, the largest s the contract accepts (OpenZeppelin's `ECDSA.tryRecover`).
const HALF_ORDER: U256 = U256::from_be_bytes(hex!(
    "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"
));

/// One context for signing and recovery, built once (building one allocates and fills tables).
static CONTEXT: LazyLock<Secp256k1<All>> = LazyLock::new(Secp256k1::new);

pub(super) fn context() -> &'static Secp256k1<All> {
    &CONTEXT
}

/// The Ethereum address of a public key: the last 20 bytes of keccak256 of its 64-byte
/// uncompressed form (without the 0x04 prefix).
pub(super) fn address_of(key: &PublicKey) -> Address {
    let uncompressed = key.serialize_uncompressed();
    Address::from_slice(&keccak256(&uncompressed[1..])[12..])
}

/// A 65-byte `r ‖ s ‖ v` signature with low s and v = 27 or 28: every value of this type is one the
/// contract's signature check accepts as well-formed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; Signature::LEN]);

impl Signature {
    /// Bytes per signature in the contract's signature blob.
    pub const LEN: usize = 65;

    /// Checks 65 bytes as the contract would: v must be 27 or 28 and s at most n/2. Whether r and s
    /// recover a key is known only on [`recover`](Self::recover).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignatureFault> {
        let bytes: [u8; Self::LEN] = bytes
            .try_into()
            .map_err(|_| SignatureFault::Length(bytes.len()))?;
        if !matches!(bytes[64], 27 | 28) {
            return Err(SignatureFault::RecoveryByte(bytes[64]));
        }
        if U256::from_be_slice(&bytes[32..64]) > HALF_ORDER {
            return Err(SignatureFault::HighS);
        }
        Ok(Signature(bytes))
    }

    /// The 65 bytes, as they go into the contract's signature blob.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// The signature's r.
    pub fn r(&self) -> B256 {
        B256::from_slice(&self.0[..32])
    }

    /// The signature's s (at most n/2).
    pub fn s(&self) -> B256 {
        B256::from_slice(&self.0[32..64])
    }

    /// The signature's v: 27 or 28.
    pub fn v(&self) -> u8 {
        self.0[64]
    }

    /// Turns a signature made by libsecp256k1 into the contract's form: s is normalised to the
    /// lower half (flipping the recovery id), and a recovery id of 2 or 3 (r ≥ n, about one chance
    /// in 2^127), which `ecrecover` cannot express, gives `None` so the signer can sign again.
    pub(super) fn from_recoverable(signature: &RecoverableSignature) -> Option<Self> {
        let (id, compact) = signature.serialize_compact();
        let mut recovery = i32::from(id);
        if recovery > 1 {
            return None;
        }
        let mut s = U256::from_be_slice(&compact[32..]);
        if s > HALF_ORDER {
            s = ORDER - s;
            recovery ^= 1;
        }
        assert!(s <= HALF_ORDER, "s was normalised to the lower half");
        let mut bytes = [0u8; Self::LEN];
        bytes[..32].copy_from_slice(&compact[..32]);
        bytes[32..64].copy_from_slice(&s.to_be_bytes::<32>());
        bytes[64] = 27 + u8::try_from(recovery).expect("recovery id is 0 or 1 here");
        Some(Signature(bytes))
    }

    /// The address whose key made this signature over `digest` (as `ecrecover` computes it). A
    /// signature over another digest recovers to some other address, not to an error.
    pub fn recover(&self, digest: Digest) -> Result<Address, SignatureFault> {
        let id = RecoveryId::try_from(i32::from(self.0[64] - 27))
            .map_err(|_| SignatureFault::RecoveryByte(self.0[64]))?;
        let signature = RecoverableSignature::from_compact(&self.0[..64], id)
            .map_err(|_| SignatureFault::Unrecoverable)?;
        let key = context()
            .recover_ecdsa(Message::from_digest(digest.get().0), &signature)
            .map_err(|_| SignatureFault::Unrecoverable)?;
        Ok(address_of(&key))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode_prefixed(self.0))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_prefixed(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_order_is_half_the_order() {
        assert_eq!(ORDER >> 1, HALF_ORDER);
    }

    #[test]
    fn malformed_signatures_are_refused() {
        assert_eq!(
            Signature::from_bytes(&[0u8; 64]),
            Err(SignatureFault::Length(64))
        );
        let mut bytes = [1u8; 65];
        bytes[64] = 1;
        assert_eq!(
            Signature::from_bytes(&bytes),
            Err(SignatureFault::RecoveryByte(1))
        );
        bytes[64] = 27;
        bytes[32..64].copy_from_slice(&(HALF_ORDER + U256::from(1)).to_be_bytes::<32>());
        assert_eq!(Signature::from_bytes(&bytes), Err(SignatureFault::HighS));
        bytes[32..64].copy_from_slice(&HALF_ORDER.to_be_bytes::<32>());
        assert!(Signature::from_bytes(&bytes).is_ok());
    }

    #[test]
    fn zero_r_and_s_recover_nothing() {
        let mut bytes = [0u8; 65];
        bytes[64] = 27;
        let signature = Signature::from_bytes(&bytes).unwrap();
        assert_eq!(
            signature.recover(Digest::new(B256::repeat_byte(1))),
            Err(SignatureFault::Unrecoverable)
        );
    }
}
