//! The scenario file: its schema, parsing with located errors, validation, and resolution into a
//! [`Plan`] that the drivers run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::dist::DurationDist;
use crate::error::{Located, ScenarioError};
use crate::fault::FaultPlan;
use crate::policy::{CostAwareConfig, FixedConfig, HpaConfig, KedaConfig, KpaConfig, PolicyConfig};
use crate::prometheus::{Preset, PrometheusSpec};
use crate::threshold::GateSpec;
use crate::traffic::Traffic;
use crate::units::Duration;

mod gate;
mod resolve;
pub use gate::gate_of_source;
use resolve::Resolver;

/// A scenario file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    duration: Spanned<Duration>,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    window: Option<Spanned<Duration>>,
    slo: Spanned<Slo>,
    traffic: Spanned<Traffic>,
    service: Spanned<Service>,
    #[serde(default)]
    cluster: Cluster,
    #[serde(default, rename = "setup")]
    setups: Vec<Spanned<SetupFile>>,
    #[serde(default)]
    faults: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    thresholds: Vec<Spanned<String>>,
    #[serde(default)]
    gate: Option<Spanned<GateFile>>,
    #[serde(default)]
    prometheus: Option<Spanned<PrometheusFile>>,
    #[serde(default)]
    kubernetes: Option<Spanned<crate::kubernetes::KubernetesFile>>,
}

/// `[prometheus]`: a Prometheus server to fill the timeline of live runs from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrometheusFile {
    url: Spanned<String>,
    #[serde(default)]
    token_env: Option<String>,
    #[serde(default)]
    presets: Vec<Preset>,
    #[serde(default)]
    queries: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    #[serde(default)]
    scrape_interval: Option<Duration>,
    #[serde(default)]
    settle: Option<Duration>,
}

/// `[gate]`: how `scalebench gate` compares a report of this scenario with a baseline.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GateFile {
    #[serde(default)]
    max_regression: Vec<Spanned<String>>,
    #[serde(default)]
    confidence: Option<f64>,
}

fn default_seed() -> u64 {
    1
}

/// `[slo]`: the objective every setup is scored against: per request, its latency and, for an
/// LLM endpoint, its time to first token and time per output token.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The latency a request must not exceed.
    pub latency: Duration,
    /// The share of requests (in percent) that must meet it; 99 by default.
    #[serde(default = "default_percentile")]
    pub percentile: f64,
    /// The time to first token (from the intended send time) a request must not exceed; a
    /// setup meets the SLO only when its TTFT at `percentile` does too. `None`: no bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<Duration>,
    /// The time per output token a request must not exceed (an answer of one token has none
    /// and meets it); a setup meets the SLO only when its TPOT at `percentile` does too.
    /// `None`: no bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot: Option<Duration>,
}

fn default_percentile() -> f64 {
    99.0
}

/// `[service]`: what one replica is and how it serves.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Requests one replica serves at once.
    #[serde(default = "one")]
    pub concurrency: u32,
    /// Requests that may wait for a free replica; beyond it arrivals are rejected (503).
    #[serde(default = "default_queue")]
    pub queue: u32,
    /// The service time of one request. With `[service.llm]` it is the token model's time of
    /// a request alone on a replica, and may be left out.
    #[serde(default = "unset_time")]
    pub time: DurationDist,
    /// GPUs one replica needs (0 for a CPU service).
    #[serde(default = "one")]
    pub gpus: u32,
    /// How long each phase of a pod's life takes.
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// `[service.llm]`: the replica serves an LLM by continuous batching ([`crate::llm`]);
    /// its `max_batch` is the replica's concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<crate::llm::TokenModel>,
}

/// A service time left out of the file: zero, which resolving refuses unless the token model
/// gives the time.
fn unset_time() -> DurationDist {
    DurationDist::fixed(Duration::ZERO)
}

fn one() -> u32 {
    1
}

fn default_queue() -> u32 {
    1000
}

/// The phases of a replica: Pending -> Starting -> Loading -> Ready -> Draining -> gone.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// From creation to being bound to a node that has room (scheduler latency).
    #[serde(default = "default_schedule")]
    pub schedule: DurationDist,
    /// Image pull and container start.
    #[serde(default = "default_start")]
    pub start: DurationDist,
    /// Model load, until the readiness probe passes.
    #[serde(default = "default_load")]
    pub load: DurationDist,
    /// terminationGracePeriodSeconds: how long a draining replica may finish its requests.
    #[serde(default = "default_grace")]
    pub grace_period: Duration,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            schedule: default_schedule(),
            start: default_start(),
            load: default_load(),
            grace_period: default_grace(),
        }
    }
}

fn default_schedule() -> DurationDist {
    DurationDist::fixed(Duration::from_millis(500))
}
fn default_start() -> DurationDist {
    DurationDist::fixed(Duration::from_secs(20))
}
fn default_load() -> DurationDist {
    DurationDist::fixed(Duration::from_secs(40))
}
fn default_grace() -> Duration {
    Duration::from_secs(30)
}

/// The same phases with every field optional, for a setup that overrides some of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleOverride {
    /// See [`Lifecycle::schedule`].
    pub schedule: Option<DurationDist>,
    /// See [`Lifecycle::start`].
    pub start: Option<DurationDist>,
    /// See [`Lifecycle::load`].
    pub load: Option<DurationDist>,
    /// See [`Lifecycle::grace_period`].
    pub grace_period: Option<Duration>,
}

impl Lifecycle {
    fn with(&self, o: &LifecycleOverride) -> Lifecycle {
        Lifecycle {
            schedule: o.schedule.unwrap_or(self.schedule),
            start: o.start.unwrap_or(self.start),
            load: o.load.unwrap_or(self.load),
            grace_period: o.grace_period.unwrap_or(self.grace_period),
        }
    }
}

/// How capacity is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Billing {
    /// Nodes are paid from the moment they are requested until they are released.
    #[default]
    Node,
    /// Serverless style: each replica is paid from creation until it is gone; no nodes.
    Replica,
}

/// `[cluster]`: node pools and the cluster autoscaler.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// How capacity is paid for.
    #[serde(default)]
    pub billing: Billing,
    /// The price of one replica per hour, for `billing = "replica"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_replica_hour: Option<f64>,
    /// How often the cluster autoscaler looks for pending pods and idle nodes (10s).
    #[serde(default = "default_scan")]
    pub scan_interval: Duration,
    /// How long a node must be empty before it is removed (10m).
    #[serde(default = "default_unneeded")]
    pub scale_down_unneeded: Duration,
    /// The node pools, in order of preference.
    #[serde(default, rename = "pool")]
    pub pools: Vec<Spanned<Pool>>,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            billing: Billing::Node,
            price_per_replica_hour: None,
            scan_interval: default_scan(),
            scale_down_unneeded: default_unneeded(),
            pools: Vec::new(),
        }
    }
}

fn default_scan() -> Duration {
    Duration::from_secs(10)
}
fn default_unneeded() -> Duration {
    Duration::from_secs(600)
}

/// Spot or on-demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityType {
    /// Regular capacity.
    #[default]
    OnDemand,
    /// Cheap capacity the cloud may reclaim.
    Spot,
}

impl CapacityType {
    /// As written in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityType::OnDemand => "on-demand",
            CapacityType::Spot => "spot",
        }
    }
}

/// `[[cluster.pool]]`: a node group.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Its name.
    pub name: String,
    /// Spot or on-demand.
    #[serde(default)]
    pub capacity_type: CapacityType,
    /// The GPU model, for reports.
    #[serde(default)]
    pub gpu: Option<String>,
    /// GPUs per node.
    #[serde(default)]
    pub gpus_per_node: u32,
    /// Replicas per node for a CPU service (gpus = 0); ignored otherwise.
    #[serde(default)]
    pub pods_per_node: Option<u32>,
    /// Price of one node per hour.
    pub price_per_hour: f64,
    /// From request to a node that has joined and advertises its GPUs.
    #[serde(default = "default_provision")]
    pub provision: DurationDist,
    /// Nodes present at the start and never removed.
    #[serde(default)]
    pub min_nodes: u32,
    /// The most nodes this pool may have.
    pub max_nodes: u32,
    /// Random spot interruptions per node-hour (0: none), drawn from the run's seed.
    #[serde(default)]
    pub interruption_rate: f64,
    /// The notice a random interruption gives (120 s, as on AWS).
    #[serde(default = "default_notice")]
    pub interruption_notice: Duration,
    /// How fast a replica serves on this pool's nodes, relative to the service model (a faster
    /// GPU: 2.0 halves every service time). Default 1.
    #[serde(default = "default_speed")]
    pub speed: f64,
}

fn default_speed() -> f64 {
    1.0
}

fn default_notice() -> Duration {
    Duration::from_secs(120)
}

fn default_provision() -> DurationDist {
    DurationDist::fixed(Duration::from_secs(180))
}

impl Pool {
    /// Replicas of a service needing `gpus` GPUs that fit on one node.
    pub fn replicas_per_node(&self, gpus: u32) -> u32 {
        match self.gpus_per_node.checked_div(gpus) {
            Some(n) => n,
            None => self.pods_per_node.unwrap_or(1),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupFile {
    name: String,
    #[serde(default)]
    fixed: Option<FixedConfig>,
    #[serde(default)]
    hpa: Option<HpaConfig>,
    #[serde(default)]
    kpa: Option<KpaConfig>,
    #[serde(default)]
    keda: Option<KedaConfig>,
    #[serde(default, rename = "cost-aware")]
    cost_aware: Option<CostAwareConfig>,
    #[serde(default)]
    warm_pool: u32,
    #[serde(default)]
    scrape_delay: Option<Duration>,
    #[serde(default)]
    lifecycle: LifecycleOverride,
    #[serde(default)]
    billing: Option<Billing>,
    #[serde(default)]
    price_per_replica_hour: Option<f64>,
    #[serde(default)]
    pools: Option<Vec<String>>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    initial_replicas: Option<u32>,
    #[serde(default)]
    retry_killed: bool,
    #[serde(default)]
    kubernetes: Option<Spanned<crate::kubernetes::KubernetesFile>>,
}

/// One autoscaler setup to compare, resolved against the scenario's defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setup {
    /// Its name in reports.
    pub name: String,
    /// The autoscaler.
    pub policy: PolicyConfig,
    /// Extra ready replicas kept on top of what the policy asks for (billed).
    pub warm_pool: u32,
    /// How old the metrics are that the policy sees.
    pub scrape_delay: Duration,
    /// Pod phase durations.
    pub lifecycle: Lifecycle,
    /// How capacity is paid for.
    pub billing: Billing,
    /// Price of one replica per hour, for replica billing.
    pub price_per_replica_hour: f64,
    /// The pools this setup may use, in order of preference (node billing).
    pub pools: Vec<Pool>,
    /// Service speed relative to the scenario's service model (2.0 = twice as fast).
    pub speed: f64,
    /// Replicas ready at the start of the run (the Deployment's spec.replicas when the
    /// autoscaler takes over), without the warm pool; default: the policy's own starting point.
    pub initial_replicas: u32,
    /// Requests killed with their pod (eviction, reclaim) are sent again, keeping their intended
    /// time, instead of failing: a client or gateway that retries.
    pub retry_killed: bool,
    /// Where it runs on a real cluster (`--driver cluster`): `[kubernetes]` with the setup's
    /// `[setup.kubernetes]` over it; `None` when the scenario has neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<crate::kubernetes::Kubernetes>,
}

/// A validated scenario, ready for a driver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The scenario's name.
    pub name: String,
    /// A description for reports.
    pub description: Option<String>,
    /// Where it was read from.
    pub path: PathBuf,
    /// How long traffic is offered.
    pub duration: Duration,
    /// The seed of every random draw.
    pub seed: u64,
    /// The timeline's window length.
    pub window: Duration,
    /// The objective.
    pub slo: Slo,
    /// The traffic.
    pub traffic: Traffic,
    /// Capacity in requests per second that `"N%"` rates refer to.
    pub capacity_rps: f64,
    /// The service model.
    pub service: Service,
    /// Cluster autoscaler settings (pools are per setup).
    pub scan_interval: Duration,
    /// How long a node stays empty before removal.
    pub scale_down_unneeded: Duration,
    /// The setups to compare.
    pub setups: Vec<Setup>,
    /// The `[[faults]]` entries, checked against the run and its pools, in time order.
    pub faults: FaultPlan,
    /// `thresholds = [...]` and `[gate]`: the checks `run` and `gate` apply to its reports.
    pub gate: GateSpec,
    /// `[prometheus]`: where live runs read their timeline's service side from afterwards
    /// (the simulator ignores it).
    pub prometheus: Option<PrometheusSpec>,
    /// What loading learnt of the trace it replays (`[traffic.trace]`), if any.
    pub trace: Option<crate::traffic::TraceInfo>,
}

/// The most windows a timeline has; longer runs get longer windows.
pub const MAX_WINDOWS: u64 = 2000;

/// The most timeline windows a scenario may ask for: each keeps a sample in every report.
pub const MAX_USER_WINDOWS: u64 = 100_000;

/// The most requests a scenario may offer (about a day at 1.2 M rps).
pub const MAX_REQUESTS: f64 = 1e11;

/// The most requests one replica may serve at once (each is a slot the simulator holds).
pub const MAX_CONCURRENCY: u32 = 100_000;

impl Plan {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
        let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Plan::parse(path, &src)?)
    }

    /// Parses and validates scenario text; `path` is used for messages.
    pub fn parse(path: &Path, src: &str) -> Result<Plan, Located> {
        let file: ScenarioFile = toml::from_str(src).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            Located::at(path, src, offset, e.message().trim().to_string())
        })?;
        Resolver { path, src }.resolve(file)
    }

    /// The mean service time of a request over the request classes (each class weighted by its
    /// share of the traffic), in seconds, before any speed-up.
    pub fn mean_service_secs(&self) -> f64 {
        self.class_services()
            .map(|(w, d)| w * d.mean_secs())
            .sum::<f64>()
    }

    /// The largest quantile `q` (0-1) of the service time over the request classes, in
    /// seconds, before any speed-up: latency that no amount of capacity takes away.
    pub fn service_quantile_secs(&self, q: f64) -> f64 {
        self.class_services()
            .map(|(_, d)| d.quantile_secs(q))
            .fold(0.0, f64::max)
    }

    /// Each request class's share of the traffic and its service time distribution.
    fn class_services(&self) -> impl Iterator<Item = (f64, &DurationDist)> {
        let classes = &self.traffic.classes;
        let total: f64 = classes.iter().map(|c| c.weight).sum();
        let default = std::iter::once((1.0, &self.service.time)).filter(|_| classes.is_empty());
        classes
            .iter()
            .map(move |c| {
                (
                    c.weight / total,
                    c.service.as_ref().unwrap_or(&self.service.time),
                )
            })
            .chain(default)
    }

    /// The instants of spikes and bursts, from which reports measure recovery.
    pub fn transients(&self) -> Vec<(String, Duration)> {
        self.traffic
            .shapes
            .iter()
            .filter_map(|s| {
                s.transient_start()
                    .map(|at| (format!("{}@{}", s.kind(), at), at))
            })
            .collect()
    }
}

/// The default window for a run: 1 s, longer for long runs so there are at most
/// [`MAX_WINDOWS`] windows, rounded up to a whole number of seconds.
pub fn auto_window(duration: Duration) -> Duration {
    let secs = duration.as_nanos().div_ceil(1_000_000_000);
    Duration::from_secs(secs.div_ceil(MAX_WINDOWS).max(1))
}
