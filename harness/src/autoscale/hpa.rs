//! placeholder, being written
use super::{Observation, Policy};
use workloads::policy::HpaConfig;
/// placeholder
pub struct Hpa {
    max: u32,
}
impl Hpa {
    /// placeholder
    pub fn new(c: &HpaConfig) -> Self {
        let _ = c;
        Hpa { max: 1 }
    }
}
impl Policy for Hpa {
    fn interval(&self) -> f64 {
        15.0
    }
    fn decide(&mut self, _o: &Observation<'_>) -> u32 {
        self.max
    }
}
