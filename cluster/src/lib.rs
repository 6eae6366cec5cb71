//! The cluster driver's eyes: a kube-runtime observer of a real cluster's serving workload.
//!
//! While scalebench sends open-loop load at an endpoint, [`Observer`] watches the Kubernetes
//! objects behind it (the Deployment, its HPA, the selected Pods, the Nodes) and keeps in
//! memory what the report's timeline needs beside latency: replicas desired and ready, pods
//! pending, nodes per pool, GPUs allocated and the cost so far ([`live::Observer`]), plus a
//! richer [`State`] (pods by phase and why they wait, nodes by pool and capacity type,
//! cordoned and tainted nodes, cold starts from the pods' conditions, watch errors).
//!
//! What to watch and how to price it is a [`Target`] (the scenario's `[kubernetes]` table,
//! defined in `scalebench_core::kubernetes`). `docs/kubernetes.md` ("The cluster observer") says how each figure is derived and
//! when it is `null`.
//!
//! The driver's hands: every write goes through [`Act`], which calls kube or, under
//! `--dry-run`, only records the [`Call`]. [`Faults`] evicts pods (PodDisruptionBudgets hold),
//! interrupts spot nodes (taint, evict, optionally delete) and takes pools out (cordon, drain)
//! inside safety rails, journaling each taint and cordon so that an [`UndoGuard`] or
//! [`undo_journal`] puts the nodes back. [`Setup`] applies a setup's objects before its run
//! (server-side apply, scale, wait until ready) and restores the originals after.
//! `docs/kubernetes.md` ("Faults on a cluster", "Setups applied and restored") says which
//! calls each makes.
//!
//! KEDA's ScaledObject and Knative's Service are not watched: KEDA drives an HPA named
//! `keda-hpa-<scaledobject>`, which is read instead, and Knative's autoscaler scales a
//! Deployment, whose `spec.replicas` is read.

mod act;
mod driver;
mod fault;
mod guard;
pub mod journal;
pub mod labels;
mod observer;
mod play;
mod pod;
mod rails;
mod setup;
mod state;
mod track;

pub use act::{Act, ActError, Call, Evicted, FIELD_MANAGER, Outcome};
pub use driver::{CALLS_FILE, ClusterDriver};
pub use fault::{
    Backoff, Eviction, FaultConfig, FaultError, Faults, INTERRUPTION_TAINT, Outage, Reclaim,
    Refusal,
};
pub use guard::{BLOCKING_UNDO_TIMEOUT, UndoGuard, undo_journal_blocking};
pub use journal::{UndoReport, undo_journal};
pub use setup::{Applied, Settle, Setup, SetupError};

pub use labels::POOL_LABELS;
pub use observer::{ConnectError, Observer, connect, kube_config, kube_config_from};
pub use scalebench_core::kubernetes::{Autoscaler, AutoscalerKind, ConfigError, Price, Target};
pub use state::{NodeState, PodState, State, WatchError};
