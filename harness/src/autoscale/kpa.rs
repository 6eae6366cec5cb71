//! placeholder, being written
use super::{Observation, Policy};
use workloads::policy::KpaConfig;
/// placeholder
pub struct Kpa {
    max: u32,
}
impl Kpa {
    /// placeholder
    pub fn new(c: &KpaConfig) -> Self {
        let _ = c;
        Kpa { max: 1 }
    }
}
impl Policy for Kpa {
    fn interval(&self) -> f64 {
        15.0
    }
    fn decide(&mut self, _o: &Observation<'_>) -> u32 {
        self.max
    }
}
