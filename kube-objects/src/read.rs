//! The way back: from the objects a setup carries to its policy and the setup fields they hold.

use k8s_openapi::api::core::v1::{NodeSelectorTerm, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use scalebench_core::Duration;
use scalebench_core::policy::{CostAwareConfig, FixedConfig, PolicyConfig};
use scalebench_core::scenario::CapacityType;

use crate::knative::parse_duration;
use crate::pod::{GPU_RESOURCE, Labels, key};
use crate::quantity::{self, from_secs};
use crate::{Error, Objects, keda, knative, scale};

/// What the objects of a setup say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    /// The setup's name (`scalebench.io/setup`), if recorded.
    pub setup: Option<String>,
    /// The autoscaler.
    pub policy: PolicyConfig,
    /// Replicas at the start (the Deployment's spec.replicas).
    pub initial_replicas: u32,
    /// The warm pool (`scalebench.io/warm-pool`; 0 when absent).
    pub warm_pool: u32,
    /// The scrape delay (`scalebench.io/scrape-delay`), if recorded.
    pub scrape_delay: Option<Duration>,
    /// terminationGracePeriodSeconds.
    pub grace_period: Option<Duration>,
    /// GPUs per replica (`nvidia.com/gpu` limit); None when not set.
    pub gpus: Option<u32>,
    /// Capacity types the pods may use, in order of preference (empty: no constraint).
    pub capacity_types: Vec<CapacityType>,
    /// Pool names in order of preference (`scalebench.io/pools`).
    pub pools: Vec<String>,
}

/// Rebuilds what `objects` say of the setup they were written from.
pub fn read(objects: &Objects) -> Result<Recovered, Error> {
    let (meta, pod, spec_replicas) = match (&objects.deployment, &objects.knative) {
        (Some(d), _) => (
            &d.metadata,
            d.spec.template.spec.as_ref(),
            Some(d.spec.replicas.unwrap_or(1)),
        ),
        (None, Some(k)) => (&k.metadata, Some(&k.spec.template.spec.pod), None),
        (None, None) => {
            return Err(Error::Invalid(
                "no workload: expected a Deployment or a Knative Service".into(),
            ));
        }
    };
    let spec_replicas = spec_replicas
        .map(|n| scale::count(n, "Deployment spec.replicas"))
        .transpose()?;
    let ann = |k: &str| meta.annotations.as_ref().and_then(|a| a.get(k));
    let count_ann = |k: &str| -> Result<Option<u32>, Error> {
        ann(k)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| Error::Invalid(format!("{k}: expected a count, found {v:?}")))
            })
            .transpose()
    };
    let (policy, initial) = match (&objects.hpa, &objects.scaled_object, &objects.knative) {
        (Some(h), _, _) => (PolicyConfig::Hpa(scale::read_hpa(h)?), spec_replicas),
        (None, Some(so), _) => (PolicyConfig::Keda(keda::read(so)?), spec_replicas),
        (None, None, Some(ks)) => {
            let (c, initial) = knative::read(ks)?;
            (PolicyConfig::Kpa(c), initial)
        }
        (None, None, None) => (
            workload_policy(meta, spec_replicas.unwrap_or(1))?,
            spec_replicas,
        ),
    };
    if let Some(kind) = ann(key::POLICY)
        && kind != policy.kind()
    {
        return Err(Error::Invalid(format!(
            "{}: the workload says {kind:?} but the objects are a {} setup (is an autoscaler object missing?)",
            key::POLICY,
            policy.kind()
        )));
    }
    let initial_replicas = initial.unwrap_or_else(|| policy.initial_replicas());
    Ok(Recovered {
        setup: ann(key::SETUP).cloned(),
        initial_replicas,
        warm_pool: count_ann(key::WARM_POOL)?.unwrap_or(0),
        scrape_delay: ann(key::SCRAPE_DELAY)
            .map(|v| parse_duration(key::SCRAPE_DELAY, v))
            .transpose()?,
        grace_period: pod
            .and_then(|p| p.termination_grace_period_seconds)
            .map(from_secs),
        gpus: pod.and_then(gpus),
        capacity_types: pod.map(capacity_types).unwrap_or_default(),
        pools: ann(key::POOLS)
            .map(|v| {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|p| p.split(':').next().unwrap_or(p).to_string())
                    .collect()
            })
            .unwrap_or_default(),
        policy,
    })
}

/// A workload without an autoscaler: fixed, or cost-aware when its annotation says so.
fn workload_policy(meta: &ObjectMeta, replicas: u32) -> Result<PolicyConfig, Error> {
    let ann = |k: &str| meta.annotations.as_ref().and_then(|a| a.get(k));
    if let Some(json) = ann(key::COST_AWARE) {
        let c: CostAwareConfig = serde_json::from_str(json).map_err(|e| {
            Error::Invalid(format!("{}: not a cost-aware policy: {e}", key::COST_AWARE))
        })?;
        return Ok(PolicyConfig::CostAware(c));
    }
    let replicas = match ann(key::FIXED_REPLICAS) {
        Some(v) => v.trim().parse().map_err(|_| {
            Error::Invalid(format!(
                "{}: expected a count, found {v:?}",
                key::FIXED_REPLICAS
            ))
        })?,
        None => replicas,
    };
    Ok(PolicyConfig::Fixed(FixedConfig { replicas }))
}

fn gpus(pod: &PodSpec) -> Option<u32> {
    let total: f64 = pod
        .containers
        .iter()
        .filter_map(|c| c.resources.as_ref()?.limits.as_ref()?.get(GPU_RESOURCE))
        .filter_map(|q| quantity::parse(&q.0))
        .sum();
    (total > 0.0).then_some(total.round() as u32)
}

/// The capacity types of the pod's node affinity, in preference order: the required term's, or
/// the preferred terms' by weight.
fn capacity_types(pod: &PodSpec) -> Vec<CapacityType> {
    let Some(na) = pod.affinity.as_ref().and_then(|a| a.node_affinity.as_ref()) else {
        return Vec::new();
    };
    let of_term = |t: &NodeSelectorTerm| -> Option<CapacityType> {
        let r = t.match_expressions.as_ref()?.first()?;
        [Labels::Karpenter, Labels::Eks, Labels::Gke, Labels::Aks]
            .into_iter()
            .find_map(|l| l.capacity_of(r))
    };
    if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
        return req.node_selector_terms.iter().filter_map(of_term).collect();
    }
    let mut preferred: Vec<_> = na
        .preferred_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .filter_map(|p| of_term(&p.preference).map(|c| (p.weight, c)))
        .collect();
    preferred.sort_by_key(|p| std::cmp::Reverse(p.0));
    preferred.into_iter().map(|(_, c)| c).collect()
}
