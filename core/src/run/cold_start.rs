//! The cold-start breakdown: how long each replica started during a run spent in each phase of
//! its start, whatever observed it. The simulator and the testbed fill it from the model's pods;
//! a driver that watches a real cluster fills it from pod conditions. The constructor takes
//! nanoseconds, not any driver's types, so every driver can feed it.
//!
//! The phases, as `kubectl get pods` shows them:
//! - `pending`: created -> scheduled (bound to a node): waiting for a node with room, including
//!   the time a new node takes to be provisioned;
//! - `creating`: scheduled -> container started: image pull and container start
//!   (`ContainerCreating`);
//! - `loading`: container started -> ready: the model loads until the readiness probe passes
//!   (`Running`, not ready).
//!
//! Unlike latencies, which are kept in histograms, cold starts are few (hundreds in a long
//! run, one per replica started), so the samples are kept in a `Vec` and the percentiles are
//! exact.

use crate::report::{ColdStartReport, PhaseMs};

/// One replica's cold start, phase by phase, in nanoseconds; its total is their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ColdStartSample {
    /// Created -> scheduled (bound to a node): waiting for room, node provisioning included.
    pub pending_ns: u64,
    /// Scheduled -> container started: image pull and container start.
    pub creating_ns: u64,
    /// Container started -> ready: the model load until the readiness probe passes.
    pub loading_ns: u64,
}

impl ColdStartSample {
    /// The sample of a replica from the instants (ns, on any one clock) it was created,
    /// scheduled, started its container and became ready. An instant earlier than the one
    /// before it (clocks of different machines) counts as the same instant, so no phase is
    /// negative and the phases still sum to ready - created.
    pub fn from_instants(created: u64, scheduled: u64, started: u64, ready: u64) -> Self {
        let scheduled = scheduled.max(created);
        let started = started.max(scheduled);
        let ready = ready.max(started);
        ColdStartSample {
            pending_ns: scheduled - created,
            creating_ns: started - scheduled,
            loading_ns: ready - started,
        }
    }

    /// Created -> ready: the sum of the phases.
    pub fn total_ns(&self) -> u64 {
        self.pending_ns
            .saturating_add(self.creating_ns)
            .saturating_add(self.loading_ns)
    }
}

/// The cold starts of one setup's run: a sample per replica started after time zero that
/// became ready, and how many such replicas never did (deleted before, or still starting when
/// the run ended). Replicas ready at time zero (initial replicas, warm pool) are not in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColdStarts {
    samples: Vec<ColdStartSample>,
    unfinished: u32,
}

impl ColdStarts {
    /// No cold start yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one replica that became ready.
    pub fn push(&mut self, sample: ColdStartSample) {
        self.samples.push(sample);
    }

    /// Adds `n` replicas that started but never became ready.
    pub fn add_unfinished(&mut self, n: u32) {
        self.unfinished = self.unfinished.saturating_add(n);
    }

    /// Adds another run's cold starts (the samples and the unfinished count), as when several
    /// runs of one setup are pooled.
    pub fn merge(&mut self, other: &ColdStarts) {
        self.samples.extend_from_slice(&other.samples);
        self.add_unfinished(other.unfinished);
    }

    /// The replicas that became ready, in the order they were added.
    pub fn samples(&self) -> &[ColdStartSample] {
        &self.samples
    }

    /// How many replicas became ready after a cold start.
    pub fn count(&self) -> u32 {
        u32::try_from(self.samples.len()).unwrap_or(u32::MAX)
    }

    /// How many replicas started but never became ready.
    pub fn unfinished(&self) -> u32 {
        self.unfinished
    }

    /// The breakdown as `report.json` writes it: p50, p95 and max of each phase and of the
    /// total, in milliseconds (`null` each when no replica became ready).
    pub fn report(&self) -> ColdStartReport {
        let phase = |f: fn(&ColdStartSample) -> u64| {
            let mut v: Vec<u64> = self.samples.iter().map(f).collect();
            v.sort_unstable();
            PhaseMs {
                p50: nearest_rank(&v, 0.50),
                p95: nearest_rank(&v, 0.95),
                max: v.last().map(|&ns| ns_to_ms(ns)),
            }
        };
        ColdStartReport {
            count: self.count(),
            unfinished: self.unfinished,
            pending_ms: phase(|s| s.pending_ns),
            creating_ms: phase(|s| s.creating_ns),
            loading_ms: phase(|s| s.loading_ns),
            total_ms: phase(ColdStartSample::total_ns),
        }
    }
}

/// The exact `q` quantile (0-1) of sorted values by the nearest-rank method (the smallest value
/// at least a share `q` of the values are at or below), in ms; `None` when there are none.
fn nearest_rank(sorted: &[u64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    Some(ns_to_ms(sorted[i]))
}

fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn sample(pending: u64, creating: u64, loading: u64) -> ColdStartSample {
        ColdStartSample {
            pending_ns: pending * MS,
            creating_ns: creating * MS,
            loading_ns: loading * MS,
        }
    }

    #[test]
    fn no_cold_start_has_null_percentiles_not_zeros() {
        let r = ColdStarts::new().report();
        assert_eq!(r.count, 0);
        assert_eq!(r.total_ms, PhaseMs::default());
        assert_eq!(r.total_ms.p50, None);
    }

    #[test]
    fn percentiles_are_exact_nearest_rank() {
        let mut c = ColdStarts::new();
        // Totals 10, 20, ..., 200 ms (20 samples), added out of order.
        for i in (1..=20).rev() {
            c.push(sample(i, 2 * i, 7 * i));
        }
        c.add_unfinished(3);
        let r = c.report();
        assert_eq!((r.count, r.unfinished), (20, 3));
        // p50 of 20 values: the 10th; p95: the 19th.
        assert_eq!(r.total_ms.p50, Some(100.0));
        assert_eq!(r.total_ms.p95, Some(190.0));
        assert_eq!(r.total_ms.max, Some(200.0));
        assert_eq!(r.pending_ms.p50, Some(10.0));
        assert_eq!(r.creating_ms.p95, Some(38.0));
        assert_eq!(r.loading_ms.max, Some(140.0));
        // One sample: every percentile is it.
        let mut one = ColdStarts::new();
        one.push(sample(1, 2, 3));
        let r = one.report();
        assert_eq!(
            (r.total_ms.p50, r.total_ms.p95, r.total_ms.max),
            (Some(6.0), Some(6.0), Some(6.0))
        );
    }

    #[test]
    fn merging_pools_the_samples_and_the_unfinished() {
        let mut a = ColdStarts::new();
        a.push(sample(1, 1, 1));
        a.add_unfinished(1);
        let mut b = ColdStarts::new();
        b.push(sample(2, 2, 2));
        b.push(sample(3, 3, 3));
        b.add_unfinished(2);
        a.merge(&b);
        assert_eq!((a.count(), a.unfinished()), (3, 3));
        assert_eq!(a.report().total_ms.max, Some(9.0));
    }

    #[test]
    fn instants_out_of_order_give_no_negative_phase() {
        let s = ColdStartSample::from_instants(100, 150, 140, 400);
        assert_eq!(
            (s.pending_ns, s.creating_ns, s.loading_ns, s.total_ns()),
            (50, 0, 250, 300)
        );
        let s = ColdStartSample::from_instants(100, 90, 200, 250);
        assert_eq!((s.pending_ns, s.creating_ns, s.loading_ns), (0, 100, 50));
    }
}
