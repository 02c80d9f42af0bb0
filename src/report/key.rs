//! Signing keys: a secp256k1 private key and the Ethereum address it signs as. The key signs
//! digests only, deterministically (RFC 6979 nonces, so no randomness is needed or taken).
//!
//! This module does not load keys from files, keystores or the environment (the edge does), and a
//! key never shows in `Debug` output or an error.

use std::fmt;

use alloy_primitives::Address;
use secp256k1::{Message, PublicKey, SecretKey};

use super::digest::Digest;
use super::error::ReportError;
use super::signature::{Signature, address_of, context};

/// A private key of an oracle signer.
pub struct SigningKey {
    secret: SecretKey,
    address: Address,
}

impl SigningKey {
    /// A key from its 32 big-endian bytes; refuses zero and numbers at or above the group order.
    /// The error does not contain the bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, ReportError> {
        let secret = SecretKey::from_byte_array(*bytes).map_err(|_| ReportError::InvalidKey)?;
        let address = address_of(&PublicKey::from_secret_key(context(), &secret));
        Ok(SigningKey { secret, address })
    }

    /// The key's 32 big-endian bytes, for writing it to a key file or keystore. The caller must not
    /// log them and should zero its copy when done.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.secret.secret_bytes()
    }

    /// The address the contract recovers from this key's signatures.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a digest: RFC 6979 deterministic nonce, low s, v = 27 or 28. The same key and digest
    /// always give the same signature.
    pub fn sign(&self, digest: Digest) -> Signature {
        let message = Message::from_digest(digest.get().0);
        let signature = context().sign_ecdsa_recoverable(message, &self.secret);
        if let Some(signature) = Signature::from_recoverable(&signature) {
            return signature;
        }
        // r overflowed the group order (recovery id 2 or 3), which `ecrecover` cannot express: sign
        // again with a counter mixed into the RFC 6979 nonce, which stays deterministic.
        (1u64..)
            .find_map(|attempt| {
                let mut extra = [0u8; 32];
                extra[24..].copy_from_slice(&attempt.to_be_bytes());
                let signature =
                    context().sign_ecdsa_recoverable_with_noncedata(message, &self.secret, &extra);
                Signature::from_recoverable(&signature)
            })
            .expect("a nonce with r below the group order is found within a few attempts")
    }
}

impl fmt::Debug for SigningKey {
    /// Shows the address only: keys never appear in logs or errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("address", &format_args!("{}", self.address))
            .finish_non_exhaustive()
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        // Best effort: the compiler may have copied the key elsewhere before.
        self.secret.non_secure_erase();
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, hex};

    use super::*;

    /// Anvil's first well-known development key (public test data, never a real key).
    const ANVIL_0: [u8; 32] =
        hex!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

    #[test]
    fn a_key_signs_as_its_ethereum_address() {
        let key = SigningKey::from_bytes(&ANVIL_0).unwrap();
        assert_eq!(
            key.address(),
            address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
    }

    #[test]
    fn debug_shows_the_address_and_not_the_key() {
        let key = SigningKey::from_bytes(&ANVIL_0).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("0xf39F"), "{shown}");
        assert!(!shown.to_lowercase().contains("ac0974"), "{shown}");
    }

    #[test]
    fn zero_and_out_of_range_keys_are_refused() {
        assert_eq!(
            SigningKey::from_bytes(&[0u8; 32]).unwrap_err(),
            ReportError::InvalidKey
        );
        assert_eq!(
            SigningKey::from_bytes(&[0xff; 32]).unwrap_err(),
            ReportError::InvalidKey
        );
    }
}
