//! The Run: what one setup measured, whatever the driver. Histograms and counters only, never
//! per-request samples, so memory stays flat however long the run (the lists kept grow with
//! the cluster's events, not the requests: the cold starts, one per replica started,
//! [`ColdStarts`]; a real cluster's watch errors and budget refusals, [`ClusterRun`]). An LLM
//! endpoint's answers add their token figures ([`TokenRun`], [`TokenSample`]).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::report::{
    BudgetReport, FaultEvent, Latency, PrometheusReport, Requests, TimelineSample,
};

mod cluster;
mod cold_start;
pub(crate) mod tokens;
pub use cluster::{ClusterRun, RefusalRecord, UndoRecord, WatchErrorRecord};
pub use cold_start::{ColdStartSample, ColdStarts};
pub use tokens::{TokenRun, TokenSample};

/// Significant digits kept by latency histograms (0.1% resolution).
const SIGFIGS: u8 = 3;

/// A latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct LatencyHist(Histogram<u64>);

impl LatencyHist {
    /// A histogram for latencies up to `max_us` microseconds (larger values are clamped).
    pub fn new(max_us: u64) -> Self {
        Self::with_sigfigs(max_us, SIGFIGS)
    }

    fn with_sigfigs(max_us: u64, sigfigs: u8) -> Self {
        let h = Histogram::new_with_bounds(1, max_us.max(2), sigfigs)
            .unwrap_or_else(|_| Histogram::new(sigfigs).unwrap_or_else(|_| unreachable!()));
        LatencyHist(h)
    }

    /// Records one latency.
    #[inline]
    pub fn record(&mut self, us: u64) {
        self.0.saturating_record(us.max(1));
    }

    /// Records `count` occurrences of one latency.
    #[inline]
    pub fn record_n(&mut self, us: u64, count: u64) {
        let _ = self.0.record_n(us.max(1), count);
    }

    /// Number of recorded values.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at quantile `q` (0-1), in milliseconds; 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            0.0
        } else {
            self.0.value_at_quantile(q) as f64 / 1000.0
        }
    }

    /// How many recorded values are above `ms` milliseconds (to the histogram's resolution).
    pub fn count_above_ms(&self, ms: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        let below = self.0.quantile_below((ms * 1000.0).max(0.0) as u64);
        let len = self.0.len();
        len - ((below * len as f64).round() as u64).min(len)
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        self.0.reset();
    }

    /// Adds another histogram's values.
    pub fn merge(&mut self, other: &LatencyHist) {
        let _ = self.0.add(&other.0);
    }

    /// The standard percentiles.
    pub fn summary(&self) -> Latency {
        if self.0.is_empty() {
            return Latency::default();
        }
        Latency {
            p50: self.quantile_ms(0.50),
            p90: self.quantile_ms(0.90),
            p95: self.quantile_ms(0.95),
            p99: self.quantile_ms(0.99),
            p999: self.quantile_ms(0.999),
            max: self.0.max() as f64 / 1000.0,
            mean: self.0.mean() / 1000.0,
        }
    }
}

/// Per-class measurements.
#[derive(Debug, Clone)]
pub struct ClassRun {
    /// The class name.
    pub name: String,
    /// Its accounting.
    pub requests: Requests,
    /// Its latencies (ok and timed out).
    pub latency: LatencyHist,
    /// Ok requests within the SLO latency.
    pub within_slo: u64,
}

/// What happened in one timeline window, beyond the published sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowSlo {
    /// Requests that finished in the window (ok or any error).
    pub finished: u64,
    /// Of those, ok within the SLO latency.
    pub within: u64,
    /// Requests older than the SLO latency were still waiting or in service at the window's end
    /// (nothing finishing is no proof of health when everything is stuck in a queue).
    pub stuck: bool,
}

impl WindowSlo {
    /// True when the window misses the objective: fewer than `percentile`% of the requests that
    /// finished in it were ok within the SLO latency, or it finished none while requests older
    /// than the SLO latency waited.
    pub fn violated(&self, percentile: f64) -> bool {
        if self.finished == 0 {
            self.stuck
        } else {
            (self.within as f64) < self.finished as f64 * percentile / 100.0
        }
    }
}

/// Cost and capacity accounting of one pool (or of replicas under replica billing).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PoolRun {
    /// `spot` or `on-demand`.
    pub capacity_type: String,
    /// Paid for, in node-seconds (or replica-seconds).
    pub unit_seconds: f64,
    /// Cost.
    pub usd: f64,
    /// GPU-seconds paid for.
    pub gpu_seconds: f64,
    /// Most units at once.
    pub max_units: u32,
}

/// What the live load engine measured beyond the outcomes, and whether it, rather than the
/// target, limited the run.
#[derive(Debug, Clone)]
pub struct LoadStats {
    /// Actual minus intended send time of every request sent, in microseconds: the sum of the
    /// two parts below.
    pub schedule_lag: LatencyHist,
    /// Of the schedule lag: how late a sending thread took the request from the schedule, in
    /// microseconds. This part is the engine's own (a busy or descheduled thread).
    pub pacing_lag: LatencyHist,
    /// Of the schedule lag: how long the request then waited for a free connection, in
    /// microseconds. With a pool that could still grow this is the engine's; with a pool that
    /// stopped growing because more connections no longer raised throughput it is the target's.
    pub connection_wait: LatencyHist,
    /// Requests per outcome class: `http_<status>`, `connect`, `reset`, `timeout`, `not_sent`,
    /// `cancelled`.
    pub outcomes: BTreeMap<String, u64>,
    /// The most sending threads (shards) at once; `None` where no open-loop engine sent
    /// (closed-loop users).
    pub shards: Option<u32>,
    /// The most connections open at once (HTTP/1.1; HTTP/2 counts its connections); `None`
    /// where no open-loop engine sent.
    pub max_connections: Option<u32>,
    /// The busiest sending thread's share of time it wanted a core (working, or waiting in the
    /// run queue for one; not waiting for the next instant or for answers) over its busiest
    /// quarter second, 0-1; `None` where the platform cannot tell.
    pub peak_busy: Option<f64>,
    /// Every way the engine itself limited the run; empty when the numbers are the target's.
    pub limits: Vec<GeneratorLimit>,
    /// The wall-clock instant of the run's scenario time zero (when the first arrival could
    /// be due), to line the timeline up with an outside clock such as Prometheus'; `None` when
    /// the engine did not say.
    pub started_at: Option<std::time::SystemTime>,
}

/// One way the load engine, not the target, limited a run.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorLimit {
    /// What limited it.
    pub kind: LimitKind,
    /// The measured figure (in the kind's unit).
    pub value: f64,
    /// The bound it crossed (same unit).
    pub bound: f64,
    /// What to change: the flag or the resource, in words a user can act on.
    pub advice: String,
}

/// The ways the load engine can limit a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LimitKind {
    /// The sending threads took requests from the schedule late (p99 pacing lag, ms).
    PacingLag,
    /// Requests were not sent because the in-flight bound was reached (count).
    NotSent,
    /// A sending thread was busy nearly all of the time (peak busy share, 0-1).
    Saturated,
    /// Requests waited for a connection because a user-set connection cap was reached, while
    /// the target could have taken more (p99 connection wait, ms).
    ConnectionCap,
}

impl LimitKind {
    /// The name in reports: `pacing_lag`, `not_sent`, `saturated`, `connection_cap`.
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::PacingLag => "pacing_lag",
            LimitKind::NotSent => "not_sent",
            LimitKind::Saturated => "saturated",
            LimitKind::ConnectionCap => "connection_cap",
        }
    }

    /// The unit of its value and bound: `ms`, `count` or `fraction`.
    pub fn unit(self) -> &'static str {
        match self {
            LimitKind::PacingLag | LimitKind::ConnectionCap => "ms",
            LimitKind::NotSent => "count",
            LimitKind::Saturated => "fraction",
        }
    }
}

/// One setup's whole run.
#[derive(Debug, Clone)]
pub struct SetupRun {
    /// The setup's name.
    pub name: String,
    /// Its policy kind.
    pub policy: String,
    /// Per class, in the scenario's class order.
    pub classes: Vec<ClassRun>,
    /// All latencies.
    pub latency: LatencyHist,
    /// The bill per pool; `None` when nothing billed the run (a live run of `scalebench load`
    /// has no cost source), which is not the same as a bill of nothing.
    pub pools: Option<BTreeMap<String, PoolRun>>,
    /// Paid GPU-seconds with no request in service, over paid GPU-seconds; `None` when nothing
    /// measured it.
    pub idle_fraction: Option<f64>,
    /// Most replicas ready at once; `None` when nothing observed the replicas.
    pub max_ready: Option<u32>,
    /// The replicas started during the run: the cold-start breakdown of each that became ready
    /// (its count is the report's `scaling.cold_starts`) and how many never did; `None` when
    /// nothing observed the pods (`scalebench load` against a bare URL, closed-loop users), so
    /// the report says `null`, never zeros.
    pub cold_starts: Option<ColdStarts>,
    /// Seconds from the first transient to the first replica created after it becoming ready.
    pub scale_up_reaction_s: Option<f64>,
    /// What the policy's budget ceiling held back, for a policy with one.
    pub budget: Option<BudgetReport>,
    /// How a live load engine kept its schedule, and its outcomes by class (live runs only).
    pub load: Option<LoadStats>,
    /// The timeline.
    pub timeline: Vec<TimelineSample>,
    /// The SLO accounting of each window, parallel to `timeline`.
    pub window_slo: Vec<WindowSlo>,
    /// Faults injected and their effects.
    pub faults: Vec<FaultEvent>,
    /// Requests that found no free replica slot and waited in the queue.
    pub waited: u64,
    /// Seconds of traffic actually offered (the scenario's duration unless interrupted).
    pub duration_s: f64,
    /// The run was interrupted (Ctrl-C) and holds what was measured until then.
    pub interrupted: bool,
    /// The timeline fields read from a Prometheus server afterwards, and how; `None` when
    /// none were.
    pub prometheus: Option<PrometheusReport>,
    /// What the Kubernetes side did to the measurement (watch errors and relists, budget
    /// refusals of evictions, the writes made, the undoing of taints and cordons): the cluster
    /// driver's only; `None` for every other driver, so the report says `null`.
    pub cluster: Option<ClusterRun>,
    /// The token figures of an LLM endpoint's answers (TTFT, ITL, TPOT, tokens, goodput);
    /// `None` unless the driver recorded any ([`Recorder::tokens`](crate::record::Recorder)),
    /// so a report of any other endpoint leaves them out.
    pub tokens: Option<TokenRun>,
}

impl SetupRun {
    /// The accounting of every class together.
    pub fn requests(&self) -> Requests {
        self.classes
            .iter()
            .fold(Requests::default(), |a, c| Requests {
                scheduled: a.scheduled + c.requests.scheduled,
                sent: a.sent + c.requests.sent,
                ok: a.ok + c.requests.ok,
                failed: a.failed + c.requests.failed,
                rejected: a.rejected + c.requests.rejected,
                timed_out: a.timed_out + c.requests.timed_out,
                not_sent: a.not_sent + c.requests.not_sent,
            })
    }

    /// Ok requests within the SLO latency.
    pub fn within_slo(&self) -> u64 {
        self.classes.iter().map(|c| c.within_slo).sum()
    }

    /// Total cost; `None` when nothing billed the run.
    pub fn cost_usd(&self) -> Option<f64> {
        self.pools.as_ref().map(|p| p.values().map(|p| p.usd).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::LatencyHist;

    #[test]
    fn count_above_counts_the_values_past_a_bound() {
        let mut h = LatencyHist::new(1_000_000);
        assert_eq!(h.count_above_ms(1.0), 0);
        for us in [10, 500, 999, 1_000, 1_500, 20_000] {
            h.record(us);
        }
        assert_eq!(h.count_above_ms(1.0), 2);
        assert_eq!(h.count_above_ms(0.0), 6);
        assert_eq!(h.count_above_ms(30.0), 0);
    }
}
