//! placeholder, being written
use super::{Observation, Policy};
use workloads::policy::KedaConfig;
/// placeholder
pub struct Keda {
    max: u32,
}
impl Keda {
    /// placeholder
    pub fn new(c: &KedaConfig) -> Self {
        let _ = c;
        Keda { max: 1 }
    }
}
impl Policy for Keda {
    fn interval(&self) -> f64 {
        15.0
    }
    fn decide(&mut self, _o: &Observation<'_>) -> u32 {
        self.max
    }
}
