//! `scalebench load URL --rate R --duration D`: ad-hoc open-loop load at any HTTP endpoint,
//! measured from the intended send time, written as the same report as a scenario run (one
//! setup named `load`). With `--openai completions|chat` every request is an OpenAI-compatible
//! completion of `--prompt-tokens` and `--output-tokens`, its stream read as it comes (TTFT,
//! inter-token gaps, TPOT, tokens and goodput in the report).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{Context, anyhow};
use bytes::Bytes;
use live::{LoadConfig, Progress, Target};
use scalebench_core::llm::CountDist;
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

/// Which OpenAI-compatible API `--openai` sends to.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OpenAiApi {
    /// POST /v1/completions, the prompt in `prompt`.
    Completions,
    /// POST /v1/chat/completions, the prompt as one user message.
    Chat,
}

/// Token counts of `--prompt-tokens` and `--output-tokens`.
fn token_count(s: &str) -> Result<u32, String> {
    let max = scalebench_core::llm::MAX_TOKENS;
    match s.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number of tokens from 1 to {max}, found {s:?}"
        )),
    }
}

/// A tiktoken encoding by name.
fn encoding(s: &str) -> Result<openai::Encoding, String> {
    openai::Encoding::ALL
        .into_iter()
        .find(|e| e.name() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = openai::Encoding::ALL.iter().map(|e| e.name()).collect();
            format!("expected one of {}, found {s:?}", names.join(", "))
        })
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
    /// Send OpenAI-compatible completions (`completions` or `chat`), streamed, to the URL's
    /// path or, when it has none, the API's (/v1/completions, /v1/chat/completions); the
    /// report adds TTFT, inter-token latency, TPOT, tokens and goodput.
    #[arg(long, value_enum, value_name = "API", conflicts_with_all = ["body", "body_file", "method"], requires = "model")]
    openai: Option<OpenAiApi>,
    /// The served model's name, for `--openai` (as the server's /v1/models lists it).
    #[arg(long, value_name = "NAME", requires = "openai")]
    model: Option<String>,
    /// The prompt of every `--openai` request: exactly this many tokens (default 512).
    #[arg(long, value_name = "N", value_parser = token_count, requires = "openai")]
    prompt_tokens: Option<u32>,
    /// `max_tokens` of every `--openai` request (default 128; `ignore_eos` is sent so that a
    /// vLLM-like server generates them all).
    #[arg(long, value_name = "N", value_parser = token_count, requires = "openai")]
    output_tokens: Option<u32>,
    /// Ask for whole answers instead of streams (`stream: false`): no time to first token.
    #[arg(long, requires = "openai")]
    no_stream: bool,
    /// The tokenizer prompts are built in and answers counted with: cl100k_base, o200k_base,
    /// p50k_base or r50k_base.
    #[arg(long, value_name = "NAME", value_parser = encoding, default_value = "cl100k_base", requires = "openai")]
    encoding: openai::Encoding,
    /// An `--openai` request is good only when its time to first token is within this.
    #[arg(long, value_name = "DURATION", requires = "openai")]
    slo_ttft: Option<Duration>,
    /// An `--openai` request is good only when its time per output token is within this.
    #[arg(long, value_name = "DURATION", requires = "openai")]
    slo_tpot: Option<Duration>,
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

/// The flags as a scenario: steady traffic at the rate, one `load` setup; with `--openai`,
/// `[traffic.openai]` and fixed `[traffic.tokens]` of the flags' counts.
fn plan(args: &Args) -> Result<Plan, Failure> {
    let mut plan = live::Steady {
        rate: args.rate,
        duration: args.duration,
        poisson: matches!(args.arrival, Arrival::Poisson),
        timeout: args.timeout,
        slo: args.slo,
        percentile: args.slo_percentile,
        seed: args.seed,
    }
    .plan()
    .map_err(Failure::input)?;
    if let Some(api) = args.openai {
        let model = args.model.clone().unwrap_or_default();
        if model.trim().is_empty() {
            return Err(Failure::input(anyhow!(
                "--openai needs --model: the name the endpoint serves"
            )));
        }
        for (flag, bound) in [("--slo-ttft", args.slo_ttft), ("--slo-tpot", args.slo_tpot)] {
            if bound.is_some_and(Duration::is_zero) {
                return Err(Failure::input(anyhow!("{flag} must be longer than zero")));
            }
        }
        plan.traffic.openai = Some(openai::RequestSpec {
            api: match api {
                OpenAiApi::Completions => openai::Api::Completions,
                OpenAiApi::Chat => openai::Api::Chat,
            },
            model,
            stream: !args.no_stream,
            include_usage: true,
            ignore_eos: true,
            temperature: None,
            encoding: args.encoding,
            extra: Default::default(),
        });
        plan.traffic.tokens = Some(scalebench_core::llm::TokenLengths {
            prompt: CountDist::fixed(args.prompt_tokens.unwrap_or(512)),
            output: CountDist::fixed(args.output_tokens.unwrap_or(128)),
        });
        plan.slo.ttft = args.slo_ttft;
        plan.slo.tpot = args.slo_tpot;
    }
    Ok(plan)
}
