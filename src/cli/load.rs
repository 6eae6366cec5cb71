//! `scalebench load URL --rate R --duration D`: ad-hoc open-loop load at any HTTP endpoint,
//! measured from the intended send time, written as the same report as a scenario run (one
//! setup named `load`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{Context, anyhow};
use bytes::Bytes;
use live::{LoadConfig, Progress, Target};
use scalebench_core::{Duration, Plan};

use super::Failure;

/// How arrivals are spaced.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Arrival {
    /// Evenly spaced, as wrk2 sends.
    Constant,
    /// Exponential gaps: independent users.
    Poisson,
}

/// Arguments of `load`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The endpoint, e.g. http://127.0.0.1:8080/predict.
    url: String,
    /// Requests per second.
    #[arg(long, value_parser = positive_rate)]
    rate: f64,
    /// How long to send, e.g. 30s or 5m.
    #[arg(long)]
    duration: Duration,
    /// How arrivals are spaced.
    #[arg(long, value_enum, default_value = "constant")]
    arrival: Arrival,
    /// The client gives up on a request this long after its intended send time.
    #[arg(long, default_value = "30s")]
    timeout: Duration,
    /// The latency objective the report scores against.
    #[arg(long, default_value = "1s")]
    slo: Duration,
    /// The share of requests, in percent, that must meet it.
    #[arg(long, default_value_t = 99.0)]
    slo_percentile: f64,
    /// The most requests in flight; an arrival beyond it is counted as not sent.
    #[arg(long, default_value_t = 10_000)]
    max_in_flight: u64,
    /// HTTP/2 instead of HTTP/1.1: by ALPN for https, with prior knowledge (h2c) for http.
    #[arg(long)]
    http2: bool,
    #[command(flatten)]
    tls: super::TlsArgs,
    /// HTTP/1.1 connections to open before the first request is due (default: as many as the
    /// schedule needs by Little's law); the pool still grows as requests need it, unless
    /// `--fixed-connections`.
    #[arg(long, default_value_t = 0)]
    connections: usize,
    /// Never more than `--connections` connections (as wrk's `-c`): requests beyond wait for a
    /// free one, and the wait shows in the schedule lag and the latency.
    #[arg(long, requires = "connections")]
    fixed_connections: bool,
    /// The HTTP/1.1 client, own or hyper (bench/h1-vs-hyper.sh compares them).
    #[arg(long, hide = true, default_value = "own")]
    h1_client: live::H1Client,

    /// A request header, `Name: value` (repeatable); `${VAR}` is read from the environment and
    /// never written to the report.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// The HTTP method (default: POST with a body, else GET).
    #[arg(long)]
    method: Option<String>,
    /// The request body (JSON unless a Content-Type header says otherwise); `{{seq}}`,
    /// `{{int LO HI}}`, `{{words LO HI}}`... are filled in per request.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// Read the request body from this file.
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,
    /// The seed of the arrival process.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Sending threads, each with its own connections (default: one, and another while every
    /// thread is busy and a core of the machine is idle, up to its cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Directory for report.json and timeline.csv (default: out/load).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the report as JSON on stdout; the tables go to stderr.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    prometheus: super::prometheus::PrometheusArgs,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.trim_end_matches("rps").parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() && r <= 10_000_000.0 => Ok(r),
        _ => Err(format!(
            "expected requests per second above 0 and at most 1e7, found {s:?}"
        )),
    }
}

/// Sends the load, prints the table, writes the report.
pub fn cmd(args: Args) -> Result<(), Failure> {
    let plan = plan(&args)?;
    let prometheus = args.prometheus.spec()?;
    let body = match (&args.body, &args.body_file) {
        (Some(b), _) => Some(Bytes::from(b.clone())),
        (None, Some(p)) => Some(Bytes::from(
            std::fs::read(p)
                .with_context(|| format!("cannot read the body file {}", p.display()))
                .map_err(Failure::input)?,
        )),
        (None, None) => None,
    };
    let target = Target::new(
        &args.url,
        args.method.as_deref(),
        &args.headers,
        body,
        |var| std::env::var(var).ok(),
    )
    .map_err(Failure::input)?;
    let mut target = target;
    target.tls = args.tls.options();
    let mut config = LoadConfig::new(target);
    config.connections = args.connections;
    config.fixed_connections = args.fixed_connections;
    config.h1_client = args.h1_client;
    config.max_in_flight = args.max_in_flight.max(1);
    config.http2 = args.http2;
    if let Some(w) = args.workers {
        config.workers = Some(w.max(1));
    }
    let cancel = super::cancel_on_signals()?;
    let progress = Progress::default();
    let started = std::time::Instant::now();
    let total = plan.duration.as_secs_f64().max(1e-9);
    let line = || {
        let (sent, done) = (
            progress.sent.load(Ordering::Relaxed),
            progress.done.load(Ordering::Relaxed),
        );
        format!(
            "sent {sent} done {done} errors {} in flight {} not sent {} | threads {} conns {}",
            progress.errors.load(Ordering::Relaxed),
            sent.saturating_sub(done),
            progress.not_sent.load(Ordering::Relaxed),
            progress.shards.load(Ordering::Relaxed),
            progress.connections.load(Ordering::Relaxed),
        )
    };
    let before = std::time::SystemTime::now();
    let mut run = super::with_progress(
        || started.elapsed().as_secs_f64() / total,
        line,
        || live::run(&plan, "load", &config, &cancel, &progress),
    )
    .map_err(super::load_failure)?;
    if let Some(spec) = &prometheus {
        super::prometheus::fill(&mut run, spec, &plan, before, &config.target.tls);
    }
    let mut report = scalebench_core::score::score(&plan, "load", std::slice::from_ref(&run));
    super::stamp(&mut report, None);
    let refused = run
        .load
        .as_ref()
        .and_then(|l| l.outcomes.get("connect"))
        .copied()
        .unwrap_or(0);
    super::publish(
        &report,
        args.out,
        &plan.name,
        super::Stdout::from_flag(args.json),
    )?;
    if run.requests().ok == 0 && refused > 0 {
        return Err(Failure::env(anyhow!(
            "{} refused every connection ({refused} requests); the report is written",
            args.url
        )));
    }
    Ok(())
}

/// The flags as a scenario: steady traffic at the rate, one `load` setup.
fn plan(args: &Args) -> Result<Plan, Failure> {
    live::Steady {
        rate: args.rate,
        duration: args.duration,
        poisson: matches!(args.arrival, Arrival::Poisson),
        timeout: args.timeout,
        slo: args.slo,
        percentile: args.slo_percentile,
        seed: args.seed,
    }
    .plan()
    .map_err(Failure::input)
}
