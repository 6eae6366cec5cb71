//! `hpa`: the autoscaling/v2 HorizontalPodAutoscaler, and `spec.behavior` both ways (KEDA's
//! `advanced.horizontalPodAutoscalerConfig.behavior` is the same type).

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, ExternalMetricSource, HPAScalingPolicy, HPAScalingRules,
    HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec,
    MetricIdentifier, MetricSpec, MetricTarget, PodsMetricSource,
};
use scalebench_core::policy::{
    Behavior, HpaConfig, HpaMetric, ScalingPolicy, ScalingPolicyKind, ScalingRules, SelectPolicy,
};

use crate::Error;
use crate::pod::{Context, key as workload_key, to_i32};
use crate::quantity::{self, from_secs, quantity, secs_i32};

/// Annotation keys on the HPA.
pub mod key {
    /// The simulator's metric (`concurrency`, `rps`, `queue`, `gpu-util`): the metric names
    /// in spec.metrics are placeholders for whatever your metrics adapter serves.
    pub const METRIC: &str = "scalebench.io/metric";
    /// kube-controller-manager's `--horizontal-pod-autoscaler-sync-period`: cluster-wide.
    pub const SYNC_PERIOD: &str = "scalebench.io/sync-period";
}

/// kube-controller-manager's default `--horizontal-pod-autoscaler-tolerance`.
pub const DEFAULT_TOLERANCE: f64 = 0.1;

/// The per-pod metric names written for each simulator metric (placeholders: name the metric
/// your adapter serves). `gpu-util` is DCGM's per-GPU utilisation in percent.
pub fn metric_name(m: HpaMetric) -> &'static str {
    match m {
        HpaMetric::Concurrency => "requests_in_flight",
        HpaMetric::Rps => "requests_per_second",
        HpaMetric::Queue => "scalebench_queue_depth",
        HpaMetric::GpuUtil => "DCGM_FI_DEV_GPU_UTIL",
    }
}

/// The metric's name as a scenario writes it.
pub fn metric_str(m: HpaMetric) -> &'static str {
    match m {
        HpaMetric::Concurrency => "concurrency",
        HpaMetric::Rps => "rps",
        HpaMetric::Queue => "queue",
        HpaMetric::GpuUtil => "gpu-util",
    }
}

fn metric_from_str(s: &str) -> Option<HpaMetric> {
    [
        HpaMetric::Concurrency,
        HpaMetric::Rps,
        HpaMetric::Queue,
        HpaMetric::GpuUtil,
    ]
    .into_iter()
    .find(|&m| metric_str(m) == s)
}

/// The HPA of an `hpa` setup.
pub fn hpa(ctx: &Context<'_>, c: &HpaConfig) -> HorizontalPodAutoscaler {
    let target = MetricTarget {
        type_: "AverageValue".into(),
        average_value: Some(quantity(c.target)),
        ..MetricTarget::default()
    };
    let metric = MetricIdentifier {
        name: metric_name(c.metric).into(),
        selector: None,
    };
    let spec_metric = match c.metric {
        HpaMetric::Queue => MetricSpec {
            type_: "External".into(),
            external: Some(ExternalMetricSource { metric, target }),
            ..MetricSpec::default()
        },
        _ => MetricSpec {
            type_: "Pods".into(),
            pods: Some(PodsMetricSource { metric, target }),
            ..MetricSpec::default()
        },
    };
    let tolerance = (c.tolerance != DEFAULT_TOLERANCE).then_some(c.tolerance);
    let annotations = BTreeMap::from([
        (workload_key::SETUP.to_string(), ctx.setup.name.clone()),
        (key::METRIC.into(), metric_str(c.metric).into()),
        (key::SYNC_PERIOD.into(), c.sync_period.to_string()),
    ]);
    HorizontalPodAutoscaler {
        metadata: ctx.meta(annotations),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: ctx.name.to_string(),
            },
            min_replicas: Some(to_i32(c.min_replicas)),
            max_replicas: to_i32(c.max_replicas),
            metrics: Some(vec![spec_metric]),
            behavior: Some(behavior(&c.behavior, tolerance)),
        },
        status: None,
    }
}

/// What the HPA cannot say.
pub fn hpa_notes(c: &HpaConfig) -> Vec<String> {
    let mut notes = vec![format!(
        "hpa: the metric {:?} is a placeholder for the {} metric your adapter serves (scalebench.io/metric); the sync period {} is kube-controller-manager's --horizontal-pod-autoscaler-sync-period, cluster-wide (scalebench.io/sync-period)",
        metric_name(c.metric),
        metric_str(c.metric),
        c.sync_period
    )];
    if c.metric == HpaMetric::GpuUtil {
        notes.push("hpa: gpu-util is a Pods metric (DCGM per-GPU utilisation, AverageValue in percent); the simulator treats it as a Resource Utilization of one GPU, which the resource metrics API does not serve".into());
    }
    if c.tolerance != DEFAULT_TOLERANCE {
        notes.push(format!(
            "hpa: tolerance {} is written to behavior.scaleUp/scaleDown.tolerance, which needs the HPAConfigurableTolerance feature gate (Kubernetes 1.33+)",
            c.tolerance
        ));
    }
    notes
}

/// spec.behavior from the simulator's, with a per-direction tolerance when it is not the default.
pub fn behavior(b: &Behavior, tolerance: Option<f64>) -> HorizontalPodAutoscalerBehavior {
    HorizontalPodAutoscalerBehavior {
        scale_up: Some(rules(&b.scale_up, tolerance)),
        scale_down: Some(rules(&b.scale_down, tolerance)),
    }
}

fn rules(r: &ScalingRules, tolerance: Option<f64>) -> HPAScalingRules {
    HPAScalingRules {
        stabilization_window_seconds: r.stabilization_window.map(secs_i32),
        select_policy: Some(
            match r.select_policy {
                SelectPolicy::Max => "Max",
                SelectPolicy::Min => "Min",
                SelectPolicy::Disabled => "Disabled",
            }
            .into(),
        ),
        policies: (!r.policies.is_empty()).then(|| {
            r.policies
                .iter()
                .map(|p| HPAScalingPolicy {
                    type_: match p.kind {
                        ScalingPolicyKind::Pods => "Pods",
                        ScalingPolicyKind::Percent => "Percent",
                    }
                    .into(),
                    value: to_i32(p.value),
                    period_seconds: secs_i32(p.period),
                })
                .collect()
        }),
        tolerance: tolerance.map(quantity),
    }
}

/// The simulator's behavior and tolerance from spec.behavior. A missing direction takes the
/// API server's defaults, as a scenario's missing table does.
pub fn read_behavior(
    b: Option<&HorizontalPodAutoscalerBehavior>,
) -> Result<(Behavior, Option<f64>), Error> {
    let Some(b) = b else {
        return Ok((Behavior::default(), None));
    };
    let (up, up_tol) = match &b.scale_up {
        Some(r) => read_rules(r, "scaleUp")?,
        None => (ScalingRules::default_up(), None),
    };
    let (down, down_tol) = match &b.scale_down {
        Some(r) => read_rules(r, "scaleDown")?,
        None => (ScalingRules::default_down(), None),
    };
    if up_tol != down_tol {
        return Err(Error::Invalid(format!(
            "behavior: scaleUp.tolerance {up_tol:?} differs from scaleDown.tolerance {down_tol:?}; the simulator has one tolerance for both directions"
        )));
    }
    Ok((
        Behavior {
            scale_up: up,
            scale_down: down,
        },
        up_tol,
    ))
}

fn read_rules(r: &HPAScalingRules, dir: &str) -> Result<(ScalingRules, Option<f64>), Error> {
    let select_policy = match r.select_policy.as_deref() {
        None | Some("Max") => SelectPolicy::Max,
        Some("Min") => SelectPolicy::Min,
        Some("Disabled") => SelectPolicy::Disabled,
        Some(other) => {
            return Err(Error::Invalid(format!(
                "behavior.{dir}.selectPolicy: expected Max, Min or Disabled, found {other:?}"
            )));
        }
    };
    let mut policies = Vec::new();
    for p in r.policies.iter().flatten() {
        let kind = match p.type_.as_str() {
            "Pods" => ScalingPolicyKind::Pods,
            "Percent" => ScalingPolicyKind::Percent,
            other => {
                return Err(Error::Invalid(format!(
                    "behavior.{dir}.policies: expected type Pods or Percent, found {other:?}"
                )));
            }
        };
        let value = u32::try_from(p.value).map_err(|_| {
            Error::Invalid(format!(
                "behavior.{dir}.policies: value must not be negative, found {}",
                p.value
            ))
        })?;
        policies.push(ScalingPolicy {
            kind,
            value,
            period: from_secs(i64::from(p.period_seconds)),
        });
    }
    let tolerance = match &r.tolerance {
        None => None,
        Some(q) => Some(quantity::parse(&q.0).ok_or_else(|| {
            Error::Invalid(format!(
                "behavior.{dir}.tolerance: expected a quantity, found {:?}",
                q.0
            ))
        })?),
    };
    Ok((
        ScalingRules {
            stabilization_window: r
                .stabilization_window_seconds
                .map(|s| from_secs(i64::from(s))),
            select_policy,
            policies,
        },
        tolerance,
    ))
}

/// The HpaConfig an HPA stands for.
pub fn read_hpa(h: &HorizontalPodAutoscaler) -> Result<HpaConfig, Error> {
    let annotations = h.metadata.annotations.clone().unwrap_or_default();
    let spec = &h.spec;
    let [m] = spec.metrics.as_deref().unwrap_or_default() else {
        return Err(Error::Invalid(format!(
            "HorizontalPodAutoscaler: expected exactly one metric in spec.metrics, found {}",
            spec.metrics.as_ref().map_or(0, Vec::len)
        )));
    };
    let (source, target) = match (&m.pods, &m.external) {
        (Some(p), _) => (&p.metric.name, &p.target),
        (None, Some(e)) => (&e.metric.name, &e.target),
        _ => {
            return Err(Error::Invalid(format!(
                "HorizontalPodAutoscaler: expected a Pods or External metric, found type {}",
                m.type_
            )));
        }
    };
    let metric = match annotations.get(key::METRIC) {
        Some(s) => metric_from_str(s).ok_or_else(|| {
            Error::Invalid(format!(
                "{}: expected concurrency, rps, queue or gpu-util, found {s:?}",
                key::METRIC
            ))
        })?,
        None if m.external.is_some() => HpaMetric::Queue,
        None if source == metric_name(HpaMetric::GpuUtil) => HpaMetric::GpuUtil,
        None if source == metric_name(HpaMetric::Rps) => HpaMetric::Rps,
        None => HpaMetric::Concurrency,
    };
    let value = target
        .average_value
        .as_ref()
        .and_then(|q| quantity::parse(&q.0))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "HorizontalPodAutoscaler metric {source:?}: expected an AverageValue target"
            ))
        })?;
    let sync_period = match annotations.get(key::SYNC_PERIOD) {
        Some(s) => s
            .parse()
            .map_err(|e| Error::Invalid(format!("{}: {e}", key::SYNC_PERIOD)))?,
        None => scalebench_core::Duration::from_secs(15),
    };
    let (behavior, tolerance) = read_behavior(spec.behavior.as_ref())?;
    Ok(HpaConfig {
        min_replicas: count(spec.min_replicas.unwrap_or(1), "spec.minReplicas")?,
        max_replicas: count(spec.max_replicas, "spec.maxReplicas")?,
        metric,
        target: value,
        tolerance: tolerance.unwrap_or(DEFAULT_TOLERANCE),
        sync_period,
        behavior,
    })
}

/// A replica count from the API's int32.
pub fn count(n: i32, field: &str) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| Error::Invalid(format!("{field}: expected a count, found {n}")))
}
