//! The cluster driver's eyes: a kube-runtime observer of a real cluster's serving workload.
//!
//! While scalebench sends open-loop load at an endpoint, [`Observer`] watches the Kubernetes
//! objects behind it (the Deployment, its HPA, the selected Pods, the Nodes) and keeps in
//! memory what the report's timeline needs beside latency: replicas desired and ready, pods
//! pending, nodes per pool, GPUs allocated and the cost so far ([`live::Observer`]), plus a
//! richer [`State`] (pods by phase and why they wait, nodes by pool and capacity type,
//! cordoned and tainted nodes, cold starts from the pods' conditions, watch errors).
//!
//! What to watch and how to price it is a [`Target`] (TOML, the future `[setups.cluster]`
//! table). `docs/kubernetes.md` ("The cluster observer") says how each figure is derived and
//! when it is `null`.
//!
//! KEDA's ScaledObject and Knative's Service are not watched: KEDA drives an HPA named
//! `keda-hpa-<scaledobject>`, which is read instead, and Knative's autoscaler scales a
//! Deployment, whose `spec.replicas` is read.

mod config;
pub mod labels;
mod observer;
mod pod;
mod state;
mod track;

pub use config::{Autoscaler, AutoscalerKind, ConfigError, Price, Target};
pub use labels::POOL_LABELS;
pub use observer::{ConnectError, Observer, connect};
pub use pod::ColdStart;
pub use state::{NodeState, PodState, State, WatchError};
