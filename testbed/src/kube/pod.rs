//! The Pod of a model pod, as the scheduler and the kubelet would have written it through its
//! phases: PodScheduled False (`Unschedulable`, with the scheduler's message) while it waits
//! for room; then PodScheduled and Initialized at its binding, the container waiting in
//! `ContainerCreating`, running from its start, ContainersReady and Ready at its readiness;
//! `deletionTimestamp` while it terminates, with `DisruptionTarget` when it was evicted.

use k8s_openapi::api::core::v1::{
    Affinity, ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus,
    NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodCondition,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use model::PodPhase;

use super::build::{CONTAINER, GPU_RESOURCE, IMAGE, POOL_LABEL, Static, node_name, template_hash};
use super::frame::{Frame, ModelPod};

fn condition(
    type_: &str,
    on: bool,
    at: Time,
    reason: Option<&str>,
    message: Option<String>,
) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: if on { "True" } else { "False" }.into(),
        last_transition_time: Some(at),
        reason: reason.map(str::to_string),
        message,
        ..PodCondition::default()
    }
}

impl Static {
    /// Why a pod waits for room, in the scheduler's words.
    fn unschedulable(&self, p: &ModelPod, frame: &Frame) -> String {
        let (mut affinity, mut cordoned, mut full) = (0, 0, 0);
        for n in &frame.nodes {
            if p.pinned.as_deref().is_some_and(|pool| pool != n.pool) {
                affinity += 1;
            } else if !n.up || n.cordoned || n.unschedulable {
                cordoned += 1;
            } else {
                full += 1;
            }
        }
        let mut why = Vec::new();
        if affinity > 0 {
            why.push(format!(
                "{affinity} node(s) didn't match Pod's node affinity/selector"
            ));
        }
        if cordoned > 0 {
            why.push(format!("{cordoned} node(s) were unschedulable"));
        }
        if full > 0 {
            why.push(format!("{full} Insufficient {GPU_RESOURCE}"));
        }
        let total = frame.nodes.len();
        if why.is_empty() {
            format!("0/{total} nodes are available.")
        } else {
            format!("0/{total} nodes are available: {}.", why.join(", "))
        }
    }

    /// The Pod of model pod `p` (not gone).
    pub(crate) fn pod(&self, p: &ModelPod, frame: &Frame) -> Pod {
        let mut labels = self.labels.clone();
        labels.insert("pod-template-hash".into(), template_hash(&self.deployment));
        let terminating = p.phase == PodPhase::Terminating;
        let deleting = p.deleting_ns.filter(|_| terminating);
        let meta = ObjectMeta {
            name: Some(self.pod_name(p.id)),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: self.replica_set.clone(),
                uid: format!(
                    "00000000-0000-4000-9000-{}",
                    &template_hash(&self.replica_set)[..10]
                ),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            // A graceful deletion: the time by which it will be gone.
            deletion_timestamp: deleting.map(|t| self.time(t + self.grace_ns)),
            deletion_grace_period_seconds: deleting.map(|_| self.grace_s()),
            ..ObjectMeta::default()
        };
        let mut spec = self.pod_spec();
        let node = p.node.and_then(|id| frame.node(id));
        spec.node_name = node.map(node_name);
        if let Some(pool) = &p.pinned {
            spec.affinity = Some(pool_affinity(pool));
        }
        Pod {
            metadata: meta,
            spec: Some(spec),
            status: Some(self.pod_status(p, frame)),
        }
    }

    fn pod_status(&self, p: &ModelPod, frame: &Frame) -> PodStatus {
        let Some(scheduled) = p.scheduled_ns else {
            let why = self.unschedulable(p, frame);
            return PodStatus {
                phase: Some("Pending".into()),
                conditions: Some(vec![condition(
                    "PodScheduled",
                    false,
                    self.time(p.created_ns),
                    Some("Unschedulable"),
                    Some(why),
                )]),
                ..PodStatus::default()
            };
        };
        let at = self.time(scheduled);
        let not_ready = Some(format!("containers with unready status: [{CONTAINER}]"));
        let ready = |type_| match p.ready_ns {
            Some(t) => condition(type_, true, self.time(t), None, None),
            None => condition(
                type_,
                false,
                at.clone(),
                Some("ContainersNotReady"),
                not_ready.clone(),
            ),
        };
        let mut conditions = vec![
            condition("PodScheduled", true, at.clone(), None, None),
            condition("Initialized", true, at.clone(), None, None),
            ready("ContainersReady"),
            ready("Ready"),
        ];
        if p.evicted
            && let Some(t) = p.deleting_ns
        {
            conditions.push(evicted_condition(self.time(t)));
        }
        let state = match p.started_ns {
            None => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ContainerCreating".into()),
                    message: None,
                }),
                ..ContainerState::default()
            },
            Some(t) => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(self.time(t)),
                }),
                ..ContainerState::default()
            },
        };
        let running = p.started_ns.is_some();
        PodStatus {
            phase: Some(if running { "Running" } else { "Pending" }.into()),
            conditions: Some(conditions),
            start_time: Some(at),
            container_statuses: Some(vec![ContainerStatus {
                name: CONTAINER.into(),
                image: IMAGE.into(),
                image_id: String::new(),
                ready: p.ready_ns.is_some(),
                restart_count: 0,
                started: Some(running),
                state: Some(state),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }
    }
}

/// The condition an eviction through the API sets on its pod.
pub(crate) fn evicted_condition(at: Time) -> PodCondition {
    condition(
        "DisruptionTarget",
        true,
        at,
        Some("EvictionByEvictionAPI"),
        Some("Eviction API: evicting".into()),
    )
}

/// Required node affinity for one pool.
fn pool_affinity(pool: &str) -> Affinity {
    Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: POOL_LABEL.into(),
                        operator: "In".into(),
                        values: Some(vec![pool.to_string()]),
                    }]),
                    ..NodeSelectorTerm::default()
                }],
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    }
}
