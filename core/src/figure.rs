//! The names of the figures a setup is judged by: what thresholds, regression limits, repeats
//! and comparisons refer to, with each figure's unit and which direction is better.
//!
//! The catalogue lives here, with the scenario schema, because scenario files name figures in
//! their `thresholds` and must be checked when they are loaded; [`crate::report::SetupReport::figure`] reads each
//! figure's value from a report.

use std::fmt;

use serde::{Serialize, Serializer};

/// What a figure measures, which decides how its values are written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds; thresholds may say `ms` or `s` (`p95<=800ms`, `p99<2s`).
    Millis,
    /// Seconds; thresholds may say `ms`, `s`, `m` or `h`.
    Seconds,
    /// A share from 0 to 1; thresholds may say `%` (`error_rate<1%`).
    Fraction,
    /// Money in the price table's currency.
    Usd,
    /// GPU-hours.
    Hours,
    /// A count of things (replicas, requests).
    Count,
    /// A rate: things (tokens, requests) per second.
    PerSecond,
}

impl Unit {
    /// The unit's name in JSON outputs: `ms`, `seconds`, `fraction`, `usd`, `hours`, `count`.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::Seconds => "seconds",
            Unit::Fraction => "fraction",
            Unit::Usd => "usd",
            Unit::Hours => "hours",
            Unit::Count => "count",
            Unit::PerSecond => "per_second",
        }
    }

    /// The suffixes a threshold value may carry for this unit, for messages.
    pub fn suffixes(self) -> &'static str {
        match self {
            Unit::Millis => "ms (the default) or s",
            Unit::Seconds => "s (the default), ms, m or h",
            Unit::Fraction => "a fraction (0.01) or a percentage (1%)",
            Unit::Usd => "a plain number (no unit)",
            Unit::Hours => "h (the default) or nothing",
            Unit::Count => "a plain number (no unit)",
            Unit::PerSecond => "a plain number per second (no unit, or /s)",
        }
    }
}

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Smaller is better (latency, cost, errors).
    Lower,
    /// Larger is better (SLO attainment, goodput, token throughput).
    Higher,
}

/// One named figure of a setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Figure {
    /// Median latency, ms.
    P50,
    /// 90th percentile latency, ms.
    P90,
    /// 95th percentile latency, ms.
    P95,
    /// 99th percentile latency, ms.
    P99,
    /// 99.9th percentile latency, ms.
    P999,
    /// Largest latency, ms.
    Max,
    /// Mean latency, ms.
    Mean,
    /// Requests that did not succeed, as a share of those scheduled.
    ErrorRate,
    /// Share of scheduled requests answered ok within the SLO latency.
    SloAttainment,
    /// Seconds of windows that missed the objective.
    ViolationS,
    /// Total cost.
    Cost,
    /// Cost per 1000 requests answered ok.
    CostPer1k,
    /// GPU-hours paid for.
    GpuHours,
    /// Share of paid GPU time with no request in service.
    IdleFraction,
    /// Most replicas ready at once.
    MaxReplicas,
    /// Replicas started during the run.
    ColdStarts,
    /// Seconds from the first spike to the first new replica ready.
    ScaleUpReactionS,
    /// Median cold start (created -> ready) of the replicas started during the run, ms.
    ColdStartP50,
    /// 95th percentile cold start (created -> ready), ms.
    ColdStartP95,
    /// Requests refused because the queue was full.
    Rejected,
    /// Requests not answered within the timeout.
    TimedOut,
    /// 99th percentile of the live load engine's schedule lag, ms (live runs only).
    LagP99,
    /// How many ways the live load engine, not the target, limited the run: 0 when it kept up
    /// (live runs only).
    GeneratorLimited,
    /// Median time to first token, ms (LLM endpoints only).
    TtftP50,
    /// 99th percentile time to first token, ms (LLM endpoints only).
    TtftP99,
    /// 99th percentile inter-token latency, ms (LLM endpoints only).
    ItlP99,
    /// 99th percentile time per output token, ms (LLM endpoints only).
    TpotP99,
    /// Share of scheduled requests that met every per-request objective (LLM endpoints only).
    Goodput,
    /// Requests per second that met every per-request objective (LLM endpoints only).
    GoodputRps,
    /// Output tokens per second (LLM endpoints only).
    TokensPerS,
}

impl Figure {
    /// Every figure, in the order tables list them.
    pub const ALL: [Figure; 30] = [
        Figure::P50,
        Figure::P90,
        Figure::P95,
        Figure::P99,
        Figure::P999,
        Figure::Max,
        Figure::Mean,
        Figure::ErrorRate,
        Figure::SloAttainment,
        Figure::ViolationS,
        Figure::Cost,
        Figure::CostPer1k,
        Figure::GpuHours,
        Figure::IdleFraction,
        Figure::MaxReplicas,
        Figure::ColdStarts,
        Figure::ScaleUpReactionS,
        Figure::ColdStartP50,
        Figure::ColdStartP95,
        Figure::Rejected,
        Figure::TimedOut,
        Figure::LagP99,
        Figure::GeneratorLimited,
        Figure::TtftP50,
        Figure::TtftP99,
        Figure::ItlP99,
        Figure::TpotP99,
        Figure::Goodput,
        Figure::GoodputRps,
        Figure::TokensPerS,
    ];

    /// Its one canonical name, as reports and gate results write it.
    pub fn name(self) -> &'static str {
        match self {
            Figure::P50 => "p50",
            Figure::P90 => "p90",
            Figure::P95 => "p95",
            Figure::P99 => "p99",
            Figure::P999 => "p999",
            Figure::Max => "max",
            Figure::Mean => "mean",
            Figure::ErrorRate => "error_rate",
            Figure::SloAttainment => "slo_attainment",
            Figure::ViolationS => "violation_s",
            Figure::Cost => "cost",
            Figure::CostPer1k => "cost_per_1k",
            Figure::GpuHours => "gpu_hours",
            Figure::IdleFraction => "idle_fraction",
            Figure::MaxReplicas => "max_replicas",
            Figure::ColdStarts => "cold_starts",
            Figure::ScaleUpReactionS => "scale_up_reaction_s",
            Figure::ColdStartP50 => "cold_start_p50",
            Figure::ColdStartP95 => "cold_start_p95",
            Figure::Rejected => "rejected",
            Figure::TimedOut => "timed_out",
            Figure::LagP99 => "lag_p99",
            Figure::GeneratorLimited => "generator_limited",
            Figure::TtftP50 => "ttft_p50",
            Figure::TtftP99 => "ttft_p99",
            Figure::ItlP99 => "itl_p99",
            Figure::TpotP99 => "tpot_p99",
            Figure::Goodput => "goodput",
            Figure::GoodputRps => "goodput_rps",
            Figure::TokensPerS => "tokens_per_s",
        }
    }

    /// Other names users type for it (`p99.9`, `cost_usd`, `attainment`).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Figure::P999 => &["p99.9"],
            Figure::Max => &["p100"],
            Figure::ErrorRate => &["errors"],
            Figure::SloAttainment => &["attainment", "slo"],
            Figure::Cost => &["cost_usd", "total_usd"],
            Figure::CostPer1k => &["per_1k_requests_usd", "cost_per_1k_usd"],
            Figure::ScaleUpReactionS => &["scale_up_s", "reaction_s"],
            Figure::ColdStartP50 => &["cold_start.total.p50"],
            Figure::ColdStartP95 => &["cold_start.total.p95"],
            Figure::LagP99 => &["schedule_lag_p99"],
            Figure::GeneratorLimited => &["generator_limits"],
            Figure::TtftP50 => &["ttft.p50"],
            Figure::TtftP99 => &["ttft.p99"],
            Figure::ItlP99 => &["itl.p99"],
            Figure::TpotP99 => &["tpot.p99"],
            Figure::Goodput => &["goodput_share"],
            Figure::TokensPerS => &["output_tokens_per_s"],
            _ => &[],
        }
    }

    /// Finds a figure by its name or an alias (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Figure> {
        let name = name.trim().to_ascii_lowercase();
        Figure::ALL
            .into_iter()
            .find(|f| f.name() == name || f.aliases().contains(&name.as_str()))
    }

    /// What it measures.
    pub const fn unit(self) -> Unit {
        match self {
            Figure::P50
            | Figure::P90
            | Figure::P95
            | Figure::P99
            | Figure::P999
            | Figure::Max
            | Figure::Mean
            | Figure::LagP99
            | Figure::ColdStartP50
            | Figure::ColdStartP95
            | Figure::TtftP50
            | Figure::TtftP99
            | Figure::ItlP99
            | Figure::TpotP99 => Unit::Millis,
            Figure::ErrorRate | Figure::SloAttainment | Figure::IdleFraction | Figure::Goodput => {
                Unit::Fraction
            }
            Figure::GoodputRps | Figure::TokensPerS => Unit::PerSecond,
            Figure::ViolationS | Figure::ScaleUpReactionS => Unit::Seconds,
            Figure::Cost | Figure::CostPer1k => Unit::Usd,
            Figure::GpuHours => Unit::Hours,
            Figure::MaxReplicas
            | Figure::ColdStarts
            | Figure::Rejected
            | Figure::TimedOut
            | Figure::GeneratorLimited => Unit::Count,
        }
    }

    /// Which way it improves.
    pub const fn better(self) -> Better {
        match self {
            Figure::SloAttainment | Figure::Goodput | Figure::GoodputRps | Figure::TokensPerS => {
                Better::Higher
            }
            _ => Better::Lower,
        }
    }

    /// The canonical names, comma-separated, for messages.
    pub fn list() -> String {
        Figure::ALL.map(Figure::name).join(", ")
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_find_their_figure() {
        for f in Figure::ALL {
            assert_eq!(Figure::from_name(f.name()), Some(f));
            for a in f.aliases() {
                assert_eq!(Figure::from_name(a), Some(f));
            }
        }
        assert_eq!(Figure::from_name("P99.9"), Some(Figure::P999));
        assert_eq!(Figure::from_name("p98"), None);
    }
}
