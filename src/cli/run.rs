//! `scalebench run SCENARIO`: run every setup (or the chosen ones), print the ranked table and
//! write report.json and timeline.csv.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::anyhow;
use workloads::{Plan, Setup};

use super::Failure;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Where the run happens: `sim` (the embedded simulated cluster) or `testbed` (a local
    /// HTTP emulator per setup, driven by the live load engine in real time).
    #[arg(long, default_value = "sim")]
    driver: String,
    /// With `--driver testbed`: scenario seconds per real second (10 runs a 30-minute
    /// scenario in 3 minutes).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Run only this setup (repeatable).
    #[arg(long = "setup", value_name = "NAME")]
    setups: Vec<String>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Directory for report.json and timeline.csv (default: `out/<scenario name>`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs the scenario.
pub fn cmd(args: Args) -> Result<(), Failure> {
    let mut plan = Plan::load(&args.scenario).map_err(Failure::input)?;
    if let Some(seed) = args.seed {
        plan.seed = seed;
    }
    if args.driver != "sim" && args.driver != "testbed" {
        return Err(Failure::input(anyhow!(
            "driver {:?} is not available; use --driver sim (the embedded simulated cluster) or --driver testbed",
            args.driver
        )));
    }
    if !(args.time_scale > 0.0 && args.time_scale.is_finite()) {
        return Err(Failure::input(anyhow!(
            "--time-scale must be above zero, found {}",
            args.time_scale
        )));
    }
    if plan.traffic.closed_loop().is_some() {
        if args.driver == "sim" {
            return Err(Failure::input(anyhow!(
                "{}: closed-loop users (executor = \"users\") run only over real HTTP; the simulator runs open-loop arrivals: use --driver testbed",
                plan.path.display()
            )));
        }
        // Before our own SIGINT handler: Goose would replace it (see users::claim_ctrl_c).
        users::claim_ctrl_c();
    }
    let faults = chaos::FaultPlan::from_plan(&plan).map_err(Failure::input)?;
    let setups = choose(&plan, &args.setups)?;
    let cancel = super::cancel_on_signals()?;
    if args.driver == "testbed" {
        let runs = super::drive::run_setups(&plan, &setups, args.time_scale, &cancel)?;
        let mut report = harness::score::score(&plan, "testbed", &runs);
        super::stamp(&mut report, Some(&args.scenario));
        return super::publish(&report, args.out, &plan.name);
    }
    let started = Instant::now();
    let progress: Vec<AtomicU64> = setups.iter().map(|_| AtomicU64::new(0)).collect();
    let done = AtomicBool::new(false);
    let runs = std::thread::scope(|s| {
        if std::io::stderr().is_terminal() {
            s.spawn(|| show_progress(&plan, &progress, &done));
        }
        let runs =
            harness::sim::simulate_all(&plan, &setups, &faults, Some(&cancel), Some(&progress));
        done.store(true, Ordering::Relaxed);
        runs
    });
    tracing::info!(elapsed_s = started.elapsed().as_secs_f64(), "simulated");
    let mut report = harness::score::score(&plan, "sim", &runs);
    super::stamp(&mut report, Some(&args.scenario));
    super::publish(&report, args.out, &plan.name)
}

/// Shows how far the slowest setup has got, on stderr, until `done`; only for runs that last.
fn show_progress(plan: &Plan, progress: &[AtomicU64], done: &AtomicBool) {
    use std::io::Write;
    let total = plan.duration.as_nanos().max(1) as f64;
    let started = Instant::now();
    let mut shown = false;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if started.elapsed().as_millis() < 1000 {
            continue;
        }
        let reached = progress
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0);
        let _ = write!(
            std::io::stderr(),
            "\rsimulating {}: {:5.1}% of the scenario ({:.0} s elapsed)",
            plan.name,
            100.0 * reached as f64 / total,
            started.elapsed().as_secs_f64()
        );
        shown = true;
    }
    if shown {
        let _ = writeln!(std::io::stderr());
    }
}

/// The setups named on the command line, in the scenario's order; all when none is named.
fn choose<'p>(plan: &'p Plan, names: &[String]) -> Result<Vec<&'p Setup>, Failure> {
    if let Some(unknown) = names
        .iter()
        .find(|n| !plan.setups.iter().any(|s| &s.name == *n))
    {
        let known: Vec<&str> = plan.setups.iter().map(|s| s.name.as_str()).collect();
        return Err(Failure::input(anyhow!(
            "{}: no setup is named {unknown:?} (setups: {})",
            plan.path.display(),
            known.join(", ")
        )));
    }
    Ok(plan
        .setups
        .iter()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .collect())
}
