//! What a Pod's spec and status say: readiness, phase, why it waits, its GPUs, the instants of
//! its cold start.

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::jiff::Timestamp;
use kube_objects::GPU_RESOURCE;
use scalebench_core::run::ColdStartSample;

/// The phase as the API reports it (`Pending` when absent).
pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Succeeded or Failed: the pod's containers are gone for good.
pub(crate) fn finished(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The node the pod is bound to.
pub(crate) fn node(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn condition_true(pod: &Pod, type_: &str) -> bool {
    condition(pod, type_).is_some_and(|c| c.status == "True")
}

/// The instant a condition last turned true.
fn turned_true(pod: &Pod, type_: &str) -> Option<Timestamp> {
    condition(pod, type_)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// The Ready condition is true.
pub(crate) fn ready(pod: &Pod) -> bool {
    condition_true(pod, "Ready")
}

/// Why a pod that is not ready waits: `Unschedulable` (from the PodScheduled condition), a
/// container's waiting reason (`ContainerCreating`, `ImagePullBackOff`...), `Scheduling` (not
/// bound yet), or `NotReady` (running, not ready yet: loading).
pub(crate) fn pending_reason(pod: &Pod) -> String {
    if let Some(c) = condition(pod, "PodScheduled")
        && c.status == "False"
    {
        return c.reason.clone().unwrap_or_else(|| "Unschedulable".into());
    }
    let waiting = pod.status.as_ref().and_then(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
            .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
    });
    if let Some(reason) = waiting {
        return reason;
    }
    if node(pod).is_none() {
        return "Scheduling".into();
    }
    "NotReady".into()
}

/// The disruption condition an eviction through the API sets, or the kubelet's `Evicted`.
pub(crate) fn evicted(pod: &Pod) -> bool {
    condition_true(pod, "DisruptionTarget")
        || pod
            .status
            .as_ref()
            .and_then(|s| s.reason.as_deref())
            .is_some_and(|r| r == "Evicted")
}

/// `nvidia.com/gpu` of the pod's containers: each container's limit, else its request.
pub(crate) fn gpus(pod: &Pod) -> u32 {
    let Some(spec) = &pod.spec else { return 0 };
    spec.containers
        .iter()
        .filter_map(|c| {
            let r = c.resources.as_ref()?;
            let q = r
                .limits
                .as_ref()
                .and_then(|l| l.get(GPU_RESOURCE))
                .or_else(|| r.requests.as_ref()?.get(GPU_RESOURCE))?;
            q.0.trim().parse::<u32>().ok()
        })
        .sum()
}

/// `metadata.creationTimestamp`.
pub(crate) fn created(pod: &Pod) -> Option<Timestamp> {
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

fn span_ns(from: Timestamp, to: Timestamp) -> u64 {
    let ns = to.as_nanosecond() - from.as_nanosecond();
    u64::try_from(ns.max(0)).unwrap_or(u64::MAX)
}

/// The cold start of a ready pod, split at its conditions' instants: created ->
/// PodScheduled's lastTransitionTime (pending) -> the first container's
/// `state.running.startedAt`, else the Initialized condition (creating) -> Ready's
/// lastTransitionTime (loading). `observed` stands for a Ready condition without a time. A
/// missing instant between two others makes its phase 0 (the next one holds the time);
/// instants out of order are clamped to 0.
pub(crate) fn cold_start(pod: &Pod, observed: Timestamp) -> Option<ColdStartSample> {
    if !ready(pod) {
        return None;
    }
    let created = created(pod)?;
    let ready_at = turned_true(pod, "Ready").unwrap_or(observed);
    let scheduled = turned_true(pod, "PodScheduled").unwrap_or(created);
    let running = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref()?.first())
        .and_then(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
        .map(|t| t.0);
    let started = running
        .or_else(|| turned_true(pod, "Initialized"))
        .unwrap_or(scheduled)
        .max(scheduled);
    Some(ColdStartSample {
        pending_ns: span_ns(created, scheduled),
        creating_ns: span_ns(scheduled, started),
        loading_ns: span_ns(started, ready_at),
    })
}
