//! `scalebench gate REPORT`: check a report against thresholds and, with `--baseline`, against
//! a baseline report under relative regression limits; print what passed and failed and why,
//! optionally write JUnit XML, and exit 1 when a check failed. A setup whose live load engine,
//! not the target, limited the run fails its own check unless `--allow-generator-limited`.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use reports::GateResult;
use scalebench_core::report::Report;
use scalebench_core::threshold::{GateSpec, RegressionLimit, Threshold, check_confidence};

use super::{Failure, Stdout, exit};

/// Arguments of `gate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The report to check: a report.json, or a run's output directory holding one.
    report: PathBuf,
    /// A report to compare with (same scenario, an earlier build or setting); setups are
    /// matched by name.
    #[arg(long, value_name = "BASE")]
    baseline: Option<PathBuf>,
    /// A threshold, `[SETUP:]FIGURE OP VALUE[UNIT]`, e.g. `p99<2s`, `error_rate<1%`,
    /// `hpa-default:cost_per_1k<0.40` (repeatable). Default: the thresholds of the report's
    /// scenario file.
    #[arg(long = "threshold", value_name = "EXPR")]
    thresholds: Vec<String>,
    /// How much worse than the baseline a figure may get, e.g. `p99=10%,cost=5%` (repeatable).
    /// Default: the scenario's `[gate] max_regression`.
    #[arg(long = "max-regression", value_name = "LIST")]
    max_regression: Vec<String>,
    /// The level at which a regression must be significant when repeats exist (default: the
    /// scenario's `[gate] confidence`, else 0.95).
    #[arg(long)]
    confidence: Option<f64>,
    /// Also write the result as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Print the result as JSON (schema `scalebench.gate/v1`) instead of the table.
    #[arg(long)]
    json: bool,
    /// Pass a report whose live load engine, not the target, limited a setup (pacing lag,
    /// requests not sent, a saturated sending thread, a connection cap), with a warning; by
    /// default such a setup fails the gate, since its numbers are not the target's.
    #[arg(long)]
    allow_generator_limited: bool,
}

/// Runs the gate.
pub fn cmd(args: Args) -> Result<(), Failure> {
    let report = read(&args.report)?;
    let baseline = args.baseline.as_deref().map(read).transpose()?;
    // The scenario's own gate, read only when a flag leaves something to it: a recorded
    // threshold this build cannot read must not fail a gate that does not use it.
    let needs_recorded = args.thresholds.is_empty()
        || (baseline.is_some() && args.max_regression.is_empty())
        || args.confidence.is_none();
    let recorded = if needs_recorded {
        recorded_gate(&report)?
    } else {
        GateSpec::default()
    };
    let mut spec = GateSpec {
        confidence: recorded.confidence,
        ..GateSpec::default()
    };
    spec.thresholds = if args.thresholds.is_empty() {
        recorded.thresholds
    } else {
        parse_thresholds(&args.thresholds)?
    };
    spec.max_regression = if args.max_regression.is_empty() {
        if baseline.is_some() {
            recorded.max_regression
        } else {
            Vec::new()
        }
    } else {
        parse_limits(&args.max_regression)?
    };
    if let Some(c) = args.confidence {
        spec.confidence = c;
    }
    check_confidence(spec.confidence).map_err(|m| Failure::input(anyhow!("--confidence: {m}")))?;
    match (&baseline, spec.max_regression.is_empty()) {
        (None, false) => {
            return Err(Failure::input(anyhow!(
                "--max-regression compares with a baseline: give --baseline BASE"
            )));
        }
        (Some(_), true) => {
            return Err(Failure::input(anyhow!(
                "--baseline needs regression limits: give --max-regression (e.g. p99=10%,cost=5%) or set [gate] max_regression in the scenario"
            )));
        }
        _ => {}
    }
    // A live run always has one check: that its load engine kept up.
    let live = report.setups.iter().any(|s| s.load.is_some());
    if spec.is_empty() && !live {
        return Err(Failure::input(anyhow!(
            "{}: no checks: give --threshold EXPR (e.g. p99<2s), or --baseline with --max-regression; the report's scenario has no thresholds",
            args.report.display()
        )));
    }
    let result = reports::evaluate_with(
        &report,
        baseline.as_ref(),
        &spec,
        args.allow_generator_limited,
    );
    if args.allow_generator_limited
        && let Some(warnings) = reports::generator_warnings(&report)
    {
        eprint!("{warnings}");
    }
    if result.checks.is_empty() {
        // Regression limits over two reports without setups judge nothing: not a pass.
        return Err(Failure::input(anyhow!(
            "{}: no checks: neither the report nor the baseline has any setup",
            args.report.display()
        )));
    }
    conclude(
        &result,
        Stdout::from_flag(args.json),
        args.json,
        args.junit.as_deref(),
    )
}

/// Shows `result`: its table as human text (on stderr when stdout carries JSON), and, with
/// `json`, the result as JSON on stdout; writes the JUnit XML when asked, and fails with exit 1
/// when a check failed.
pub fn conclude(
    result: &GateResult,
    stdout: Stdout,
    json: bool,
    junit: Option<&Path>,
) -> Result<(), Failure> {
    stdout.human(&reports::gate_table(result));
    if json {
        let mut out = Vec::new();
        reports::write_gate_json(result, &mut out).map_err(Failure::env)?;
        super::print(&String::from_utf8_lossy(&out));
    }
    if let Some(path) = junit {
        reports::junit::write_junit(result, path).map_err(Failure::env)?;
        stdout.human(&format!("wrote {}\n", path.display()));
    }
    if result.passed {
        return Ok(());
    }
    let limited: Vec<&str> = result
        .checks
        .iter()
        .filter(|c| c.kind == reports::gate::CheckKind::Generator)
        .filter(|c| c.verdict == reports::gate::Verdict::Fail)
        .map(|c| c.setup.as_str())
        .collect();
    let mut error = format!(
        "gate failed: {} of {} checks failed",
        result.failed,
        result.checks.len()
    );
    if !limited.is_empty() {
        error.push_str(&format!(
            "; the load engine limited setup {}: the numbers are not the target's; fix the load engine settings or pass --allow-generator-limited",
            limited.join(", ")
        ));
    }
    Err(Failure {
        code: exit::GATE,
        error: anyhow!(error),
    })
}

/// Parses `--threshold` values.
pub fn parse_thresholds(texts: &[String]) -> Result<Vec<Threshold>, Failure> {
    texts
        .iter()
        .map(|t| Threshold::parse(t).map_err(|e| Failure::input(anyhow!("--threshold {e}"))))
        .collect()
}

fn parse_limits(texts: &[String]) -> Result<Vec<RegressionLimit>, Failure> {
    let mut out = Vec::new();
    for t in texts {
        out.extend(
            RegressionLimit::parse_list(t)
                .map_err(|e| Failure::input(anyhow!("--max-regression {e}")))?,
        );
    }
    Ok(out)
}

/// The gate recorded in the report's scenario file, if the report carries its text.
fn recorded_gate(report: &Report) -> Result<GateSpec, Failure> {
    match &report.source {
        Some(src) => scalebench_core::scenario::gate_of_source(Path::new(&src.path), &src.toml)
            .map_err(|e| Failure::input(anyhow!("the scenario recorded in the report: {e}"))),
        None => Ok(GateSpec::default()),
    }
}

/// Reads a report file, or the report.json of a directory.
fn read(path: &Path) -> Result<Report, Failure> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    reports::read_json(&file).map_err(Failure::input)
}
