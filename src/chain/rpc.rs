//! Talking to a node: a read-only HTTP provider, and the one error type for a node's failures,
//! whose text never contains the node's URL (hosted nodes carry API keys in it).

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::transports::TransportError;

/// A node that failed, refused, or answered something unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} failed: {detail}")]
pub struct RpcFailure {
    /// The JSON-RPC method (or the view called).
    pub method: &'static str,
    /// What went wrong, with any URL replaced by `<rpc url>`.
    pub detail: String,
}

impl RpcFailure {
    /// A failure of `method`, described without URLs.
    pub fn of(method: &'static str, error: &TransportError) -> Self {
        RpcFailure {
            method,
            detail: without_urls(&error.to_string()),
        }
    }

    /// A node that answered, but not with what the method promises.
    pub fn unusable(method: &'static str, detail: impl Into<String>) -> Self {
        RpcFailure {
            method,
            detail: detail.into(),
        }
    }
}

/// A read-only provider over HTTP. The URL is checked here; errors do not repeat it.
pub fn http_provider(url: &str) -> Result<DynProvider, RpcFailure> {
    let parsed = url
        .parse()
        .map_err(|_| RpcFailure::unusable("connect", "the RPC URL is not a valid URL"))?;
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(parsed)
        .erased())
}

/// The text with every `http://`, `https://`, `ws://` or `wss://` URL replaced by `<rpc url>`.
pub fn without_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["http://", "https://", "ws://", "wss://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        out.push_str(&rest[..start]);
        out.push_str("<rpc url>");
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | ',' | '>'))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Checks that the node is reachable and returns its chain id.
pub async fn chain_id<P: Provider>(provider: &P) -> Result<u64, RpcFailure> {
    provider
        .get_chain_id()
        .await
        .map_err(|e| RpcFailure::of("eth_chainId", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_never_reach_an_error_text() {
        assert_eq!(
            without_urls(
                "error sending request for url (https://mainnet.example/v3/s3cretkey): connection refused"
            ),
            "error sending request for url (<rpc url>): connection refused"
        );
        assert_eq!(
            without_urls("a http://x/1 and wss://y/2"),
            "a <rpc url> and <rpc url>"
        );
        assert_eq!(without_urls("nothing here"), "nothing here");
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let err = http_provider("not a url with key s3cret").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
