//! Log-linear latency histograms that record in a few instructions: 2^BITS steps per power of
//! two above a linear range, so every value is kept to within 2^-BITS of itself.
//!
//! - [`WindowHist`] (BITS = 7, within 0.8%) summarises one timeline window and is reset with one
//!   small memset, so a run can summarise thousands of windows;
//! - [`FineHist`] (BITS = 10, within 0.1%) collects a window's latencies per request class and
//!   hands them to the class's HdrHistogram ([`crate::run::LatencyHist`]) when the window
//!   closes: one cheap record per request instead of an HdrHistogram record.

use crate::run::LatencyHist;

/// Latencies in microseconds, kept to within 2^-BITS.
#[derive(Debug, Clone)]
pub struct LogHist<const BITS: u32> {
    counts: Vec<u32>,
    total: u64,
    /// Lowest and highest bucket touched since the last reset.
    lo: usize,
    hi: usize,
}

/// A window's latencies, to within 0.8%.
pub type WindowHist = LogHist<7>;
/// A window's latencies of one class on their way to its HdrHistogram, to within 0.1%.
pub type FineHist = LogHist<10>;

impl<const BITS: u32> Default for LogHist<BITS> {
    fn default() -> Self {
        LogHist {
            counts: vec![0; Self::BUCKETS],
            total: 0,
            lo: usize::MAX,
            hi: 0,
        }
    }
}

impl<const BITS: u32> LogHist<BITS> {
    /// Steps per power of two.
    const STEPS: u64 = 1 << BITS;
    /// Values below this are their own bucket.
    const LINEAR: u64 = 2 << BITS;
    /// Enough buckets for values up to 2^48 microseconds.
    const BUCKETS: usize = (Self::LINEAR + (48 - BITS as u64) * Self::STEPS) as usize;

    #[inline]
    fn index(v: u64) -> usize {
        if v < Self::LINEAR {
            return v as usize;
        }
        let msb = 63 - v.leading_zeros() as u64; // > BITS
        let shift = msb - BITS as u64; // v >> shift is in [STEPS, 2 STEPS)
        let i = Self::LINEAR + (shift - 1) * Self::STEPS + ((v >> shift) - Self::STEPS);
        (i as usize).min(Self::BUCKETS - 1)
    }

    /// The middle of bucket `i`.
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < Self::LINEAR {
            return i;
        }
        let j = i - Self::LINEAR;
        let shift = j / Self::STEPS + 1;
        let m = Self::STEPS + j % Self::STEPS;
        (m << shift) + (1 << shift) / 2
    }

    /// Records one latency.
    #[inline]
    pub fn record(&mut self, us: u64) {
        let i = Self::index(us);
        self.counts[i] += 1;
        self.total += 1;
        self.lo = self.lo.min(i);
        self.hi = self.hi.max(i);
    }

    /// Records `n` occurrences of one latency (a bucket holds at most `u32::MAX`).
    #[inline]
    pub fn record_n(&mut self, us: u64, n: u64) {
        if n == 0 {
            return;
        }
        let i = Self::index(us);
        let before = self.counts[i];
        self.counts[i] = before.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        self.total += u64::from(self.counts[i] - before);
        self.lo = self.lo.min(i);
        self.hi = self.hi.max(i);
    }

    /// Number of recorded values.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The touched buckets with their counts.
    fn touched(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        let range = if self.total == 0 {
            0..0
        } else {
            self.lo..self.hi + 1
        };
        range.map(|i| (i, self.counts[i])).filter(|&(_, c)| c > 0)
    }

    /// The values at the given quantiles (ascending, each 0-1), in milliseconds; zeros when
    /// empty. One pass over the buckets.
    pub fn quantiles_ms<const N: usize>(&self, qs: [f64; N]) -> [f64; N] {
        let mut out = [0.0; N];
        if self.total == 0 {
            return out;
        }
        let ranks = qs.map(|q| ((q * self.total as f64).ceil() as u64).clamp(1, self.total));
        let mut k = 0;
        let mut seen = 0u64;
        for (i, c) in self.touched() {
            seen += c as u64;
            while k < N && seen >= ranks[k] {
                out[k] = Self::value(i) as f64 / 1000.0;
                k += 1;
            }
            if k == N {
                break;
            }
        }
        out
    }

    /// Adds every value to an HdrHistogram (at its bucket's middle) and forgets them.
    pub fn drain_into(&mut self, hist: &mut LatencyHist) {
        for (i, c) in self.touched() {
            hist.record_n(Self::value(i), c as u64);
        }
        self.reset();
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        if self.total > 0 {
            self.counts[self.lo..=self.hi].fill(0);
        }
        self.total = 0;
        self.lo = usize::MAX;
        self.hi = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contiguous_and_within<const BITS: u32>(tolerance: f64) {
        let mut last = 0;
        for v in 1..3_000_000u64 {
            let i = LogHist::<BITS>::index(v);
            assert!(i == last || i == last + 1, "gap at {v}");
            last = i;
            let mid = LogHist::<BITS>::value(i) as f64;
            assert!(
                (mid - v as f64).abs() <= v as f64 * tolerance + 0.5,
                "{v} -> {mid}"
            );
        }
        assert_eq!(
            LogHist::<BITS>::index(u64::MAX),
            LogHist::<BITS>::BUCKETS - 1
        );
    }

    #[test]
    fn buckets_are_contiguous_and_precise() {
        contiguous_and_within::<7>(0.008);
        contiguous_and_within::<10>(0.001);
    }

    #[test]
    fn quantiles_of_a_uniform_spread() {
        let mut h = WindowHist::default();
        for v in 1..=10_000u64 {
            h.record(v * 100); // 0.1 ms .. 1 s
        }
        let [p50, p99] = h.quantiles_ms([0.5, 0.99]);
        assert!((p50 - 500.0).abs() < 500.0 * 0.008, "{p50}");
        assert!((p99 - 990.0).abs() < 990.0 * 0.008, "{p99}");
        h.reset();
        assert!(h.is_empty());
        assert_eq!(h.quantiles_ms([0.5]), [0.0]);
    }

    #[test]
    fn recording_n_at_once_is_recording_n_times() {
        let (mut once, mut each) = (WindowHist::default(), WindowHist::default());
        once.record_n(20_000, 7);
        once.record_n(900, 0);
        once.record_n(40_000, 3);
        for _ in 0..7 {
            each.record(20_000);
        }
        for _ in 0..3 {
            each.record(40_000);
        }
        assert_eq!(once.len(), 10);
        assert_eq!(
            once.quantiles_ms([0.5, 0.7, 0.71, 1.0]),
            each.quantiles_ms([0.5, 0.7, 0.71, 1.0])
        );
    }

    #[test]
    fn draining_into_an_hdr_histogram_keeps_the_percentiles() {
        let mut fine = FineHist::default();
        let mut hdr = LatencyHist::new(60_000_000);
        let mut direct = LatencyHist::new(60_000_000);
        for v in (1..200_000u64).map(|i| i * 37 % 5_000_000 + 1) {
            fine.record(v);
            direct.record(v);
        }
        fine.drain_into(&mut hdr);
        assert!(fine.is_empty());
        let (a, b) = (hdr.summary(), direct.summary());
        assert_eq!(hdr.len(), direct.len());
        for (x, y) in [
            (a.p50, b.p50),
            (a.p99, b.p99),
            (a.mean, b.mean),
            (a.max, b.max),
        ] {
            assert!((x - y).abs() <= y * 0.002, "{x} vs {y}");
        }
    }
}
