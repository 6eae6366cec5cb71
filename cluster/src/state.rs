//! The observer's richer snapshot, for the report and for faults: pods by phase and why they
//! wait, terminating pods, nodes by pool and capacity type, cordoned and tainted nodes, cold
//! starts, watch errors.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use scalebench_core::scenario::CapacityType;

use scalebench_core::run::{ColdStartSample, PoolRun};

/// Everything the observer knows at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// When the observer started (the run's start).
    pub run_start: Timestamp,
    /// When this snapshot was taken.
    pub at: Timestamp,
    /// Every watcher has completed its first list; before that the figures are incomplete.
    pub synced: bool,
    /// How long the state may have been behind: since the first error of a watcher that has
    /// not delivered an event since. `None`: every watcher is healthy.
    pub stale: Option<Duration>,
    /// As in [`live::Observed::replicas_desired`].
    pub replicas_desired: Option<u32>,
    /// As in [`live::Observed::replicas_ready`].
    pub replicas_ready: Option<u32>,
    /// The Deployment's `spec.replicas` (`None`: no Deployment, or the field is unset).
    pub deployment_replicas: Option<i32>,
    /// The HPA's `status.desiredReplicas` (`None`: no HPA read, or no status yet).
    pub hpa_desired: Option<i32>,
    /// Selected pods not ready, not terminating, not finished.
    pub pods_pending: u32,
    /// Selected pods by `status.phase`.
    pub pods_by_phase: BTreeMap<String, u32>,
    /// Pending pods by why they wait (see [`PodState::pending_reason`]).
    pub pending_reasons: BTreeMap<String, u32>,
    /// Names of the selected pods with a `deletionTimestamp`.
    pub terminating: Vec<String>,
    /// Every selected pod, by name.
    pub pods: Vec<PodState>,
    /// Counted nodes by pool, then capacity type (`spot`, `on-demand`).
    pub nodes_by_pool: BTreeMap<String, BTreeMap<String, u32>>,
    /// Names of cordoned nodes (`spec.unschedulable`), among all watched nodes.
    pub cordoned: Vec<String>,
    /// Names of tainted nodes, among all watched nodes.
    pub tainted: Vec<String>,
    /// Every watched node, by name.
    pub nodes: Vec<NodeState>,
    /// `nvidia.com/gpu` held by selected pods bound to a node and not finished.
    pub gpus_allocated: u32,
    /// Cost so far (`None`: a billed node has no price, or nothing is priced).
    pub cost_usd: Option<f64>,
    /// The bill so far by pool, as the simulator's (`None` when [`State::cost_usd`] is).
    pub pools: Option<BTreeMap<String, PoolRun>>,
    /// The most ready replicas at once (the Deployment's `status.readyReplicas`) since the
    /// observer started.
    pub max_ready: u32,
    /// Cold starts of the pods created during the run that became ready, in the order seen.
    pub cold_starts: Vec<ColdStartSample>,
    /// Pods created during the run that have not become ready (yet, or ever: deleted first).
    pub unfinished_cold_starts: u32,
    /// Lists after each watcher's first (restarts after a 410 Gone or a lost resourceVersion).
    pub relists: u32,
    /// The longest stretch any watcher was behind so far (from its first error to its next
    /// event, or to now while it still fails); `None`: never.
    pub longest_stale: Option<Duration>,
    /// Every watch error, oldest first.
    pub errors: Vec<WatchError>,
}

/// A selected pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    /// Its name.
    pub name: String,
    /// The node it is bound to.
    pub node: Option<String>,
    /// `status.phase` (`Pending` when absent).
    pub phase: String,
    /// Its Ready condition is true.
    pub ready: bool,
    /// It has a `deletionTimestamp`.
    pub terminating: bool,
    /// Why a pending pod waits: `Unschedulable` (the PodScheduled condition's reason), a
    /// container's waiting reason (`ContainerCreating`, `ImagePullBackOff`...), `Scheduling`
    /// (not bound yet) or `NotReady` (running, not ready: loading). `None` for other pods.
    pub pending_reason: Option<String>,
    /// Its containers' `nvidia.com/gpu` (limit, else request).
    pub gpus: u32,
}

/// A watched node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// Its name.
    pub name: String,
    /// Its pool (see [`crate::labels::pool_of`]).
    pub pool: String,
    /// Its capacity type (see [`crate::labels::capacity_of`]).
    pub capacity_type: CapacityType,
    /// Its `node.kubernetes.io/instance-type`.
    pub instance_type: Option<String>,
    /// Its `creationTimestamp`.
    pub created: Option<Timestamp>,
    /// `spec.unschedulable` (cordoned).
    pub cordoned: bool,
    /// Its taints as `key=value:Effect` (or `key:Effect`).
    pub taints: Vec<String>,
    /// Selected pods (not finished) bound to it.
    pub hosts_selected: u32,
}

/// One error a watcher yielded (it retried after a backoff; the state was kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchError {
    /// `deployment`, `hpa`, `pods` or `nodes`.
    pub resource: String,
    /// `initial-list-failed`, `watch-start-failed`, `watch-error-<code>` (an ERROR event,
    /// e.g. `watch-error-410` before a relist), `watch-failed`, `no-resource-version`.
    pub kind: String,
    /// The error with its causes.
    pub message: String,
    /// When it came.
    pub at: Timestamp,
}
