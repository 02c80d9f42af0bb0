//! Wallet-address documents (Open Payments): fetched from the chosen wallet with a bounded time
//! and size, checked, and kept in memory for a while, so the Web Monetization endpoint can answer
//! as the wallet itself would.
//!
//! A wallet address is a public name, but what it resolves to is the resolver's say: the fetch
//! connects only to public addresses, after DNS resolution and on every redirect, so that a
//! wallet cannot make the service reach into its own network (`127.0.0.1`, `169.254.169.254`,
//! `10.0.0.0/8`…) and hand back what answers there. `fetch_origin_override`, for local runs and
//! tests, turns the check off.

use std::net::{IpAddr, SocketAddr};
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
        let builder = reqwest::Client::builder()
            .timeout(config.fetch_timeout())
            .connect_timeout(config.fetch_timeout())
            .user_agent(concat!("revshare-oracle/", env!("CARGO_PKG_VERSION")));
        let client = match &config.fetch_origin_override {
            Some(_) => builder.redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS)),
            None => builder
                .dns_resolver(Arc::new(PublicOnly(tokio_lookup)))
                .redirect(public_redirects()),
        }
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

/// Redirects a wallet may send the fetch through.
const MAX_REDIRECTS: usize = 3;

/// Whether a connection to `ip` stays off this host and its private networks: not loopback,
/// private (RFC 1918, unique local), link-local (cloud metadata at `169.254.169.254`), shared
/// (carrier NAT), unspecified, broadcast, multicast, documentation or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// How a host name becomes addresses; the system's resolver in the service, a table in tests.
type Lookup =
    fn(String) -> futures_util::future::BoxFuture<'static, std::io::Result<Vec<SocketAddr>>>;

fn tokio_lookup(
    host: String,
) -> futures_util::future::BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
    Box::pin(async move {
        Ok(tokio::net::lookup_host((host.as_str(), 443))
            .await?
            .collect())
    })
}

/// A resolver that hands the HTTP client only the public addresses of a name, and fails when a
/// name has none.
struct PublicOnly(Lookup);

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.0;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let public: Vec<SocketAddr> = lookup(host.clone())
                .await?
                .into_iter()
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// Why a redirect may not be followed: too many, or to an address literal that is not public
/// (a name is checked when it is resolved).
fn refused_redirect(url: &reqwest::Url, previous: usize) -> Option<String> {
    if previous >= MAX_REDIRECTS {
        return Some(format!("more than {MAX_REDIRECTS} redirects"));
    }
    let literal = url.host_str().and_then(|host| {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
    });
    match literal {
        Some(ip) if !is_public(ip) => Some("a redirect to a non-public address".into()),
        _ => None,
    }
}

fn public_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        match refused_redirect(attempt.url(), attempt.previous().len()) {
            Some(reason) => attempt.error(reason),
            None => attempt.follow(),
        }
    })
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
    fn only_public_addresses_are_public() {
        for inside in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "240.0.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                !is_public(inside.parse().unwrap()),
                "{inside} is not public"
            );
        }
        for outside in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(outside.parse().unwrap()), "{outside} is public");
        }
    }

    #[test]
    fn redirects_to_inside_literals_or_past_the_limit_are_refused() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert_eq!(
            refused_redirect(&url("https://wallet.example/ann"), 0),
            None
        );
        assert_eq!(refused_redirect(&url("https://93.184.216.34/ann"), 1), None);
        assert!(refused_redirect(&url("http://127.0.0.1:9000/admin"), 0).is_some());
        assert!(refused_redirect(&url("http://[::1]/x"), 0).is_some());
        assert!(refused_redirect(&url("http://169.254.169.254/latest"), 0).is_some());
        assert!(refused_redirect(&url("https://wallet.example/ann"), MAX_REDIRECTS).is_some());
    }

    fn to_loopback(
        _host: String,
    ) -> futures_util::future::BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        Box::pin(async { Ok(vec![SocketAddr::from(([127, 0, 0, 1], 443))]) })
    }

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_not_connected_to() {
        let resolver = PublicOnly(to_loopback);
        let name: reqwest::dns::Name = "wallet.example".parse().unwrap();
        let refused = reqwest::dns::Resolve::resolve(&resolver, name).await;
        let Err(why) = refused else {
            panic!("a loopback answer is no address to connect to")
        };
        assert!(why.to_string().contains("no public address"), "{why}");
    }

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
