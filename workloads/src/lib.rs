//! What load to offer and what to compare: the scenario schema, its units, rate shapes, arrival
//! processes and request classes. Plain data and pure functions; no I/O beyond reading the
//! scenario file.

pub mod arrivals;
pub mod dist;
pub mod error;
pub mod policy;
pub mod scenario;
pub mod traffic;
pub mod units;

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
    }
}
