//! What an LLM endpoint's answers measured beyond their latency: the token figures. A driver
//! whose endpoint streams tokens (the simulator's token model, the live engine reading an
//! OpenAI-compatible stream) hands them to the [`Recorder`](crate::record::Recorder) per
//! answer ([`TokenSample`]) and per inter-token gap; the run keeps them in histograms
//! ([`TokenRun`]), never per request.
//!
//! Every figure is measured from the request's *intended* send time, like every latency here,
//! so a stall before sending counts against the first token:
//! - TTFT (time to first token): first content token - intended send time;
//! - ITL (inter-token latency): the gap between two consecutive content tokens (or chunks);
//! - TPOT (time per output token): (end - first token) / (output tokens - 1), none for an
//!   answer of fewer than 2 tokens;
//! - goodput: the requests that met *every* per-request objective of `[slo]`: end to end
//!   within `latency`, TTFT within `ttft` when set, TPOT within `tpot` when set.

use crate::report::{Goodput, TimelineSample, TokenLatency, TokenReport};
use crate::run::LatencyHist;
use crate::scenario::Slo;
use crate::window_hist::WindowHist;

/// One answer's token figures, as its driver measured them (nanoseconds from the intended
/// send time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenSample {
    /// First content token - intended send time; `None` when the answer had no content token.
    pub ttft_ns: Option<u64>,
    /// (End - first token) / (output tokens - 1); `None` with fewer than 2 output tokens.
    pub tpot_ns: Option<u64>,
    /// Output tokens (the server's usage figure, else counted).
    pub output_tokens: u32,
    /// Prompt tokens, when the server or the driver knows them.
    pub prompt_tokens: Option<u32>,
}

impl TokenSample {
    /// TPOT from the instants (ns) of the first token and of the end of an answer of `tokens`
    /// output tokens: `(end - first) / (tokens - 1)`, `None` with fewer than 2 tokens.
    pub fn tpot(first_ns: u64, end_ns: u64, tokens: u32) -> Option<u64> {
        (tokens >= 2).then(|| end_ns.saturating_sub(first_ns) / u64::from(tokens - 1))
    }
}

/// A run's token figures: `SetupRun::tokens`, `None` unless a driver recorded any.
#[derive(Debug, Clone)]
pub struct TokenRun {
    /// Time to first token of each ok answer that had one, µs.
    pub ttft: LatencyHist,
    /// Every inter-token gap, µs (of every answer, whatever its outcome: gaps are recorded as
    /// they happen).
    pub itl: LatencyHist,
    /// Time per output token of each ok answer of 2 tokens or more, µs.
    pub tpot: LatencyHist,
    /// Output tokens of the ok answers.
    pub output_tokens: u64,
    /// Prompt tokens of the ok answers whose prompt length was known; `None` when none was.
    pub prompt_tokens: Option<u64>,
    /// Ok answers that met every per-request objective (see the module's doc); an answer
    /// recorded without token figures is judged on its end-to-end latency alone.
    pub good: u64,
}

impl TokenRun {
    /// An empty run whose histograms hold values up to `max_us` microseconds.
    pub fn new(max_us: u64) -> Self {
        TokenRun {
            ttft: LatencyHist::new(max_us),
            itl: LatencyHist::new(max_us),
            tpot: LatencyHist::new(max_us),
            output_tokens: 0,
            prompt_tokens: None,
            good: 0,
        }
    }

    /// The report's `tokens` of a run that scheduled `scheduled` requests over `duration_s`
    /// seconds of offered traffic.
    pub fn report(&self, scheduled: u64, duration_s: f64) -> TokenReport {
        let per_s = |n: u64| {
            if duration_s > 0.0 {
                n as f64 / duration_s
            } else {
                0.0
            }
        };
        TokenReport {
            ttft_ms: percentiles(&self.ttft),
            itl_ms: percentiles(&self.itl),
            tpot_ms: percentiles(&self.tpot),
            output_tokens: self.output_tokens,
            prompt_tokens: self.prompt_tokens,
            output_tokens_per_s: per_s(self.output_tokens),
            goodput: Goodput {
                requests: self.good,
                share: if scheduled == 0 {
                    1.0
                } else {
                    (self.good as f64 / scheduled as f64).min(1.0)
                },
                rps: per_s(self.good),
            },
        }
    }
}

/// The percentiles of a token histogram in ms; `None` when it is empty (nothing observed).
fn percentiles(h: &LatencyHist) -> Option<TokenLatency> {
    if h.is_empty() {
        return None;
    }
    let l = h.summary();
    Some(TokenLatency {
        p50: l.p50,
        p90: l.p90,
        p95: l.p95,
        p99: l.p99,
        max: l.max,
        mean: l.mean,
    })
}

/// Whether the run meets the SLO's `ttft` and `tpot` bounds at its percentile: at least
/// `percentile`% of the TTFTs (and of the TPOTs) within them, to the histograms' resolution.
/// True when neither is set. A bound on what nothing measured (no token figure, no TTFT) is
/// not met; a `tpot` bound holds when no answer had 2 tokens or more (none had a TPOT).
pub fn slo_met(tokens: Option<&TokenRun>, slo: &Slo) -> bool {
    let q = slo.percentile / 100.0;
    let within = |h: &LatencyHist, bound: crate::Duration| {
        let n = h.len();
        let above = h.count_above_ms(bound.as_millis_f64());
        (n - above.min(n)) as f64 >= n as f64 * q
    };
    let ttft = slo
        .ttft
        .is_none_or(|b| tokens.is_some_and(|t| !t.ttft.is_empty() && within(&t.ttft, b)));
    let tpot = slo
        .tpot
        .is_none_or(|b| tokens.is_some_and(|t| within(&t.tpot, b)));
    ttft && tpot
}

/// The per-request objectives of `[slo]`, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// End to end.
    pub latency_ns: u64,
    /// Time to first token, when set.
    pub ttft_ns: Option<u64>,
    /// Time per output token, when set.
    pub tpot_ns: Option<u64>,
}

impl Bounds {
    pub(crate) fn of(slo: &Slo) -> Self {
        Bounds {
            latency_ns: slo.latency.as_nanos(),
            ttft_ns: slo.ttft.map(crate::Duration::as_nanos),
            tpot_ns: slo.tpot.map(crate::Duration::as_nanos),
        }
    }

    /// Whether an ok answer `latency_ns` after its intended send time with the figures `t`
    /// met every objective. An answer without a first token meets the TTFT bound only when it
    /// ended within it; one without a TPOT (fewer than 2 tokens) meets the TPOT bound.
    pub(crate) fn good(&self, latency_ns: u64, t: &TokenSample) -> bool {
        latency_ns <= self.latency_ns
            && self
                .ttft_ns
                .is_none_or(|b| t.ttft_ns.unwrap_or(latency_ns) <= b)
            && self
                .tpot_ns
                .is_none_or(|b| t.tpot_ns.is_none_or(|v| v <= b))
    }
}

/// The token figures of the open timeline window.
#[derive(Debug, Default)]
pub(crate) struct TokenWindow {
    ttft: WindowHist,
    itl: WindowHist,
    tpot: WindowHist,
    output_tokens: u64,
}

impl TokenWindow {
    /// Records one ok answer's figures.
    pub(crate) fn answer(&mut self, t: &TokenSample) {
        if let Some(ns) = t.ttft_ns {
            self.ttft.record(ns / 1000);
        }
        if let Some(ns) = t.tpot_ns {
            self.tpot.record(ns / 1000);
        }
        self.output_tokens += u64::from(t.output_tokens);
    }

    /// Records `count` inter-token gaps of `us` microseconds.
    pub(crate) fn itl(&mut self, us: u64, count: u64) {
        self.itl.record_n(us, count);
    }

    /// Fills the window's token fields of `s` (the window lasted `secs` seconds; `good` of the
    /// `finished` requests that ended in it met every objective) and starts the next window.
    pub(crate) fn close(&mut self, s: &mut TimelineSample, secs: f64, good: u64, finished: u64) {
        let some = |h: &WindowHist, q: f64| (!h.is_empty()).then(|| h.quantiles_ms([q])[0]);
        if !self.ttft.is_empty() {
            let [p50, p99] = self.ttft.quantiles_ms([0.50, 0.99]);
            (s.ttft_p50_ms, s.ttft_p99_ms) = (Some(p50), Some(p99));
        }
        s.itl_p99_ms = some(&self.itl, 0.99);
        s.tpot_p99_ms = some(&self.tpot, 0.99);
        rates(s, secs, self.output_tokens, good, finished);
        self.ttft.reset();
        self.itl.reset();
        self.tpot.reset();
        self.output_tokens = 0;
    }
}

/// Fills the per-second token figures and the good share of a window of a run with tokens:
/// measured even when nothing finished in it (no token and no good request per second), the
/// share `None` then.
pub(crate) fn rates(
    s: &mut TimelineSample,
    secs: f64,
    output_tokens: u64,
    good: u64,
    finished: u64,
) {
    let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    s.tokens_per_s = Some(per_s(output_tokens));
    s.goodput_rps = Some(per_s(good));
    s.good_share = (finished > 0).then(|| (good as f64 / finished as f64).min(1.0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Duration;

    fn slo(ttft_ms: Option<u64>, tpot_ms: Option<u64>) -> Slo {
        Slo {
            latency: Duration::from_millis(1000),
            percentile: 99.0,
            ttft: ttft_ms.map(Duration::from_millis),
            tpot: tpot_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn tpot_spreads_the_time_after_the_first_token_over_the_tokens_after_it() {
        assert_eq!(TokenSample::tpot(100, 1_100, 11), Some(100));
        assert_eq!(TokenSample::tpot(100, 1_100, 1), None);
        assert_eq!(TokenSample::tpot(100, 1_100, 0), None);
        assert_eq!(
            TokenSample::tpot(100, 50, 3),
            Some(0),
            "a clock that went back"
        );
    }

    #[test]
    fn a_request_is_good_only_when_it_meets_every_bound() {
        let t = |ttft: Option<u64>, tpot: Option<u64>| TokenSample {
            ttft_ns: ttft.map(|ms| ms * 1_000_000),
            tpot_ns: tpot.map(|ms| ms * 1_000_000),
            output_tokens: 10,
            prompt_tokens: None,
        };
        let ms = 1_000_000;
        // End to end only.
        let b = Bounds::of(&slo(None, None));
        assert!(b.good(1000 * ms, &t(Some(900), Some(90))));
        assert!(!b.good(1001 * ms, &t(Some(1), Some(1))));
        // TTFT.
        let b = Bounds::of(&slo(Some(200), None));
        assert!(b.good(500 * ms, &t(Some(200), Some(900))));
        assert!(!b.good(500 * ms, &t(Some(201), None)));
        assert!(
            b.good(150 * ms, &t(None, None)),
            "no token, ended within the TTFT bound"
        );
        assert!(!b.good(500 * ms, &t(None, None)), "no token, ended past it");
        // TPOT.
        let b = Bounds::of(&slo(None, Some(50)));
        assert!(b.good(500 * ms, &t(Some(900), Some(50))));
        assert!(!b.good(500 * ms, &t(Some(1), Some(51))));
        assert!(b.good(500 * ms, &t(Some(1), None)), "one token has no TPOT");
        // All three.
        let b = Bounds::of(&slo(Some(200), Some(50)));
        assert!(b.good(900 * ms, &t(Some(199), Some(49))));
        assert!(!b.good(1100 * ms, &t(Some(199), Some(49))));
        assert!(!b.good(900 * ms, &t(Some(201), Some(49))));
        assert!(!b.good(900 * ms, &t(Some(199), Some(51))));
    }

    #[test]
    fn the_slo_holds_its_token_bounds_at_its_percentile() {
        let mut run = TokenRun::new(60_000_000);
        for i in 0..100u64 {
            // 99 TTFTs of 100 ms and one of 900 ms; TPOTs of 20 ms.
            run.ttft.record(if i == 0 { 900_000 } else { 100_000 });
            run.tpot.record(20_000);
        }
        assert!(slo_met(Some(&run), &slo(None, None)));
        assert!(slo_met(None, &slo(None, None)), "no bound, nothing to meet");
        assert!(
            slo_met(Some(&run), &slo(Some(100), Some(20))),
            "exactly at the bounds"
        );
        assert!(!slo_met(Some(&run), &slo(Some(99), None)));
        assert!(!slo_met(Some(&run), &slo(None, Some(19))));
        run.ttft.record(900_000); // now 2% are slow: p99 misses
        assert!(!slo_met(Some(&run), &slo(Some(100), None)));
        assert!(
            !slo_met(None, &slo(Some(100), None)),
            "unmeasured is not met"
        );
        assert!(!slo_met(None, &slo(None, Some(100))));
        let single_tokens = TokenRun::new(1_000);
        assert!(
            slo_met(Some(&single_tokens), &slo(None, Some(1))),
            "no TPOT at all"
        );
        assert!(
            !slo_met(Some(&single_tokens), &slo(Some(1), None)),
            "no TTFT at all"
        );
    }

    #[test]
    fn the_report_says_null_for_what_nothing_measured() {
        let mut run = TokenRun::new(60_000_000);
        run.ttft.record(120_000);
        run.output_tokens = 300;
        run.good = 9;
        let r = run.report(10, 3.0);
        let p50 = r.ttft_ms.map_or(0.0, |l| l.p50);
        assert!((p50 - 120.0).abs() <= 120.0 * 0.001, "{p50}");
        assert_eq!((r.itl_ms, r.tpot_ms), (None, None));
        assert_eq!(r.prompt_tokens, None);
        assert_eq!(r.output_tokens_per_s, 100.0);
        assert_eq!(
            r.goodput,
            Goodput {
                requests: 9,
                share: 0.9,
                rps: 3.0
            }
        );
        assert_eq!(run.report(0, 0.0).goodput.rps, 0.0);
    }
}
