//! `scalebench validate SCENARIO`: parse and check only.

use std::path::PathBuf;

use workloads::Plan;

use super::Failure;

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML).
    scenario: PathBuf,
}

/// Checks the scenario and prints what it would run.
pub fn cmd(args: Args) -> Result<(), Failure> {
    let plan = Plan::load(&args.scenario).map_err(Failure::input)?;
    let faults = chaos::FaultPlan::from_plan(&plan).map_err(Failure::input)?;
    let names: Vec<&str> = plan.setups.iter().map(|s| s.name.as_str()).collect();
    super::print(&format!(
        "{}: ok: {} over {}, about {:.0} requests, capacity {:.1} rps, windows of {}, setups: {}\n",
        args.scenario.display(),
        plan.name,
        plan.duration,
        workloads::arrivals::ArrivalStream::new(&plan).expected_count(),
        plan.capacity_rps,
        plan.window,
        names.join(", ")
    ));
    for f in &faults.faults {
        super::print(&format!(
            "  fault at {}: {} on {}\n",
            f.at(),
            f.kind(),
            f.target()
        ));
    }
    Ok(())
}
