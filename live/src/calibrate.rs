//! Calibration: the sustainable throughput of a target, found by a stepped open-loop ramp
//! that stops where the tail breaks the SLO, errors appear, or throughput stops following the
//! offered rate (`scalebench calibrate`). A step in which the load engine itself was the limit
//! (see `engine::judge`) says nothing of the target: the ramp stops there and the result says
//! that the rate found is the engine's ceiling, a lower bound of the target's.

use std::sync::atomic::{AtomicBool, Ordering};

use scalebench_core::Duration;
use serde::Serialize;

use scalebench_core::run::LimitKind;

use crate::{LoadConfig, LoadError, Progress, Steady, SteadyError};

/// The schema identifier of `calibration.json`.
pub const SCHEMA: &str = "scalebench.calibration/v1";

/// The most steps a ramp takes.
const MAX_STEPS: usize = 60;

/// How a ramp goes.
#[derive(Debug, Clone, Copy)]
pub struct Ramp {
    /// The first step's rate, requests per second.
    pub start: f64,
    /// Each step's rate is the previous one's times this (above 1).
    pub factor: f64,
    /// The last rate tried.
    pub max_rate: f64,
    /// How long each step lasts.
    pub step: Duration,
    /// The latency the tail must meet.
    pub slo: Duration,
    /// Its percentile (0-100).
    pub percentile: f64,
    /// The share of requests that may fail in a step that counts as sustained.
    pub max_errors: f64,
}

/// Why a ramp could not run.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// A step's numbers make no scenario.
    #[error(transparent)]
    Step(#[from] SteadyError),
    /// The load engine could not run a step.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// One step of the ramp.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    /// The rate offered, requests per second.
    pub rate: f64,
    /// Requests answered ok per second.
    pub ok_rps: f64,
    /// Median latency from the intended send time, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Share of the requests that did not succeed.
    pub error_rate: f64,
    /// The tail met the SLO, errors stayed within the limit, throughput kept within 5% of the
    /// rate offered, and the load engine kept its schedule (a busy thread that kept it does
    /// not undo a step; its next step tells).
    pub sustained: bool,
    /// How the load engine itself limited the step (`pacing_lag`, `not_sent`, `saturated`,
    /// `connection_cap`); empty when it kept up.
    pub generator_limited: Vec<String>,
}

/// What ended the ramp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitedBy {
    /// The target: a step broke the SLO, failed, or fell behind while the engine kept up.
    Target,
    /// The load engine: the rate found is the engine's ceiling, a lower bound of the target's.
    LoadEngine,
    /// The ramp reached its highest rate, or was interrupted, before anything broke.
    Ramp,
}

/// What `calibration.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// What was calibrated.
    pub target: String,
    /// The latency objective, ms.
    pub slo_ms: f64,
    /// Its percentile.
    pub percentile: f64,
    /// The steps run, in order.
    pub steps: Vec<StepResult>,
    /// The highest rate sustained: tail within the SLO, errors within the limit, throughput
    /// within 5% of the rate offered, the load engine keeping up.
    pub sustainable_rps: Option<f64>,
    /// What ended the ramp; with `load_engine`, `sustainable_rps` is what this machine's load
    /// engine could drive, and the target may sustain more.
    pub limited_by: LimitedBy,
    /// With `load_engine`: what to change, one line per way the engine limited the last step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advice: Vec<String>,
}

/// Runs the ramp against `config`'s target: steps until one is not sustained, the rate passes
/// `max_rate`, or `cancel` is set.
pub fn calibrate(
    target: &str,
    ramp: &Ramp,
    config: &LoadConfig,
    cancel: &AtomicBool,
) -> Result<Calibration, CalibrateError> {
    let mut steps: Vec<StepResult> = Vec::new();
    let mut advice = Vec::new();
    let mut rate = ramp.start;
    while rate <= ramp.max_rate && steps.len() < MAX_STEPS && !cancel.load(Ordering::Relaxed) {
        let plan = Steady {
            rate,
            duration: ramp.step,
            poisson: false,
            timeout: Duration::from_secs(30).max(ramp.slo + ramp.slo),
            slo: ramp.slo,
            percentile: ramp.percentile,
            seed: 1,
        }
        .plan()?;
        let run = crate::run(&plan, "calibrate", config, cancel, &Progress::default())?;
        let r = run.requests();
        let l = run.latency.summary();
        let tail = run.latency.quantile_ms(ramp.percentile / 100.0);
        let ok_rps = r.ok as f64 / run.duration_s.max(1e-9);
        let error_rate = r.error_rate();
        let limits = run
            .load
            .as_ref()
            .map(|l| l.limits.clone())
            .unwrap_or_default();
        // A busy thread that still kept the schedule did not distort the step: it met the
        // objective at this rate. Any other limit did.
        let distorted = limits.iter().any(|l| l.kind != LimitKind::Saturated);
        let sustained = !run.interrupted
            && !distorted
            && tail <= ramp.slo.as_millis_f64()
            && error_rate <= ramp.max_errors
            && ok_rps >= 0.95 * rate;
        tracing::info!(
            rate,
            ok_rps,
            p99 = l.p99,
            error_rate,
            sustained,
            "calibration step"
        );
        steps.push(StepResult {
            rate,
            ok_rps,
            p50_ms: l.p50,
            p99_ms: l.p99,
            error_rate,
            sustained,
            generator_limited: limits.iter().map(|l| l.kind.name().to_string()).collect(),
        });
        if !sustained {
            if !limits.is_empty() {
                advice = limits.into_iter().map(|l| l.advice).collect();
            }
            break;
        }
        rate *= ramp.factor;
    }
    let sustainable_rps = steps
        .iter()
        .filter(|s| s.sustained)
        .map(|s| s.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let limited_by = match steps.last() {
        Some(last) if !last.sustained && !last.generator_limited.is_empty() => {
            LimitedBy::LoadEngine
        }
        Some(last) if !last.sustained && !cancel.load(Ordering::Relaxed) => LimitedBy::Target,
        _ => LimitedBy::Ramp,
    };
    Ok(Calibration {
        schema: SCHEMA,
        target: target.to_string(),
        slo_ms: ramp.slo.as_millis_f64(),
        percentile: ramp.percentile,
        steps,
        sustainable_rps,
        limited_by,
        advice,
    })
}
