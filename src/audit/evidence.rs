//! The auditor's edge toward the evidence endpoint: `GET {base}/v1/evidence/{decisionHash}` (the
//! hash as `0x` and 64 lower-case hex digits) for each distinct decision hash, keeping the bytes
//! exactly as served so that [`verify`](super::verify) can hash them. Whatever goes wrong with
//! one document (a status, a timeout, an oversized body) is recorded as missing evidence, not an
//! error of the audit.

use std::time::Duration;

use alloy_primitives::{B256, Bytes};
use futures_util::{StreamExt, stream};
use indicatif::ProgressBar;

use super::history::FetchedEvidence;
use crate::chain::rpc::without_urls;

/// Documents fetched at once.
const CONCURRENCY: usize = 8;
/// Largest evidence document read.
const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Longest wait for one document.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The URL of a decision's evidence under `base`.
pub fn evidence_url(base: &str, hash: B256) -> String {
    format!("{}/v1/evidence/{hash}", base.trim_end_matches('/'))
}

/// Fetches the evidence of each hash from `base`.
pub async fn fetch(
    base: &str,
    hashes: Vec<B256>,
    bar: &ProgressBar,
) -> Result<Vec<(B256, FetchedEvidence)>, reqwest::Error> {
    let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    bar.set_length(hashes.len() as u64);
    let documents = stream::iter(hashes)
        .map(|hash| {
            let client = &client;
            async move {
                let evidence = document(client, &evidence_url(base, hash)).await;
                bar.inc(1);
                (hash, evidence)
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    bar.finish_and_clear();
    Ok(documents)
}

async fn document(client: &reqwest::Client, url: &str) -> FetchedEvidence {
    let mut response = match client.get(url).send().await {
        Ok(response) => response,
        Err(e) => return FetchedEvidence::Missing(without_urls(&e.to_string())),
    };
    if !response.status().is_success() {
        return FetchedEvidence::Missing(format!("the endpoint answered {}", response.status()));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BYTES {
                    return FetchedEvidence::Missing(format!(
                        "the document exceeds {MAX_BYTES} bytes"
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return FetchedEvidence::Document(Bytes::from(body)),
            Err(e) => return FetchedEvidence::Missing(without_urls(&e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_hash_in_hex() {
        assert_eq!(
            evidence_url("http://127.0.0.1:9/", B256::repeat_byte(0xab)),
            format!("http://127.0.0.1:9/v1/evidence/0x{}", "ab".repeat(32))
        );
    }
}
