//! The webhook signature: `sha256=` and the lowercase hex HMAC-SHA256 of the exact raw body,
//! keyed with the webhook secret; compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What comes before the hex digest in `X-Discourse-Event-Signature`.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// Why a signature was refused. None of them says anything about the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Discourse-Event-Signature` header.
    #[error("the delivery carries no X-Discourse-Event-Signature header")]
    Missing,
    /// The header is not `sha256=` and 64 hex digits.
    #[error("X-Discourse-Event-Signature must be `sha256=` and 64 hex digits")]
    Malformed,
    /// The digest does not match the body and the community's secret.
    #[error("X-Discourse-Event-Signature does not match the body")]
    Mismatch,
}

fn digest(secret: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The header value Discourse sends for this body and secret.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!("{SIGNATURE_PREFIX}{}", hex::encode(digest(secret, body)))
}

/// Checks a presented `X-Discourse-Event-Signature` against the body and secret.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    presented: Option<&str>,
) -> Result<(), SignatureError> {
    let presented = presented.ok_or(SignatureError::Missing)?;
    let hex_digits = presented
        .trim()
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(SignatureError::Malformed)?;
    let mut given = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut given).map_err(|_| SignatureError::Malformed)?;
    if bool::from(digest(secret, body).ct_eq(&given)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"secret-at-least-12";
    const VECTOR: &str = "sha256=b9580a75b1bff932573f10232c839a3fd709af8d3f0251b9a63342fcf88cd240";

    #[test]
    fn the_ping_test_vector_signs_as_documented() {
        assert_eq!(sign(SECRET, br#"{"ping":"OK"}"#), VECTOR);
        assert_eq!(
            verify_signature(SECRET, br#"{"ping":"OK"}"#, Some(VECTOR)),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_or_another_secret_is_a_mismatch() {
        assert_eq!(
            verify_signature(SECRET, br#"{"ping":"OK" }"#, Some(VECTOR)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"secret-at-least-13", br#"{"ping":"OK"}"#, Some(VECTOR)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_told_apart() {
        let body = br#"{"ping":"OK"}"#;
        assert_eq!(
            verify_signature(SECRET, body, None),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "sha256=",
            "sha1=b9580a75b1bff932573f10232c839a3fd709af8d3f0251b9a63342fcf88cd240",
            "b9580a75b1bff932573f10232c839a3fd709af8d3f0251b9a63342fcf88cd240",
            "sha256=b9580a75",
            "sha256=zz580a75b1bff932573f10232c839a3fd709af8d3f0251b9a63342fcf88cd240",
        ] {
            assert_eq!(
                verify_signature(SECRET, body, Some(bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn upper_case_hex_is_accepted_as_the_same_digest() {
        let upper = format!("sha256={}", VECTOR[7..].to_ascii_uppercase());
        assert_eq!(
            verify_signature(SECRET, br#"{"ping":"OK"}"#, Some(&upper)),
            Ok(())
        );
    }
}
