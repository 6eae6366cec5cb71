//! `scalebench calibrate URL | --driver testbed`: the sustainable throughput of a target, found
//! by a stepped open-loop ramp that stops where the tail breaks the SLO, errors appear or
//! throughput stops following the offered rate. Against the testbed it measures one replica of
//! the service, so that scenarios can say "50% of capacity" about a real service model.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{Context, anyhow};
use bytes::Bytes;
use live::calibrate::{CalibrateError, Calibration, LimitedBy, Ramp};
use live::{LoadConfig, Target};
use scalebench_core::Duration;
use scalebench_core::policy::{FixedConfig, PolicyConfig};

use super::Failure;

/// What to calibrate instead of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Local {
    /// One replica of the built-in demo (or of `--scenario`'s first setup) on an in-process
    /// testbed.
    Testbed,
}

/// Arguments of `calibrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The endpoint (omit it with `--driver testbed`).
    #[arg(required_unless_present = "driver")]
    url: Option<String>,
    /// Calibrate a local service instead of an endpoint.
    #[arg(long, value_enum)]
    driver: Option<Local>,
    /// With `--driver testbed`: the scenario whose service to calibrate.
    #[arg(long, value_name = "FILE", requires = "driver")]
    scenario: Option<PathBuf>,
    /// With `--driver testbed`: scenario seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// The first step's rate, requests per second.
    #[arg(long, default_value_t = 10.0)]
    start: f64,
    /// Each step's rate is the previous one's times this.
    #[arg(long, default_value_t = 1.25)]
    factor: f64,
    /// The last rate tried.
    #[arg(long, default_value_t = 1_000_000.0)]
    max_rate: f64,
    /// How long each step lasts.
    #[arg(long, default_value = "20s")]
    step: Duration,
    /// The latency the tail must meet.
    #[arg(long, default_value = "1s")]
    slo: Duration,
    /// Its percentile.
    #[arg(long, default_value_t = 99.0)]
    slo_percentile: f64,
    /// The share of requests that may fail in a step that counts as sustained.
    #[arg(long, default_value_t = 0.01)]
    max_errors: f64,
    /// The request body (JSON).
    #[arg(long, default_value = "{}")]
    body: String,
    /// A request header, `Name: value` (repeatable; `${VAR}` from the environment).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// Sending threads (default: one, and another while every thread is busy and a core is
    /// idle).
    #[arg(long)]
    workers: Option<usize>,
    #[command(flatten)]
    tls: super::TlsArgs,
    /// HTTP/1.1 connections each step opens before its first request is due (default: as many
    /// as the step's rate needs by Little's law; the pool grows as requests need it).
    #[arg(long, default_value_t = 0)]
    connections: usize,
    /// Never more than `--connections` connections (as wrk's `-c`).
    #[arg(long, requires = "connections")]
    fixed_connections: bool,
    /// HTTP/2 instead of HTTP/1.1: by ALPN for https, with prior knowledge (h2c) for http.
    #[arg(long)]
    http2: bool,
    /// The HTTP/1.1 client, own or hyper (bench/h1-vs-hyper.sh compares them).
    #[arg(long, hide = true, default_value = "own")]
    h1_client: live::H1Client,

    /// Directory for calibration.json (default: out/calibrate).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the calibration as JSON on stdout; the table goes to stderr.
    #[arg(long)]
    json: bool,
}

/// Runs the ramp, prints the steps, writes calibration.json.
pub fn cmd(args: Args) -> Result<(), Failure> {
    if !(args.factor > 1.0 && args.start > 0.0 && args.time_scale > 0.0) {
        return Err(Failure::input(anyhow!(
            "--factor must be above 1, --start and --time-scale above 0"
        )));
    }
    let cancel = super::cancel_on_signals()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start a runtime")
        .map_err(Failure::env)?;
    let (url, bed, what) = match &args.url {
        Some(u) => (u.clone(), None, u.clone()),
        None => {
            let bed = rt
                .block_on(testbed::start(
                    one_replica(&args)?,
                    SocketAddr::from(([127, 0, 0, 1], 0)),
                ))
                .map_err(Failure::env)?;
            let url = format!("http://{}/predict", bed.addr());
            (url, Some(bed), "testbed (one replica)".to_string())
        }
    };
    let target = Target::new(
        &url,
        None,
        &args.headers,
        Some(Bytes::from(args.body.clone())),
        |v| std::env::var(v).ok(),
    )
    .map_err(Failure::input)?;
    let mut target = target;
    target.tls = args.tls.options();
    let mut config = LoadConfig::new(target);
    config.connections = args.connections;
    config.fixed_connections = args.fixed_connections;
    config.http2 = args.http2;
    config.h1_client = args.h1_client;
    if let Some(w) = args.workers {
        config.workers = Some(w.max(1));
    }
    if bed.is_some() {
        config.time_scale = args.time_scale;
    }
    let ramp = Ramp {
        start: args.start,
        factor: args.factor,
        max_rate: args.max_rate,
        step: args.step,
        slo: args.slo,
        percentile: args.slo_percentile,
        max_errors: args.max_errors,
    };
    let result = live::calibrate::calibrate(&what, &ramp, &config, &cancel);
    if let Some(bed) = bed {
        rt.block_on(bed.shutdown());
    }
    let result = result.map_err(|e| match e {
        CalibrateError::Step(_) => Failure::input(e),
        CalibrateError::Load(e) => super::load_failure(e),
    })?;
    let stdout = super::Stdout::from_flag(args.json);
    stdout.human(&summary(&result));
    let out = args.out.unwrap_or_else(|| PathBuf::from("out/calibrate"));
    std::fs::create_dir_all(&out)
        .and_then(|()| {
            let json = serde_json::to_string_pretty(&result).map_err(std::io::Error::other)?;
            std::fs::write(out.join("calibration.json"), json + "\n")
        })
        .with_context(|| format!("cannot write {}", out.join("calibration.json").display()))
        .map_err(Failure::env)?;
    stdout.human(&format!(
        "wrote {}\n",
        out.join("calibration.json").display()
    ));
    stdout.json(&result)?;
    if cancel.load(Ordering::Relaxed) {
        return Err(Failure {
            code: super::exit::INTERRUPTED,
            error: anyhow!("interrupted; calibration.json holds the steps run until then"),
        });
    }
    Ok(())
}

/// The testbed configuration: the demo's (or the scenario's first setup's) service with one
/// fixed replica and no warm pool.
fn one_replica(args: &Args) -> Result<testbed::TestbedConfig, Failure> {
    let mut config = match &args.scenario {
        None => testbed::TestbedConfig::default_demo(),
        Some(p) => {
            let plan = scalebench_core::Plan::load(p).map_err(Failure::input)?;
            let setup = plan.setups[0].clone();
            testbed::TestbedConfig::from_plan(&plan, &setup, args.time_scale)
        }
    };
    config.time_scale = args.time_scale;
    config.setup.policy = PolicyConfig::Fixed(FixedConfig { replicas: 1 });
    config.setup.initial_replicas = 1;
    config.setup.warm_pool = 0;
    Ok(config)
}

/// The steps as text, then the verdict.
fn summary(c: &Calibration) -> String {
    let mut out = format!(
        "calibrating {} | SLO p{} <= {:.0} ms\n    rate/s    ok/s     p50 ms     p99 ms  errors  sustained\n",
        c.target, c.percentile, c.slo_ms
    );
    for s in &c.steps {
        out.push_str(&format!(
            "{:>10.1} {:>7.1} {:>10.1} {:>10.1} {:>6.2}%  {}\n",
            s.rate,
            s.ok_rps,
            s.p50_ms,
            s.p99_ms,
            s.error_rate * 100.0,
            match (s.sustained, s.generator_limited.is_empty()) {
                (true, _) => "yes".to_string(),
                (false, true) => "no".to_string(),
                (false, false) => format!("no: load engine ({})", s.generator_limited.join(", ")),
            }
        ));
    }
    match (c.sustainable_rps, c.limited_by) {
        (Some(r), LimitedBy::LoadEngine) => out.push_str(&format!(
            "sustainable: at least {r:.1} requests per second; the load engine, not the target, \
             limited the next step\n"
        )),
        (None, LimitedBy::LoadEngine) => out.push_str(
            "sustainable: unknown; the load engine, not the target, limited the first step\n",
        ),
        (Some(r), _) => out.push_str(&format!("sustainable: {r:.1} requests per second\n")),
        (None, _) => out.push_str("sustainable: none (the first step already broke the SLO)\n"),
    }
    for a in &c.advice {
        out.push_str(&format!("warning: {a}\n"));
    }
    out
}
