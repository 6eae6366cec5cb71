//! The figures of one answer, all measured from the request's intended send time as every
//! latency in scalebench (a request that went out late because the load generator stalled
//! counts its wait).

use crate::decode::Completion;

/// The token latencies of one request. Definitions (`intended`, `end` and the chunks'
/// instants on one clock, in ns):
///
/// - `ttft_ns = first content chunk - intended`;
/// - `itl_ns[i] = chunk[i + 1] - chunk[i]`, one per pair of consecutive content chunks (a
///   chunk may carry several tokens: these are gaps between chunks);
/// - `output_tokens` = `usage.completion_tokens`, else the counted tokens;
/// - `tpot_ns = (end - first content chunk) / (output_tokens - 1)`, rounded down, when
///   `output_tokens > 1` and a content chunk arrived;
/// - `e2e_ns = end - intended`;
/// - `tokens_per_s = output_tokens / e2e` (seconds), when `e2e_ns > 0`.
///
/// Differences that would be negative are 0.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenTimes {
    /// Time to first token.
    pub ttft_ns: Option<u64>,
    /// Inter-token latencies: the gaps between consecutive content chunks.
    pub itl_ns: Vec<u64>,
    /// Time per output token after the first.
    pub tpot_ns: Option<u64>,
    /// End to end.
    pub e2e_ns: u64,
    /// Output tokens: usage, else counted.
    pub output_tokens: u32,
    /// Output tokens per second of `e2e_ns`.
    pub tokens_per_s: Option<f64>,
}

impl TokenTimes {
    /// The figures of `c`, a request intended to be sent at `intended_ns` whose answer ended
    /// at `end_ns` (normally `c.end_ns`).
    pub fn of(c: &Completion, intended_ns: u64, end_ns: u64) -> TokenTimes {
        let output_tokens = c.tokens();
        let e2e_ns = end_ns.saturating_sub(intended_ns);
        TokenTimes {
            ttft_ns: c.first_token_ns.map(|t| t.saturating_sub(intended_ns)),
            itl_ns: c
                .chunk_ns
                .windows(2)
                .map(|w| w[1].saturating_sub(w[0]))
                .collect(),
            tpot_ns: c
                .first_token_ns
                .filter(|_| output_tokens > 1)
                .map(|first| end_ns.saturating_sub(first) / u64::from(output_tokens - 1)),
            e2e_ns,
            output_tokens,
            tokens_per_s: (e2e_ns > 0).then(|| f64::from(output_tokens) * 1e9 / e2e_ns as f64),
        }
    }
}
