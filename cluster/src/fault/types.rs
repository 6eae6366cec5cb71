//! What faults are configured with, what they report, and how they fail.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::CONFLICT_RETRIES;
use crate::act::{ActError, Evicted};
use scalebench_core::kubernetes::ConfigError;

/// Why a fault, or its undo, failed.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The request is outside the safety rails; no call was made.
    #[error("refused by the safety rails: {what}")]
    Rails {
        /// What was refused, and why.
        what: String,
    },
    /// A write failed.
    #[error(transparent)]
    Call(#[from] ActError),
    /// A read failed.
    #[error("reading {what}: {source}")]
    Read {
        /// What was read.
        what: String,
        /// kube's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The journal could not be read or written.
    #[error("journal {}: {source}", .path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A node kept changing between its read and the write.
    #[error("{0}: the node kept changing (409 Conflict {CONFLICT_RETRIES} times)")]
    Conflict(String),
    /// The target is invalid.
    #[error(transparent)]
    Target(#[from] ConfigError),
    /// The blocking undo could not run its own runtime or client.
    #[error("blocking undo: {0}")]
    Blocking(String),
}

/// How a refused eviction is retried: after `first`, doubling up to `max`, until `deadline`
/// after the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
    /// How long to keep trying.
    pub deadline: Duration,
}

impl Default for Backoff {
    /// 1 s doubling to 10 s, for 2 minutes.
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
        }
    }
}

/// How faults act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultConfig {
    /// The run's id: the interruption taint's value.
    pub run_id: String,
    /// The namespaces whose pods may be evicted; empty: the target's namespace.
    pub namespaces: Vec<String>,
    /// Delete the Node object when a spot interruption's notice ends (off by default).
    pub delete_interrupted_nodes: bool,
    /// How refused evictions are retried.
    pub backoff: Backoff,
}

impl FaultConfig {
    /// The defaults for run `run_id`: the target's namespace only, Nodes not deleted.
    pub fn new(run_id: impl Into<String>) -> FaultConfig {
        FaultConfig {
            run_id: run_id.into(),
            namespaces: Vec::new(),
            delete_interrupted_nodes: false,
            backoff: Backoff::default(),
        }
    }
}

/// An eviction a PodDisruptionBudget refused (it was retried).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// When.
    pub at: Timestamp,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The budget's message.
    pub message: String,
}

/// How one pod's eviction ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Eviction {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The last answer: done, dry-run, gone, or still refused when the deadline passed.
    pub result: Evicted,
    /// How many times a budget refused it first.
    pub refusals: u32,
}

/// What a pool outage did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outage {
    /// The pool's nodes, all cordoned (those cordoned before were left as they were).
    pub nodes: Vec<String>,
    /// The evictions of their selected pods.
    pub evictions: Vec<Eviction>,
}

/// What the end of a spot interruption's notice did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reclaim {
    /// The evictions of the node's selected pods.
    pub evictions: Vec<Eviction>,
    /// Whether the Node was deleted (or would be, under dry-run).
    pub node_deleted: bool,
}
