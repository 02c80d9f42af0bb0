//! How many blocks to ask `eth_getLogs` for at once. Hosted nodes refuse ranges they find too
//! large, each in its own words; [`refusal`] recognises those answers, and [`LogRange`] halves its
//! span on a refusal (or takes the range the node suggests) and grows back after a run of
//! successes, never beyond the configured batch size.
//!
//! Pure: it reads error codes and texts handed to it, and sends nothing.

use alloy::transports::{RpcError, TransportError, TransportErrorKind};

/// Error codes that hosted nodes give a refused range: -32005 "limit exceeded" (Infura and the
/// EIP-1474 list) and -32614 (QuickNode's "eth_getLogs is limited to a 10,000 range").
const RANGE_CODES: [i64; 2] = [-32005, -32614];

/// Phrases of refused ranges, lower case, from the answers of hosted nodes and clients:
/// Infura ("query returned more than 10000 results", "range 1000000 exceeds limit of 10000"),
/// Alchemy ("Log response size exceeded", "You can make eth_getLogs requests with up to a 500
/// block range"), Frontier/Moonbeam ("block range is too wide"), BSC/geth forks ("exceed maximum
/// block range: 5000"), reth ("query exceeds max block range 5000"), Scroll ("block range is bigger
/// than maxBlockRange"), Tenderly ("range 9009594 is bigger than range limit 2000"), others
/// ("block range too high", "block range is larger than max block range").
const RANGE_PHRASES: [&str; 14] = [
    "query returned more than",
    "response size exceeded",
    "block range is too wide",
    "block range too wide",
    "exceed maximum block range",
    "exceeds maximum block range",
    "exceeds max block range",
    "max block range",
    "maxblockrange",
    "block range too high",
    "block range too large",
    "range limit",
    "requests with up to",
    "is limited to a",
];

/// A node's refusal of a range as too large.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The number of blocks the node said would work, when it said so (Alchemy and Infura name
    /// a range such as `[0x10, 0x2f]`).
    pub suggested_span: Option<u64>,
}

/// Whether an RPC error is a refusal of the range as too large (rather than a node that is down
/// or a request that is wrong).
pub fn refusal(error: &TransportError) -> Option<Refusal> {
    match error {
        RpcError::ErrorResp(payload) => {
            let data = payload.data.as_ref().map(|d| d.get()).unwrap_or_default();
            refusal_of(
                Some(payload.code),
                None,
                &format!("{} {data}", payload.message),
            )
        }
        RpcError::Transport(TransportErrorKind::HttpError(http)) => {
            refusal_of(None, Some(http.status), &http.body)
        }
        _ => None,
    }
}

/// The classification on its parts: a JSON-RPC error code, an HTTP status, and the text.
pub fn refusal_of(code: Option<i64>, http_status: Option<u16>, text: &str) -> Option<Refusal> {
    let lower = text.to_ascii_lowercase();
    let by_code = code.is_some_and(|code| RANGE_CODES.contains(&code));
    let by_status = http_status == Some(413);
    let suggested = suggested_span(&lower);
    let by_text = RANGE_PHRASES.iter().any(|phrase| lower.contains(phrase))
        || (lower.contains("range") && lower.contains("exceeds limit"))
        || (lower.contains("block range") && suggested.is_some());
    (by_code || by_status || by_text).then_some(Refusal {
        suggested_span: suggested,
    })
}

/// The span of a suggested range `[0xA, 0xB]` in the text, if there is one.
fn suggested_span(text: &str) -> Option<u64> {
    let open = text.rfind('[')?;
    let close = open + text[open..].find(']')?;
    let (from, to) = text[open + 1..close].split_once(',')?;
    let parse = |s: &str| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok();
    let (from, to) = (parse(from)?, parse(to)?);
    (to >= from).then(|| to - from + 1)
}

/// Successes in a row before the span doubles again.
const GROW_AFTER: u32 = 8;

/// The span of the next `eth_getLogs`, adapted to what the node accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRange {
    max_span: u64,
    span: u64,
    successes: u32,
}

/// The node refused even a single block: nothing smaller can be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the node refuses eth_getLogs even for the single block {block}")]
pub struct SingleBlockRefused {
    /// The block.
    pub block: u64,
}

impl LogRange {
    /// Starts at the largest span, `max_span` blocks (at least 1).
    pub fn new(max_span: u64) -> Self {
        let max_span = max_span.max(1);
        LogRange {
            max_span,
            span: max_span,
            successes: 0,
        }
    }

    /// The current span.
    pub fn span(&self) -> u64 {
        self.span
    }

    /// The last block of the next request starting at `from`, no further than `limit`.
    pub fn end(&self, from: u64, limit: u64) -> u64 {
        from.saturating_add(self.span - 1).min(limit)
    }

    /// A request succeeded: after enough in a row, try twice the span again.
    pub fn succeeded(&mut self) {
        self.successes += 1;
        if self.successes >= GROW_AFTER && self.span < self.max_span {
            self.span = self.span.saturating_mul(2).min(self.max_span);
            self.successes = 0;
        }
    }

    /// The node refused `[from, to]`: take its suggestion when smaller, else half the range.
    pub fn refused(
        &mut self,
        from: u64,
        to: u64,
        refusal: Refusal,
    ) -> Result<(), SingleBlockRefused> {
        let asked = to - from + 1;
        if asked <= 1 {
            return Err(SingleBlockRefused { block: from });
        }
        let half = asked / 2;
        self.span = refusal
            .suggested_span
            .filter(|&suggested| suggested >= 1 && suggested < asked)
            .unwrap_or(half)
            .max(1);
        self.successes = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_provider_refusals_are_recognised() {
        let refusals = [
            (Some(-32005), "query returned more than 10000 results"),
            (Some(-32602), "range 1000000 exceeds limit of 10000"),
            (Some(-32000), "block range is bigger than maxBlockRange"),
            (
                Some(-32000),
                "block range is larger than max block range, block range = 5120, max block range = 5000",
            ),
            (
                Some(-32600),
                "You can make eth_getLogs requests with up to a 500 block range. Based on your parameters, this block range should work: [0x123c9b2, 0x123cba5]",
            ),
            (Some(-32614), "eth_getLogs is limited to a 10,000 range"),
            (Some(-32000), "block range is too wide (maximum 1024)"),
            (Some(-32000), "exceed maximum block range: 5000"),
            (Some(-32602), "query exceeds max block range 5000"),
            (
                Some(-32602),
                "invalid params {\"payload\":\"range 9009594 is bigger than range limit 2000\"}",
            ),
            (Some(-32600), "block range too high"),
            (Some(-32602), "Log response size exceeded."),
        ];
        for (code, text) in refusals {
            assert!(
                refusal_of(code, None, text).is_some(),
                "not recognised: {text}"
            );
        }
        assert!(refusal_of(None, Some(413), "payload too large").is_some());
    }

    #[test]
    fn other_errors_are_not_refusals() {
        for (code, text) in [
            (Some(-32601), "the method eth_getLogs does not exist"),
            (Some(-32000), "header not found"),
            (Some(-32602), "invalid block range params"),
            (Some(3), "execution reverted"),
        ] {
            assert_eq!(refusal_of(code, None, text), None, "{text}");
        }
        assert_eq!(refusal_of(None, Some(502), "bad gateway"), None);
    }

    #[test]
    fn a_suggested_range_is_read() {
        let refusal = refusal_of(
            Some(-32600),
            None,
            "this block range should work: [0x10, 0x2f]",
        )
        .unwrap();
        assert_eq!(refusal.suggested_span, Some(0x20));
    }

    #[test]
    fn a_refusal_halves_the_span_and_successes_grow_it_back() {
        let mut range = LogRange::new(1000);
        assert_eq!(range.end(10, u64::MAX), 1009);
        range
            .refused(
                10,
                1009,
                Refusal {
                    suggested_span: None,
                },
            )
            .unwrap();
        assert_eq!(range.span(), 500);
        for _ in 0..GROW_AFTER {
            range.succeeded();
        }
        assert_eq!(range.span(), 1000);
        for _ in 0..GROW_AFTER {
            range.succeeded();
        }
        assert_eq!(range.span(), 1000, "never beyond the batch size");
    }

    #[test]
    fn a_smaller_suggestion_is_taken() {
        let mut range = LogRange::new(1000);
        range
            .refused(
                0,
                999,
                Refusal {
                    suggested_span: Some(40),
                },
            )
            .unwrap();
        assert_eq!(range.span(), 40);
        range
            .refused(
                0,
                39,
                Refusal {
                    suggested_span: Some(4000),
                },
            )
            .unwrap();
        assert_eq!(range.span(), 20, "a larger suggestion is no help: halve");
    }

    #[test]
    fn a_refused_single_block_is_an_error() {
        let mut range = LogRange::new(1);
        assert_eq!(
            range.refused(
                7,
                7,
                Refusal {
                    suggested_span: None
                }
            ),
            Err(SingleBlockRefused { block: 7 })
        );
    }

    #[test]
    fn the_end_stops_at_the_limit() {
        let range = LogRange::new(100);
        assert_eq!(range.end(50, 60), 60);
        assert_eq!(range.end(u64::MAX - 1, u64::MAX), u64::MAX);
    }
}
