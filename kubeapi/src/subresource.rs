//! The two subresources whose semantics live in the store: `deployments/scale` and the
//! PodDisruptionBudget check of `pods/eviction`.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec, ScaleStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize as _;
use serde_json::{Value, json};

use crate::kind::Kind;
use crate::select::{Labels, labels_of};
use crate::store::{Filter, Store, StoreError};

/// An eviction a PodDisruptionBudget forbids.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("The disruption budget {budget} needs {desired} healthy pods and has {healthy} currently")]
pub struct Disruption {
    /// The budget's name.
    pub budget: String,
    /// How many matching pods it needs healthy.
    pub desired: i32,
    /// How many are healthy (Ready and not being deleted).
    pub healthy: i32,
}

/// Whether a pod counts as healthy for a budget: Ready and not being deleted.
pub fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn scaled(v: &IntOrString, total: i32) -> i32 {
    match v {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let pct: i64 = s.trim_end_matches('%').trim().parse().unwrap_or(0);
            // Kubernetes rounds percentages up for both minAvailable and maxUnavailable.
            i32::try_from((pct * i64::from(total) + 99) / 100).unwrap_or(i32::MAX)
        }
    }
}

/// The healthy pods a budget needs out of the pods it selects (`expected`): `minAvailable`,
/// or `expected - maxUnavailable`; 0 when it sets neither.
pub fn desired_healthy(pdb: &PodDisruptionBudget, expected: i32) -> i32 {
    let spec = pdb.spec.as_ref();
    if let Some(min) = spec.and_then(|s| s.min_available.as_ref()) {
        scaled(min, expected)
    } else if let Some(max) = spec.and_then(|s| s.max_unavailable.as_ref()) {
        (expected - scaled(max, expected)).max(0)
    } else {
        0
    }
}

impl Store {
    /// Checks whether evicting the pod would break a PodDisruptionBudget of its namespace, as
    /// the API server's eviction does: pods that are Pending, finished or already being
    /// deleted are never held back; otherwise every budget whose selector matches the pod
    /// must keep its desired healthy count (a pod that is not Ready may go when the budget is
    /// met, or always under `unhealthyPodEvictionPolicy: AlwaysAllow`).
    pub fn eviction_check(
        &self,
        namespace: &str,
        pod: &str,
    ) -> Result<Result<(), Disruption>, StoreError> {
        let target: Pod = self.get_as(namespace, pod).ok_or(StoreError::NotFound {
            kind: Kind::Pod,
            name: pod.to_string(),
        })?;
        let phase = target
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("Pending");
        if matches!(phase, "Pending" | "Succeeded" | "Failed")
            || target.metadata.deletion_timestamp.is_some()
        {
            return Ok(Ok(()));
        }
        let labels = target.metadata.labels.clone().unwrap_or_default();
        let ns_filter = Filter {
            namespace: Some(namespace.to_string()),
            ..Filter::default()
        };
        let (pdbs, _) = self.list(Kind::PodDisruptionBudget, &ns_filter);
        let (pods, _) = self.list(Kind::Pod, &ns_filter);
        for pdb in pdbs
            .iter()
            .filter_map(|p| PodDisruptionBudget::deserialize(&**p).ok())
        {
            let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                continue;
            };
            let selector = Labels::from_label_selector(selector);
            if !selector.matches(&labels) {
                continue;
            }
            let selected: Vec<Pod> = pods
                .iter()
                .filter(|p| selector.matches(&labels_of(p)))
                .filter_map(|p| Pod::deserialize(&**p).ok())
                .collect();
            let expected = i32::try_from(selected.len()).unwrap_or(i32::MAX);
            let healthy =
                i32::try_from(selected.iter().filter(|p| is_ready(p)).count()).unwrap_or(i32::MAX);
            let desired = desired_healthy(&pdb, expected);
            let always = pdb
                .spec
                .as_ref()
                .and_then(|s| s.unhealthy_pod_eviction_policy.as_deref())
                == Some("AlwaysAllow");
            let allowed = if is_ready(&target) {
                healthy > desired
            } else {
                always || healthy >= desired
            };
            if !allowed {
                return Ok(Err(Disruption {
                    budget: pdb.metadata.name.unwrap_or_default(),
                    desired,
                    healthy,
                }));
            }
        }
        Ok(Ok(()))
    }

    /// The `autoscaling/v1` Scale of a deployment.
    pub fn scale(&self, namespace: &str, name: &str) -> Result<Scale, StoreError> {
        let not_found = || StoreError::NotFound {
            kind: Kind::Deployment,
            name: name.to_string(),
        };
        let d: Deployment = self.get_as(namespace, name).ok_or_else(not_found)?;
        let selector = d.spec.selector.match_labels.as_ref().map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        });
        Ok(Scale {
            metadata: ObjectMeta {
                name: d.metadata.name,
                namespace: d.metadata.namespace,
                uid: d.metadata.uid,
                resource_version: d.metadata.resource_version,
                creation_timestamp: d.metadata.creation_timestamp,
                ..ObjectMeta::default()
            },
            spec: Some(ScaleSpec {
                replicas: Some(d.spec.replicas.unwrap_or(1)),
            }),
            status: Some(ScaleStatus {
                replicas: d.status.and_then(|s| s.replicas).unwrap_or(0),
                selector,
            }),
        })
    }

    /// Sets a deployment's `spec.replicas` (what a scale does when no owner takes it).
    pub fn set_replicas(
        &mut self,
        namespace: &str,
        name: &str,
        replicas: i32,
    ) -> Result<Arc<Value>, StoreError> {
        self.patch(
            Kind::Deployment,
            namespace,
            name,
            &json!({"spec": {"replicas": replicas}}),
        )
    }
}
