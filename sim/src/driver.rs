//! The simulator as a [`Driver`]: one batch per core, the setups of a batch in lockstep over
//! one arrival stream.

use scalebench_core::drive::{Control, DriveError, Driver};
use scalebench_core::run::SetupRun;
use scalebench_core::{Plan, Setup};

/// Setups simulated in lockstep over one arrival stream: enough to share the arrivals' cost,
/// few enough to keep the work spread over the threads and the state in cache.
const LOCKSTEP: usize = 4;

/// The embedded simulated cluster.
#[derive(Debug, Clone, Copy, Default)]
pub struct Simulator;

impl Driver for Simulator {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn parallel(&self) -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    fn batch(&self) -> usize {
        LOCKSTEP
    }

    fn run(
        &self,
        plan: &Plan,
        setups: &[&Setup],
        control: Control<'_>,
    ) -> Result<Vec<SetupRun>, DriveError> {
        Ok(crate::simulate_together(
            plan,
            setups,
            &plan.faults,
            Some(control.cancel),
            Some(control),
        ))
    }
}
