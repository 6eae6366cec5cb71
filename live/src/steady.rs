//! Steady open-loop load described by a few numbers, as a scenario: what `scalebench load` and
//! `scalebench calibrate` send, and what the engine's tests send.

use std::path::Path;

use scalebench_core::{Duration, Located, Plan};

/// Why the numbers do not make a scenario.
#[derive(Debug, thiserror::Error)]
pub enum SteadyError {
    /// The duration is zero.
    #[error("--duration must be longer than zero")]
    Duration,
    /// The percentile is not within (0, 100).
    #[error("--slo-percentile must be between 0 and 100, found {0}")]
    Percentile(f64),
    /// The scenario they make is refused (a rate out of bounds, say).
    #[error(transparent)]
    Scenario(#[from] Located),
}

/// Steady traffic at one rate, one `load` setup.
#[derive(Debug, Clone, Copy)]
pub struct Steady {
    /// Requests per second.
    pub rate: f64,
    /// How long.
    pub duration: Duration,
    /// Poisson arrivals instead of evenly spaced ones.
    pub poisson: bool,
    /// The client's timeout.
    pub timeout: Duration,
    /// The latency objective.
    pub slo: Duration,
    /// Its percentile.
    pub percentile: f64,
    /// The arrival process's seed.
    pub seed: u64,
}

impl Steady {
    /// The scenario.
    pub fn plan(&self) -> Result<Plan, SteadyError> {
        if self.duration.is_zero() {
            return Err(SteadyError::Duration);
        }
        if !(self.percentile > 0.0 && self.percentile < 100.0) {
            return Err(SteadyError::Percentile(self.percentile));
        }
        let src = format!(
            r#"name = "load"
duration = "{duration}"
seed = {seed}
[slo]
latency = "{slo}"
percentile = {percentile}
[traffic]
arrival = "{arrival}"
timeout = "{timeout}"
[[traffic.shape]]
kind = "steady"
rate = {rate}
[service]
time = "1ms"
[cluster]
billing = "replica"
price_per_replica_hour = 0
[[setup]]
name = "load"
[setup.fixed]
replicas = 1
"#,
            duration = self.duration,
            seed = self.seed,
            slo = self.slo,
            percentile = self.percentile,
            arrival = if self.poisson { "poisson" } else { "constant" },
            timeout = self.timeout,
            rate = self.rate,
        );
        Ok(Plan::parse(Path::new("load flags"), &src)?)
    }

    /// For unit tests: `rate` evenly spaced requests a second for `duration` (a 5 s timeout,
    /// a 500 ms SLO at p99, seed 1).
    #[cfg(test)]
    pub(crate) fn test_plan(rate: f64, duration: &str) -> Plan {
        let d = |s: &str| s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        Steady {
            rate,
            duration: d(duration),
            poisson: false,
            timeout: d("5s"),
            slo: d("500ms"),
            percentile: 99.0,
            seed: 1,
        }
        .plan()
        .unwrap_or_else(|e| panic!("{e}"))
    }
}
