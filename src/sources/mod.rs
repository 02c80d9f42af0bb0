//! Where community decisions and facts come from: one folder per platform.
//!
//! Each platform's folder holds the pure part (payload types, webhook checks, and the function
//! from an event and the registry's current record to the changes to make) apart from any I/O;
//! storing deliveries and applying changes is done by `store` and `app::ingest`. A platform's
//! API client and its voting backend (`loomio::LoomioClient`, `loomio::LoomioBackend`) are the
//! folder's I/O edge, kept in their own files.

pub mod discourse;
pub mod loomio;

/// A platform site's URL as stored and compared: without a trailing slash, scheme and host in
/// lower case (the path keeps its case: a site may live below one).
pub fn normalise_site_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!(
                "{}://{}{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase(),
                path
            )
        }
        None => url.to_string(),
    }
}
