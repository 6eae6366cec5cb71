//! No autoscaling: a constant replica count.

use scalebench_core::policy::FixedConfig;

use super::{Observation, Policy};

/// Always the same number of replicas.
#[derive(Debug, Clone)]
pub struct Fixed {
    replicas: u32,
}

impl Fixed {
    /// A fixed policy from its settings.
    pub fn new(c: &FixedConfig) -> Self {
        Fixed {
            replicas: c.replicas,
        }
    }
}

impl Policy for Fixed {
    fn interval(&self) -> f64 {
        15.0
    }

    fn decide(&mut self, _obs: &Observation<'_>) -> u32 {
        self.replicas
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PodCounts;

    #[test]
    fn fixed_ignores_load() {
        let mut p = Fixed::new(&FixedConfig { replicas: 25 });
        let obs = Observation {
            now: 100.0,
            current: 3,
            pods: PodCounts::default(),
            samples: &[],
            pools: &[],
        };
        assert_eq!(p.decide(&obs), 25);
    }
}
