//! The command line: one module per subcommand, each with its `Args` and `cmd()`.

mod bench;
mod calibrate;
mod cluster;
mod compare;
mod gate;
mod load;
mod manifests;
mod prometheus;
mod run;
mod sweep;
mod testbed;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::anyhow;
use clap::{Parser, Subcommand};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// Exit codes, as DESIGN.md's CLI contract defines them.
pub mod exit {
    /// A gate or threshold failed.
    pub const GATE: u8 = 1;
    /// Bad input: usage, scenario, file.
    pub const INPUT: u8 = 2;
    /// The target or the environment failed.
    pub const ENV: u8 = 3;
    /// Interrupted (Ctrl-C, SIGTERM); the partial report is still written.
    pub const INTERRUPTED: u8 = 130;
}

/// A failure and the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// The process exit code.
    pub code: u8,
    /// What went wrong, with context.
    pub error: anyhow::Error,
}

impl Failure {
    /// Bad input (exit 2).
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: exit::INPUT,
            error: error.into(),
        }
    }

    /// The environment failed (exit 3).
    pub fn env(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: exit::ENV,
            error: error.into(),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "scalebench",
    version,
    about = "Which autoscaler setup gives your traffic its tail latency at the lowest cost?"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario's setups and rank them by cost against tail latency.
    Run(run::Args),
    /// Run a scenario under a grid of setup settings on the simulator: the cost / p99 Pareto
    /// front and the cheapest setting that meets the SLO.
    Sweep(sweep::Args),
    /// Compare two or more reports side by side, against the first.
    Compare(compare::Args),
    /// Check a report against thresholds and a baseline; exit 1 when a check fails.
    Gate(gate::Args),
    /// Parse and check a scenario without running it.
    Validate(validate::Args),
    /// Send open-loop load to an HTTP endpoint and measure it from the intended send time.
    Load(Box<load::Args>),
    /// Serve the local inference emulator (replicas, cold starts, queue, autoscaler, faults).
    Testbed(testbed::Args),
    /// Find the sustainable throughput of an endpoint (or of one testbed replica).
    Calibrate(calibrate::Args),
    /// Write the Kubernetes objects each setup stands for (Deployment, HPA, KEDA ScaledObject,
    /// Knative Service), one YAML file per setup.
    Manifests(manifests::Args),
    /// Measure scalebench itself.
    Bench(bench::Args),
    /// Act on a Kubernetes cluster outside a run: `cluster undo JOURNAL` puts back the nodes a
    /// killed run left tainted or cordoned.
    Cluster(cluster::Args),
}

/// A flag that Ctrl-C or SIGTERM sets: the run ends early and what was measured until then is
/// still written. A second signal ends the process at once (exit 130).
pub fn cancel_on_signals() -> Result<Arc<AtomicBool>, Failure> {
    let cancel = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        flag::register_conditional_shutdown(signal, 130, Arc::clone(&cancel))
            .and_then(|_| flag::register(signal, Arc::clone(&cancel)))
            .map_err(|e| Failure::env(anyhow!("cannot install the signal handler: {e}")))?;
    }
    Ok(cancel)
}

/// Runs `work` on this thread; meanwhile, when stderr is a terminal, shows the one progress
/// line every command uses (indicatif's): the elapsed time, a bar of `fraction()` (0-1) and
/// `line()`, refreshed a few times a second and cleared when the work is done.
pub fn with_progress<T>(
    fraction: impl Fn() -> f64 + Sync,
    line: impl Fn() -> String + Sync,
    work: impl FnOnce() -> T,
) -> T {
    use std::sync::atomic::Ordering;
    let bar = indicatif::ProgressBar::new(1000);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        if !bar.is_hidden() {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    bar.set_position((fraction().clamp(0.0, 1.0) * 1000.0) as u64);
                    bar.set_message(line());
                    std::thread::sleep(std::time::Duration::from_millis(150));
                }
            });
        }
        let result = work();
        done.store(true, Ordering::Relaxed);
        result
    });
    bar.finish_and_clear();
    result
}

/// A driver's failure as an exit code: bad input (2) or the environment (3).
pub fn drive_failure(e: scalebench_core::drive::DriveError) -> Failure {
    match e {
        scalebench_core::drive::DriveError::Input(_) => Failure::input(e),
        scalebench_core::drive::DriveError::Env(_) => Failure::env(e),
    }
}

/// Records where a report came from: this machine and build, and the scenario file's text when
/// the run had one (a file that cannot be read again is left out, not an error).
pub fn stamp(report: &mut scalebench_core::report::Report, scenario: Option<&std::path::Path>) {
    report.environment = Some(scalebench_core::report::Environment::current());
    report.source = scenario.and_then(|path| {
        std::fs::read_to_string(path)
            .ok()
            .map(|toml| scalebench_core::report::ScenarioSource {
                path: path.display().to_string(),
                toml,
            })
    });
}

/// What a command's stdout carries: its human tables, or one JSON document (`--json`), in
/// which case the human text goes to stderr so that stdout stays parseable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// Tables and `wrote FILE` lines.
    Human,
    /// The command's result as JSON; everything else on stderr.
    Json,
}

impl Stdout {
    /// `Json` when `--json` was given.
    pub fn from_flag(json: bool) -> Stdout {
        if json { Stdout::Json } else { Stdout::Human }
    }

    /// Writes human text: to stdout, or to stderr when stdout carries JSON.
    pub fn human(self, text: &str) {
        match self {
            Stdout::Human => print(text),
            Stdout::Json => {
                use std::io::Write;
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }

    /// Writes `value` as pretty JSON and a newline to stdout when stdout carries JSON.
    pub fn json(self, value: &impl serde::Serialize) -> Result<(), Failure> {
        if self == Stdout::Json {
            let text = serde_json::to_string_pretty(value)
                .map_err(|e| Failure::env(anyhow!("cannot write the result as JSON: {e}")))?;
            print(&text);
            print("\n");
        }
        Ok(())
    }
}

/// Prints the ranked table (or, with [`Stdout::Json`], the report as JSON), writes the report
/// files into `out` (default `out/<name>`), and maps an interrupted run to exit 130.
pub fn publish(
    report: &scalebench_core::report::Report,
    out: Option<PathBuf>,
    name: &str,
    stdout: Stdout,
) -> Result<(), Failure> {
    stdout.human(&reports::ranked_table(report));
    stdout.json(report)?;
    let out = out.unwrap_or_else(|| PathBuf::from("out").join(name));
    let written = reports::write_all(report, &out).map_err(Failure::env)?;
    for p in written {
        stdout.human(&format!("wrote {}\n", p.display()));
    }
    if report.interrupted {
        return Err(Failure {
            code: exit::INTERRUPTED,
            error: anyhow!(
                "interrupted after {:.0} s of scenario time; the report holds what was measured until then",
                report.duration_s
            ),
        });
    }
    Ok(())
}

/// True when output may be coloured: stderr is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>).
pub fn colour() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Writes to stdout; a closed pipe (`scalebench run ... | head`) is not an error worth a panic.
pub fn print(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Parses the command line, runs the subcommand and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SCALEBENCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour())
        .init();
    let result = match cli.command {
        Command::Run(args) => run::cmd(args),
        Command::Validate(args) => validate::cmd(args),
        Command::Gate(args) => gate::cmd(args),
        Command::Load(args) => load::cmd(*args),
        Command::Testbed(args) => testbed::cmd(args),
        Command::Calibrate(args) => calibrate::cmd(args),
        Command::Bench(args) => bench::cmd(args),
        Command::Compare(args) => compare::cmd(args),
        Command::Sweep(args) => sweep::cmd(args),
        Command::Manifests(args) => manifests::cmd(args),
        Command::Cluster(args) => cluster::cmd(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

/// How an https target's certificate is trusted (`load`, `calibrate`).
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Trust the PEM certificates in this file besides the bundled web roots (a private CA, a
    /// self-signed server).
    #[arg(long, value_name = "PEM")]
    cacert: Option<PathBuf>,
    /// Accept any server certificate (test servers only, as `curl --insecure`).
    #[arg(long, short = 'k')]
    insecure: bool,
}

impl TlsArgs {
    /// The engine's TLS options.
    pub fn options(&self) -> live::TlsOptions {
        live::TlsOptions {
            ca_file: self.cacert.clone(),
            insecure: self.insecure,
        }
    }
}

/// A load run that could not start: a target given wrong (its TLS settings, its name) is bad
/// input (exit 2); a thread or runtime that would not start is the environment (exit 3).
pub fn load_failure(e: live::LoadError) -> Failure {
    match e {
        live::LoadError::Target(_) => Failure::input(e),
        _ => Failure::env(e),
    }
}
