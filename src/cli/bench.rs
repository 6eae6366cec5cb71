//! `scalebench bench sim`: how fast the simulator is, on one thread. Prints simulated requests
//! per second, wall time and peak memory; never asserts on time (machines are noisy).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use scalebench_core::Plan;

use super::Failure;

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to measure: `sim` (the simulator).
    #[arg(value_parser = ["sim"])]
    what: String,
    /// Simulated hours of traffic.
    #[arg(long, default_value_t = 24.0)]
    hours: f64,
    /// Mean offered rate, requests per second (a diurnal cycle from half to 1.5x of it).
    #[arg(long, default_value_t = 1000.0)]
    rps: f64,
}

/// The benchmark scenario: a day of diurnal traffic against three setups.
fn scenario(hours: f64, rps: f64) -> String {
    let secs = (hours * 3600.0).round().max(1.0) as u64;
    format!(
        r#"name = "bench-sim"
duration = "{secs}s"
seed = 7

[slo]
latency = "500ms"

[traffic]
arrival = "poisson"
timeout = "30s"
[[traffic.shape]]
kind = "diurnal"
min = {lo}
max = {hi}

[service]
concurrency = 4
queue = 2000
time = {{ dist = "lognormal", median = "40ms", p99 = "200ms" }}
gpus = 1

[[cluster.pool]]
name = "gpu"
gpus_per_node = 8
price_per_hour = 8.0
provision = "3m"
max_nodes = 20

[[setup]]
name = "fixed-peak"
[setup.fixed]
replicas = 30

[[setup]]
name = "hpa-default"
initial_replicas = 15
[setup.hpa]
min_replicas = 2
max_replicas = 60
metric = "concurrency"
target = 2.0

[[setup]]
name = "keda-warm2"
warm_pool = 2
initial_replicas = 13
[setup.keda]
max_replicas = 60
trigger = "concurrency"
target = 2.0
"#,
        lo = rps * 0.5,
        hi = rps * 1.5,
    )
}

/// Peak resident memory of this process in MiB, from /proc (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs the benchmark and prints its figures.
pub fn cmd(args: Args) -> Result<(), Failure> {
    if !(args.hours > 0.0 && args.rps > 0.0) {
        return Err(Failure::input(anyhow::anyhow!(
            "--hours and --rps must be above zero"
        )));
    }
    let src = scenario(args.hours, args.rps);
    let plan = Plan::parse(Path::new("<bench-sim>"), &src)
        .context("the built-in benchmark scenario is invalid")
        .map_err(Failure::input)?;
    super::print(&format!(
        "bench sim: {} h at {} rps mean (diurnal), {} setups, one thread\n",
        args.hours,
        args.rps,
        plan.setups.len()
    ));
    // One thread, the setups in lockstep over one arrival stream (as `run` does per thread).
    let setups: Vec<_> = plan.setups.iter().collect();
    let started = Instant::now();
    let runs = sim::simulate_together(
        &plan,
        &setups,
        &scalebench_core::fault::FaultPlan::default(),
        None,
        None,
    );
    let secs = started.elapsed().as_secs_f64();
    let mut total = 0u64;
    for run in &runs {
        let n = run.requests().scheduled;
        total += n;
        super::print(&format!(
            "  {:<12} {:>11} requests, p99 {:>9.1} ms, max {:>3} replicas ready\n",
            run.name,
            n,
            run.latency.summary().p99,
            run.max_ready
                .map_or_else(|| "-".to_owned(), |n| n.to_string())
        ));
    }
    super::print(&format!(
        "  total        {:>11} requests in {:>7.2} s = {:>6.2} M simulated req/s ({:.0} ns each)\n",
        total,
        secs,
        total as f64 / secs / 1e6,
        secs * 1e9 / total.max(1) as f64
    ));
    match peak_rss_mib() {
        Some(m) => super::print(&format!("  peak RSS     {m:.1} MiB\n")),
        None => super::print("  peak RSS     unknown (no /proc/self/status)\n"),
    }
    Ok(())
}
