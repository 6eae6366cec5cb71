//! The KPA's metric windows: the stable and panic averages Knative's collector computes from its
//! per-second buckets (knative/serving `pkg/autoscaler/metrics/collector.go`, `stableAndPanicConcurrency`
//! / `stableAndPanicRPS`, over `pkg/autoscaler/aggregation/bucketing.go`'s
//! `TimedFloat64Buckets.WindowAverage` and `IsEmpty`).
//!
//! Each [`MetricSample`] is one 1 s bucket, indexed by its rounded time. A sample only counts as
//! *data* when something would have reported it: a ready pod's queue-proxy (which reports every
//! scrape, zero included), or the activator holding requests while no pod is ready. Seconds with
//! neither are gaps, as in Knative, where the scraper records nothing with no ready pod.

use scalebench_core::policy::KpaMetric;

use super::super::MetricSample;

/// Digits `WindowAverage` keeps (`roundToNDigits(precision, ...)` floors to 6 digits).
const PRECISION: f64 = 1e6;

/// The value Knative would record for this second, if it records anything.
fn point(s: &MetricSample, metric: KpaMetric) -> Option<(i64, f64)> {
    let v = match metric {
        // Queue-proxy counts every request it holds, waiting or in service, and the activator
        // reports the requests it buffers: together, everything in the system.
        KpaMetric::Concurrency => s.in_flight + s.queue,
        KpaMetric::Rps => s.arrival_rps,
    };
    (s.ready > 0 || v > 0.0).then_some((s.t.round() as i64, v))
}

/// The stable and panic averages as of the newest sample, or `None` when the stable window holds
/// no data (Knative's `ErrNoData`, on which the decider keeps its last recommendation).
///
/// `stable` and `panic` are the window lengths in whole seconds (buckets), both at least 1.
pub(crate) fn averages(
    samples: &[MetricSample],
    metric: KpaMetric,
    stable: i64,
    panic: i64,
) -> Option<(f64, f64)> {
    let now = samples.last()?.t.round() as i64;
    let last = samples.iter().rev().find_map(|s| point(s, metric))?.0;
    // IsEmpty: `now.Sub(t.lastWrite) > t.window`.
    if now - last > stable {
        return None;
    }
    let avg = |n| window_average(samples, metric, now, last, n);
    Some((avg(stable), avg(panic)))
}

/// `WindowAverage(now)` of one window of `n` buckets whose newest data is at `last`.
///
/// The average runs over the buckets from the later of the window start and the first write of
/// the current run of data (a gap of a whole window resets the first write) up to the last write;
/// seconds without data inside that span count as zero, the silent tail after the last write does
/// not count at all.
fn window_average(samples: &[MetricSample], metric: KpaMetric, now: i64, last: i64, n: i64) -> f64 {
    if now - last >= n {
        return 0.0;
    }
    let start = now - n + 1;
    let mut sum = 0.0;
    let mut first = last;
    let mut prev = last;
    for (idx, v) in samples.iter().rev().filter_map(|s| point(s, metric)) {
        if prev - idx >= n {
            // `Record` resets firstWrite after a window without writes: the run began at `prev`.
            break;
        }
        if idx < start {
            // Data before the window and no reset in between: the window is full.
            first = start;
            break;
        }
        sum += v;
        first = idx;
        prev = idx;
    }
    let buckets = (last - first + 1) as f64;
    (sum / buckets * PRECISION).floor() / PRECISION
}
