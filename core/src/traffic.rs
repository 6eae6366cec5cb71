//! The traffic section of a scenario: rate shapes composed on one timeline, the arrival process
//! and the request classes.
//!
//! The offered rate at time t is `(sum of additive shapes at t) x (product of spike factors
//! active at t)`, plus the requests of bursts, which are counts rather than rates:
//! - `steady` adds a constant rate over an interval (the whole run by default);
//! - `ramp` adds a rate that moves linearly from `from` to `to` over `[at, at + for)` and then
//!   holds `to` until `until` (the end of the run by default);
//! - `diurnal` adds a sinusoid between `min` and `max` with the given `period` (24 h) that peaks
//!   at `peak`;
//! - `spike` multiplies the rate by `factor` during `[at, at + for)`;
//! - `burst` adds `requests` requests at `at`, all at once or spread uniformly over `within`.

use serde::{Deserialize, Serialize};

use crate::dist::DurationDist;
use crate::llm::TokenLengths;
use crate::template::RequestSpec;
use crate::units::{Duration, Rate};
use crate::users::{Executor, Users};

/// How arrivals are spaced around the offered rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalKind {
    /// Exponential gaps: independent users (the default).
    #[default]
    Poisson,
    /// Evenly spaced arrivals at exactly the offered rate.
    Constant,
    /// Gamma-distributed gaps with coefficient of variation `cv` (> 1 is burstier than Poisson).
    Gamma,
}

/// The `[traffic]` table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// The arrival process.
    #[serde(default)]
    pub arrival: ArrivalKind,
    /// Coefficient of variation of the gaps, for `arrival = "gamma"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv: Option<f64>,
    /// The service's capacity in requests per second, for rates written as `"50%"`. When absent
    /// it is derived from the service model: replicas x concurrency / mean service time, with
    /// replicas = `capacity_replicas` or else the largest maximum of the setups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    /// Replicas that make up "100% of capacity" when `capacity` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_replicas: Option<u32>,
    /// The client's timeout: a request not answered this long after its intended send time fails
    /// as timed out.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// The rate shapes, composed on one timeline.
    #[serde(default, rename = "shape")]
    pub shapes: Vec<Shape>,
    /// The request classes; one class named `default` when none is given.
    #[serde(default, rename = "class")]
    pub classes: Vec<RequestClass>,
    /// How the load is offered: open-loop `arrivals` from the rate shapes (the default) or
    /// closed-loop `users` (see [`crate::users`]).
    #[serde(default, skip_serializing_if = "Executor::is_arrivals")]
    pub executor: Executor,
    /// The `[traffic.users]` table, for `executor = "users"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Users>,
    /// `[traffic.tokens]`: the prompt and output lengths of each request, for an LLM service
    /// (a trace's own token counts win where it has them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenLengths>,
    /// `[traffic.trace]`: replay a request trace instead of the rate shapes (the `traces`
    /// crate: formats, window, speed, rate scale, looping). Its `file` is resolved against
    /// the scenario's folder when the scenario is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<traces::ReplaySpec>,
    /// `[traffic.openai]`: every request is an OpenAI-compatible completion (the `openai`
    /// crate's [`openai::RequestSpec`]) whose prompt has exactly the arrival's prompt tokens
    /// and whose `max_tokens` is its output tokens; needs the requests' token counts
    /// (`[traffic.tokens]`, or a trace that has them). Live drivers send it; the simulator
    /// serves the token counts alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openai: Option<openai::RequestSpec>,
}

/// What loading a scenario learnt of its trace (`[traffic.trace]`) in one pass over it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TraceInfo {
    /// Requests in the whole trace.
    pub requests: u64,
    /// Malformed rows skipped (with `malformed = "skip"`).
    pub skipped: u64,
    /// The trace's span, first to last request, in seconds of trace time.
    pub span_s: f64,
    /// The requests the run is expected to send: the trace's, windowed, scaled and looped,
    /// within the run's duration (pro rata when the run ends inside a pass).
    pub expected: f64,
    /// The mean prompt and output lengths of the trace's first requests (up to 100,000),
    /// when it carries token counts.
    pub mean_tokens: Option<(f64, f64)>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(60)
}

/// One component of the rate timeline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Shape {
    /// A constant rate over `[from, until)`.
    Steady {
        /// The rate.
        rate: Rate,
        /// Start (default: the start of the run).
        #[serde(default)]
        from: Duration,
        /// End (default: the end of the run).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Duration>,
    },
    /// A linear ramp from `from` to `to` over `[at, at + for)`, then `to` until `until`.
    Ramp {
        /// The rate at the start of the ramp.
        from: Rate,
        /// The rate at its end.
        to: Rate,
        /// When the ramp starts.
        #[serde(default)]
        at: Duration,
        /// How long it takes.
        #[serde(rename = "for")]
        length: Duration,
        /// When the held rate stops (default: the end of the run).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Duration>,
    },
    /// A sinusoidal day.
    Diurnal {
        /// The lowest rate (the trough).
        min: Rate,
        /// The highest rate (the peak).
        max: Rate,
        /// The length of one cycle.
        #[serde(default = "default_period")]
        period: Duration,
        /// When in the cycle the peak falls (default: half a period in).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peak: Option<Duration>,
    },
    /// The rate times `factor` during `[at, at + for)`.
    Spike {
        /// The multiplier, e.g. 5 for a 5x spike.
        factor: f64,
        /// When it starts.
        at: Duration,
        /// How long it lasts.
        #[serde(rename = "for")]
        length: Duration,
    },
    /// `requests` extra requests at `at`, at once or spread uniformly over `within`.
    Burst {
        /// How many requests.
        requests: u64,
        /// When.
        at: Duration,
        /// Spread them over this window (default: all at the same instant).
        #[serde(default)]
        within: Duration,
    },
}

fn default_period() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// A kind of request, drawn with probability proportional to `weight`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestClass {
    /// Its name in reports.
    pub name: String,
    /// Relative frequency.
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Its own service time, instead of `[service] time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<DurationDist>,
    /// Higher is served first from the queue (0 by default).
    #[serde(default)]
    pub priority: u8,
    /// What a live driver sends for this class (the simulator does not read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSpec>,
}

fn default_weight() -> f64 {
    1.0
}

impl Shape {
    /// The instants at which this shape starts a transient that reports measure recovery from:
    /// spike starts and burst instants.
    pub fn transient_start(&self) -> Option<Duration> {
        match self {
            Shape::Spike { at, .. } | Shape::Burst { at, .. } => Some(*at),
            _ => None,
        }
    }

    /// The rates of this shape, for resolving shares of capacity and checking them.
    pub fn rates(&self) -> Vec<Rate> {
        match self {
            Shape::Steady { rate, .. } => vec![*rate],
            Shape::Ramp { from, to, .. } => vec![*from, *to],
            Shape::Diurnal { min, max, .. } => vec![*min, *max],
            Shape::Spike { .. } | Shape::Burst { .. } => vec![],
        }
    }

    /// The kind as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Shape::Steady { .. } => "steady",
            Shape::Ramp { .. } => "ramp",
            Shape::Diurnal { .. } => "diurnal",
            Shape::Spike { .. } => "spike",
            Shape::Burst { .. } => "burst",
        }
    }
}

impl Traffic {
    /// The request classes' names in order; `default` when the scenario names none.
    pub fn class_names(&self) -> Vec<String> {
        if self.classes.is_empty() {
            vec!["default".to_string()]
        } else {
            self.classes.iter().map(|c| c.name.clone()).collect()
        }
    }

    /// The request classes' cumulative weights, ending at 1, for drawing a class by weight
    /// (the first class whose entry exceeds a uniform draw); empty with one class or none.
    pub fn class_cdf(&self) -> Vec<f64> {
        if self.classes.len() <= 1 {
            return Vec::new();
        }
        let total: f64 = self.classes.iter().map(|c| c.weight).sum();
        let mut acc = 0.0;
        self.classes
            .iter()
            .map(|c| {
                acc += c.weight / total;
                acc
            })
            .collect()
    }

    /// The offered rate at `t_s` seconds, in requests per second, bursts excluded: the sum of the
    /// additive shapes times the product of the spikes active at `t_s`. Intervals are half-open
    /// (`[from, until)`), so the rate at a boundary is the one that follows it.
    pub fn rate_at(&self, t_s: f64, capacity_rps: f64, duration_s: f64) -> f64 {
        let mut sum = 0.0;
        let mut factor = 1.0;
        for shape in &self.shapes {
            match shape {
                Shape::Steady { rate, from, until } => {
                    let end = until.map_or(duration_s, |u| u.as_secs_f64());
                    if t_s >= from.as_secs_f64() && t_s < end {
                        sum += rate.resolve(capacity_rps);
                    }
                }
                Shape::Ramp {
                    from,
                    to,
                    at,
                    length,
                    until,
                } => {
                    let start = at.as_secs_f64();
                    let ramp_end = start + length.as_secs_f64();
                    let end = until.map_or(duration_s, |u| u.as_secs_f64());
                    let (lo, hi) = (from.resolve(capacity_rps), to.resolve(capacity_rps));
                    if t_s >= start && t_s < ramp_end {
                        sum += lo + (hi - lo) * (t_s - start) / (ramp_end - start);
                    } else if t_s >= ramp_end && t_s < end {
                        sum += hi;
                    }
                }
                Shape::Diurnal {
                    min,
                    max,
                    period,
                    peak,
                } => {
                    let p = period.as_secs_f64();
                    let peak = peak.map_or(p / 2.0, |d| d.as_secs_f64());
                    let (lo, hi) = (min.resolve(capacity_rps), max.resolve(capacity_rps));
                    let phase = std::f64::consts::TAU * (t_s - peak) / p;
                    sum += lo + (hi - lo) * 0.5 * (1.0 + phase.cos());
                }
                Shape::Spike {
                    factor: f,
                    at,
                    length,
                } => {
                    let start = at.as_secs_f64();
                    if t_s >= start && t_s < start + length.as_secs_f64() {
                        factor *= f;
                    }
                }
                Shape::Burst { .. } => {}
            }
        }
        (sum * factor).max(0.0)
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    fn traffic(src: &str) -> Traffic {
        match toml::from_str(src) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn shapes_compose_additively_with_spikes_multiplying() {
        let t = traffic(
            r#"
[[shape]]
kind = "steady"
rate = "50%"
[[shape]]
kind = "ramp"
from = 0
to = 100
at = "10s"
for = "10s"
until = "30s"
[[shape]]
kind = "spike"
factor = 5
at = "25s"
for = "10s"
"#,
        );
        let r = |s| t.rate_at(s, 200.0, 60.0);
        assert_eq!(r(0.0), 100.0);
        assert_eq!(r(15.0), 150.0, "half-way up the ramp");
        assert_eq!(r(20.0), 200.0, "the ramp holds `to`");
        assert_eq!(r(25.0), 1000.0, "5x of steady plus ramp");
        assert_eq!(r(30.0), 500.0, "the ramp ended, the spike goes on");
        assert_eq!(r(35.0), 100.0);
    }

    #[test]
    fn diurnal_peaks_where_asked() {
        let t = traffic(
            r#"
[[shape]]
kind = "diurnal"
min = 10
max = 30
period = "1h"
peak = "15m"
"#,
        );
        let r = |s| t.rate_at(s, 0.0, 3600.0);
        assert!((r(900.0) - 30.0).abs() < 1e-9);
        assert!((r(2700.0) - 10.0).abs() < 1e-9);
        assert!((r(0.0) - 20.0).abs() < 1e-9);
    }
}
