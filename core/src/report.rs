//! `report.json`, schema `scalebench.report/v1`: the contract that reports, gates and other tools
//! read. Additions are fine; renames and removals bump the schema version.

use std::collections::BTreeMap;

use crate::figure::Figure;
use serde::{Deserialize, Serialize};

/// A setup's `cluster` section is the run's own record, written as it is.
pub use crate::run::{ClusterRun, RefusalRecord, UndoRecord, WatchErrorRecord};

/// The schema identifier written into every report.
pub const SCHEMA: &str = "scalebench.report/v1";

/// A whole report: one scenario, every setup, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The scenario's name.
    pub scenario: String,
    /// Its description, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The driver that made it: `sim`, `testbed`, or `load` (`scalebench load`).
    pub driver: String,
    /// The seed every random draw came from.
    pub seed: u64,
    /// Seconds of offered traffic (less than the scenario's when the run was interrupted).
    pub duration_s: f64,
    /// The run was interrupted (Ctrl-C, SIGTERM) and reports what it measured until then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Seconds per timeline window.
    pub window_s: f64,
    /// The objective the setups are scored against.
    pub slo: SloSpec,
    /// The setups, best first.
    pub setups: Vec<SetupReport>,
    /// The scenario file the run came from, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ScenarioSource>,
    /// The machine and the scalebench build that produced the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
}

impl Report {
    /// True when some setup has token figures (an LLM endpoint's answers): the outputs then
    /// show the token columns, `-` or empty for the setups without.
    pub fn has_tokens(&self) -> bool {
        self.setups.iter().any(|s| s.tokens.is_some())
    }
}

/// The scenario file a report came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSource {
    /// Its path, as given on the command line.
    pub path: String,
    /// Its text.
    pub toml: String,
}

/// Where and when a report was produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// The scalebench version.
    pub scalebench: String,
    /// The operating system (`linux`, `macos`, ...).
    pub os: String,
    /// The CPU architecture (`x86_64`, `aarch64`, ...).
    pub arch: String,
    /// Logical CPUs available to the process.
    pub cpus: u32,
    /// When the run started, UTC, RFC 3339 (`2026-12-01T17:02:00Z`).
    pub started_at: String,
}

impl Environment {
    /// This process's environment, with the current time as the start.
    pub fn current() -> Environment {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Environment {
            scalebench: env!("CARGO_PKG_VERSION").to_string(),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            started_at: rfc3339(now),
        }
    }
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (proleptic Gregorian calendar).
pub fn rfc3339(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloSpec {
    /// The latency a request must not exceed.
    pub latency_ms: f64,
    /// The share of requests, in percent, that must meet it.
    pub percentile: f64,
    /// The client's timeout.
    pub timeout_ms: f64,
    /// The time to first token a request must not exceed (`[slo] ttft`); left out when the
    /// scenario sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// The time per output token a request must not exceed (`[slo] tpot`); left out when the
    /// scenario sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
}

/// One setup's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupReport {
    /// Its name.
    pub name: String,
    /// 1 for the best.
    pub rank: u32,
    /// The autoscaler kind (`fixed`, `hpa`, `kpa`, `keda`).
    pub policy: String,
    /// Request accounting.
    pub requests: Requests,
    /// Latency from intended send time.
    pub latency_ms: Latency,
    /// How the setup did against the objective.
    pub slo: SloResult,
    /// What it cost.
    pub cost: Cost,
    /// How it scaled.
    pub scaling: Scaling,
    /// Per request class.
    pub classes: Vec<ClassReport>,
    /// Injected faults and their effects.
    pub faults: Vec<FaultEvent>,
    /// How the live load engine kept its schedule (live runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadReport>,
    /// One sample per window.
    pub timeline: Vec<TimelineSample>,
    /// The cold-start breakdown of the replicas started during the run; `None` (`null`) when
    /// nothing observed the pods (a live run against a bare URL). Absent from reports written
    /// before it was added.
    #[serde(default)]
    pub cold_start: Option<ColdStartReport>,
    /// What the Kubernetes side did to the measurement of a run on a real cluster
    /// (`--driver cluster`): watch errors and relists, PodDisruptionBudget refusals of
    /// evictions, the writes scalebench made, the undoing of the faults' taints and cordons.
    /// `None` (`null`) for every other driver. Absent from reports written before it was added.
    #[serde(default)]
    pub cluster: Option<ClusterRun>,
    /// With `run --repeat N`: every figure of the N runs (seeds `seed`, `seed + 1`, ...) with
    /// its mean and confidence interval. The other fields of the setup are the first run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<RepeatReport>,
    /// The timeline fields taken from a Prometheus server, and how each query went (live runs
    /// with `[prometheus]` or `load --prometheus` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusReport>,
    /// The token figures of an LLM endpoint's answers: TTFT, ITL, TPOT, tokens and goodput;
    /// left out (`null`) when the driver recorded none (any other endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenReport>,
}

/// An LLM endpoint's token figures (`setups[].tokens`), all from the intended send time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenReport {
    /// Time to first token (first content token - intended send time) of the ok answers;
    /// `None` (`null`) when no answer had a content token.
    pub ttft_ms: Option<TokenLatency>,
    /// Inter-token latency: the gaps between consecutive content tokens; `None` (`null`) when
    /// no answer had two.
    pub itl_ms: Option<TokenLatency>,
    /// Time per output token, (end - first token) / (output tokens - 1), of the ok answers of 2
    /// tokens or more; `None` (`null`) when there was none.
    pub tpot_ms: Option<TokenLatency>,
    /// Output tokens of the ok answers.
    pub output_tokens: u64,
    /// Prompt tokens of the ok answers whose prompt length was known; `None` (`null`) when
    /// none was.
    pub prompt_tokens: Option<u64>,
    /// Output tokens per second of offered traffic (`duration_s`).
    pub output_tokens_per_s: f64,
    /// The requests that met every per-request objective.
    pub goodput: Goodput,
}

/// Percentiles of a token figure, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenLatency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The requests that met every per-request objective of the SLO: answered ok within its
/// latency, and within its `ttft` and `tpot` when set.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Goodput {
    /// How many.
    pub requests: u64,
    /// Their share of the scheduled requests (1 when none was scheduled).
    pub share: f64,
    /// Per second of offered traffic.
    pub rps: f64,
}

/// How the timeline's fields were read from Prometheus.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PrometheusReport {
    /// The server (without a password).
    pub url: String,
    /// The run's start, Unix seconds: window `i` was read at `start_unix_s + (i + 1) *
    /// step_s`, so the queries can be run again by hand.
    pub start_unix_s: f64,
    /// Seconds between evaluations: the window's length in real time.
    pub step_s: f64,
    /// One entry per timeline field queried, in field order.
    pub queries: Vec<QueryReport>,
    /// What did not go as planned but cost only some values (the last windows' samples had
    /// not arrived when the settle time ran out...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One query and what it gave.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QueryReport {
    /// The timeline field it fills.
    pub field: String,
    /// The PromQL.
    pub query: String,
    /// Windows it gave a value for (the others are null).
    pub windows: u64,
    /// Why it gave nothing: the query failed, Prometheus refused it, it returned several
    /// series; `None` when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SetupReport {
    /// The value of `figure` (of the catalogue in `crate::figure`) in the figure's unit
    /// (ms, fraction, s, $, GPU-h, count); `None` when the setup has no such figure (no spike
    /// to react to, no live load engine) or nothing measured it (the cost of a live run).
    pub fn figure(&self, figure: Figure) -> Option<f64> {
        let (setup, l, r) = (self, &self.latency_ms, &self.requests);
        Some(match figure {
            Figure::P50 => l.p50,
            Figure::P90 => l.p90,
            Figure::P95 => l.p95,
            Figure::P99 => l.p99,
            Figure::P999 => l.p999,
            Figure::Max => l.max,
            Figure::Mean => l.mean,
            Figure::ErrorRate => r.error_rate(),
            Figure::SloAttainment => setup.slo.attainment,
            Figure::ViolationS => setup.slo.violation_s,
            Figure::Cost => setup.cost.total_usd?,
            Figure::CostPer1k => setup.cost.per_1k_requests_usd?,
            Figure::GpuHours => setup.cost.gpu_hours?,
            Figure::IdleFraction => setup.cost.idle_fraction?,
            Figure::MaxReplicas => f64::from(setup.scaling.max_replicas?),
            Figure::ColdStarts => f64::from(setup.scaling.cold_starts?),
            Figure::ScaleUpReactionS => setup.scaling.scale_up_reaction_s?,
            Figure::ColdStartP50 => setup.cold_start.as_ref()?.total_ms.p50?,
            Figure::ColdStartP95 => setup.cold_start.as_ref()?.total_ms.p95?,
            Figure::Rejected => r.rejected as f64,
            Figure::TimedOut => r.timed_out as f64,
            Figure::LagP99 => setup.load.as_ref()?.schedule_lag_ms.p99,
            Figure::GeneratorLimited => setup.load.as_ref()?.limit_count() as f64,
            Figure::TtftP50 => setup.tokens.as_ref()?.ttft_ms?.p50,
            Figure::TtftP99 => setup.tokens.as_ref()?.ttft_ms?.p99,
            Figure::ItlP99 => setup.tokens.as_ref()?.itl_ms?.p99,
            Figure::TpotP99 => setup.tokens.as_ref()?.tpot_ms?.p99,
            Figure::Goodput => setup.tokens.as_ref()?.goodput.share,
            Figure::GoodputRps => setup.tokens.as_ref()?.goodput.rps,
            Figure::TokensPerS => setup.tokens.as_ref()?.output_tokens_per_s,
        })
    }

    /// The ways the load engine limited this setup's run; `None` when it did not, or when the
    /// setup had no load engine (a simulated run).
    pub fn generator_limited(&self) -> Option<&GeneratorLimited> {
        self.load.as_ref()?.generator_limited.as_ref()
    }
}

/// The figures of a setup over repeated runs of the same scenario with different seeds (or
/// repeated live runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatReport {
    /// The seed of each run, in run order; the first is the report's own.
    pub seeds: Vec<u64>,
    /// The level of the confidence intervals (0.95).
    pub confidence: f64,
    /// Per figure (canonical names: `p99`, `error_rate`, `cost`, ...): its value in each run.
    pub figures: BTreeMap<String, FigureSamples>,
}

/// One figure over repeated runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureSamples {
    /// Its value in each run, in the order of [`RepeatReport::seeds`].
    pub values: Vec<f64>,
    /// Their mean.
    pub mean: f64,
    /// Lower end of the confidence interval of the mean (Student's t).
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
}

/// What the live load engine measured beyond the outcomes, and whether it, rather than the
/// target, limited the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Actual minus intended send time of the requests sent: how well the schedule was kept
    /// (`pacing_lag_ms` plus `connection_wait_ms`, request by request).
    pub schedule_lag_ms: Latency,
    /// Of the schedule lag: how late a sending thread took each request from the schedule (the
    /// engine's own lateness).
    #[serde(default)]
    pub pacing_lag_ms: Latency,
    /// Of the schedule lag: how long each request then waited for a free connection.
    #[serde(default)]
    pub connection_wait_ms: Latency,
    /// Requests per outcome class (`http_200`, `http_503`, `connect`, `reset`, `timeout`,
    /// `not_sent`, `cancelled`).
    pub outcomes: BTreeMap<String, u64>,
    /// The most sending threads at once; `null` when the engine did not count them
    /// (closed-loop users).
    #[serde(default)]
    pub shards: Option<u32>,
    /// The most connections open at once; `null` when the engine did not count them.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// The busiest sending thread's share of time spent working over its busiest second, 0-1;
    /// `null` where the platform cannot tell a thread's CPU time.
    #[serde(default)]
    pub peak_busy: Option<f64>,
    /// How the load engine, not the target, limited the run; `null` when it kept up, so the
    /// figures are the target's.
    #[serde(default)]
    pub generator_limited: Option<GeneratorLimited>,
}

impl LoadReport {
    /// How many ways the engine limited the run: 0 when it kept up.
    pub fn limit_count(&self) -> usize {
        self.generator_limited
            .as_ref()
            .map_or(0, |g| g.reasons.len())
    }
}

/// The ways the load engine limited a run: its numbers are the engine's, not the target's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorLimited {
    /// One per way, in a fixed order (`pacing_lag`, `not_sent`, `saturated`,
    /// `connection_cap`); never empty.
    pub reasons: Vec<LimitReason>,
}

/// One way the load engine limited a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitReason {
    /// `pacing_lag` (the sending threads took requests late; p99 pacing lag), `not_sent` (the
    /// in-flight bound was reached; requests not sent), `saturated` (a sending thread was busy
    /// nearly all the time; peak busy share), `connection_cap` (requests waited for a capped
    /// connection pool; p99 connection wait).
    pub reason: String,
    /// The measured figure, in `unit`.
    pub value: f64,
    /// The bound it crossed, in `unit`.
    pub bound: f64,
    /// `ms`, `count` or `fraction`.
    pub unit: String,
    /// What to change, in words a user can act on.
    pub advice: String,
}

/// Every scheduled request is counted exactly once:
/// `scheduled = ok + failed + rejected + timed_out + not_sent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Requests {
    /// Requests the plan scheduled.
    pub scheduled: u64,
    /// Requests sent to the service.
    pub sent: u64,
    /// Answered successfully before the timeout.
    pub ok: u64,
    /// Failed (connection errors, errors from the service, killed in flight).
    pub failed: u64,
    /// Refused because the queue was full (503).
    pub rejected: u64,
    /// Not answered within the timeout.
    pub timed_out: u64,
    /// Scheduled but never sent (the load engine's in-flight bound was reached).
    pub not_sent: u64,
}

impl Requests {
    /// True when every scheduled request is counted exactly once.
    pub fn identity_holds(&self) -> bool {
        self.scheduled == self.ok + self.failed + self.rejected + self.timed_out + self.not_sent
            && self.sent == self.scheduled - self.not_sent
    }

    /// Requests that did not succeed, as a share of those scheduled.
    pub fn error_rate(&self) -> f64 {
        if self.scheduled == 0 {
            0.0
        } else {
            // Saturating: a report read from a file may say anything.
            self.scheduled.saturating_sub(self.ok) as f64 / self.scheduled as f64
        }
    }
}

/// Latency percentiles in milliseconds, over ok and timed-out requests (a timed-out request
/// counts at the timeout, the longest its client waited).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The setup against the objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    /// Share of scheduled requests answered ok within the SLO latency.
    pub attainment: f64,
    /// Attainment reached the SLO percentile.
    pub met: bool,
    /// Seconds of windows that missed the objective (their share of requests ok within the SLO
    /// latency was below the percentile; failed requests count as misses).
    pub violation_s: f64,
    /// Recovery after each spike, burst or fault.
    pub recoveries: Vec<Recovery>,
}

/// How long the service took to meet the objective again after a transient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// What happened, e.g. `spike@5m`.
    pub event: String,
    /// When it started, in seconds.
    pub at_s: f64,
    /// Seconds from its start until the windowed objective was met again; 0 when it never
    /// broke, `null` when it had not recovered by the end of the run.
    pub recovery_s: Option<f64>,
}

/// What the setup cost. Every figure is `None` (`null`) when nothing billed the run (a live
/// run of `scalebench load` has no cost source): unknown, not free.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Cost {
    /// Total, in the price table's currency.
    pub total_usd: Option<f64>,
    /// Per 1000 requests answered ok.
    pub per_1k_requests_usd: Option<f64>,
    /// GPU-hours paid for.
    pub gpu_hours: Option<f64>,
    /// Per pool (or `replicas` for replica billing); empty when nothing billed the run.
    pub by_pool: BTreeMap<String, PoolCost>,
    /// Per capacity type (`spot`, `on-demand`): the pools of each summed.
    #[serde(default)]
    pub by_capacity_type: BTreeMap<String, CapacityCost>,
    /// Share of paid GPU time with no request in service.
    pub idle_fraction: Option<f64>,
}

/// One pool's share of the cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolCost {
    /// Cost.
    pub usd: f64,
    /// GPU-hours paid for.
    pub gpu_hours: f64,
    /// `spot` or `on-demand`.
    pub capacity_type: String,
}

/// The cost of one capacity type.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CapacityCost {
    /// Cost.
    pub usd: f64,
    /// GPU-hours paid for.
    pub gpu_hours: f64,
}

/// What a budget ceiling did to a setup's scaling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetReport {
    /// The ceiling: the most the replicas asked for may cost per hour.
    pub ceiling_usd_per_hour: f64,
    /// Seconds during which the policy wanted replicas that the ceiling held back.
    pub limited_s: f64,
    /// When it first held replicas back, in seconds; `null` when it never did.
    pub first_limited_s: Option<f64>,
    /// The most replicas held back at once.
    pub max_held_back: u32,
}

/// How the setup scaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Most replicas ready at once; `None` when nothing observed the replicas.
    pub max_replicas: Option<u32>,
    /// Replicas started during the run (each paid a cold start); `None` when nothing observed
    /// them.
    pub cold_starts: Option<u32>,
    /// Seconds from the first spike or burst to the first replica that became ready after it;
    /// `null` without a spike or when no replica became ready.
    pub scale_up_reaction_s: Option<f64>,
    /// Most nodes at once, per pool.
    pub max_nodes: BTreeMap<String, u32>,
    /// What the policy's budget ceiling held back (policies with a budget only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetReport>,
}

/// A setup's cold-start breakdown in `report.json` (`setups[].cold_start`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ColdStartReport {
    /// Replicas started after time zero that became ready.
    pub count: u32,
    /// Replicas started after time zero that never became ready (deleted before, or still
    /// starting when the run ended); not counted as zero-length starts.
    pub unfinished: u32,
    /// Created -> scheduled: waiting for a node with room, node provisioning included.
    pub pending_ms: PhaseMs,
    /// Scheduled -> container started: image pull and container start.
    pub creating_ms: PhaseMs,
    /// Container started -> ready: the model load until the readiness probe passes.
    pub loading_ms: PhaseMs,
    /// Created -> ready.
    pub total_ms: PhaseMs,
}

/// One phase over the cold starts, in milliseconds (exact percentiles, nearest rank); each
/// `None` (`null`) when no replica became ready.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PhaseMs {
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// Longest.
    pub max: Option<f64>,
}

/// One request class's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// The class.
    pub name: String,
    /// Its accounting.
    pub requests: Requests,
    /// Its latency.
    pub latency_ms: Latency,
}

/// An injected fault and its effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// Seconds into the run.
    pub t_s: f64,
    /// The fault type.
    pub kind: String,
    /// What it hit.
    pub target: String,
    /// Pods lost.
    pub pods_lost: u32,
    /// Requests failed because of it; `None` where the driver cannot attribute failures to a
    /// fault (a real cluster: its failed requests are in the timeline's errors).
    pub requests_failed: Option<u64>,
    /// Evictions a disruption budget blocked.
    #[serde(default)]
    pub blocked: u32,
    /// Requests killed with their pods and sent again (setups with `retry_killed`); `None`
    /// where the driver cannot see it (a real cluster), and in reports older than the field.
    #[serde(default)]
    pub retried: Option<u64>,
}

/// One window of the timeline. The recorder fills the client side (`t_s` to `errors`, and the
/// token figures `ttft_p50_ms` to `good_share` of a run with any) when it closes the window;
/// drivers give the service side and leave the rest to `Default`. A service-side figure is
/// `None` (`null`) when nothing observed it in that window (a live run without an observer, a
/// scrape that failed or lacked the metric): unknown, not zero.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TimelineSample {
    /// End of the window, seconds into the run.
    pub t_s: f64,
    /// Arrivals per second in the window.
    pub rps: f64,
    /// Requests answered ok in the window.
    pub ok: u64,
    /// Median latency of requests finished in the window; `None` when none finished.
    pub p50_ms: Option<f64>,
    /// 95th percentile; `None` when none finished.
    pub p95_ms: Option<f64>,
    /// 99th percentile; `None` when none finished.
    pub p99_ms: Option<f64>,
    /// Requests that failed, were rejected or timed out in the window.
    pub errors: u64,
    /// The replica count asked for (policy plus warm pool).
    pub replicas_desired: Option<u32>,
    /// Ready replicas at the window's end.
    pub replicas_ready: Option<u32>,
    /// Pods waiting for a node or starting.
    pub pods_pending: Option<u32>,
    /// Nodes per pool at the window's end (requested, including those still provisioning);
    /// empty when no pool was observed.
    pub nodes: BTreeMap<String, u32>,
    /// GPUs held by pods at the window's end.
    pub gpus_allocated: Option<u32>,
    /// GPU utilisation over the window (0-1).
    pub gpu_util: Option<f64>,
    /// Requests waiting at the window's end.
    pub queue_depth: Option<u32>,
    /// Cost accrued since the start.
    pub cost_usd: Option<f64>,
    /// Requests being served (in a batch) at the window's end, as the server reports it
    /// (vLLM's `num_requests_running`, through Prometheus).
    #[serde(default)]
    pub running: Option<u32>,
    /// The share of the KV cache in use at the window's end, 0-1 (vLLM's
    /// `kv_cache_usage_perc`, through Prometheus).
    #[serde(default)]
    pub kv_cache_usage: Option<f64>,
    /// Median time to first token of the answers that ended in the window (an LLM endpoint's
    /// only; left out, `null`, when none had a first token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p50_ms: Option<f64>,
    /// 99th percentile time to first token, like `ttft_p50_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p99_ms: Option<f64>,
    /// 99th percentile of the inter-token gaps recorded in the window (left out when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_p99_ms: Option<f64>,
    /// 99th percentile time per output token of the answers that ended in the window (left
    /// out when none had 2 tokens or more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_p99_ms: Option<f64>,
    /// Output tokens of the answers that ended in the window, per second (runs with token
    /// figures only; left out otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
    /// Requests that ended in the window meeting every per-request objective, per second
    /// (runs with token figures only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_rps: Option<f64>,
    /// Their share of the requests that ended in the window (runs with token figures only;
    /// left out when none ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good_share: Option<f64>,
    /// Faults that struck in the window (markers such as `spot-interruption@10m`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
    /// Replicas the policy wanted at the window's end but held back for its budget (omitted
    /// when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub budget_held_back: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_453_322), "2026-11-23T17:02:02Z");
    }
}
