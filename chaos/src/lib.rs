//! The fault plan of a scenario: what goes wrong, when, and to what. Plain data read from the
//! scenario's `[[faults]]` entries, so the simulator, the testbed and real clusters inject the
//! same faults.
//!
//! ```toml
//! [[faults]]
//! kind = "spot-interruption"     # nodes of a spot pool get a notice, then are reclaimed
//! pool = "gpu-spot"
//! at = "10m"
//! nodes = "50%"                  # a count (2) or a share of the pool's nodes ("50%")
//! notice = "2m"                  # AWS gives 120 s (the default), GCP 30 s
//!
//! [[faults]]
//! kind = "pod-eviction"          # pods terminated gracefully and re-created cold
//! at = "12m"
//! pods = 3                       # a count or a share of the ready pods
//! max_unavailable = 1            # a disruption budget; evictions beyond it are blocked
//!
//! [[faults]]
//! kind = "pool-outage"           # the pool loses its nodes and cannot provision
//! pool = "gpu-spot"
//! at = "15m"
//! for = "5m"
//! ```

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use workloads::scenario::CapacityType;
use workloads::{Duration, Located, Plan};

/// How many of something: a number, or a share of what there is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Count {
    /// Exactly this many (or all there are, if fewer).
    N(u32),
    /// This share (0-1] of what there is, rounded up.
    Share(f64),
}

impl Count {
    /// How many of `total`.
    pub fn of(self, total: u32) -> u32 {
        match self {
            Count::N(n) => n.min(total),
            Count::Share(s) => ((s * total as f64).ceil() as u32).min(total),
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::N(n) => write!(f, "{n}"),
            Count::Share(s) => write!(f, "{}%", s * 100.0),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count such as 2, or a share such as \"50%\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|&n| n > 0)
                    .map(Count::N)
                    .ok_or_else(|| E::custom(format!("a count must be at least 1, found {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                let share = v
                    .trim()
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse::<f64>().ok())
                    .filter(|p| *p > 0.0 && *p <= 100.0);
                match share {
                    Some(p) => Ok(Count::Share(p / 100.0)),
                    None => Err(E::custom(format!(
                        "expected a count such as 2 or a share between 0% and 100% such as \"50%\", found {v:?}"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

fn aws_notice() -> Duration {
    Duration::from_secs(120)
}

/// One fault.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// Nodes of a spot pool get an interruption notice and are reclaimed when it ends; their
    /// pods serve until then and are replaced by cold pods.
    SpotInterruption {
        /// The pool.
        pool: String,
        /// When the notice comes.
        at: Duration,
        /// How many of the pool's nodes.
        nodes: Count,
        /// From notice to reclaim (default 120 s, as on AWS).
        #[serde(default = "aws_notice")]
        notice: Duration,
    },
    /// Pods (the newest ready first, as a drain picks them here) are terminated gracefully and
    /// re-created cold; a disruption budget may block some.
    PodEviction {
        /// When.
        at: Duration,
        /// How many of the ready pods.
        pods: Count,
        /// The PodDisruptionBudget's maxUnavailable (none: no budget).
        #[serde(default)]
        max_unavailable: Option<Count>,
    },
    /// A pool loses every node at once and cannot provision for a while; setups with a later pool
    /// in their list provision there instead.
    PoolOutage {
        /// The pool.
        pool: String,
        /// When.
        at: Duration,
        /// For how long it cannot provision.
        #[serde(rename = "for")]
        length: Duration,
    },
}

impl Fault {
    /// When it strikes.
    pub fn at(&self) -> Duration {
        match self {
            Fault::SpotInterruption { at, .. }
            | Fault::PodEviction { at, .. }
            | Fault::PoolOutage { at, .. } => *at,
        }
    }

    /// Its kind as written.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::SpotInterruption { .. } => "spot-interruption",
            Fault::PodEviction { .. } => "pod-eviction",
            Fault::PoolOutage { .. } => "pool-outage",
        }
    }

    /// What it targets, for reports: the pool, or `pods`.
    pub fn target(&self) -> String {
        match self {
            Fault::SpotInterruption { pool, .. } | Fault::PoolOutage { pool, .. } => pool.clone(),
            Fault::PodEviction { .. } => "pods".to_string(),
        }
    }
}

/// A scenario's faults, in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// The faults, earliest first (file order among equal times).
    pub faults: Vec<Fault>,
}

impl FaultPlan {
    /// Reads and checks the `[[faults]]` entries of a plan: known kinds and keys, pools that
    /// exist (spot interruptions only on spot pools), times within the run.
    pub fn from_plan(plan: &Plan) -> Result<FaultPlan, Located> {
        let mut faults = Vec::with_capacity(plan.faults.len());
        for raw in &plan.faults {
            let fail = |message: String| Located {
                message,
                ..raw.at.clone()
            };
            let fault: Fault = toml::Value::Table(raw.table.clone()).try_into().map_err(
                |e: toml::de::Error| {
                    fail(format!("in this [[faults]] entry: {}", e.message().trim()))
                },
            )?;
            if fault.at() >= plan.duration {
                return Err(fail(format!(
                    "{} at {} is not within the run ({})",
                    fault.kind(),
                    fault.at(),
                    plan.duration
                )));
            }
            if let Fault::SpotInterruption { pool, .. } | Fault::PoolOutage { pool, .. } = &fault {
                let found = plan
                    .setups
                    .iter()
                    .flat_map(|s| s.pools.iter())
                    .find(|p| &p.name == pool);
                match found {
                    None => {
                        let mut known: Vec<&str> = plan
                            .setups
                            .iter()
                            .flat_map(|s| s.pools.iter().map(|p| p.name.as_str()))
                            .collect();
                        known.sort_unstable();
                        known.dedup();
                        return Err(fail(format!(
                            "{} names pool {pool:?}, which is not defined (pools: {known:?})",
                            fault.kind()
                        )));
                    }
                    Some(p)
                        if matches!(fault, Fault::SpotInterruption { .. })
                            && p.capacity_type != CapacityType::Spot =>
                    {
                        return Err(fail(format!(
                            "spot-interruption names pool {pool:?}, which is on-demand; only spot capacity is interrupted"
                        )));
                    }
                    Some(_) => {}
                }
            }
            if let Fault::PoolOutage { length, .. } = &fault {
                if length.is_zero() {
                    return Err(fail(
                        "a pool-outage needs a length above zero (for = \"5m\")".into(),
                    ));
                }
            }
            faults.push(fault);
        }
        faults.sort_by_key(Fault::at);
        Ok(FaultPlan { faults })
    }
}

#[cfg(test)]
mod tests;
