//! `scalebench run SCENARIO`: run every setup (or the chosen ones), print the ranked table and
//! write report.json and timeline.csv; with `--repeat N`, run it N times with seeds `seed`,
//! `seed + 1`, ... and report each figure with its confidence interval; when the scenario (or
//! `--threshold`) has thresholds, gate the report and write gate.xml.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::anyhow;
use scalebench_core::drive::{Driver, Progress, Seeds};
use scalebench_core::{Plan, Setup};

use super::Failure;

/// Where a run happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriverKind {
    /// The embedded simulated cluster, in virtual time.
    Sim,
    /// A local HTTP emulator per setup, driven by the live load engine in real time.
    Testbed,
    /// A real Kubernetes cluster, as the scenario's `[kubernetes]` tables name it: each setup
    /// applied, loaded, observed and faulted through the API, then restored.
    Cluster,
}

impl DriverKind {
    /// The driver, ready to run; `out` is the run's output directory (the cluster driver
    /// keeps its journal and its list of calls there), `dry_run` keeps the cluster driver's
    /// hands off the cluster.
    pub fn driver(
        self,
        time_scale: f64,
        out: &std::path::Path,
        dry_run: bool,
    ) -> Result<Box<dyn Driver>, Failure> {
        Ok(match self {
            DriverKind::Sim => Box::new(sim::Simulator),
            DriverKind::Testbed => {
                Box::new(testbed::TestbedDriver::new(time_scale).map_err(super::drive_failure)?)
            }
            DriverKind::Cluster => {
                Box::new(cluster::ClusterDriver::new(out, dry_run).map_err(super::drive_failure)?)
            }
        })
    }
}

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Where the run happens.
    #[arg(long, value_enum, default_value_t = DriverKind::Sim)]
    driver: DriverKind,
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
    /// Run the scenario N times (N >= 2) with seeds seed, seed+1, ... (live drivers: N runs)
    /// and report every figure with its confidence interval; the rest of the report is the
    /// first run's.
    #[arg(long, value_name = "N")]
    repeat: Option<u32>,
    /// The level of the confidence intervals and of the gate's significance tests (default:
    /// the scenario's `[gate] confidence`, else 0.95).
    #[arg(long)]
    confidence: Option<f64>,
    /// Gate the report with this threshold instead of the scenario's (repeatable), e.g.
    /// `p99<2s`, `hpa-default:error_rate<1%`.
    #[arg(long = "threshold", value_name = "EXPR")]
    thresholds: Vec<String>,
    /// Where to write the gate's JUnit XML (default: gate.xml in the output directory).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Print the report as JSON on stdout (tables and the gate's table go to stderr).
    #[arg(long)]
    json: bool,
    /// With thresholds on a live driver: pass a setup whose load engine, not the target,
    /// limited the run, with a warning (as `gate --allow-generator-limited`); by default such
    /// a setup fails the gate, since its numbers are not the target's.
    #[arg(long)]
    allow_generator_limited: bool,
    /// With `--driver cluster`: make no write to the cluster (no apply, scale, eviction, taint
    /// or cordon) and print each one it would make; the load is still sent and the cluster
    /// observed.
    #[arg(long)]
    dry_run: bool,
}

/// Runs the scenario.
pub fn cmd(args: Args) -> Result<(), Failure> {
    let mut plan = Plan::load(&args.scenario).map_err(Failure::input)?;
    if let Some(seed) = args.seed {
        plan.seed = seed;
    }
    if !args.thresholds.is_empty() {
        plan.gate.thresholds = super::gate::parse_thresholds(&args.thresholds)?;
    }
    if let Some(c) = args.confidence {
        scalebench_core::threshold::check_confidence(c)
            .map_err(|m| Failure::input(anyhow!("--confidence: {m}")))?;
        plan.gate.confidence = c;
    }
    if args.junit.is_some() && plan.gate.thresholds.is_empty() {
        return Err(Failure::input(anyhow!(
            "--junit writes the gate of the scenario's thresholds, but {} has none: add `thresholds = [...]` to it or give --threshold",
            args.scenario.display()
        )));
    }
    let repeat = match args.repeat {
        None => 1,
        Some(n) if n >= 2 => n,
        Some(n) => {
            return Err(Failure::input(anyhow!(
                "--repeat needs 2 or more runs to estimate the noise, found {n}"
            )));
        }
    };
    let seeds: Vec<u64> = (0..u64::from(repeat))
        .map(|i| plan.seed.wrapping_add(i))
        .collect();
    if !(args.time_scale > 0.0 && args.time_scale.is_finite()) {
        return Err(Failure::input(anyhow!(
            "--time-scale must be above zero, found {}",
            args.time_scale
        )));
    }
    if plan.traffic.closed_loop().is_some() {
        if args.driver == DriverKind::Sim {
            return Err(Failure::input(anyhow!(
                "{}: closed-loop users (executor = \"users\") run only over real HTTP; the simulator runs open-loop arrivals: use --driver testbed",
                plan.path.display()
            )));
        }
        if args.driver == DriverKind::Cluster {
            return Err(Failure::input(anyhow!(
                "{}: closed-loop users (executor = \"users\") run on the testbed only; the cluster driver sends open-loop arrivals",
                plan.path.display()
            )));
        }
        // Before our own SIGINT handler: Goose would replace it (see users::take_ctrl_c). Taken
        // even when SIGINT was inherited as ignored, since our own handler answers it anyway.
        users::take_ctrl_c();
    }
    choose(&plan, &args.setups)?;
    if args.dry_run && args.driver != DriverKind::Cluster {
        return Err(Failure::input(anyhow!(
            "--dry-run keeps the cluster driver from writing to a cluster; it needs --driver cluster"
        )));
    }
    if args.driver == DriverKind::Cluster && args.time_scale != 1.0 {
        return Err(Failure::input(anyhow!(
            "--time-scale is for the testbed: a real cluster runs in real time"
        )));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(&plan.name));
    let driver = args.driver.driver(args.time_scale, &out, args.dry_run)?;
    let cancel = super::cancel_on_signals()?;
    let plans: Vec<Plan> = seeds
        .iter()
        .map(|&seed| Plan {
            seed,
            ..plan.clone()
        })
        .collect();
    let work = Seeds::new(&plans, &args.setups);
    let progress = Progress::new(work.jobs());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let line = || {
        format!(
            "{} {} on {}: {} of {} setup runs done",
            plan.name,
            if plans.len() > 1 { "(repeated)" } else { "" },
            driver.name(),
            progress.done(),
            progress.jobs()
        )
    };
    let started = std::time::Instant::now();
    let per_seed = super::with_progress(
        || progress.fraction(),
        line,
        || work.run(&*driver, threads, &cancel, &progress),
    )
    .map_err(super::drive_failure)?;
    tracing::info!(
        driver = driver.name(),
        elapsed_s = started.elapsed().as_secs_f64(),
        runs = work.jobs().len(),
        "ran"
    );
    let runs = per_seed.len();
    let first = if runs > 1 {
        scalebench_core::repeat::join_repeats(per_seed, &seeds[..runs], plan.gate.confidence)
    } else {
        per_seed.into_iter().next()
    };
    let Some(mut report) = first else {
        return Err(Failure::env(anyhow!("the run produced no report")));
    };
    // Repeats that Ctrl-C kept from starting leave the report short of what was asked for.
    report.interrupted |= cancel.load(Ordering::Relaxed);
    super::stamp(&mut report, Some(&args.scenario));
    if args.dry_run {
        super::cluster::print_calls(&out.join(cluster::CALLS_FILE))?;
    }
    let stdout = super::Stdout::from_flag(args.json);
    super::publish(&report, Some(out.clone()), &plan.name, stdout)?;
    // Thresholds of setups left out with --setup have nothing to judge.
    let (thresholds, skipped): (Vec<_>, Vec<_>) =
        plan.gate.thresholds.iter().cloned().partition(|t| {
            t.setup
                .as_ref()
                .is_none_or(|s| report.setups.iter().any(|r| &r.name == s))
        });
    for t in &skipped {
        tracing::warn!(threshold = %t.text, "not judged: its setup was not run (--setup)");
    }
    if thresholds.is_empty() {
        return Ok(());
    }
    let spec = scalebench_core::threshold::GateSpec {
        thresholds,
        max_regression: Vec::new(),
        ..plan.gate.clone()
    };
    let result = reports::evaluate_with(&report, None, &spec, args.allow_generator_limited);
    stdout.human("\n");
    let junit = args.junit.unwrap_or_else(|| out.join("gate.xml"));
    super::gate::conclude(&result, stdout, false, Some(&junit))
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
