//! Autoscaler policies: pure, deterministic functions of the (delayed) metrics they observe.
//!
//! The simulator (and later the testbed) samples the service once per second into
//! [`MetricSample`]s, delays them by the setup's scrape delay, and calls
//! [`Policy::decide_placed`] every [`Policy::interval`]. A policy returns the replica count it
//! wants, and optionally how many go on each node pool; the driver adds the setup's warm pool on
//! top and creates or drains pods to match. Policies do no I/O and read no clock but the `now`
//! they are given, so the same inputs always give the same decisions.

pub mod cost_aware;
mod fixed;
pub mod hpa;
mod keda;
mod kpa;

pub use cost_aware::{CostAware, Resource};
pub use fixed::Fixed;
pub use hpa::Hpa;
pub use keda::Keda;
pub use kpa::Kpa;

use scalebench_core::policy::PolicyConfig;
use scalebench_core::{Plan, Setup};

/// One scrape of the service's metrics, aggregated over the second before `t`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MetricSample {
    /// When the sample was taken, in seconds of scenario time.
    pub t: f64,
    /// Pods that were ready (and so exported metrics) when the sample was taken.
    pub ready: u32,
    /// Requests in service, summed over pods, averaged over the sample interval.
    pub in_flight: f64,
    /// Requests waiting in the queue, averaged over the sample interval.
    pub queue: f64,
    /// Arrivals per second during the sample interval.
    pub arrival_rps: f64,
    /// GPU utilisation of the ready pods in percent (0-100), averaged over the interval.
    pub gpu_util_pct: f64,
    /// The 95th percentile latency (from intended send time) of the requests that finished in
    /// the interval, in ms; `None` when none finished or the driver does not measure it.
    pub latency_p95_ms: Option<f64>,
    /// The 99th percentile, likewise.
    pub latency_p99_ms: Option<f64>,
}

impl MetricSample {
    /// In-flight requests per ready pod (0 with no ready pod).
    pub fn concurrency_per_pod(&self) -> f64 {
        if self.ready == 0 {
            0.0
        } else {
            self.in_flight / self.ready as f64
        }
    }
}

/// The pods of the workload as the API server sees them now (not delayed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PodCounts {
    /// Pending: not yet bound to a node, or pulling the image / starting the container.
    pub pending: u32,
    /// Running but not ready (loading the model): no metrics are exported yet.
    pub loading: u32,
    /// Ready and serving.
    pub ready: u32,
    /// Terminating (deletion timestamp set): ignored by every policy.
    pub draining: u32,
}

impl PodCounts {
    /// Pods that count toward the replica count (everything but draining).
    pub fn total(&self) -> u32 {
        self.pending + self.loading + self.ready
    }
}

/// What a policy sees of one node pool of its setup (or of the setup's replicas under replica
/// billing), now (not delayed).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PoolView {
    /// The pods the policy placed on this pool ([`Placement::PerPool`]), by state, without those
    /// on nodes under an interruption notice. All zero for a policy that does not place.
    pub pods: PodCounts,
    /// Of `pods.pending`, those still waiting for a node with room.
    pub unbound: u32,
    /// Pods the policy placed here that sit on nodes under an interruption notice: they serve
    /// until the node is reclaimed, then are gone (they are not replaced).
    pub noticed: u32,
    /// When a node of this pool last got an interruption notice or was lost, in seconds.
    pub last_disruption: Option<f64>,
    /// When the cluster autoscaler last needed a node in this pool and could not get one (an
    /// outage, or the pool at its `max_nodes`), in seconds.
    pub last_shortage: Option<f64>,
}

/// Where a policy wants its replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// This many replicas wherever the cluster autoscaler finds room (the setup's pools in
    /// order of preference), as a Deployment without node affinity gets.
    Anywhere(u32),
    /// This many replicas on each pool, in the setup's pool order, as one Deployment per pool
    /// with a node affinity for it would get. Pods on nodes under an interruption notice are
    /// not counted: the policy asks for the pods it wants to keep.
    PerPool(Vec<u32>),
}

impl Placement {
    /// All replicas together.
    pub fn total(&self) -> u32 {
        match self {
            Placement::Anywhere(n) => *n,
            Placement::PerPool(v) => v.iter().sum(),
        }
    }
}

/// A policy's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The replicas it asks for, and where.
    pub placement: Placement,
    /// Replicas it wanted but did not ask for because they would have taken the price of its
    /// capacity above its budget (0 for a policy without a budget).
    pub held_back: u32,
}

/// Everything a policy may look at when it decides.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Scenario time in seconds.
    pub now: f64,
    /// The replica count the policy asked for last time (spec.replicas), without the warm pool.
    pub current: u32,
    /// The pods that exist now, without the warm pool's share.
    pub pods: PodCounts,
    /// Metric samples old enough to have reached the policy (t <= now - scrape delay), oldest
    /// first, covering at least the last ten minutes when the run is that long.
    pub samples: &'a [MetricSample],
    /// The setup's node pools in its order of preference (one entry, `replicas`, under replica
    /// billing).
    pub pools: &'a [PoolView],
}

impl Observation<'_> {
    /// The newest sample the policy can see, if any.
    pub fn latest(&self) -> Option<&MetricSample> {
        self.samples.last()
    }
}

/// An autoscaler.
pub trait Policy: Send {
    /// How often the driver calls [`Policy::decide`], in seconds.
    fn interval(&self) -> f64;

    /// The replica count the policy wants now.
    fn decide(&mut self, obs: &Observation<'_>) -> u32;

    /// The replicas the policy wants now and where they go. By default [`Policy::decide`]'s
    /// count, anywhere.
    fn decide_placed(&mut self, obs: &Observation<'_>) -> Decision {
        Decision {
            placement: Placement::Anywhere(self.decide(obs)),
            held_back: 0,
        }
    }

    /// For a policy that places its replicas on pools: where the `replicas` ready at the start
    /// of a run go, one count per pool. `None`: anywhere.
    fn initial_placement(&self, _replicas: u32) -> Option<Vec<u32>> {
        None
    }

    /// True when the policy reads the latency percentiles of the metric samples, so that the
    /// driver measures them.
    fn reads_latency(&self) -> bool {
        false
    }
}

/// Builds the policy of one setup of a plan.
pub fn build(plan: &Plan, setup: &Setup) -> Box<dyn Policy> {
    match &setup.policy {
        PolicyConfig::Fixed(c) => Box::new(Fixed::new(c)),
        PolicyConfig::Hpa(c) => Box::new(Hpa::new(c)),
        PolicyConfig::Kpa(c) => Box::new(Kpa::new(c)),
        PolicyConfig::Keda(c) => Box::new(Keda::new(c)),
        PolicyConfig::CostAware(c) => Box::new(CostAware::new(
            c,
            cost_aware::Slo::of(plan),
            Resource::of_setup(plan, setup),
        )),
    }
}
