//! The autoscaler settings a setup can name, as written in a scenario. Each is one sub-table of a
//! `[[setup]]`: `[setup.fixed]`, `[setup.hpa]`, `[setup.kpa]`, `[setup.keda]` or
//! `[setup.cost-aware]`. The behaviour lives in the `autoscale` crate; these are plain data with
//! the upstream defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::units::Duration;

/// Which autoscaler a setup uses, with its settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PolicyConfig {
    /// A constant number of replicas.
    Fixed(FixedConfig),
    /// The Kubernetes Horizontal Pod Autoscaler.
    Hpa(HpaConfig),
    /// The Knative Pod Autoscaler.
    Kpa(KpaConfig),
    /// KEDA: event-driven scaling with scale to and from zero.
    Keda(KedaConfig),
    /// Meets the SLO at the least cost per inference: prefers spot, falls back to on-demand,
    /// keeps within a budget.
    CostAware(CostAwareConfig),
}

impl PolicyConfig {
    /// The policy's name as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyConfig::Fixed(_) => "fixed",
            PolicyConfig::Hpa(_) => "hpa",
            PolicyConfig::Kpa(_) => "kpa",
            PolicyConfig::Keda(_) => "keda",
            PolicyConfig::CostAware(_) => "cost-aware",
        }
    }

    /// The most replicas the policy will ask for (not counting a warm pool).
    pub fn max_replicas(&self) -> u32 {
        match self {
            PolicyConfig::Fixed(c) => c.replicas,
            PolicyConfig::Hpa(c) => c.max_replicas,
            PolicyConfig::Kpa(c) => c.max_scale,
            PolicyConfig::Keda(c) => c.max_replicas,
            PolicyConfig::CostAware(c) => c.max_replicas,
        }
    }

    /// The replicas the policy starts a run with (not counting a warm pool).
    pub fn initial_replicas(&self) -> u32 {
        match self {
            PolicyConfig::Fixed(c) => c.replicas,
            PolicyConfig::Hpa(c) => c.min_replicas,
            PolicyConfig::Kpa(c) => c.initial_scale.unwrap_or(1).clamp(c.min_scale, c.max_scale),
            PolicyConfig::Keda(c) => c.min_replicas,
            PolicyConfig::CostAware(c) => c.min_replicas,
        }
    }
}

/// `[setup.fixed]`: no autoscaling.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FixedConfig {
    /// The number of replicas, at all times.
    pub replicas: u32,
}

/// The metric an HPA scales on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HpaMetric {
    /// Requests in service per pod (a Pods metric with an AverageValue target).
    Concurrency,
    /// Requests per second per pod (a Pods metric with an AverageValue target).
    Rps,
    /// Queue length of the service (an External metric with an AverageValue target per pod).
    Queue,
    /// GPU utilisation in percent (a Resource-like Utilization target, 0-100).
    GpuUtil,
}

/// `[setup.hpa]`: autoscaling/v2 HorizontalPodAutoscaler with the API server's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HpaConfig {
    /// spec.minReplicas (default 1).
    #[serde(default = "one")]
    pub min_replicas: u32,
    /// spec.maxReplicas.
    pub max_replicas: u32,
    /// The metric.
    pub metric: HpaMetric,
    /// The target: average value per pod, or utilisation percent for `gpu-util`.
    pub target: f64,
    /// The controller's tolerance (default 0.1).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// --horizontal-pod-autoscaler-sync-period (default 15s).
    #[serde(default = "fifteen_s")]
    pub sync_period: Duration,
    /// spec.behavior; defaults as the API server fills them in.
    #[serde(default)]
    pub behavior: Behavior,
}

/// spec.behavior of an HPA.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Behavior {
    /// Scale-up rules (default: no stabilization, max(4 pods, 100%) per 15 s).
    #[serde(default = "ScalingRules::default_up")]
    pub scale_up: ScalingRules,
    /// Scale-down rules (default: 300 s stabilization, 100% per 15 s).
    #[serde(default = "ScalingRules::default_down")]
    pub scale_down: ScalingRules,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            scale_up: ScalingRules::default_up(),
            scale_down: ScalingRules::default_down(),
        }
    }
}

/// HPAScalingRules.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingRules {
    /// stabilizationWindowSeconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window: Option<Duration>,
    /// selectPolicy (default Max).
    #[serde(default)]
    pub select_policy: SelectPolicy,
    /// policies; empty means the default policies for the direction.
    #[serde(default)]
    pub policies: Vec<ScalingPolicy>,
}

impl ScalingRules {
    /// The API server's default scale-up rules.
    pub fn default_up() -> Self {
        ScalingRules {
            stabilization_window: Some(Duration::ZERO),
            select_policy: SelectPolicy::Max,
            policies: vec![
                ScalingPolicy {
                    kind: ScalingPolicyKind::Pods,
                    value: 4,
                    period: Duration::from_secs(15),
                },
                ScalingPolicy {
                    kind: ScalingPolicyKind::Percent,
                    value: 100,
                    period: Duration::from_secs(15),
                },
            ],
        }
    }

    /// The API server's default scale-down rules.
    pub fn default_down() -> Self {
        ScalingRules {
            stabilization_window: Some(Duration::from_secs(300)),
            select_policy: SelectPolicy::Max,
            policies: vec![ScalingPolicy {
                kind: ScalingPolicyKind::Percent,
                value: 100,
                period: Duration::from_secs(15),
            }],
        }
    }
}

/// selectPolicy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    #[default]
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// One HPAScalingPolicy.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingPolicy {
    /// Pods or Percent.
    #[serde(rename = "type")]
    pub kind: ScalingPolicyKind,
    /// How many pods, or what percent.
    pub value: u32,
    /// periodSeconds.
    pub period: Duration,
}

/// The type of an HPAScalingPolicy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ScalingPolicyKind {
    /// A number of pods per period.
    Pods,
    /// A percentage of the replicas at the start of the period.
    Percent,
}

/// `[setup.kpa]`: the Knative Pod Autoscaler with Knative's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KpaConfig {
    /// min-scale (default 0: scale to zero allowed).
    #[serde(default)]
    pub min_scale: u32,
    /// max-scale.
    pub max_scale: u32,
    /// initial-scale (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_scale: Option<u32>,
    /// The target concurrency per replica (the `target` annotation; default 100).
    #[serde(default = "hundred")]
    pub target: f64,
    /// target-utilization-percentage (default 70).
    #[serde(default = "seventy")]
    pub target_utilization: f64,
    /// stable-window (default 60s).
    #[serde(default = "sixty_s")]
    pub stable_window: Duration,
    /// panic-window-percentage (default 10).
    #[serde(default = "ten")]
    pub panic_window_percentage: f64,
    /// panic-threshold-percentage (default 200).
    #[serde(default = "two_hundred")]
    pub panic_threshold_percentage: f64,
    /// max-scale-up-rate (default 1000).
    #[serde(default = "thousand")]
    pub max_scale_up_rate: f64,
    /// max-scale-down-rate (default 2).
    #[serde(default = "two")]
    pub max_scale_down_rate: f64,
    /// scale-to-zero-grace-period (default 30s).
    #[serde(default = "thirty_s")]
    pub scale_to_zero_grace_period: Duration,
    /// scale-down-delay (default 0s).
    #[serde(default)]
    pub scale_down_delay: Duration,
    /// The autoscaler's tick interval (default 2s).
    #[serde(default = "two_s")]
    pub tick: Duration,
    /// The metric (the `metric` annotation; default `concurrency`). Knative's default `target` for
    /// `rps` is 200 (requests-per-second-target-default), so set `target` explicitly for `rps`.
    #[serde(default)]
    pub metric: KpaMetric,
    /// activation-scale (default 1): the fewest replicas to run whenever there is any traffic.
    #[serde(default = "one")]
    pub activation_scale: u32,
    /// scale-to-zero-pod-retention-period (default 0s): the last replica is kept at least this
    /// long after the revision goes inactive.
    #[serde(default)]
    pub scale_to_zero_pod_retention_period: Duration,
}

/// The metric a KPA scales on (the `autoscaling.knative.dev/metric` annotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KpaMetric {
    /// Requests in the system (in service or waiting), as the queue-proxy and activator report.
    #[default]
    Concurrency,
    /// Requests per second.
    Rps,
}

/// What a KEDA trigger measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KedaTrigger {
    /// Requests waiting in the queue (as a queue-length scaler would see).
    Queue,
    /// Requests in service plus waiting (as the HTTP add-on's concurrency would see).
    Concurrency,
}

/// `[setup.keda]`: a ScaledObject with one trigger, with KEDA's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KedaConfig {
    /// minReplicaCount (default 0).
    #[serde(default)]
    pub min_replicas: u32,
    /// maxReplicaCount.
    pub max_replicas: u32,
    /// The trigger's metric.
    pub trigger: KedaTrigger,
    /// The trigger's target value per replica (AverageValue).
    pub target: f64,
    /// activationThreshold (default 0): at or below it the scaler is inactive.
    #[serde(default)]
    pub activation_threshold: f64,
    /// pollingInterval (default 30s).
    #[serde(default = "thirty_s")]
    pub polling_interval: Duration,
    /// cooldownPeriod (default 300s): inactive this long, it scales to minReplicaCount.
    #[serde(default = "three_hundred_s")]
    pub cooldown_period: Duration,
    /// advanced.horizontalPodAutoscalerConfig.behavior for the HPA KEDA creates.
    #[serde(default)]
    pub behavior: Behavior,
}

/// `[setup.cost-aware]`: capacity planned in requests per second, placed on the resource
/// (node pool) with the lowest cost per inference that keeps the SLO.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CostAwareConfig {
    /// The fewest replicas, all pools together (default 1).
    #[serde(default = "one")]
    pub min_replicas: u32,
    /// The most replicas it plans for, all pools together.
    pub max_replicas: u32,
    /// The share (0-1] of a replica's throughput it plans to use (default 0.7): the rest is
    /// headroom for bursts and for the queueing that tail latency is made of.
    #[serde(default = "default_utilization")]
    pub target_utilization: f64,
    /// A ceiling on the hourly price of the replicas it asks for (default: none). It never adds
    /// a replica that would take the price above it, and records the replicas it held back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_per_hour: Option<f64>,
    /// The largest share (0-1] of the planned capacity it puts on spot pools (default 1).
    #[serde(default = "default_share")]
    pub max_spot_share: f64,
    /// How often it decides (default 10s).
    #[serde(default = "ten_s")]
    pub interval: Duration,
    /// The short window over which it averages demand, queue and latency to scale up (10s).
    #[serde(default = "ten_s")]
    pub panic_window: Duration,
    /// The long window over which it averages demand (60s).
    #[serde(default = "sixty_s")]
    pub stable_window: Duration,
    /// A scale-down waits until the capacity asked for has been lower for this long (5m).
    #[serde(default = "three_hundred_s")]
    pub scale_down_window: Duration,
    /// After a spot interruption, a lost node or a failed provisioning in a pool, no new replica
    /// goes there for this long (10m).
    #[serde(default = "ten_m")]
    pub avoid_after_disruption: Duration,
    /// Requests per second one replica serves at full use, per pool name; by default from the
    /// service model (concurrency / mean service time, times the pool's and setup's speed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throughput: BTreeMap<String, f64>,
}

fn default_utilization() -> f64 {
    0.7
}
fn default_share() -> f64 {
    1.0
}
fn ten_s() -> Duration {
    Duration::from_secs(10)
}
fn ten_m() -> Duration {
    Duration::from_secs(600)
}

fn one() -> u32 {
    1
}
fn default_tolerance() -> f64 {
    0.1
}
fn fifteen_s() -> Duration {
    Duration::from_secs(15)
}
fn hundred() -> f64 {
    100.0
}
fn seventy() -> f64 {
    70.0
}
fn sixty_s() -> Duration {
    Duration::from_secs(60)
}
fn ten() -> f64 {
    10.0
}
fn two_hundred() -> f64 {
    200.0
}
fn thousand() -> f64 {
    1000.0
}
fn two() -> f64 {
    2.0
}
fn thirty_s() -> Duration {
    Duration::from_secs(30)
}
fn two_s() -> Duration {
    Duration::from_secs(2)
}
fn three_hundred_s() -> Duration {
    Duration::from_secs(300)
}
