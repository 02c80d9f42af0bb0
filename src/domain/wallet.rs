//! Wallet addresses: the one place where a payment pointer or wallet URL from outside becomes a
//! value the rest of the service can trust.
//!
//! A [`WalletAddress`] is always the normal form of the payment-pointer syntax: an `https` URL with a
//! lower-case ASCII host, no userinfo, port, query or fragment, and a path (`/.well-known/pay` when the
//! pointer gave none). The path is normalised as RFC 3986 does it: escapes of unreserved characters
//! are decoded, other escapes upper-cased, and `.`/`..` segments resolved. Two spellings of one
//! wallet therefore compare equal, which is what lets a pool refuse to hold one wallet twice.
//!
//! A wallet's host must be a public DNS name: IP addresses in any of the spellings a URL parser
//! reads as one (`127.0.0.1`, `2130706433`, `0x7f.1`), names without a dot (`localhost`) and
//! names under the suffixes reserved for local networks are refused, since the service fetches
//! what a wallet address names. This module does no I/O: it never checks that the wallet exists,
//! nor what a public name resolves to (the fetcher checks that).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The path a payment pointer with no path (or `/`) stands for, per the payment-pointer syntax.
const WELL_KNOWN_PATH: &str = "/.well-known/pay";
/// Longest host name DNS allows.
const MAX_HOST_LEN: usize = 253;
/// Longest input accepted; real wallet addresses are far shorter, and this bounds the work.
const MAX_INPUT_LEN: usize = 2048;

/// A wallet address in its normal form (`https://host/path`), parsed from a payment pointer
/// (`$host/path`) or an `https://` URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WalletAddress(String);

/// The rule a candidate payment pointer broke; each names one line of the syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointerError {
    /// Nothing was given.
    #[error("a payment pointer is required, found an empty string")]
    Empty,
    /// Longer than any real wallet address.
    #[error("a payment pointer is at most {MAX_INPUT_LEN} characters, found {0}")]
    TooLong(usize),
    /// International names must be given in their ASCII (punycode) form.
    #[error("a payment pointer must be ASCII (give international host names in punycode)")]
    NonAscii,
    /// Neither `$host/path` nor `https://host/path`.
    #[error("a payment pointer starts with `$` or `https://`, found `{0}`")]
    Scheme(String),
    /// `user@host` or `user:password@host`.
    #[error("a payment pointer must not carry userinfo (`user@`)")]
    Userinfo,
    /// `host:port`: wallets are served on the default https port.
    #[error("a payment pointer must not carry a port")]
    Port,
    /// `?…`: Web Monetization refuses wallet addresses with a query.
    #[error("a payment pointer must not carry a query (`?`)")]
    Query,
    /// `#…`.
    #[error("a payment pointer must not carry a fragment (`#`)")]
    Fragment,
    /// `$/path` or `https:///path`.
    #[error("a payment pointer needs a host, found none")]
    EmptyHost,
    /// A host that is not a DNS name.
    #[error("`{0}` is not a valid host name (letters, digits and hyphens in dot-separated labels)")]
    InvalidHost(String),
    /// A path character outside RFC 3986's `pchar`, a broken percent escape, or an escaped
    /// control character (`%00`).
    #[error("the path contains `{0}`, which a URL path cannot hold unescaped")]
    InvalidPath(String),
    /// An IP address as the host, in any spelling a URL parser reads as one.
    #[error("`{0}` is an IP address; a wallet's host is a public DNS name")]
    IpHost(String),
    /// A name that only a local network resolves (`localhost`, no dot, `.local`, `.internal`…).
    #[error("`{0}` is not a public host name; a wallet's host is a public DNS name")]
    NonPublicHost(String),
}

/// Suffixes reserved for names that only a local network resolves (RFC 6761, RFC 6762, RFC 8375
/// and ICANN's `.internal`), and `.lan`, which home routers use.
const LOCAL_SUFFIXES: [&str; 5] = ["localhost", "local", "internal", "home.arpa", "lan"];

impl PointerError {
    /// A stable, machine-readable name of the broken rule, for API clients.
    pub fn rule(&self) -> &'static str {
        match self {
            PointerError::Empty => "required",
            PointerError::TooLong(_) => "max-length",
            PointerError::NonAscii => "ascii-only",
            PointerError::Scheme(_) => "dollar-or-https",
            PointerError::Userinfo => "no-userinfo",
            PointerError::Port => "no-port",
            PointerError::Query => "no-query",
            PointerError::Fragment => "no-fragment",
            PointerError::EmptyHost => "host-required",
            PointerError::InvalidHost(_) => "valid-host",
            PointerError::InvalidPath(_) => "valid-path",
            PointerError::IpHost(_) => "no-ip-host",
            PointerError::NonPublicHost(_) => "public-host",
        }
    }
}

impl WalletAddress {
    /// Parses a payment pointer (`$host/path`) or an `https://` wallet address into its normal form.
    ///
    /// ```
    /// use revshare_oracle::domain::WalletAddress;
    ///
    /// let pointer = WalletAddress::parse("$Wallet.Example/ann").unwrap();
    /// let url = WalletAddress::parse("https://wallet.example/ann").unwrap();
    /// assert_eq!(pointer, url, "one wallet, one normal form");
    /// assert_eq!(pointer.as_str(), "https://wallet.example/ann");
    /// assert!(WalletAddress::parse("$wallet.example:8443/ann").is_err(), "no port");
    /// ```
    pub fn parse(input: &str) -> Result<Self, PointerError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(PointerError::Empty);
        }
        if input.len() > MAX_INPUT_LEN {
            return Err(PointerError::TooLong(input.len()));
        }
        if !input.is_ascii() {
            return Err(PointerError::NonAscii);
        }
        let rest = if let Some(rest) = input.strip_prefix('$') {
            rest
        } else if input.len() >= 8 && input[..8].eq_ignore_ascii_case("https://") {
            &input[8..]
        } else {
            let shown: String = input.chars().take(12).collect();
            return Err(PointerError::Scheme(shown));
        };
        // Fragment and query end the path; their mere presence is the error.
        if rest.contains('#') {
            return Err(PointerError::Fragment);
        }
        if rest.contains('?') {
            return Err(PointerError::Query);
        }
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(PointerError::Userinfo);
        }
        if authority.starts_with('[') {
            // IP literals are not wallet hosts; refuse before `:` reads as a port.
            return Err(PointerError::InvalidHost(authority.to_string()));
        }
        if authority.contains(':') {
            return Err(PointerError::Port);
        }
        if authority.is_empty() {
            return Err(PointerError::EmptyHost);
        }
        let host = authority.to_ascii_lowercase();
        if is_ip_address(&host) {
            return Err(PointerError::IpHost(host));
        }
        validate_host(&host)?;
        if !host.contains('.')
            || LOCAL_SUFFIXES
                .iter()
                .any(|suffix| host == *suffix || host.ends_with(&format!(".{suffix}")))
        {
            return Err(PointerError::NonPublicHost(host));
        }
        validate_path(path)?;
        let path = normalise_path(path)?;
        let path = if path.is_empty() || path == "/" {
            WELL_KNOWN_PATH
        } else {
            &path
        };
        Ok(WalletAddress(format!("https://{host}{path}")))
    }

    /// The normal form: `https://host/path`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host, for grouping and for fetching the wallet's document.
    pub fn host(&self) -> &str {
        let rest = &self.0["https://".len()..];
        &rest[..rest.find('/').expect("a normal form always has a path")]
    }

    /// The path, always starting with `/`.
    pub fn path(&self) -> &str {
        let rest = &self.0["https://".len()..];
        &rest[rest.find('/').expect("a normal form always has a path")..]
    }

    /// The shortest payment-pointer spelling (`$host` for the well-known path), for people to read.
    pub fn payment_pointer(&self) -> String {
        match self.path() {
            WELL_KNOWN_PATH => format!("${}", self.host()),
            path => format!("${}{}", self.host(), path),
        }
    }
}

/// Whether a URL parser reads `host` as an IPv4 address: the WHATWG URL standard does when its
/// last label is a number, decimal or `0x` hexadecimal (so `2130706433` and `0x7f.1` are
/// `127.0.0.1`).
fn is_ip_address(host: &str) -> bool {
    let last = host
        .trim_end_matches('.')
        .rsplit('.')
        .next()
        .unwrap_or_default();
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

/// The path in RFC 3986's normal form (section 6.2.2): escapes of unreserved characters decoded,
/// the rest upper-cased, then dot segments removed (section 5.2.4). An escaped control character
/// is refused: no wallet's path holds one.
fn normalise_path(path: &str) -> Result<String, PointerError> {
    let bytes = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let escape = &path[i + 1..i + 3];
            let byte = u8::from_str_radix(escape, 16).expect("validate_path checked the escape");
            if byte.is_ascii_control() {
                return Err(PointerError::InvalidPath(format!("%{escape}")));
            }
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                decoded.push(byte as char);
            } else {
                decoded.push('%');
                decoded.push_str(&escape.to_ascii_uppercase());
            }
            i += 3;
        } else {
            decoded.push(bytes[i] as char);
            i += 1;
        }
    }
    let mut segments: Vec<&str> = Vec::new();
    let mut parts = decoded.split('/').skip(1).peekable();
    while let Some(segment) = parts.next() {
        let last = parts.peek().is_none();
        match segment {
            "." | ".." => {
                if segment == ".." {
                    segments.pop();
                }
                if last {
                    segments.push("");
                }
            }
            other => segments.push(other),
        }
    }
    if segments.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("/{}", segments.join("/")))
}

fn validate_host(host: &str) -> Result<(), PointerError> {
    let invalid = || PointerError::InvalidHost(host.to_string());
    if host.len() > MAX_HOST_LEN {
        return Err(invalid());
    }
    for label in host.split('.') {
        let well_formed = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !well_formed {
            return Err(invalid());
        }
    }
    Ok(())
}

fn validate_path(path: &str) -> Result<(), PointerError> {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let escape_ok = bytes.len() > i + 2
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !escape_ok {
                let end = (i + 3).min(bytes.len());
                return Err(PointerError::InvalidPath(path[i..end].to_string()));
            }
            i += 3;
            continue;
        }
        let pchar_or_slash = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b);
        if !pchar_or_slash {
            return Err(PointerError::InvalidPath((b as char).to_string()));
        }
        i += 1;
    }
    Ok(())
}

impl FromStr for WalletAddress {
    type Err = PointerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WalletAddress::parse(s)
    }
}

impl fmt::Display for WalletAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for WalletAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WalletAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        WalletAddress::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The table of valid pointers and their normal forms; README.md shows the same table.
    const VALID: &[(&str, &str)] = &[
        ("$example.com", "https://example.com/.well-known/pay"),
        ("$example.com/", "https://example.com/.well-known/pay"),
        ("$example.com/alice", "https://example.com/alice"),
        ("$Example.COM/Alice", "https://example.com/Alice"),
        ("https://example.com/alice", "https://example.com/alice"),
        ("HTTPS://EXAMPLE.com/alice", "https://example.com/alice"),
        ("https://example.com", "https://example.com/.well-known/pay"),
        (
            "https://example.com/.well-known/pay",
            "https://example.com/.well-known/pay",
        ),
        (
            "$ilp.interledger-test.dev/alice",
            "https://ilp.interledger-test.dev/alice",
        ),
        ("$wallet.example/a/b%20c", "https://wallet.example/a/b%20c"),
        (
            "$xn--bcher-kva.example/k",
            "https://xn--bcher-kva.example/k",
        ),
        ("  $example.com/bob  ", "https://example.com/bob"),
    ];

    /// The table of invalid pointers and the rule each breaks.
    const INVALID: &[(&str, &str)] = &[
        ("", "required"),
        ("example.com/alice", "dollar-or-https"),
        ("http://example.com/alice", "dollar-or-https"),
        ("$user@example.com/alice", "no-userinfo"),
        ("https://user:pw@example.com/alice", "no-userinfo"),
        ("$example.com:8443/alice", "no-port"),
        ("https://example.com:443/alice", "no-port"),
        ("$example.com/alice?x=1", "no-query"),
        ("$example.com/alice#top", "no-fragment"),
        ("$bücher.example/k", "ascii-only"),
        ("$/alice", "host-required"),
        ("https:///alice", "host-required"),
        ("$exa_mple.com", "valid-host"),
        ("$-example.com", "valid-host"),
        ("$example..com", "valid-host"),
        ("$[::1]/alice", "valid-host"),
        ("$example.com/a b", "valid-path"),
        ("$example.com/a%2", "valid-path"),
        ("$example.com/a\"b", "valid-path"),
        ("$example.com/a%00b", "valid-path"),
        ("$example.com/a%0a", "valid-path"),
        ("$127.0.0.1/x", "no-ip-host"),
        ("$2130706433/x", "no-ip-host"),
        ("$0x7f.1/x", "no-ip-host"),
        ("$169.254.169.254/latest", "no-ip-host"),
        ("$10.0.0.1/admin", "no-ip-host"),
        ("https://192.168.1.1./x", "no-ip-host"),
        ("$localhost/x", "public-host"),
        ("$wallet/x", "public-host"),
        ("$wallet.localhost/x", "public-host"),
        ("$printer.local/x", "public-host"),
        ("$vault.corp.internal/x", "public-host"),
        ("$router.home.arpa/x", "public-host"),
    ];

    #[test]
    fn valid_pointers_take_their_normal_form() {
        for (input, normal) in VALID {
            let parsed = WalletAddress::parse(input)
                .unwrap_or_else(|e| panic!("`{input}` should be valid, got: {e}"));
            assert_eq!(parsed.as_str(), *normal, "normal form of `{input}`");
        }
    }

    #[test]
    fn invalid_pointers_name_the_rule_they_break() {
        for (input, rule) in INVALID {
            let err =
                WalletAddress::parse(input).expect_err(&format!("`{input}` should be refused"));
            assert_eq!(err.rule(), *rule, "rule broken by `{input}`: {err}");
        }
    }

    #[test]
    fn spellings_of_one_wallet_are_equal() {
        let spellings = [
            "$example.com",
            "https://example.com",
            "$EXAMPLE.com/",
            "https://Example.com/.well-known/pay",
            "$example.com/.well-known/pay",
        ];
        let first = WalletAddress::parse(spellings[0]).unwrap();
        for s in &spellings[1..] {
            assert_eq!(WalletAddress::parse(s).unwrap(), first, "`{s}`");
        }
    }

    #[test]
    fn one_wallet_spelled_with_dot_segments_or_escapes_is_one_wallet() {
        let same = [
            ("$w.example/x/../b", "$w.example/b"),
            ("$w.example/./b", "$w.example/b"),
            ("$w.example/a/%2E%2E/b", "$w.example/b"),
            ("$w.example/%41nn", "$w.example/Ann"),
            ("$w.example/a%7ex", "$w.example/a~x"),
            ("$w.example/a%2fb", "$w.example/a%2Fb"),
            ("$w.example/../../b", "$w.example/b"),
            ("$w.example/a/..", "$w.example/"),
            ("$w.example/a/b/.", "$w.example/a/b/"),
        ];
        for (spelling, normal) in same {
            assert_eq!(
                WalletAddress::parse(spelling).unwrap(),
                WalletAddress::parse(normal).unwrap(),
                "`{spelling}` is `{normal}`"
            );
        }
        assert_eq!(
            WalletAddress::parse("$w.example/a/..").unwrap().as_str(),
            "https://w.example/.well-known/pay"
        );
        assert_ne!(
            WalletAddress::parse("$w.example/a%2Fb").unwrap(),
            WalletAddress::parse("$w.example/a/b").unwrap(),
            "an escaped slash is no separator"
        );
    }

    #[test]
    fn payment_pointer_spelling_drops_the_well_known_path() {
        let w = WalletAddress::parse("https://example.com/.well-known/pay").unwrap();
        assert_eq!(w.payment_pointer(), "$example.com");
        let w = WalletAddress::parse("https://example.com/alice").unwrap();
        assert_eq!(w.payment_pointer(), "$example.com/alice");
    }

    fn host_strategy() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..3),
            "[a-z]{2,6}",
        )
            .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
            .prop_filter("not a local suffix", |host| {
                !LOCAL_SUFFIXES
                    .iter()
                    .any(|s| host.ends_with(&format!(".{s}")))
            })
    }

    proptest! {
        #[test]
        fn normal_form_round_trips(host in host_strategy(), path in "(/[A-Za-z0-9._~-]{1,10}){0,3}") {
            let pointer = format!("${host}{path}");
            let parsed = WalletAddress::parse(&pointer).unwrap();
            let reparsed = WalletAddress::parse(parsed.as_str()).unwrap();
            prop_assert_eq!(&parsed, &reparsed);
            prop_assert_eq!(WalletAddress::parse(&parsed.payment_pointer()).unwrap(), parsed);
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,64}") {
            let _ = WalletAddress::parse(&input);
        }
    }
}
