//! Faults on a cluster through the Kubernetes API: pod evictions (PodDisruptionBudgets hold),
//! spot interruptions (taint at the notice, evict at the reclaim, optionally delete the Node)
//! and pool outages (cordon and drain), inside the [`crate::rails`], journaled and undone.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures_util::future::join_all;
use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use serde_json::json;

use crate::act::{Act, Evicted};
use crate::guard::UndoGuard;
use crate::journal::{self, Entry, Journal, UndoReport, get_node};
use crate::pod;
use crate::rails::Rails;
use scalebench_core::kubernetes::Target;

mod types;

pub use types::{Backoff, Eviction, FaultConfig, FaultError, Outage, Reclaim, Refusal};

/// The key of the taint a spot interruption notice puts on its node (value: the run id,
/// effect `NoSchedule`).
pub const INTERRUPTION_TAINT: &str = "scalebench.io/interruption";

/// How many times a node patch is retried after a 409 Conflict (the node changed between the
/// read and the write: the patches carry the read's resourceVersion as a precondition).
pub(crate) const CONFLICT_RETRIES: usize = 5;

/// Faults on one target's cluster. Every write goes through its [`Act`]; every taint and
/// cordon is journaled first (not under dry-run, which changes nothing).
#[derive(Debug)]
pub struct Faults {
    act: Act,
    rails: Rails,
    config: FaultConfig,
    journal: Option<Arc<Journal>>,
    refusals: Arc<Mutex<Vec<Refusal>>>,
}

impl Faults {
    /// Faults on `target` through `act`, journaling into `out_dir` ([`journal::JOURNAL_FILE`]).
    pub fn new(
        act: Act,
        target: &Target,
        config: FaultConfig,
        out_dir: &Path,
    ) -> Result<Faults, FaultError> {
        target.validate()?;
        let namespaces = if config.namespaces.is_empty() {
            vec![target.namespace.clone()]
        } else {
            config.namespaces.clone()
        };
        let journal = if act.dry_run() {
            None
        } else {
            Some(Arc::new(Journal::in_dir(out_dir)?))
        };
        Ok(Faults {
            act,
            rails: Rails {
                namespaces,
                target: target.clone(),
            },
            config,
            journal,
            refusals: Arc::default(),
        })
    }

    /// The seam its writes go through (its [`Act::calls`] are the report's list).
    pub fn act(&self) -> &Act {
        &self.act
    }

    /// Every refused eviction so far.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The journal's path (`None` under dry-run).
    pub fn journal_path(&self) -> Option<&Path> {
        self.journal.as_deref().map(Journal::path)
    }

    /// A guard that undoes this run's taints and cordons: await [`UndoGuard::undo`]; with
    /// `config`, dropping it undone undoes them on a thread of its own.
    pub fn guard(&self, config: Option<kube::Config>) -> UndoGuard {
        UndoGuard::new(self.act.clone(), self.journal.clone(), config)
    }

    /// Undoes every taint and cordon of the journal.
    pub async fn undo(&self) -> Result<UndoReport, FaultError> {
        match &self.journal {
            Some(j) => journal::undo(j, &self.act).await,
            None => Ok(UndoReport::default()),
        }
    }

    /// The end of a pool outage: the cordons it journaled on `nodes` are undone (nodes that
    /// were cordoned before stay so). Nothing under dry-run.
    pub async fn end_outage(&self, nodes: &[String]) -> Result<UndoReport, FaultError> {
        match &self.journal {
            Some(j) => {
                journal::undo_matching(j, &self.act, |e| {
                    matches!(e, Entry::Cordon { .. })
                        && e.node().is_some_and(|n| nodes.iter().any(|x| x == n))
                })
                .await
            }
            None => Ok(UndoReport::default()),
        }
    }

    /// Evicts one pod, if the rails allow it, retrying while a budget refuses.
    pub async fn evict_pod(&self, namespace: &str, pod: &str) -> Result<Eviction, FaultError> {
        self.rails
            .check_pod(self.act.client(), namespace, pod)
            .await?;
        self.evict_retrying(namespace, pod).await
    }

    /// Evicts `count` of the selected ready pods, the newest first (as a drain picks them),
    /// all at once, each retried while a budget refuses.
    pub async fn evict_newest(&self, count: usize) -> Result<Vec<Eviction>, FaultError> {
        let mut ready: Vec<_> = self
            .rails
            .selected(self.act.client())
            .await?
            .into_iter()
            .filter(|p| pod::ready(p) && !pod::terminating(p))
            .collect();
        ready.sort_by_key(|p| std::cmp::Reverse(pod::created(p)));
        let picked = ready.iter().take(count).map(names).collect();
        self.evict_all(picked).await
    }

    /// A spot interruption's notice on `node`: the taint
    /// `scalebench.io/interruption=<run id>:NoSchedule` is added, the node's other taints kept.
    /// Whether it was added (not when a taint with that key and effect is there already).
    pub async fn spot_notice(&self, node: &str) -> Result<bool, FaultError> {
        let client = self.act.client();
        self.rails.check_node(client, node).await?;
        let nodes = Api::<Node>::all(client.clone());
        let mut journaled = false;
        for _ in 0..CONFLICT_RETRIES {
            let current = self.existing(&nodes, node).await?;
            let taints = current.spec.and_then(|s| s.taints).unwrap_or_default();
            if taints
                .iter()
                .any(|t| t.key == INTERRUPTION_TAINT && t.effect == "NoSchedule")
            {
                tracing::warn!(node, "the interruption taint is there already: left alone");
                return Ok(false);
            }
            if !journaled {
                self.journal(|seq| Entry::Taint {
                    seq,
                    node: node.to_string(),
                    key: INTERRUPTION_TAINT.into(),
                    value: self.config.run_id.clone(),
                    effect: "NoSchedule".into(),
                    previous: taints.clone(),
                })?;
                journaled = true;
            }
            let mut new = taints;
            new.push(Taint {
                key: INTERRUPTION_TAINT.into(),
                value: Some(self.config.run_id.clone()),
                effect: "NoSchedule".into(),
                time_added: None,
            });
            let patch = json!({"metadata": {"resourceVersion": current.metadata.resource_version},
                               "spec": {"taints": new}});
            let summary = format!(
                "taint {INTERRUPTION_TAINT}={}:NoSchedule",
                self.config.run_id
            );
            match self.act.patch_node(node, &patch, summary).await {
                Err(e) if e.code() == Some(409) => continue,
                r => return r.map(|_| true).map_err(Into::into),
            }
        }
        Err(FaultError::Conflict(format!("taint of {node}")))
    }

    /// The end of a spot interruption's notice on `node`: its selected pods are evicted, then,
    /// if the config says so, the Node is deleted.
    pub async fn spot_reclaim(&self, node: &str) -> Result<Reclaim, FaultError> {
        let client = self.act.client();
        self.rails.check_node(client, node).await?;
        let pods = self.rails.selected_on(client, node).await?;
        let evictions = self.evict_all(pods.iter().map(names).collect()).await?;
        if self.config.delete_interrupted_nodes {
            self.act.delete_node(node).await?;
        }
        Ok(Reclaim {
            evictions,
            node_deleted: self.config.delete_interrupted_nodes,
        })
    }

    /// A pool outage: every node of `pool` is cordoned (journaled first; nodes cordoned
    /// already are left as they are), then their selected pods are evicted.
    pub async fn pool_outage(&self, pool: &str) -> Result<Outage, FaultError> {
        let client = self.act.client();
        let nodes = self.rails.pool_nodes(client, pool).await?;
        let api = Api::<Node>::all(client.clone());
        for node in &nodes {
            self.cordon(&api, node).await?;
        }
        let mut pods = Vec::new();
        for node in &nodes {
            pods.extend(
                self.rails
                    .selected_on(client, node)
                    .await?
                    .iter()
                    .map(names),
            );
        }
        let evictions = self.evict_all(pods).await?;
        Ok(Outage { nodes, evictions })
    }

    async fn cordon(&self, api: &Api<Node>, node: &str) -> Result<(), FaultError> {
        let mut journaled = false;
        for _ in 0..CONFLICT_RETRIES {
            let current = self.existing(api, node).await?;
            if current.spec.and_then(|s| s.unschedulable).unwrap_or(false) {
                tracing::info!(node, "cordoned already: left alone");
                return Ok(());
            }
            if !journaled {
                self.journal(|seq| Entry::Cordon {
                    seq,
                    node: node.to_string(),
                    previous: false,
                })?;
                journaled = true;
            }
            let patch = json!({"metadata": {"resourceVersion": current.metadata.resource_version},
                               "spec": {"unschedulable": true}});
            match self.act.patch_node(node, &patch, "cordon".into()).await {
                Err(e) if e.code() == Some(409) => continue,
                r => return r.map(drop).map_err(Into::into),
            }
        }
        Err(FaultError::Conflict(format!("cordon of {node}")))
    }

    async fn existing(&self, api: &Api<Node>, node: &str) -> Result<Node, FaultError> {
        get_node(api, node).await?.ok_or_else(|| FaultError::Rails {
            what: format!("node {node} does not exist"),
        })
    }

    fn journal(&self, make: impl FnOnce(u64) -> Entry) -> Result<(), FaultError> {
        if let Some(j) = &self.journal {
            j.append(make)?;
        }
        Ok(())
    }

    async fn evict_all(&self, pods: Vec<(String, String)>) -> Result<Vec<Eviction>, FaultError> {
        join_all(pods.iter().map(|(ns, p)| self.evict_retrying(ns, p)))
            .await
            .into_iter()
            .collect()
    }

    /// One eviction, retried with the backoff while a budget refuses; each refusal recorded.
    async fn evict_retrying(&self, namespace: &str, pod: &str) -> Result<Eviction, FaultError> {
        let b = self.config.backoff;
        let start = Instant::now();
        let mut wait = b.first;
        let mut refusals = 0;
        loop {
            let result = self.act.evict(namespace, pod).await?;
            let Evicted::Refused(message) = &result else {
                return Ok(Eviction {
                    namespace: namespace.into(),
                    pod: pod.into(),
                    result,
                    refusals,
                });
            };
            refusals += 1;
            tracing::warn!(namespace, pod, %message, "eviction refused by a disruption budget");
            self.refusals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Refusal {
                    at: Timestamp::now(),
                    namespace: namespace.into(),
                    pod: pod.into(),
                    message: message.clone(),
                });
            let left = b.deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(Eviction {
                    namespace: namespace.into(),
                    pod: pod.into(),
                    result,
                    refusals,
                });
            }
            tokio::time::sleep(wait.min(left)).await;
            wait = (wait * 2).min(b.max);
        }
    }
}

fn names(p: &k8s_openapi::api::core::v1::Pod) -> (String, String) {
    (
        p.metadata.namespace.clone().unwrap_or_default(),
        p.metadata.name.clone().unwrap_or_default(),
    )
}
