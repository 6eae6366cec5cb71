//! A compact latency histogram for one timeline window: log-linear buckets with 128 steps per
//! power of two (values within 0.8%), recorded in a few instructions and reset with one small
//! memset, so a run can summarise thousands of windows at millions of requests per second.
//! Whole-run latencies stay in HdrHistograms ([`crate::run::LatencyHist`]).

/// Values below this are their own bucket.
const LINEAR: u64 = 256;
/// Buckets per power of two above `LINEAR`.
const STEPS: u64 = 128;
/// Enough buckets for values up to 2^48 microseconds.
const BUCKETS: usize = (LINEAR + 40 * STEPS) as usize;

/// Latencies in microseconds, to within 0.8%.
#[derive(Debug, Clone)]
pub struct WindowHist {
    counts: Vec<u32>,
    total: u64,
}

impl Default for WindowHist {
    fn default() -> Self {
        WindowHist {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

#[inline]
fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros() as u64; // >= 8
    let shift = msb - 7; // v >> shift is in [128, 256)
    let i = LINEAR + (shift - 1) * STEPS + ((v >> shift) - STEPS);
    (i as usize).min(BUCKETS - 1)
}

/// The middle of bucket `i`.
fn value(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let j = i - LINEAR;
    let shift = j / STEPS + 1;
    let m = STEPS + j % STEPS;
    (m << shift) + (1 << shift) / 2
}

impl WindowHist {
    /// Records one latency.
    #[inline]
    pub fn record(&mut self, us: u64) {
        self.counts[index(us)] += 1;
        self.total += 1;
    }

    /// Number of recorded values.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
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
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c as u64;
            while k < N && seen >= ranks[k] {
                out[k] = value(i) as f64 / 1000.0;
                k += 1;
            }
            if k == N {
                break;
            }
        }
        out
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_within_0_8_percent() {
        let mut last = 0;
        for v in 1..2_000_000u64 {
            let i = index(v);
            assert!(i == last || i == last + 1, "gap at {v}");
            last = i;
            let mid = value(i) as f64;
            assert!(
                (mid - v as f64).abs() <= v as f64 * 0.008 + 0.5,
                "{v} -> {mid}"
            );
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
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
}
