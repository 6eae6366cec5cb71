//! `keda`: a keda.sh/v1alpha1 ScaledObject with one prometheus trigger. The types are ours, with
//! the field names of KEDA's API (no CRD crate).

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use scalebench_core::policy::{KedaConfig, KedaTrigger};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::pod::{Context, key as workload_key, to_i32};
use crate::quantity::{from_secs, secs_i32};
use crate::scale::{behavior, count, read_behavior};

/// The ScaledObject's apiVersion.
pub const API_VERSION: &str = "keda.sh/v1alpha1";
/// Its kind.
pub const KIND: &str = "ScaledObject";
/// The annotation with the simulator's trigger (`queue` or `concurrency`).
pub const TRIGGER_KEY: &str = "scalebench.io/trigger";
/// The Prometheus address written (a placeholder).
pub const SERVER_PLACEHOLDER: &str = "http://prometheus.monitoring.svc:9090";

/// A KEDA ScaledObject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObject {
    /// `keda.sh/v1alpha1`.
    pub api_version: String,
    /// `ScaledObject`.
    pub kind: String,
    /// Name, namespace, annotations.
    pub metadata: ObjectMeta,
    /// The spec.
    pub spec: ScaledObjectSpec,
}

/// spec of a ScaledObject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    /// The workload KEDA scales.
    pub scale_target_ref: ScaleTargetRef,
    /// Seconds between polls of the triggers (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_interval: Option<i32>,
    /// Seconds inactive before scaling to minReplicaCount (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_period: Option<i32>,
    /// Replicas while inactive, if different from minReplicaCount (only 0 is allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_replica_count: Option<i32>,
    /// The fewest replicas (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replica_count: Option<i32>,
    /// The most replicas (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replica_count: Option<i32>,
    /// Settings of the HPA KEDA creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced: Option<Advanced>,
    /// The triggers.
    #[serde(default)]
    pub triggers: Vec<Trigger>,
}

/// scaleTargetRef.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTargetRef {
    /// The workload's name.
    pub name: String,
    /// Its apiVersion (default apps/v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Its kind (default Deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// spec.advanced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Advanced {
    /// horizontalPodAutoscalerConfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizontal_pod_autoscaler_config: Option<HpaConfigSpec>,
    /// Whether the workload goes back to its original replicas when the ScaledObject is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_to_original_replica_count: Option<bool>,
}

/// spec.advanced.horizontalPodAutoscalerConfig.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaConfigSpec {
    /// The HPA's name (default keda-hpa-NAME).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The HPA's behavior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// One trigger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// The scaler (`prometheus`).
    #[serde(rename = "type")]
    pub type_: String,
    /// An optional name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// AverageValue (default), Value or Utilization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<String>,
    /// The scaler's settings, all strings.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

fn trigger_str(t: KedaTrigger) -> &'static str {
    match t {
        KedaTrigger::Queue => "queue",
        KedaTrigger::Concurrency => "concurrency",
    }
}

/// The placeholder PromQL for a trigger, over the testbed's metric names.
pub fn query(t: KedaTrigger) -> &'static str {
    match t {
        KedaTrigger::Queue => "sum(scalebench_queue_depth)",
        KedaTrigger::Concurrency => "sum(scalebench_in_flight) + sum(scalebench_queue_depth)",
    }
}

/// The ScaledObject of a `keda` setup.
pub fn scaled_object(ctx: &Context<'_>, c: &KedaConfig) -> ScaledObject {
    let annotations = BTreeMap::from([
        (workload_key::SETUP.to_string(), ctx.setup.name.clone()),
        (TRIGGER_KEY.to_string(), trigger_str(c.trigger).to_string()),
    ]);
    let metadata = BTreeMap::from([
        ("serverAddress".to_string(), SERVER_PLACEHOLDER.to_string()),
        ("query".to_string(), query(c.trigger).to_string()),
        ("threshold".to_string(), c.target.to_string()),
        (
            "activationThreshold".to_string(),
            c.activation_threshold.to_string(),
        ),
    ]);
    ScaledObject {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        metadata: ctx.meta(annotations),
        spec: ScaledObjectSpec {
            scale_target_ref: ScaleTargetRef {
                name: ctx.name.to_string(),
                api_version: Some("apps/v1".into()),
                kind: Some("Deployment".into()),
            },
            polling_interval: Some(secs_i32(c.polling_interval)),
            cooldown_period: Some(secs_i32(c.cooldown_period)),
            idle_replica_count: None,
            min_replica_count: Some(to_i32(c.min_replicas)),
            max_replica_count: Some(to_i32(c.max_replicas)),
            advanced: Some(Advanced {
                horizontal_pod_autoscaler_config: Some(HpaConfigSpec {
                    name: None,
                    behavior: Some(behavior(&c.behavior, None)),
                }),
                restore_to_original_replica_count: None,
            }),
            triggers: vec![Trigger {
                type_: "prometheus".into(),
                name: Some(trigger_str(c.trigger).into()),
                metric_type: Some("AverageValue".into()),
                metadata,
            }],
        },
    }
}

/// What the ScaledObject cannot say.
pub fn notes(c: &KedaConfig) -> Vec<String> {
    vec![format!(
        "keda: the prometheus trigger's serverAddress and query are placeholders for the {} metric (scalebench.io/trigger); scale to zero is minReplicaCount {} with cooldownPeriod, idleReplicaCount is not used",
        trigger_str(c.trigger),
        c.min_replicas
    )]
}

/// The KedaConfig a ScaledObject stands for.
pub fn read(so: &ScaledObject) -> Result<KedaConfig, Error> {
    let s = &so.spec;
    let [t] = s.triggers.as_slice() else {
        return Err(Error::Invalid(format!(
            "ScaledObject: expected exactly one trigger, found {}",
            s.triggers.len()
        )));
    };
    let annotations = so.metadata.annotations.clone().unwrap_or_default();
    let trigger = match annotations.get(TRIGGER_KEY).map(String::as_str) {
        Some("queue") => KedaTrigger::Queue,
        Some("concurrency") => KedaTrigger::Concurrency,
        Some(other) => {
            return Err(Error::Invalid(format!(
                "{TRIGGER_KEY}: expected queue or concurrency, found {other:?}"
            )));
        }
        None if t.metadata.get("query").map(String::as_str)
            == Some(query(KedaTrigger::Concurrency)) =>
        {
            KedaTrigger::Concurrency
        }
        None => KedaTrigger::Queue,
    };
    let number = |k: &str, default: Option<f64>| -> Result<f64, Error> {
        match t.metadata.get(k) {
            Some(v) => v.trim().parse().map_err(|_| {
                Error::Invalid(format!(
                    "ScaledObject trigger metadata.{k}: expected a number, found {v:?}"
                ))
            }),
            None => default.ok_or_else(|| {
                Error::Invalid(format!("ScaledObject trigger: metadata.{k} is missing"))
            }),
        }
    };
    let behavior = s
        .advanced
        .as_ref()
        .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
        .and_then(|h| h.behavior.as_ref());
    let (behavior, _) = read_behavior(behavior)?;
    Ok(KedaConfig {
        min_replicas: count(s.min_replica_count.unwrap_or(0), "spec.minReplicaCount")?,
        max_replicas: count(s.max_replica_count.unwrap_or(100), "spec.maxReplicaCount")?,
        trigger,
        target: number("threshold", None)?,
        activation_threshold: number("activationThreshold", Some(0.0))?,
        polling_interval: from_secs(i64::from(s.polling_interval.unwrap_or(30))),
        cooldown_period: from_secs(i64::from(s.cooldown_period.unwrap_or(300))),
        behavior,
    })
}
