//! The data core every driver and report shares, at the bottom of the workspace: plain data and
//! pure functions, no I/O beyond reading a scenario file.
//!
//! - What to offer and compare: the scenario schema ([`scenario`]) and the [`Plan`] it resolves
//!   to, with its units, rate shapes ([`traffic`]), the lazy arrival stream ([`arrivals`]),
//!   request classes and body templates, policy settings, the typed fault plan ([`fault`]),
//!   thresholds and the figure catalogue ([`threshold`], [`figure`]) and sweep grids ([`vary`]).
//! - What a run measured: the Run of one setup ([`run`]), its [`record::Recorder`] and
//!   histograms ([`window_hist`]), the [`score`] that ranks setups into `report.json`'s
//!   [`report::Report`], repeated runs ([`repeat`], [`stats`]) and sweeps ([`sweep`]).
//! - The seam between them: the [`drive::Driver`] trait that turns a plan's setups into Runs,
//!   and the one scheduler that runs seeds x setups x sweep points on the cores.

pub mod arrivals;
pub mod dist;
pub mod drive;
pub mod error;
pub mod fault;
pub mod figure;
pub mod kubernetes;
pub mod llm;
pub mod policy;
pub mod prometheus;
pub mod record;
pub mod repeat;
pub mod report;
pub mod run;
pub mod scenario;
pub mod score;
pub mod stats;
pub mod sweep;
pub mod template;
pub mod threshold;
pub mod traffic;
pub mod units;
pub mod users;
pub mod vary;
pub mod window_hist;

pub use error::{Located, ScenarioError};
pub use scenario::{Plan, Setup};
pub use units::{Duration, Rate};

/// Checks a policy's settings for values the policy cannot work with.
pub fn validate_policy(p: &policy::PolicyConfig) -> Result<(), String> {
    use policy::PolicyConfig::*;
    match p {
        Fixed(_) => Ok(()),
        Hpa(c) => {
            if c.max_replicas == 0 || c.min_replicas > c.max_replicas {
                return Err(format!(
                    "hpa needs 0 < max_replicas and min_replicas <= max_replicas, found min {} max {}",
                    c.min_replicas, c.max_replicas
                ));
            }
            if !(c.target > 0.0 && c.target.is_finite()) {
                return Err(format!("hpa target must be above zero, found {}", c.target));
            }
            Ok(())
        }
        Kpa(c) => {
            if c.max_scale == 0 || c.min_scale > c.max_scale {
                return Err(format!(
                    "kpa needs 0 < max_scale and min_scale <= max_scale, found min {} max {}",
                    c.min_scale, c.max_scale
                ));
            }
            if c.target.is_nan() || c.target <= 0.0 {
                return Err("kpa target must be above zero".into());
            }
            Ok(())
        }
        Keda(c) => {
            if c.max_replicas == 0 || c.min_replicas > c.max_replicas {
                return Err(format!(
                    "keda needs 0 < max_replicas and min_replicas <= max_replicas, found min {} max {}",
                    c.min_replicas, c.max_replicas
                ));
            }
            if c.target.is_nan() || c.target <= 0.0 {
                return Err("keda target must be above zero".into());
            }
            Ok(())
        }
        CostAware(c) => validate_cost_aware(c),
    }
}

fn validate_cost_aware(c: &policy::CostAwareConfig) -> Result<(), String> {
    if c.max_replicas == 0 || c.min_replicas > c.max_replicas {
        return Err(format!(
            "cost-aware needs 0 < max_replicas and min_replicas <= max_replicas, found min {} max {}",
            c.min_replicas, c.max_replicas
        ));
    }
    if !(c.target_utilization > 0.0 && c.target_utilization <= 1.0) {
        return Err(format!(
            "cost-aware target_utilization must be above 0 and at most 1, found {}",
            c.target_utilization
        ));
    }
    if !(0.0..=1.0).contains(&c.max_spot_share) {
        return Err(format!(
            "cost-aware max_spot_share must be between 0 and 1, found {}",
            c.max_spot_share
        ));
    }
    if let Some(b) = c.budget_per_hour
        && !(b > 0.0 && b.is_finite())
    {
        return Err(format!(
            "cost-aware budget_per_hour must be above zero, found {b}"
        ));
    }
    for (name, d) in [
        ("interval", c.interval),
        ("panic_window", c.panic_window),
        ("stable_window", c.stable_window),
    ] {
        if d.is_zero() {
            return Err(format!("cost-aware {name} must be longer than zero"));
        }
    }
    for (pool, rps) in &c.throughput {
        if !(*rps > 0.0 && rps.is_finite()) {
            return Err(format!(
                "cost-aware throughput of {pool:?} must be above zero (requests per second per replica), found {rps}"
            ));
        }
    }
    Ok(())
}
