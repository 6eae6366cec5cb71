//! Autoscaler policies: pure, deterministic functions of the (delayed) metrics they observe.
//!
//! The simulator (and later the testbed) samples the service once per second into
//! [`MetricSample`]s, delays them by the setup's scrape delay, and calls [`Policy::decide`] every
//! [`Policy::interval`]. A policy returns the replica count it wants; the driver adds the setup's
//! warm pool on top and creates or drains pods to match. Policies do no I/O and read no clock but
//! the `now` they are given, so the same inputs always give the same decisions.

mod fixed;
pub mod hpa;
mod keda;
mod kpa;

pub use fixed::Fixed;
pub use hpa::Hpa;
pub use keda::Keda;
pub use kpa::Kpa;

use workloads::policy::PolicyConfig;

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
}

/// Builds the policy a setup names.
pub fn build(config: &PolicyConfig) -> Box<dyn Policy> {
    match config {
        PolicyConfig::Fixed(c) => Box::new(Fixed::new(c)),
        PolicyConfig::Hpa(c) => Box::new(Hpa::new(c)),
        PolicyConfig::Kpa(c) => Box::new(Kpa::new(c)),
        PolicyConfig::Keda(c) => Box::new(Keda::new(c)),
    }
}
