//! The workload: the Deployment (and the pod template a Knative Service reuses) with the
//! setup's replicas, GPUs, grace period, and node affinity and tolerations for its pools.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, HTTPGetAction, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, PodSpec, PodTemplateSpec, PreferredSchedulingTerm,
    Probe, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use scalebench_core::policy::PolicyConfig;
use scalebench_core::scenario::CapacityType;
use scalebench_core::{Plan, Setup};

use crate::quantity::whole_secs;

/// The GPU resource name (NVIDIA's device plugin).
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The image written in place of the real one.
pub const IMAGE_PLACEHOLDER: &str = "example.invalid/replace-with-your-inference-image:latest";
/// The container's name.
pub const CONTAINER: &str = "server";

/// Annotation keys on the workload.
pub mod key {
    /// The setup's name.
    pub const SETUP: &str = "scalebench.io/setup";
    /// The policy's kind (`fixed`, `hpa`, `kpa`, `keda`, `cost-aware`).
    pub const POLICY: &str = "scalebench.io/policy";
    /// Extra ready replicas the simulator keeps on top of the policy (Kubernetes has no warm pool).
    pub const WARM_POOL: &str = "scalebench.io/warm-pool";
    /// How old the metrics are that the policy sees (the metrics pipeline's delay).
    pub const SCRAPE_DELAY: &str = "scalebench.io/scrape-delay";
    /// The replicas at the start, where no spec.replicas carries them (Knative).
    pub const INITIAL_REPLICAS: &str = "scalebench.io/initial-replicas";
    /// A fixed setup's replicas when they differ from the initial replicas.
    pub const FIXED_REPLICAS: &str = "scalebench.io/fixed-replicas";
    /// The setup's pools in order of preference, `name:capacity-type,...`.
    pub const POOLS: &str = "scalebench.io/pools";
    /// What is a placeholder to fill in.
    pub const PLACEHOLDERS: &str = "scalebench.io/placeholders";
    /// The cost-aware policy's settings as JSON.
    pub const COST_AWARE: &str = "scalebench.io/cost-aware";
}

/// What the placeholders annotation says.
pub const PLACEHOLDERS_TEXT: &str = "image, port 8080 and readinessProbe are placeholders; cpu and memory requests are not modelled by the scenario: set them for your server";

/// Which node labels say spot or on-demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Labels {
    /// `karpenter.sh/capacity-type`: `spot` / `on-demand`.
    #[default]
    Karpenter,
    /// EKS managed node groups, `eks.amazonaws.com/capacityType`: `SPOT` / `ON_DEMAND`.
    Eks,
    /// GKE, `cloud.google.com/gke-spot`: `"true"` on spot nodes, absent on others.
    Gke,
    /// AKS, `kubernetes.azure.com/scalesetpriority`: `spot` on spot nodes, absent on others.
    Aks,
}

impl Labels {
    /// Every provider's labels, in the order a node's capacity type is looked up
    /// (Karpenter, EKS, GKE, AKS).
    pub const ALL: [Labels; 4] = [Labels::Karpenter, Labels::Eks, Labels::Gke, Labels::Aks];

    /// The node label's key.
    pub fn key(self) -> &'static str {
        match self {
            Labels::Karpenter => "karpenter.sh/capacity-type",
            Labels::Eks => "eks.amazonaws.com/capacityType",
            Labels::Gke => "cloud.google.com/gke-spot",
            Labels::Aks => "kubernetes.azure.com/scalesetpriority",
        }
    }

    /// The label's value on nodes of this capacity type; None: the label is absent.
    pub fn value(self, c: CapacityType) -> Option<&'static str> {
        match (self, c) {
            (Labels::Karpenter, CapacityType::Spot) => Some("spot"),
            (Labels::Karpenter, CapacityType::OnDemand) => Some("on-demand"),
            (Labels::Eks, CapacityType::Spot) => Some("SPOT"),
            (Labels::Eks, CapacityType::OnDemand) => Some("ON_DEMAND"),
            (Labels::Gke, CapacityType::Spot) => Some("true"),
            (Labels::Aks, CapacityType::Spot) => Some("spot"),
            (Labels::Gke | Labels::Aks, CapacityType::OnDemand) => None,
        }
    }

    /// The taint on spot nodes a pod must tolerate: AKS always taints spot nodes; GKE
    /// recommends the taint (and Autopilot adds it); Karpenter and EKS add none by default.
    pub fn spot_taint(self) -> Option<(&'static str, &'static str)> {
        match self {
            Labels::Aks => Some(("kubernetes.azure.com/scalesetpriority", "spot")),
            Labels::Gke => Some(("cloud.google.com/gke-spot", "true")),
            Labels::Karpenter | Labels::Eks => None,
        }
    }

    /// Which capacity type a node selector requirement selects, if it is one of ours.
    pub fn capacity_of(self, r: &NodeSelectorRequirement) -> Option<CapacityType> {
        if r.key != self.key() {
            return None;
        }
        [CapacityType::Spot, CapacityType::OnDemand]
            .into_iter()
            .find(|&c| requirement(self, c) == *r)
    }
}

/// The one requirement that selects nodes of capacity type `c`.
fn requirement(labels: Labels, c: CapacityType) -> NodeSelectorRequirement {
    match labels.value(c) {
        Some(v) => NodeSelectorRequirement {
            key: labels.key().into(),
            operator: "In".into(),
            values: Some(vec![v.into()]),
        },
        None => NodeSelectorRequirement {
            key: labels.key().into(),
            operator: "DoesNotExist".into(),
            values: None,
        },
    }
}

/// What every object of a setup is written from.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The scenario.
    pub plan: &'a Plan,
    /// The setup.
    pub setup: &'a Setup,
    /// The workload's name.
    pub name: &'a str,
    /// The namespace, if any.
    pub namespace: Option<&'a str>,
    /// Node labels.
    pub labels: Labels,
}

impl Context<'_> {
    /// metadata with the name, namespace and `annotations`.
    pub fn meta(&self, annotations: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.to_string()),
            namespace: self.namespace.map(str::to_string),
            labels: Some(self.selector_labels()),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        }
    }

    fn selector_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("app.kubernetes.io/name".into(), self.name.to_string())])
    }
}

/// The capacity types of the setup's pools, first appearance first.
pub fn capacity_order(setup: &Setup) -> Vec<CapacityType> {
    let mut order = Vec::new();
    for p in &setup.pools {
        if !order.contains(&p.capacity_type) {
            order.push(p.capacity_type);
        }
    }
    order
}

/// The annotations of the workload.
pub fn workload_annotations(ctx: &Context<'_>) -> BTreeMap<String, String> {
    let s = ctx.setup;
    let mut a = BTreeMap::new();
    a.insert(key::SETUP.into(), s.name.clone());
    a.insert(key::POLICY.into(), s.policy.kind().into());
    a.insert(key::PLACEHOLDERS.into(), PLACEHOLDERS_TEXT.into());
    if s.warm_pool > 0 {
        a.insert(key::WARM_POOL.into(), s.warm_pool.to_string());
    }
    a.insert(key::SCRAPE_DELAY.into(), s.scrape_delay.to_string());
    if !s.pools.is_empty() {
        let pools: Vec<String> = s
            .pools
            .iter()
            .map(|p| format!("{}:{}", p.name, p.capacity_type.as_str()))
            .collect();
        a.insert(key::POOLS.into(), pools.join(","));
    }
    match &s.policy {
        PolicyConfig::Fixed(c) if c.replicas != s.initial_replicas => {
            a.insert(key::FIXED_REPLICAS.into(), c.replicas.to_string());
        }
        PolicyConfig::CostAware(c) => {
            // A CostAwareConfig is numbers, strings and durations: it always serializes.
            if let Ok(json) = serde_json::to_string(c) {
                a.insert(key::COST_AWARE.into(), json);
            }
        }
        _ => {}
    }
    a
}

/// The Deployment.
pub fn deployment(ctx: &Context<'_>) -> Deployment {
    Deployment {
        metadata: ctx.meta(workload_annotations(ctx)),
        spec: DeploymentSpec {
            replicas: Some(to_i32(ctx.setup.initial_replicas)),
            selector: LabelSelector {
                match_labels: Some(ctx.selector_labels()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(ctx.selector_labels()),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(ctx)),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    }
}

/// The pod: one container with the GPUs of the service model, a placeholder image and
/// readiness probe, the setup's grace period, and node affinity and tolerations for its pools.
pub fn pod_spec(ctx: &Context<'_>) -> PodSpec {
    let gpus = ctx.plan.service.gpus;
    let resources = (gpus > 0).then(|| ResourceRequirements {
        limits: Some(BTreeMap::from([(
            GPU_RESOURCE.to_string(),
            Quantity(gpus.to_string()),
        )])),
        ..ResourceRequirements::default()
    });
    let container = Container {
        name: CONTAINER.into(),
        image: Some(IMAGE_PLACEHOLDER.into()),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: 8080,
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/healthz".into()),
                port: IntOrString::String("http".into()),
                ..HTTPGetAction::default()
            }),
            ..Probe::default()
        }),
        resources,
        ..Container::default()
    };
    let order = capacity_order(ctx.setup);
    let tolerations = order
        .contains(&CapacityType::Spot)
        .then(|| ctx.labels.spot_taint())
        .flatten()
        .map(|(k, v)| {
            vec![Toleration {
                key: Some(k.into()),
                operator: Some("Equal".into()),
                value: Some(v.into()),
                effect: Some("NoSchedule".into()),
                ..Toleration::default()
            }]
        });
    PodSpec {
        containers: vec![container],
        termination_grace_period_seconds: Some(whole_secs(ctx.setup.lifecycle.grace_period)),
        affinity: node_affinity(ctx.labels, &order).map(|na| Affinity {
            node_affinity: Some(na),
            ..Affinity::default()
        }),
        tolerations,
        ..PodSpec::default()
    }
}

/// One capacity type: required. Both: preferred, the first pool's type with weight 100 and the
/// other with 50 (either is allowed, as the cluster autoscaler falls back in pool order).
fn node_affinity(labels: Labels, order: &[CapacityType]) -> Option<NodeAffinity> {
    match order {
        [] => None,
        [only] => Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![requirement(labels, *only)]),
                    ..NodeSelectorTerm::default()
                }],
            }),
            ..NodeAffinity::default()
        }),
        many => Some(NodeAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(
                many.iter()
                    .enumerate()
                    .map(|(i, &c)| PreferredSchedulingTerm {
                        weight: 100 / (1 << i.min(6)),
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![requirement(labels, c)]),
                            ..NodeSelectorTerm::default()
                        },
                    })
                    .collect(),
            ),
            ..NodeAffinity::default()
        }),
    }
}

/// The notes every setup gets.
pub fn notes(ctx: &Context<'_>) -> Vec<String> {
    let s = ctx.setup;
    let mut notes = vec![format!(
        "setup {:?} of scenario {:?}; {PLACEHOLDERS_TEXT}",
        s.name, ctx.plan.name
    )];
    if s.warm_pool > 0 {
        notes.push(format!(
            "warm pool: Kubernetes has none; the simulator keeps {} ready replicas on top of what the autoscaler asks for; recorded in {} only (the autoscaler's bounds are unchanged)",
            s.warm_pool,
            key::WARM_POOL
        ));
    }
    if !s.pools.is_empty() {
        notes.push(format!(
            "pools {} map to node affinity on {} by capacity type only; pool names, instance types and prices stay in {}",
            s.pools.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
            ctx.labels.key(),
            key::POOLS
        ));
    }
    notes
}

/// A replica count as the API's int32 (saturating).
pub fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
