//! What the mirror reads of the model at one instant, under the testbed's lock: owned copies
//! of its pods and nodes (the lock is released before anything is built or written).

use model::{NodeView, PodPhase, PodView};

use crate::bed::Bed;

/// One of the model's pods, an owned copy of [`model::PodView`]. Instants are ns of scenario
/// time ([`crate::Testbed::wall_time`] maps them to the wall clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPod {
    /// Its id: the pod is `<deployment>-<id>` in the API.
    pub id: u32,
    /// Where it is in its life.
    pub phase: PodPhase,
    /// The node it is bound to.
    pub node: Option<u32>,
    /// The pool it is pinned to, for a policy that places its replicas.
    pub pinned: Option<String>,
    /// When it was created.
    pub created_ns: u64,
    /// When it was bound to a node.
    pub scheduled_ns: Option<u64>,
    /// When its container started.
    pub started_ns: Option<u64>,
    /// When it became ready.
    pub ready_ns: Option<u64>,
    /// When it started terminating (or went).
    pub deleting_ns: Option<u64>,
    /// It was evicted.
    pub evicted: bool,
}

impl From<PodView<'_>> for ModelPod {
    fn from(p: PodView<'_>) -> ModelPod {
        ModelPod {
            id: p.id,
            phase: p.phase,
            node: p.node,
            pinned: p.pinned.map(str::to_string),
            created_ns: p.created_ns,
            scheduled_ns: p.scheduled_ns,
            started_ns: p.started_ns,
            ready_ns: p.ready_ns,
            deleting_ns: p.deleting_ns,
            evicted: p.evicted,
        }
    }
}

/// One of the model's nodes, an owned copy of [`model::NodeView`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelNode {
    /// Its id: the node is `<pool>-<id>` in the API.
    pub id: u32,
    /// Its pool.
    pub pool: String,
    /// `spot` or `on-demand`.
    pub capacity_type: String,
    /// GPUs it has.
    pub gpus: u32,
    /// It has come up.
    pub up: bool,
    /// When it came up.
    pub up_ns: Option<u64>,
    /// The model cordoned it (a notice, a loss): it is about to go.
    pub cordoned: bool,
    /// A client cordoned it.
    pub unschedulable: bool,
    /// It was removed.
    pub gone: bool,
    /// When it was requested.
    pub created_ns: u64,
}

impl From<NodeView<'_>> for ModelNode {
    fn from(n: NodeView<'_>) -> ModelNode {
        ModelNode {
            id: n.id,
            pool: n.pool.to_string(),
            capacity_type: n.capacity_type.to_string(),
            gpus: n.gpus,
            up: n.up,
            up_ns: n.up_ns,
            cordoned: n.cordoned,
            unschedulable: n.unschedulable,
            gone: n.gone,
            created_ns: n.created_ns,
        }
    }
}

/// The model at one instant, as the mirror writes it.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    /// Scenario time, ns.
    pub(crate) now_ns: u64,
    /// The pods that exist, and those gone that the mirror still shows, in id order.
    pub(crate) pods: Vec<ModelPod>,
    /// The nodes that exist, in id order.
    pub(crate) nodes: Vec<ModelNode>,
    /// The Deployment's replicas: the policy's desired count plus the warm pool.
    pub(crate) desired: u32,
}

impl Frame {
    /// The node with this id, if it exists.
    pub(crate) fn node(&self, id: u32) -> Option<&ModelNode> {
        self.nodes
            .binary_search_by_key(&id, |n| n.id)
            .ok()
            .map(|i| &self.nodes[i])
    }

    /// Pods that count toward the Deployment (not terminating, not gone).
    pub(crate) fn live(&self) -> u32 {
        let n = self
            .pods
            .iter()
            .filter(|p| !matches!(p.phase, PodPhase::Terminating | PodPhase::Gone))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Pods ready (not terminating).
    pub(crate) fn ready(&self) -> u32 {
        let n = self
            .pods
            .iter()
            .filter(|p| p.phase == PodPhase::Ready)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

impl Bed {
    /// The model now: every pod that exists and each gone one `shown` still shows, every node
    /// that exists.
    pub(crate) fn frame(&self, shown: impl Fn(u32) -> bool) -> Frame {
        let now_ns = self.now();
        Frame {
            now_ns,
            pods: self
                .model
                .pods()
                .filter(|p| p.phase != PodPhase::Gone || shown(p.id))
                .map(ModelPod::from)
                .collect(),
            nodes: self
                .model
                .nodes()
                .filter(|n| !n.gone)
                .map(ModelNode::from)
                .collect(),
            desired: self.model.state(now_ns).replicas_desired,
        }
    }

    /// Every pod the model created, gone ones included.
    pub(crate) fn model_pods(&self) -> Vec<ModelPod> {
        self.model.pods().map(ModelPod::from).collect()
    }

    /// Every node the model requested, gone ones included.
    pub(crate) fn model_nodes(&self) -> Vec<ModelNode> {
        self.model.nodes().map(ModelNode::from).collect()
    }
}
