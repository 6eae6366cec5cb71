//! Faults injected into the running testbed (the `chaos` crate's [`Fault`], through the admin
//! API), with the semantics of README "Faults":
//! - a spot interruption cordons k nodes of a spot pool; their pods serve until the notice ends
//!   (in scenario time), then die with what they serve and the node stops being paid for;
//! - a pod eviction drains k ready pods (killed at the end of their grace period) and replaces
//!   them at once, as far as the disruption budget allows;
//! - a pool outage takes every node of the pool with its pods and stops it provisioning for a
//!   while, so the cluster autoscaler falls back to the next pool of the setup.
//!
//! Random spot interruptions of pools with an `interruption_rate` land here too. Every fault
//! leaves a [`FaultEvent`] whose counts grow as its effects play out.

use chaos::Fault;
use harness::report::FaultEvent;
use rand::RngExt;

use crate::model::{Model, Phase};

/// Why a fault could not be injected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// The fault names a pool the setup does not use.
    #[error("pool {pool:?} is not one of this testbed's pools ({known:?})")]
    UnknownPool {
        /// The pool named.
        pool: String,
        /// The pools there are.
        known: Vec<String>,
    },
    /// A spot interruption named an on-demand pool.
    #[error("pool {0:?} is on-demand; only spot capacity is interrupted")]
    NotSpot(String),
    /// A node fault under replica billing, where there are no nodes.
    #[error("this testbed bills per replica and has no nodes to {0}")]
    NoNodes(&'static str),
}

impl Model {
    /// Injects a fault now (its `at` is ignored) and returns its record so far.
    pub(crate) fn inject(&mut self, fault: &Fault, now: f64) -> Result<FaultEvent, FaultError> {
        let index = self.faults.len();
        let mut record = FaultEvent {
            t_s: now,
            kind: fault.kind().to_string(),
            target: fault.target(),
            pods_lost: 0,
            requests_failed: 0,
            blocked: 0,
            retried: 0,
        };
        match fault {
            Fault::SpotInterruption {
                pool,
                nodes,
                notice,
                ..
            } => {
                let p = self.pool(pool, "interrupt")?;
                let spot = self.cluster.as_ref().is_some_and(|c| c.pools[p].spot);
                if !spot {
                    return Err(FaultError::NotSpot(pool.clone()));
                }
                let live = self.nodes_of(p, false);
                let k = nodes.of(live.len() as u32) as usize;
                self.faults.push(record);
                for node in self.pick(live, k) {
                    self.notice(node, now + notice.as_secs_f64(), index, now);
                }
            }
            Fault::PodEviction {
                pods,
                max_unavailable,
                ..
            } => {
                let live: Vec<(u64, Phase)> = self
                    .replicas
                    .iter()
                    .filter(|(_, r)| r.phase != Phase::Draining)
                    .map(|(&id, r)| (id, r.phase))
                    .collect();
                let ready: Vec<u64> = live
                    .iter()
                    .filter(|(_, ph)| *ph == Phase::Ready)
                    .map(|(id, _)| *id)
                    .collect();
                let total = live.len() as u32;
                let wanted = pods.of(ready.len() as u32);
                let allowed = match max_unavailable {
                    None => wanted,
                    Some(budget) => {
                        let unavailable = total - ready.len() as u32;
                        budget.of(total).saturating_sub(unavailable).min(wanted)
                    }
                };
                let chosen = self.pick(ready, allowed as usize);
                record.pods_lost = chosen.len() as u32;
                record.blocked = wanted - allowed;
                self.faults.push(record);
                for id in chosen {
                    if let Some(r) = self.replicas.get_mut(&id) {
                        r.fault = Some(index);
                    }
                    self.delete(id, now);
                }
                self.reconcile(now);
            }
            Fault::PoolOutage { pool, length, .. } => {
                let p = self.pool(pool, "lose")?;
                if let Some(c) = self.cluster.as_mut() {
                    c.pools[p].out_until = now + length.as_secs_f64();
                }
                self.faults.push(record);
                for node in self.nodes_of(p, true) {
                    self.lose_node(node, index, now);
                }
            }
        }
        tracing::info!(kind = fault.kind(), target = %fault.target(), "fault injected");
        Ok(self.faults[index].clone())
    }

    fn pool(&self, name: &str, what: &'static str) -> Result<usize, FaultError> {
        let c = self.cluster.as_ref().ok_or(FaultError::NoNodes(what))?;
        c.pool_index(name).ok_or_else(|| FaultError::UnknownPool {
            pool: name.to_string(),
            known: c.pools.iter().map(|p| p.name.clone()).collect(),
        })
    }

    fn nodes_of(&self, pool: usize, with_cordoned: bool) -> Vec<usize> {
        self.cluster
            .as_ref()
            .map_or_else(Vec::new, |c| c.nodes_of(pool, with_cordoned))
    }

    /// Picks `k` of `items` with the seeded random stream (a partial Fisher-Yates shuffle).
    fn pick<T>(&mut self, mut items: Vec<T>, k: usize) -> Vec<T> {
        let k = k.min(items.len());
        for i in 0..k {
            let j = i + self.rng.random_range(0..items.len() - i);
            items.swap(i, j);
        }
        items.truncate(k);
        items
    }

    /// A node gets an interruption notice: cordoned now, reclaimed at `reclaim`. The pinned
    /// replicas on it are replaced at once (they no longer count toward their pool).
    fn notice(&mut self, node: usize, reclaim: f64, fault: usize, now: f64) {
        if let Some(c) = self.cluster.as_mut() {
            c.cordon(now, node);
            if let Some(n) = c.nodes.get_mut(&node) {
                n.reclaim = Some((reclaim, fault));
            }
        }
        self.reconcile(now);
    }

    /// Random notices and reclaims that are due.
    pub(crate) fn spot_events(&mut self, now: f64) {
        let Some(c) = self.cluster.as_ref() else {
            return;
        };
        let notices: Vec<(usize, f64, String)> = c
            .nodes
            .iter()
            .filter(|(_, n)| !n.cordoned && n.interrupt_at.is_some_and(|t| t <= now))
            .map(|(&id, n)| (id, c.pools[n.pool].notice_s, c.pools[n.pool].name.clone()))
            .collect();
        let reclaims: Vec<(usize, usize)> = c
            .nodes
            .iter()
            .filter_map(|(&id, n)| n.reclaim.filter(|(t, _)| *t <= now).map(|(_, f)| (id, f)))
            .collect();
        for (node, notice, pool) in notices {
            let index = self.faults.len();
            self.faults.push(FaultEvent {
                t_s: now,
                kind: "spot-interruption".into(),
                target: pool,
                pods_lost: 0,
                requests_failed: 0,
                blocked: 0,
                retried: 0,
            });
            self.notice(node, now + notice, index, now);
        }
        for (node, fault) in reclaims {
            self.lose_node(node, fault, now);
        }
    }

    /// A node is taken away now: its pods die with what they serve, it stops being paid for,
    /// and the ReplicaSet replaces the pods.
    fn lose_node(&mut self, node: usize, fault: usize, now: f64) {
        if let Some(c) = self.cluster.as_mut() {
            c.cordon(now, node);
        }
        let victims: Vec<u64> = self
            .replicas
            .iter()
            .filter(|(_, r)| r.node == Some(node))
            .map(|(&id, _)| id)
            .collect();
        let mut failed = 0;
        for &id in &victims {
            failed += self.kill(id, now);
        }
        if let Some(c) = self.cluster.as_mut() {
            c.remove_node(now, node);
        }
        if let Some(f) = self.faults.get_mut(fault) {
            f.pods_lost += victims.len() as u32;
            f.requests_failed += failed;
        }
        self.reconcile(now);
    }
}
