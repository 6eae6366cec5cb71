//! The scenario's fault plan played on a real cluster, on the run's clock: each fault is a task
//! that sleeps until its instant and acts through [`Faults`] (so inside the rails, journaled,
//! recorded under `--dry-run`), filling the run's fault records and the timeline's markers as
//! the simulator's model does.
//!
//! - `pod-eviction`: the newest `pods` of the ready selected pods are evicted through the
//!   Eviction subresource. The plan's `max_unavailable` is the simulator's stand-in for a
//!   PodDisruptionBudget; on a cluster the cluster's own budgets decide (a 429 is retried with
//!   backoff and counted in `retried`; an eviction still refused at the deadline in `blocked`).
//! - `spot-interruption`: `nodes` of the pool's nodes hosting the service get the
//!   interruption taint at the notice; when the notice ends their selected pods are evicted
//!   (and, with `delete_interrupted_nodes`, the Node deleted).
//! - `pool-outage`: every node of the pool is cordoned and its selected pods evicted; after
//!   `for`, the cordons are undone (the simulator's pool provisions again then).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use scalebench_core::fault::{Fault, FaultPlan};
use scalebench_core::report::FaultEvent;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::act::Evicted;
use crate::fault::{Eviction, Faults};
use crate::observer::Observer;

/// What the played faults did so far: one record per fault of the plan (in its order) and the
/// markers not yet taken by the timeline.
#[derive(Debug, Default)]
pub(crate) struct Played {
    events: Mutex<Vec<FaultEvent>>,
    markers: Mutex<Vec<String>>,
}

impl Played {
    /// The fault records.
    pub(crate) fn events(&self) -> Vec<FaultEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The markers since the last call.
    pub(crate) fn take_markers(&self) -> Vec<String> {
        std::mem::take(&mut *self.markers.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn mark(&self, marker: String) {
        self.markers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(marker);
    }

    fn record(&self, index: usize, f: impl FnOnce(&mut FaultEvent)) {
        if let Some(e) = self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(index)
        {
            f(e);
        }
    }

    /// Counts evictions into record `index`: the pods evicted and those a budget still refused
    /// at the deadline (`blocked`); each refusal on the way is in the report's `cluster`
    /// section.
    fn count(&self, index: usize, evictions: &[Eviction]) {
        self.record(index, |e| {
            for ev in evictions {
                match &ev.result {
                    Evicted::Done | Evicted::DryRun => e.pods_lost += 1,
                    Evicted::Refused(_) => e.blocked += 1,
                    Evicted::Gone => {}
                }
            }
        });
    }
}

/// Starts a task per fault of `plan`, each due at its `at` after `start`. Abort the set to
/// stop them (the journal keeps what they changed for the undo).
pub(crate) fn play(
    plan: &FaultPlan,
    seed: u64,
    start: Instant,
    faults: Arc<Faults>,
    observer: Arc<Observer>,
    played: Arc<Played>,
    runtime: &tokio::runtime::Handle,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    {
        let mut events = played.events.lock().unwrap_or_else(PoisonError::into_inner);
        for f in &plan.faults {
            events.push(FaultEvent {
                t_s: f.at().as_secs_f64(),
                kind: f.kind().to_string(),
                target: f.target(),
                pods_lost: 0,
                requests_failed: None,
                blocked: 0,
                retried: None,
            });
        }
    }
    for (index, fault) in plan.faults.iter().cloned().enumerate() {
        let (faults, observer, played) = (faults.clone(), observer.clone(), played.clone());
        set.spawn_on(
            async move {
                let at = start + Duration::from(fault.at());
                tokio::time::sleep_until(at).await;
                played.mark(format!("{}@{}", fault.kind(), fault.at()));
                tracing::info!(kind = fault.kind(), target = %fault.target(), "fault strikes");
                if let Err(e) = strike(&fault, index, seed, &faults, &observer, &played).await {
                    tracing::error!(kind = fault.kind(), error = %e, "fault failed");
                    played.mark(format!("{}-failed@{}", fault.kind(), fault.at()));
                }
            },
            runtime,
        );
    }
    set
}

/// The nodes of `pool` that host the service, in name order rotated by the seed: which nodes
/// an interruption takes, reproducibly for a seed.
fn candidates(observer: &Observer, pool: &str, seed: u64) -> Vec<String> {
    let state = observer.state();
    let mut names: Vec<String> = state
        .nodes
        .iter()
        .filter(|n| n.pool == pool && n.hosts_selected > 0)
        .map(|n| n.name.clone())
        .collect();
    names.sort();
    if !names.is_empty() {
        let k = (seed % names.len() as u64) as usize;
        names.rotate_left(k);
    }
    names
}

async fn strike(
    fault: &Fault,
    index: usize,
    seed: u64,
    faults: &Faults,
    observer: &Observer,
    played: &Played,
) -> Result<(), crate::fault::FaultError> {
    match fault {
        Fault::PodEviction { pods, .. } => {
            let ready = observer.state().pods.iter().filter(|p| p.ready).count();
            let n = pods.of(u32::try_from(ready).unwrap_or(u32::MAX));
            let evictions = faults.evict_newest(n as usize).await?;
            played.count(index, &evictions);
        }
        Fault::SpotInterruption {
            pool,
            nodes,
            notice,
            ..
        } => {
            let all = candidates(observer, pool, seed);
            let k = nodes.of(u32::try_from(all.len()).unwrap_or(u32::MAX)) as usize;
            let chosen: Vec<String> = all.into_iter().take(k).collect();
            if chosen.is_empty() {
                tracing::warn!(
                    pool,
                    "spot interruption: no node of this pool hosts the service"
                );
            }
            let mut noticed = Vec::new();
            for node in &chosen {
                match faults.spot_notice(node).await {
                    Ok(_) => noticed.push(node.clone()),
                    Err(e) => tracing::error!(node, error = %e, "interruption notice failed"),
                }
            }
            tokio::time::sleep((*notice).into()).await;
            for node in &noticed {
                let reclaim = faults.spot_reclaim(node).await?;
                played.count(index, &reclaim.evictions);
            }
        }
        Fault::PoolOutage { pool, length, .. } => {
            let outage = faults.pool_outage(pool).await?;
            played.count(index, &outage.evictions);
            tokio::time::sleep((*length).into()).await;
            let undone = faults.end_outage(&outage.nodes).await?;
            if !undone.failed.is_empty() {
                tracing::error!(failed = ?undone.failed, "the outage's cordons could not all be undone; the run's end tries again");
            }
        }
    }
    Ok(())
}
