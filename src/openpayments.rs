//! Wallet-address documents (Open Payments): fetched from the chosen wallet with a bounded time
//! and size, checked, and kept in memory for a while, so the Web Monetization endpoint can answer
//! as the wallet itself would.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache;

use crate::config::MonetizationConfig;
use crate::domain::WalletAddress;

/// Why a wallet's document could not be served.
#[derive(Debug, thiserror::Error)]
pub enum WalletDocumentError {
    /// No answer in time, or the connection failed.
    #[error("fetching {wallet} failed: {reason}")]
    Unreachable {
        /// The wallet.
        wallet: WalletAddress,
        /// What the client saw.
        reason: String,
    },
    /// The wallet answered with an error status.
    #[error("{wallet} answered HTTP {status}")]
    Status {
        /// The wallet.
        wallet: WalletAddress,
        /// The status it answered.
        status: u16,
    },
    /// The document is larger than allowed.
    #[error("{wallet} sent more than {limit} bytes")]
    TooLarge {
        /// The wallet.
        wallet: WalletAddress,
        /// The configured limit.
        limit: usize,
    },
    /// The body is not a wallet-address document.
    #[error("{wallet} did not send a wallet-address document: {reason}")]
    NotAWalletDocument {
        /// The wallet.
        wallet: WalletAddress,
        /// What is wrong with it.
        reason: String,
    },
}

/// Whether a document came from memory or from the wallet just now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Served from the cache.
    Cached,
    /// Fetched for this request.
    Fetched,
}

/// Fetches and caches wallet-address documents.
#[derive(Clone)]
pub struct WalletDocuments {
    client: reqwest::Client,
    cache: Cache<WalletAddress, Bytes>,
    max_bytes: usize,
    origin_override: Option<String>,
}

impl WalletDocuments {
    /// A fetcher with the configured timeout, size limit and cache.
    pub fn new(config: &MonetizationConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.fetch_timeout())
            .connect_timeout(config.fetch_timeout())
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("revshare-oracle/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(WalletDocuments {
            client,
            cache: Cache::builder()
                .max_capacity(config.cache_capacity)
                .time_to_live(Duration::from_secs(config.cache_ttl_secs))
                .build(),
            max_bytes: config.max_document_bytes,
            origin_override: config
                .fetch_origin_override
                .clone()
                .map(|o| o.trim_end_matches('/').to_string()),
        })
    }

    /// The wallet's document, from memory when fresh enough; concurrent requests for one wallet
    /// share one fetch.
    pub async fn get(
        &self,
        wallet: &WalletAddress,
    ) -> Result<(Bytes, Freshness), Arc<WalletDocumentError>> {
        let entry = self
            .cache
            .entry_by_ref(wallet)
            .or_try_insert_with(self.fetch(wallet))
            .await?;
        let freshness = if entry.is_fresh() {
            Freshness::Fetched
        } else {
            Freshness::Cached
        };
        Ok((entry.into_value(), freshness))
    }

    async fn fetch(&self, wallet: &WalletAddress) -> Result<Bytes, WalletDocumentError> {
        let url = match &self.origin_override {
            Some(origin) => format!("{origin}/{}{}", wallet.host(), wallet.path()),
            None => wallet.to_string(),
        };
        let unreachable = |e: reqwest::Error| WalletDocumentError::Unreachable {
            wallet: wallet.clone(),
            reason: e.without_url().to_string(),
        };
        let mut response = self
            .client
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(WalletDocumentError::Status {
                wallet: wallet.clone(),
                status: response.status().as_u16(),
            });
        }
        let too_large = || WalletDocumentError::TooLarge {
            wallet: wallet.clone(),
            limit: self.max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        check_document(&body).map_err(|reason| WalletDocumentError::NotAWalletDocument {
            wallet: wallet.clone(),
            reason,
        })?;
        Ok(Bytes::from(body))
    }
}

/// Checks the fields a Web Monetization agent reads from a wallet-address document.
fn check_document(body: &[u8]) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    for field in ["id", "assetCode", "authServer", "resourceServer"] {
        if !object.get(field).is_some_and(serde_json::Value::is_string) {
            return Err(format!("`{field}` is missing or not a string"));
        }
    }
    if !object
        .get("assetScale")
        .is_some_and(serde_json::Value::is_u64)
    {
        return Err("`assetScale` is missing or not a whole number".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wallet_document_needs_its_open_payments_fields() {
        let good = br#"{"id":"https://w.example/a","assetCode":"USD","assetScale":2,"authServer":"https://auth.w.example","resourceServer":"https://w.example"}"#;
        assert_eq!(check_document(good), Ok(()));
        assert!(
            check_document(br#"{"id":"x"}"#)
                .unwrap_err()
                .contains("assetCode")
        );
        assert!(check_document(b"[1]").is_err());
        assert!(check_document(b"<html>").is_err());
    }
}
