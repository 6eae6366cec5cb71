//! The Kubernetes objects of the model's state, as k8s-openapi types (so that what the store
//! holds is what a typed client reads back, times at k8s' whole seconds): what every object is
//! built from ([`Static`]), a Node per node, the Deployment and the HPA, with the fields a
//! real cluster's controllers and kubelets would fill in. The Pods are in `super::pod`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    HorizontalPodAutoscalerStatus,
};
use k8s_openapi::api::core::v1::{
    Container, Node, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo, PodSpec, PodTemplateSpec,
    ResourceRequirements, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use scalebench_core::policy::PolicyConfig;

use super::KubeMirror;
use super::frame::{Frame, ModelNode};
use crate::shared::Clock;

/// The GPU resource (NVIDIA's device plugin), as `kube_objects` and the cluster observer name it.
pub(crate) const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The pods' one container, named as `scalebench manifests` names it.
pub(crate) const CONTAINER: &str = "server";
/// The image the pods claim to run.
pub(crate) const IMAGE: &str = "scalebench.io/testbed-model:emulated";
/// The taint the mirror puts on a node the model cordoned under an interruption notice (or
/// a loss): Karpenter's taint on a node it is disrupting (Karpenter's are the labels the
/// nodes carry). The only taint the mirror writes; every other taint is its clients'.
pub(crate) const NOTICE_TAINT: &str = "karpenter.sh/disrupted";
/// Karpenter's NodePool label.
pub(crate) const POOL_LABEL: &str = "karpenter.sh/nodepool";
/// Karpenter's capacity type label.
pub(crate) const CAPACITY_LABEL: &str = "karpenter.sh/capacity-type";
/// The well-known instance type label: the pool's name (pools have no instance type).
pub(crate) const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
/// The kubelet version nodes report.
const KUBELET_VERSION: &str = "v1.32.0";

/// What every object is built from: the names, the setup's constants, the clock.
#[derive(Debug, Clone)]
pub(crate) struct Static {
    pub(crate) namespace: String,
    pub(crate) deployment: String,
    pub(crate) labels: BTreeMap<String, String>,
    /// The ReplicaSet the pods are owned by (there is one: the template never changes).
    pub(crate) replica_set: String,
    setup: String,
    policy: &'static str,
    /// The HPA's minReplicas and maxReplicas; `None` under a fixed policy (no HPA).
    pub(crate) hpa: Option<(i32, i32)>,
    pub(crate) grace_ns: u64,
    /// GPUs per pod.
    gpus: u32,
    pub(crate) clock: Clock,
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A stable, pod-template-hash-like suffix for `name` (FNV-1a, 10 hex digits).
pub(crate) fn template_hash(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:010x}", h & 0xff_ffff_ffff)
}

/// A pool's name as part of a node's name: lower case, `[a-z0-9-]`.
fn dns(s: &str) -> String {
    s.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '-' }
        })
        .collect()
}

/// A node's name: `<pool>-<id>`.
pub(crate) fn node_name(n: &ModelNode) -> String {
    format!("{}-{}", dns(&n.pool), n.id)
}

impl Static {
    pub(crate) fn new(mirror: &KubeMirror, config: &crate::TestbedConfig, clock: Clock) -> Static {
        let policy = &config.setup.policy;
        let min = match policy {
            PolicyConfig::Fixed(_) => None,
            PolicyConfig::Hpa(c) => Some(c.min_replicas),
            PolicyConfig::Kpa(c) => Some(c.min_scale),
            PolicyConfig::Keda(c) => Some(c.min_replicas),
            PolicyConfig::CostAware(c) => Some(c.min_replicas),
        };
        Static {
            namespace: mirror.namespace.clone(),
            deployment: mirror.deployment.clone(),
            labels: mirror.pod_labels(),
            replica_set: format!(
                "{}-{}",
                mirror.deployment,
                template_hash(&mirror.deployment)
            ),
            setup: config.setup.name.clone(),
            policy: policy.kind(),
            // An HPA's minReplicas is at least 1 (KEDA's HPA too, when it scales to zero).
            hpa: min.map(|m| (count(m.max(1)), count(policy.max_replicas().max(m.max(1))))),
            grace_ns: config.setup.lifecycle.grace_period.as_nanos(),
            gpus: config.plan.service.gpus,
            clock,
        }
    }

    /// Scenario time `ns` on the wall clock.
    pub(crate) fn instant(&self, ns: u64) -> Timestamp {
        Timestamp::try_from(self.clock.wall(ns)).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    pub(crate) fn time(&self, ns: u64) -> Time {
        Time(self.instant(ns))
    }

    /// A pod's name: `<deployment>-<id>`.
    pub(crate) fn pod_name(&self, id: u32) -> String {
        format!("{}-{id}", self.deployment)
    }

    /// The pod's id, if `name` is one of the pods' names.
    pub(crate) fn pod_id(&self, name: &str) -> Option<u32> {
        name.strip_prefix(&self.deployment)?
            .strip_prefix('-')?
            .parse()
            .ok()
    }

    /// The grace period, whole seconds.
    pub(crate) fn grace_s(&self) -> i64 {
        i64::try_from(self.grace_ns / 1_000_000_000).unwrap_or(i64::MAX)
    }

    fn container(&self) -> Container {
        let gpus: BTreeMap<String, Quantity> = if self.gpus > 0 {
            BTreeMap::from([(GPU_RESOURCE.to_string(), Quantity(self.gpus.to_string()))])
        } else {
            BTreeMap::new()
        };
        Container {
            name: CONTAINER.into(),
            image: Some(IMAGE.into()),
            resources: Some(ResourceRequirements {
                limits: Some(gpus.clone()),
                requests: Some(gpus),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }
    }

    pub(crate) fn pod_spec(&self) -> PodSpec {
        PodSpec {
            containers: vec![self.container()],
            termination_grace_period_seconds: Some(self.grace_s()),
            restart_policy: Some("Always".into()),
            scheduler_name: Some("default-scheduler".into()),
            ..PodSpec::default()
        }
    }

    /// The model's side of node `n`: all but what clients own (`spec.unschedulable`, and the
    /// taints but [`NOTICE_TAINT`], which is here when the model cordoned it).
    pub(crate) fn node(&self, n: &ModelNode) -> Node {
        let name = node_name(n);
        let labels = BTreeMap::from([
            ("kubernetes.io/hostname".to_string(), name.clone()),
            ("kubernetes.io/os".into(), "linux".into()),
            ("kubernetes.io/arch".into(), "amd64".into()),
            (POOL_LABEL.into(), n.pool.clone()),
            (CAPACITY_LABEL.into(), n.capacity_type.clone()),
            (INSTANCE_TYPE_LABEL.into(), n.pool.clone()),
            ("nvidia.com/gpu.present".into(), "true".into()),
        ]);
        let resources = BTreeMap::from([
            (GPU_RESOURCE.to_string(), Quantity(n.gpus.to_string())),
            ("pods".into(), Quantity("110".into())),
        ]);
        let ready = match n.up_ns.filter(|_| n.up) {
            Some(t) => NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: Some("KubeletReady".into()),
                message: Some("kubelet is posting ready status".into()),
                last_transition_time: Some(self.time(t)),
                ..NodeCondition::default()
            },
            None => NodeCondition {
                type_: "Ready".into(),
                status: "False".into(),
                reason: Some("KubeletNotReady".into()),
                message: Some("the node is being provisioned".into()),
                last_transition_time: Some(self.time(n.created_ns)),
                ..NodeCondition::default()
            },
        };
        let taints = n.cordoned.then(|| {
            vec![Taint {
                key: NOTICE_TAINT.into(),
                effect: "NoSchedule".into(),
                ..Taint::default()
            }]
        });
        Node {
            metadata: ObjectMeta {
                name: Some(name),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                taints,
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                capacity: Some(resources.clone()),
                allocatable: Some(resources),
                conditions: Some(vec![ready]),
                node_info: Some(NodeSystemInfo {
                    architecture: "amd64".into(),
                    operating_system: "linux".into(),
                    kubelet_version: KUBELET_VERSION.into(),
                    kube_proxy_version: KUBELET_VERSION.into(),
                    container_runtime_version: "emulated://scalebench-testbed".into(),
                    os_image: "scalebench testbed".into(),
                    ..NodeSystemInfo::default()
                }),
                ..NodeStatus::default()
            }),
        }
    }

    /// The Deployment as first written (afterwards only `spec.replicas` and the status are
    /// the model's; the rest is left to clients).
    pub(crate) fn deployment(&self) -> Deployment {
        let annotations = BTreeMap::from([
            (
                "deployment.kubernetes.io/revision".to_string(),
                "1".to_string(),
            ),
            ("scalebench.io/setup".into(), self.setup.clone()),
            ("scalebench.io/policy".into(), self.policy.into()),
        ]);
        Deployment {
            metadata: ObjectMeta {
                name: Some(self.deployment.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(self.labels.clone()),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            spec: DeploymentSpec {
                replicas: Some(0),
                selector: LabelSelector {
                    match_labels: Some(self.labels.clone()),
                    ..LabelSelector::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(self.labels.clone()),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(self.pod_spec()),
                },
                ..DeploymentSpec::default()
            },
            status: None,
        }
    }

    /// The Deployment's status: every pod is of its one template, so the rollout is done
    /// when every replica asked for exists and is ready.
    pub(crate) fn deployment_status(
        &self,
        frame: &Frame,
        generation: i64,
        conditions: Vec<DeploymentCondition>,
    ) -> DeploymentStatus {
        let (live, ready) = (count(frame.live()), count(frame.ready()));
        let unavailable = (count(frame.desired) - ready).max(0);
        DeploymentStatus {
            observed_generation: Some(generation),
            replicas: Some(live),
            updated_replicas: Some(live),
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            unavailable_replicas: (unavailable > 0).then_some(unavailable),
            conditions: Some(conditions),
            ..DeploymentStatus::default()
        }
    }

    /// The HPA as first written (afterwards only its status is the model's).
    pub(crate) fn hpa(&self, (min, max): (i32, i32)) -> HorizontalPodAutoscaler {
        HorizontalPodAutoscaler {
            metadata: ObjectMeta {
                name: Some(self.deployment.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(self.labels.clone()),
                annotations: Some(BTreeMap::from([(
                    "scalebench.io/policy".to_string(),
                    self.policy.to_string(),
                )])),
                ..ObjectMeta::default()
            },
            spec: HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".into()),
                    kind: "Deployment".into(),
                    name: self.deployment.clone(),
                },
                min_replicas: Some(min),
                max_replicas: max,
                ..HorizontalPodAutoscalerSpec::default()
            },
            status: None,
        }
    }

    /// The HPA's status: the policy's decision (with the warm pool, as the Deployment's
    /// replicas) and the replicas there are.
    pub(crate) fn hpa_status(
        &self,
        frame: &Frame,
        generation: i64,
    ) -> HorizontalPodAutoscalerStatus {
        HorizontalPodAutoscalerStatus {
            current_replicas: Some(count(frame.live())),
            desired_replicas: count(frame.desired),
            observed_generation: Some(generation),
            ..HorizontalPodAutoscalerStatus::default()
        }
    }
}
