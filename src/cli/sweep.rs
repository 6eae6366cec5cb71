//! `scalebench sweep SCENARIO --vary KEY=V1,V2,...`: the grid of settings on the simulator, on
//! every core, with the Pareto front of cost against p99 and the cheapest setting that meets
//! the SLO.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, anyhow};
use scalebench_core::Plan;
use scalebench_core::drive::Progress;
use scalebench_core::sweep::{Point, Sweep};
use scalebench_core::vary::{Grid, Vary};

use super::Failure;

/// Arguments of `sweep`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// A setting and its values: `KEY=V1,V2,...` or a range `KEY=A..B[/STEP]`; `SETUP:KEY` for
    /// one setup only. Repeat for a grid: every combination is run.
    #[arg(long = "vary", value_name = "KEY=VALUES", required = true)]
    vary: Vec<String>,
    /// Sweep only this setup (repeatable).
    #[arg(long = "setup", value_name = "NAME")]
    setups: Vec<String>,
    /// Override the scenario's seed (the same seed for every setting).
    #[arg(long)]
    seed: Option<u64>,
    /// Threads to simulate on (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Directory for sweep.csv, sweep.json and sweep.html (default: `out/<scenario>-sweep`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the sweep as JSON (schema `scalebench.sweep/v1`) on stdout; the tables go to
    /// stderr.
    #[arg(long)]
    json: bool,
}

/// Runs the sweep.
pub fn cmd(args: Args) -> Result<(), Failure> {
    let plan = Plan::load(&args.scenario).map_err(Failure::input)?;
    if plan.traffic.closed_loop().is_some() {
        return Err(Failure::input(anyhow!(
            "{}: a sweep runs on the simulator, which runs open-loop arrivals, not closed-loop users",
            plan.path.display()
        )));
    }
    for name in &args.setups {
        if !plan.setups.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = plan.setups.iter().map(|s| s.name.as_str()).collect();
            return Err(Failure::input(anyhow!(
                "no setup named {name:?} in {}; the setups are {}",
                plan.path.display(),
                known.join(", ")
            )));
        }
    }
    if args.threads == Some(0) {
        return Err(Failure::input(anyhow!("--threads must be at least 1")));
    }
    let text = std::fs::read_to_string(&args.scenario)
        .with_context(|| format!("cannot read {}", args.scenario.display()))
        .map_err(Failure::input)?;
    let mut base: toml::Table = toml::from_str(&text)
        .with_context(|| format!("cannot read {} as TOML", args.scenario.display()))
        .map_err(Failure::input)?;
    if !args.setups.is_empty() {
        // Before the grid applies: a key that reaches none of the chosen setups is an error.
        if let Some(toml::Value::Array(setups)) = base.get_mut("setup") {
            setups.retain(|s| {
                s.get("name")
                    .and_then(toml::Value::as_str)
                    .is_some_and(|n| args.setups.iter().any(|c| c == n))
            });
        }
    }
    let axes = args
        .vary
        .iter()
        .map(|v| v.parse::<Vary>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::input)?;
    if args.seed.is_some() && axes.iter().any(|a| a.path == ["seed"]) {
        return Err(Failure::input(anyhow!(
            "--seed sets one seed for every setting, --vary seed=... one per setting: give one of them"
        )));
    }
    let grid = Grid::new(axes).map_err(Failure::input)?;

    let started = Instant::now();
    let points = points(&grid, &base, &args)?;
    no_idle_keys(&grid, &points)?;
    tracing::info!(
        settings = points.len(),
        elapsed_s = started.elapsed().as_secs_f64(),
        "settings checked"
    );
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let cancel = super::cancel_on_signals()?;
    let keys: Vec<String> = grid.axes.iter().map(|a| a.key.clone()).collect();
    let jobs = scalebench_core::sweep::jobs(&points);
    let progress = Progress::new(&jobs.jobs);
    let line = || {
        format!(
            "sweeping {} settings: {} of {} simulations done",
            points.len(),
            progress.done(),
            progress.jobs()
        )
    };
    let sweep = super::with_progress(
        || progress.fraction(),
        line,
        || {
            scalebench_core::sweep::run(
                &sim::Simulator,
                keys,
                &points,
                &jobs,
                threads,
                &cancel,
                &progress,
            )
        },
    )
    .map_err(super::drive_failure)?;
    let elapsed = started.elapsed().as_secs_f64();
    tracing::info!(elapsed_s = elapsed, threads, "swept");
    publish(&sweep, &args, elapsed, threads)
}

/// Every setting of the grid as a checked scenario; the first bad one is an input error.
fn points(grid: &Grid, base: &toml::Table, args: &Args) -> Result<Vec<Point>, Failure> {
    (0..grid.len())
        .map(|i| {
            let mut plan = grid.plan(base, &args.scenario, i).map_err(Failure::input)?;
            if let Some(seed) = args.seed {
                plan.seed = seed;
            }
            Ok(Point {
                values: grid.labels(i),
                plan,
            })
        })
        .collect()
}

/// Fails for a key whose values all give the same scenario: a setup's own value shadows a
/// scenario-wide one (`price_per_replica_hour`), or the key is one the setups ignore. Compares
/// the first setting with the one that differs from it in that key only.
fn no_idle_keys(grid: &Grid, points: &[Point]) -> Result<(), Failure> {
    for (k, axis) in grid.axes.iter().enumerate() {
        if axis.values.len() < 2 {
            continue;
        }
        let stride: usize = grid.axes[k + 1..].iter().map(|a| a.values.len()).product();
        if let (Some(a), Some(b)) = (points.first(), points.get(stride))
            && a.plan == b.plan
        {
            return Err(Failure::input(anyhow!(
                "--vary {}: {} and {} give the same scenario, so the key changes nothing (does a setup set its own value, which takes precedence?)",
                axis.key,
                scalebench_core::vary::show(&axis.values[0]),
                scalebench_core::vary::show(&axis.values[1]),
            )));
        }
    }
    Ok(())
}

/// Prints the summary (or the JSON) and writes the files.
fn publish(sweep: &Sweep, args: &Args, elapsed_s: f64, threads: usize) -> Result<(), Failure> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("{}-sweep", sweep.scenario)));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create {}", out.display()))
        .map_err(Failure::env)?;
    let json = serde_json::to_string_pretty(sweep)
        .context("cannot write the sweep as JSON")
        .map_err(Failure::env)?;
    let csv_path = out.join("sweep.csv");
    reports::write_file(&csv_path, "sweep CSV", |w| {
        reports::sweep::render_sweep_csv(sweep, w)
    })
    .map_err(Failure::env)?;
    let json_path = out.join("sweep.json");
    reports::write_file(&json_path, "sweep JSON", |w| {
        w.write_all(json.as_bytes())?;
        Ok(())
    })
    .map_err(Failure::env)?;
    let html_path = out.join("sweep.html");
    reports::write_file(&html_path, "sweep HTML", |w| {
        w.write_all(reports::sweep::sweep_html(sweep).as_bytes())?;
        Ok(())
    })
    .map_err(Failure::env)?;
    let stdout = super::Stdout::from_flag(args.json);
    stdout.human(&reports::sweep::sweep_table(sweep));
    stdout.human(&format!(
        "{} simulations in {elapsed_s:.1} s on {threads} threads\nwrote {}\nwrote {}\nwrote {}\n",
        sweep.simulations,
        csv_path.display(),
        json_path.display(),
        html_path.display()
    ));
    stdout.json(sweep)?;
    if sweep.interrupted {
        return Err(Failure {
            code: super::exit::INTERRUPTED,
            error: anyhow!(
                "interrupted after {} of the settings; the files hold those that finished",
                sweep.settings.len()
            ),
        });
    }
    Ok(())
}
