//! `kpa`: a serving.knative.dev/v1 Service whose revision template carries the
//! `autoscaling.knative.dev/*` annotations. It replaces the Deployment: Knative creates its own.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use scalebench_core::Duration;
use scalebench_core::policy::{KpaConfig, KpaMetric};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::pod::{Context, key as workload_key, pod_spec, workload_annotations};

/// The Service's apiVersion.
pub const API_VERSION: &str = "serving.knative.dev/v1";
/// Its kind.
pub const KIND: &str = "Service";
/// The KPA's class annotation value.
pub const KPA_CLASS: &str = "kpa.autoscaling.knative.dev";

const K: &str = "autoscaling.knative.dev/";

/// Knative settings that exist only cluster-wide (the `config-autoscaler` ConfigMap in
/// knative-serving): kept in these annotations on the Service.
pub mod key {
    /// max-scale-up-rate.
    pub const MAX_SCALE_UP_RATE: &str = "scalebench.io/max-scale-up-rate";
    /// max-scale-down-rate.
    pub const MAX_SCALE_DOWN_RATE: &str = "scalebench.io/max-scale-down-rate";
    /// scale-to-zero-grace-period.
    pub const SCALE_TO_ZERO_GRACE_PERIOD: &str = "scalebench.io/scale-to-zero-grace-period";
    /// tick-interval.
    pub const TICK_INTERVAL: &str = "scalebench.io/tick-interval";
}

/// A Knative Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnativeService {
    /// `serving.knative.dev/v1`.
    pub api_version: String,
    /// `Service`.
    pub kind: String,
    /// Name, namespace, annotations.
    pub metadata: ObjectMeta,
    /// The spec.
    pub spec: KnativeServiceSpec,
}

/// spec of a Knative Service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnativeServiceSpec {
    /// The revision template.
    pub template: RevisionTemplate,
}

/// spec.template: the revision's metadata (where the autoscaling annotations go) and spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionTemplate {
    /// The revision's metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The revision's spec.
    pub spec: RevisionSpec,
}

/// A revision's spec: a pod spec plus Knative's fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionSpec {
    /// The hard limit of requests one replica serves at once (0: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_concurrency: Option<i64>,
    /// The pod spec.
    #[serde(flatten)]
    pub pod: PodSpec,
}

fn metric_str(m: KpaMetric) -> &'static str {
    match m {
        KpaMetric::Concurrency => "concurrency",
        KpaMetric::Rps => "rps",
    }
}

/// The Knative Service of a `kpa` setup.
pub fn service(ctx: &Context<'_>, c: &KpaConfig) -> KnativeService {
    let mut meta = workload_annotations(ctx);
    meta.insert(
        workload_key::INITIAL_REPLICAS.into(),
        ctx.setup.initial_replicas.to_string(),
    );
    meta.insert(
        key::MAX_SCALE_UP_RATE.into(),
        c.max_scale_up_rate.to_string(),
    );
    meta.insert(
        key::MAX_SCALE_DOWN_RATE.into(),
        c.max_scale_down_rate.to_string(),
    );
    meta.insert(
        key::SCALE_TO_ZERO_GRACE_PERIOD.into(),
        c.scale_to_zero_grace_period.to_string(),
    );
    meta.insert(key::TICK_INTERVAL.into(), c.tick.to_string());
    let mut a: BTreeMap<String, String> = [
        ("class", KPA_CLASS.to_string()),
        ("metric", metric_str(c.metric).to_string()),
        ("target", c.target.to_string()),
        (
            "target-utilization-percentage",
            c.target_utilization.to_string(),
        ),
        ("min-scale", c.min_scale.to_string()),
        ("max-scale", c.max_scale.to_string()),
        ("window", c.stable_window.to_string()),
        (
            "panic-window-percentage",
            c.panic_window_percentage.to_string(),
        ),
        (
            "panic-threshold-percentage",
            c.panic_threshold_percentage.to_string(),
        ),
        ("scale-down-delay", c.scale_down_delay.to_string()),
        (
            "scale-to-zero-pod-retention-period",
            c.scale_to_zero_pod_retention_period.to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{K}{k}"), v))
    .collect();
    if let Some(n) = c.initial_scale {
        a.insert(format!("{K}initial-scale"), n.to_string());
    }
    // Knative's webhook rejects activation-scale below 2; 1 is its default (absent).
    if c.activation_scale != 1 {
        a.insert(
            format!("{K}activation-scale"),
            c.activation_scale.to_string(),
        );
    }
    let service = &ctx.plan.service;
    KnativeService {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        metadata: ctx.meta(meta),
        spec: KnativeServiceSpec {
            template: RevisionTemplate {
                metadata: ObjectMeta {
                    annotations: Some(a),
                    ..ObjectMeta::default()
                },
                spec: RevisionSpec {
                    container_concurrency: Some(i64::from(service.concurrency)),
                    pod: pod_spec(ctx),
                },
            },
        },
    }
}

/// What the Knative Service cannot say.
pub fn notes(_c: &KpaConfig) -> Vec<String> {
    vec![
        "kpa: max-scale-up-rate, max-scale-down-rate, scale-to-zero-grace-period and tick-interval are cluster-wide in Knative (ConfigMap config-autoscaler in knative-serving): set there, kept in scalebench.io/ annotations".into(),
        "kpa: the Knative Service replaces the Deployment; node affinity and tolerations need Knative's kubernetes.podspec-affinity and kubernetes.podspec-tolerations features; containerConcurrency is the service model's concurrency".into(),
    ]
}

/// The KpaConfig a Knative Service stands for, and the initial replicas it records.
pub fn read(ks: &KnativeService) -> Result<(KpaConfig, Option<u32>), Error> {
    let empty = BTreeMap::new();
    let a = ks
        .spec
        .template
        .metadata
        .annotations
        .as_ref()
        .unwrap_or(&empty);
    let meta = ks.metadata.annotations.as_ref().unwrap_or(&empty);
    if let Some(class) = a.get(&format!("{K}class"))
        && class != KPA_CLASS
    {
        return Err(Error::Invalid(format!(
            "{K}class: expected {KPA_CLASS}, found {class:?}"
        )));
    }
    let get = |k: &str| a.get(&format!("{K}{k}"));
    let num = |k: &str, default: f64| -> Result<f64, Error> {
        get(k).map_or(Ok(default), |v| parse_f64(&format!("{K}{k}"), v))
    };
    let uint = |k: &str, default: u32| -> Result<u32, Error> {
        get(k).map_or(Ok(default), |v| {
            v.trim()
                .parse()
                .map_err(|_| Error::Invalid(format!("{K}{k}: expected a count, found {v:?}")))
        })
    };
    let dur = |k: &str, default: Duration| -> Result<Duration, Error> {
        get(k).map_or(Ok(default), |v| parse_duration(&format!("{K}{k}"), v))
    };
    let meta_num = |k: &str, default: f64| meta.get(k).map_or(Ok(default), |v| parse_f64(k, v));
    let meta_dur =
        |k: &str, default: Duration| meta.get(k).map_or(Ok(default), |v| parse_duration(k, v));
    let metric = match get("metric").map(String::as_str) {
        None | Some("concurrency") => KpaMetric::Concurrency,
        Some("rps") => KpaMetric::Rps,
        Some(other) => {
            return Err(Error::Invalid(format!(
                "{K}metric: expected concurrency or rps (the KPA's metrics), found {other:?}"
            )));
        }
    };
    let max_scale = match get("max-scale") {
        Some(_) => uint("max-scale", 0)?,
        None => {
            return Err(Error::Invalid(format!(
                "{K}max-scale is missing: the simulator needs a bound"
            )));
        }
    };
    let config = KpaConfig {
        min_scale: uint("min-scale", 0)?,
        max_scale,
        initial_scale: get("initial-scale")
            .map(|_| uint("initial-scale", 1))
            .transpose()?,
        target: num("target", 100.0)?,
        target_utilization: num("target-utilization-percentage", 70.0)?,
        stable_window: dur("window", Duration::from_secs(60))?,
        panic_window_percentage: num("panic-window-percentage", 10.0)?,
        panic_threshold_percentage: num("panic-threshold-percentage", 200.0)?,
        max_scale_up_rate: meta_num(key::MAX_SCALE_UP_RATE, 1000.0)?,
        max_scale_down_rate: meta_num(key::MAX_SCALE_DOWN_RATE, 2.0)?,
        scale_to_zero_grace_period: meta_dur(
            key::SCALE_TO_ZERO_GRACE_PERIOD,
            Duration::from_secs(30),
        )?,
        scale_down_delay: dur("scale-down-delay", Duration::ZERO)?,
        tick: meta_dur(key::TICK_INTERVAL, Duration::from_secs(2))?,
        metric,
        activation_scale: uint("activation-scale", 1)?,
        scale_to_zero_pod_retention_period: dur(
            "scale-to-zero-pod-retention-period",
            Duration::ZERO,
        )?,
    };
    let initial = meta
        .get(workload_key::INITIAL_REPLICAS)
        .map(|v| {
            v.trim().parse::<u32>().map_err(|_| {
                Error::Invalid(format!(
                    "{}: expected a count, found {v:?}",
                    workload_key::INITIAL_REPLICAS
                ))
            })
        })
        .transpose()?;
    Ok((config, initial))
}

fn parse_f64(k: &str, v: &str) -> Result<f64, Error> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| Error::Invalid(format!("{k}: expected a number, found {v:?}")))
}

/// A duration annotation (`60s`, `1m30s`, `500ms`).
pub fn parse_duration(k: &str, v: &str) -> Result<Duration, Error> {
    v.parse().map_err(|e| Error::Invalid(format!("{k}: {e}")))
}
