//! The fault plan of a scenario: what goes wrong, when, and to what. Plain data read from the
//! scenario's `[[faults]]` entries while the scenario is parsed (see [`Plan::parse`]), so the
//! simulator, the testbed and real clusters inject the same faults.
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
//!
//! Faults serialize in the shape they are written in (`{"kind": "pool-outage", "pool":
//! "gpu-spot", "at": "15m", "for": "5m"}`), so a serialized fault reads back as the same fault.
//!
//! [`Plan::parse`]: crate::Plan::parse

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::scenario::{CapacityType, Setup};
use crate::units::Duration;

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

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::N(n) => s.serialize_u32(*n),
            // As written: "50%" (reads back as the same share).
            Count::Share(_) => s.collect_str(self),
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
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
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
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
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

    /// Reads one `[[faults]]` entry as written: a known kind with its keys.
    pub fn from_table(table: toml::Table) -> Result<Fault, String> {
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                format!("in this [[faults]] entry: {}", e.message().trim())
            })
    }

    /// Checks the fault against a run of `duration` with `setups`: it strikes within the run,
    /// names pools that exist (spot interruptions only spot pools), and an outage lasts.
    pub fn check(&self, duration: Duration, setups: &[Setup]) -> Result<(), String> {
        if self.at() >= duration {
            return Err(format!(
                "{} at {} is not within the run ({duration})",
                self.kind(),
                self.at(),
            ));
        }
        if let Fault::SpotInterruption { pool, .. } | Fault::PoolOutage { pool, .. } = self {
            let found = setups
                .iter()
                .flat_map(|s| s.pools.iter())
                .find(|p| &p.name == pool);
            match found {
                None => {
                    let mut known: Vec<&str> = setups
                        .iter()
                        .flat_map(|s| s.pools.iter().map(|p| p.name.as_str()))
                        .collect();
                    known.sort_unstable();
                    known.dedup();
                    return Err(format!(
                        "{} names pool {pool:?}, which is not defined (pools: {known:?})",
                        self.kind()
                    ));
                }
                Some(p)
                    if matches!(self, Fault::SpotInterruption { .. })
                        && p.capacity_type != CapacityType::Spot =>
                {
                    return Err(format!(
                        "spot-interruption names pool {pool:?}, which is on-demand; only spot capacity is interrupted"
                    ));
                }
                Some(_) => {}
            }
        }
        if let Fault::PoolOutage { length, .. } = self
            && length.is_zero()
        {
            return Err("a pool-outage needs a length above zero (for = \"5m\")".into());
        }
        Ok(())
    }
}

/// A scenario's faults, in time order. Serializes as the list of its faults, as the
/// `[[faults]]` entries are written.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct FaultPlan {
    /// The faults, earliest first (file order among equal times).
    pub faults: Vec<Fault>,
}

impl FaultPlan {
    /// A plan of `faults`, put in time order (keeping their order among equal times).
    pub fn new(mut faults: Vec<Fault>) -> FaultPlan {
        faults.sort_by_key(Fault::at);
        FaultPlan { faults }
    }
}

#[cfg(test)]
mod tests;
