//! The gate: a report's figures against thresholds, and against a baseline report under
//! relative regression limits, with one row per check saying what passed or failed and why.
//!
//! Noise-aware: when the report or the baseline carries repeats (`run --repeat N`), a
//! regression fails only when the relative change exceeds its limit *and* the difference is
//! significant at the gate's confidence level (Welch's one-sided t-test of "worse than the
//! baseline"). With a single run on both sides the point values are compared and the reason
//! says that no significance test was possible. A threshold on a repeated figure judges the
//! mean of the runs and shows its confidence interval.
//!
//! Before any threshold, every setup that had a live load engine gets a check of its own: the
//! engine kept up. A setup whose engine, not the target, limited the run fails it (its numbers
//! are not the target's) unless the gate allows generator-limited reports, in which case the
//! check passes with a warning as its reason.

use scalebench_core::figure::{Better, Figure};
use scalebench_core::repeat;
use scalebench_core::report::{Report, SetupReport};
use scalebench_core::stats;
use scalebench_core::threshold::{GateSpec, RegressionLimit, Threshold};
use serde::{Deserialize, Serialize};

use crate::gate_render::value_text;

/// The schema identifier of a gate result (`scalebench gate --json`).
pub const GATE_SCHEMA: &str = "scalebench.gate/v1";

/// A threshold, a regression limit, or the load engine's own check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// A fixed limit on a figure.
    Threshold,
    /// A relative limit against the baseline.
    Regression,
    /// The live load engine kept up: it, not the target, did not limit the run (setups of
    /// live runs only).
    Generator,
}

/// The name of the load engine's check, as tables and JUnit show it.
pub const GENERATOR_CHECK: &str = "load engine kept up";

/// Whether a check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It held.
    Pass,
    /// It did not, or it could not be checked (a missing setup or figure).
    Fail,
}

/// One check of one setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The setup.
    pub setup: String,
    /// Threshold or regression.
    pub kind: CheckKind,
    /// The expression as written (`p99<2000`, `p99=10%`).
    pub check: String,
    /// The figure's canonical name.
    pub figure: String,
    /// The setup's value (the mean of its runs when repeated); `null` when missing.
    pub actual: Option<f64>,
    /// The value `actual` was held against: the threshold, or the baseline plus the limit.
    pub limit: Option<f64>,
    /// The baseline's value (the mean of its runs when repeated); regressions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// The confidence interval of `actual` when the report has repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    /// The one-sided p-value of "worse than the baseline" when a test was possible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// Pass or fail.
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
}

/// The outcome of a gate: every check, and whether all passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// Always [`GATE_SCHEMA`].
    pub schema: String,
    /// The report's scenario.
    pub scenario: String,
    /// The baseline's scenario, when there was a baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// The confidence level of significance tests and intervals.
    pub confidence: f64,
    /// True when every check passed.
    pub passed: bool,
    /// How many checks failed.
    pub failed: usize,
    /// One per setup and threshold or limit: the load engine's checks first, then the
    /// thresholds, then the regressions.
    pub checks: Vec<Check>,
}

/// Evaluates `spec`'s thresholds on `report` and, with a `baseline`, its regression limits
/// (limits without a baseline are not evaluated; the caller decides whether that is an error).
/// A setup whose load engine limited the run fails; see [`evaluate_with`].
pub fn evaluate(report: &Report, baseline: Option<&Report>, spec: &GateSpec) -> GateResult {
    evaluate_with(report, baseline, spec, false)
}

/// [`evaluate`], with the load engine's check of every setup of a live run first: a setup whose
/// engine limited the run fails it, or, with `allow_generator_limited`, passes it with a
/// warning.
pub fn evaluate_with(
    report: &Report,
    baseline: Option<&Report>,
    spec: &GateSpec,
    allow_generator_limited: bool,
) -> GateResult {
    let mut checks = generator_checks(report, allow_generator_limited);
    for t in &spec.thresholds {
        threshold_checks(report, t, &mut checks);
    }
    if let Some(base) = baseline {
        for l in &spec.max_regression {
            regression_checks(report, base, l, spec.confidence, &mut checks);
        }
    }
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    GateResult {
        schema: GATE_SCHEMA.to_string(),
        scenario: report.scenario.clone(),
        baseline: baseline.map(|b| b.scenario.clone()),
        confidence: spec.confidence,
        passed: failed == 0,
        failed,
        checks,
    }
}

/// The load engine's check of each setup that had one, in rank order.
fn generator_checks(report: &Report, allow: bool) -> Vec<Check> {
    let mut setups: Vec<&SetupReport> = report.setups.iter().collect();
    setups.sort_by_key(|s| s.rank);
    let mut out = Vec::new();
    for s in setups {
        let Some(load) = &s.load else { continue };
        let mut c = check(
            &s.name,
            CheckKind::Generator,
            GENERATOR_CHECK,
            Figure::GeneratorLimited,
        );
        c.actual = Some(load.limit_count() as f64);
        c.limit = Some(0.0);
        let lines = crate::table::limit_lines(s);
        if lines.is_empty() {
            c.verdict = Verdict::Pass;
            c.reason = "the load engine kept up: the figures are the target's".into();
        } else if allow {
            c.verdict = Verdict::Pass;
            c.reason = format!(
                "warning: the load engine limited setup {:?}: {}; the numbers are not the target's (allowed by --allow-generator-limited)",
                s.name,
                lines.join("; ")
            );
        } else {
            c.reason = format!(
                "the load engine limited setup {:?}: {}; the numbers are not the target's; fix the load engine settings or pass --allow-generator-limited",
                s.name,
                lines.join("; ")
            );
        }
        out.push(c);
    }
    out
}

fn check(setup: &str, kind: CheckKind, text: &str, figure: Figure) -> Check {
    Check {
        setup: setup.to_string(),
        kind,
        check: text.to_string(),
        figure: figure.name().to_string(),
        actual: None,
        limit: None,
        baseline: None,
        ci: None,
        p_value: None,
        verdict: Verdict::Fail,
        reason: String::new(),
    }
}

fn names(report: &Report) -> String {
    let n: Vec<&str> = report.setups.iter().map(|s| s.name.as_str()).collect();
    if n.is_empty() {
        "none".to_string()
    } else {
        n.join(", ")
    }
}

fn find<'r>(report: &'r Report, name: &str) -> Option<&'r SetupReport> {
    report.setups.iter().find(|s| s.name == name)
}

fn threshold_checks(report: &Report, t: &Threshold, out: &mut Vec<Check>) {
    let targets: Vec<&str> = match &t.setup {
        Some(name) => vec![name.as_str()],
        None => report.setups.iter().map(|s| s.name.as_str()).collect(),
    };
    if targets.is_empty() {
        let mut c = check("-", CheckKind::Threshold, &t.text, t.figure);
        c.reason = "the report has no setups".into();
        out.push(c);
    }
    for name in targets {
        let mut c = check(name, CheckKind::Threshold, &t.text, t.figure);
        c.limit = Some(t.value);
        let f = t.figure;
        let limit = value_text(f, t.value);
        let Some(setup) = find(report, name) else {
            c.reason = format!(
                "setup {name:?} is not in the report (setups: {})",
                names(report)
            );
            out.push(c);
            continue;
        };
        let Some((actual, ci, runs)) = repeat::judged(setup, f) else {
            c.reason = format!("{f} is not available for this setup ({})", missing(f));
            out.push(c);
            continue;
        };
        c.actual = Some(actual);
        c.ci = ci;
        let held = t.holds(actual);
        c.verdict = if held { Verdict::Pass } else { Verdict::Fail };
        let op = if held { t.op.as_str() } else { t.op.negated() };
        c.reason = format!("{f} {} {op} {limit}", value_text(f, actual));
        if let Some([lo, hi]) = ci {
            c.reason.push_str(&format!(
                " (mean of {runs} runs, CI {}-{})",
                value_text(f, lo),
                value_text(f, hi)
            ));
        }
        out.push(c);
    }
}

/// Why a figure can be missing.
fn missing(f: Figure) -> &'static str {
    match f {
        Figure::ScaleUpReactionS => "no spike or burst, or no replica became ready after it",
        Figure::LagP99 => "only live runs have a schedule lag",
        Figure::GeneratorLimited => "only live runs have a load engine",
        Figure::Cost | Figure::CostPer1k | Figure::GpuHours | Figure::IdleFraction => {
            "nothing billed this run (a live run has no cost source)"
        }
        Figure::MaxReplicas | Figure::ColdStarts => {
            "nothing observed the replicas (a live run without an observer)"
        }
        Figure::ColdStartP50 | Figure::ColdStartP95 => {
            "nothing observed the pods (a live run), or no replica started during the run became ready"
        }
        Figure::TtftP50
        | Figure::TtftP99
        | Figure::ItlP99
        | Figure::TpotP99
        | Figure::Goodput
        | Figure::GoodputRps
        | Figure::TokensPerS => {
            "no token was recorded (only an LLM endpoint's answers have token figures), or no answer had this one"
        }
        _ => "not in the report",
    }
}

fn regression_checks(
    report: &Report,
    base: &Report,
    l: &RegressionLimit,
    confidence: f64,
    out: &mut Vec<Check>,
) {
    let mut targets: Vec<&str> = Vec::new();
    match &l.setup {
        Some(name) => targets.push(name),
        None => {
            for s in report.setups.iter().chain(&base.setups) {
                if !targets.contains(&s.name.as_str()) {
                    targets.push(&s.name);
                }
            }
        }
    }
    for name in targets {
        let mut c = check(name, CheckKind::Regression, &l.text, l.figure);
        let f = l.figure;
        let (cur, old) = match (find(report, name), find(base, name)) {
            (Some(cur), Some(old)) => (cur, old),
            (None, _) => {
                c.reason = format!(
                    "setup {name:?} is not in the report (setups: {})",
                    names(report)
                );
                out.push(c);
                continue;
            }
            (Some(_), None) => {
                c.reason = format!(
                    "setup {name:?} is not in the baseline (setups: {})",
                    names(base)
                );
                out.push(c);
                continue;
            }
        };
        let (Some((actual, ci, _)), Some((was, _, _))) =
            (repeat::judged(cur, f), repeat::judged(old, f))
        else {
            c.reason = format!(
                "{f} is not available in the report or the baseline ({})",
                missing(f)
            );
            out.push(c);
            continue;
        };
        c.actual = Some(actual);
        c.ci = ci;
        c.baseline = Some(was);
        regression_verdict(&mut c, f, l.max, was, actual, cur, old, confidence);
        out.push(c);
    }
}

/// Fills the limit, the p-value, the verdict and the reason of a regression check.
#[allow(clippy::too_many_arguments)]
fn regression_verdict(
    c: &mut Check,
    f: Figure,
    max: f64,
    was: f64,
    actual: f64,
    cur: &SetupReport,
    old: &SetupReport,
    confidence: f64,
) {
    let higher = f.better() == Better::Higher;
    // The change for the worse, relative to the baseline.
    let worse = if higher { was - actual } else { actual - was };
    let rel = if was == 0.0 {
        if worse > 0.0 { f64::INFINITY } else { 0.0 }
    } else {
        worse / was.abs()
    };
    let limit = if higher {
        was - max * was.abs()
    } else {
        was + max * was.abs()
    };
    c.limit = Some(limit);
    let exceeds = rel > max + 1e-12;
    let (a, b) = (repeat::samples(cur, f), repeat::samples(old, f));
    let test = if higher {
        stats::welch_greater(&b, &a)
    } else {
        stats::welch_greater(&a, &b)
    };
    c.p_value = test.map(|t| t.p);
    let alpha = 1.0 - confidence;
    let significant = test.map(|t| t.p < alpha);
    let fail = exceeds && significant.unwrap_or(true);
    c.verdict = if fail { Verdict::Fail } else { Verdict::Pass };
    let (op, sign) = match (exceeds, higher) {
        (true, false) => (">", "+"),
        (true, true) => ("<", "-"),
        (false, false) => ("<=", "+"),
        (false, true) => (">=", "-"),
    };
    let change = if rel.is_finite() {
        let signed = if higher { -rel } else { rel };
        format!("{:+.1}%", signed * 100.0)
    } else {
        "from zero".to_string()
    };
    let mut reason = format!(
        "{f} {} {op} {} (baseline {} {sign} {}%; change {change})",
        value_text(f, actual),
        value_text(f, limit),
        value_text(f, was),
        crate::format::trim(format!("{:.2}", max * 100.0)),
    );
    match (test, significant) {
        (Some(t), Some(true)) if exceeds => {
            reason.push_str(&format!("; significant, {}", p_text(t.p)));
        }
        (Some(t), _) if exceeds => reason.push_str(&format!(
            "; within noise, not significant at {}% ({})",
            crate::format::trim(format!("{:.1}", confidence * 100.0)),
            p_text(t.p)
        )),
        (Some(t), _) => reason.push_str(&format!("; {}", p_text(t.p))),
        (None, _) => {
            reason.push_str("; single runs on both sides: no significance test was possible")
        }
    }
    c.reason = reason;
}

/// A p-value for reasons: `p=0.003`, `p<0.001` below that.
fn p_text(p: f64) -> String {
    if p < 0.001 {
        "p<0.001".to_string()
    } else {
        format!("p={p:.3}")
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
