//! Faults, from the scenario's fault plan (`scalebench_core::fault`) at their times, or injected now
//! ([`Model::inject`], the testbed's admin API):
//! - a spot interruption cordons the chosen nodes at the notice; their pods serve until the
//!   reclaim, then die with what they serve, and the ReplicaSet replaces them (cold);
//! - a pod eviction terminates pods gracefully (draining, killed at the grace period's end) and
//!   the ReplicaSet replaces them at once, unless the disruption budget blocks it;
//! - a pool outage takes every node of the pool at once and stops it provisioning for a while;
//!   the cluster autoscaler provisions in the next pool of the setup's list instead.
//!
//! Nodes and pods are chosen by the run's seeded random stream. Every fault is recorded with
//! what it cost: pods lost, requests failed, evictions blocked.

use rand::RngExt;
use scalebench_core::fault::{Fault, FaultPlan};
use scalebench_core::report::FaultEvent;

use crate::pods::PodPhase;
use crate::{Host, Model, Request, Timer};

/// Why a fault could not be injected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// The fault names a pool the setup does not use.
    #[error("pool {pool:?} is not one of this setup's pools ({known:?})")]
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
    #[error("this setup bills per replica and has no nodes to {0}")]
    NoNodes(&'static str),
}

impl<W: Request> Model<W> {
    /// Sets a timer for every fault of the plan, each recorded (in the plan's order) before
    /// any other fault.
    pub fn plan_faults(&mut self, faults: &FaultPlan, host: &mut impl Host<W>) {
        self.faults = faults.clone();
        for (i, f) in self.faults.faults.iter().enumerate() {
            self.fault_events.push(FaultEvent {
                t_s: f.at().as_secs_f64(),
                kind: f.kind().to_string(),
                target: f.target(),
                pods_lost: 0,
                requests_failed: Some(0),
                blocked: 0,
                retried: Some(0),
            });
            host.schedule(f.at().as_nanos(), Timer::Fault { index: i as u32 });
        }
    }

    /// Draws when each node that exists will be interrupted, for the pools with a random
    /// interruption rate (the nodes up at the start; later nodes draw when they come up).
    pub fn arm_interruptions(&mut self, host: &mut impl Host<W>) {
        let nodes = self
            .cluster
            .as_ref()
            .map(|c| c.all_nodes())
            .unwrap_or_default();
        for (node, _) in nodes {
            self.arm_interruption(node, host);
        }
    }

    /// Draws when a spot node that just came up will be interrupted, if its pool has a rate.
    pub(super) fn arm_interruption(&mut self, node: u32, host: &mut impl Host<W>) {
        let Some(c) = self.cluster.as_ref() else {
            return;
        };
        let Some(pool) = c.serving_pool(node) else {
            return;
        };
        let rate = c.pools[pool].interruptions_per_s;
        if rate <= 0.0 {
            return;
        }
        let e: f64 = rand_distr::Distribution::sample(&rand_distr::Exp1, &mut self.rng);
        let at = self.now.saturating_add(super::pods::secs_to_ns(e / rate));
        if at < self.end {
            host.schedule(at, Timer::Interrupt { node });
        }
    }

    /// A random spot interruption: the node gets its pool's notice, then is reclaimed.
    pub(super) fn random_interruption(&mut self, node: u32, host: &mut impl Host<W>) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let Some(pool) = c.serving_pool(node) else {
            return; // already gone or under notice
        };
        c.cordon(self.now, node);
        let (name, notice) = (c.pools[pool].name.clone(), c.pools[pool].notice_ns);
        let index = self.record_fault("spot-interruption", name);
        host.schedule(self.now + notice, Timer::Reclaim { node, fault: index });
    }

    /// Records a fault that strikes now, outside the plan (a random interruption, an injected
    /// fault, an eviction through the API), with its timeline marker. Returns its index.
    pub(super) fn record_fault(&mut self, kind: &str, target: String) -> u32 {
        let index = self.fault_events.len() as u32;
        self.fault_events.push(FaultEvent {
            t_s: self.now as f64 / 1e9,
            kind: kind.to_string(),
            target,
            pods_lost: 0,
            requests_failed: Some(0),
            blocked: 0,
            retried: Some(0),
        });
        let at = scalebench_core::Duration::from_nanos(self.now);
        self.markers.push(format!("{kind}@{at}"));
        index
    }

    /// Picks `k` of `items` with the run's random stream (a partial Fisher-Yates shuffle).
    fn pick(&mut self, mut items: Vec<u32>, k: usize) -> Vec<u32> {
        let k = k.min(items.len());
        for i in 0..k {
            let j = i + self.rng.random_range(0..items.len() - i);
            items.swap(i, j);
        }
        items.truncate(k);
        items
    }

    /// Fault `index` of the plan strikes now; a fault on a pool this setup does not use does
    /// nothing.
    pub(super) fn planned_fault(&mut self, index: u32, host: &mut impl Host<W>) {
        let Some(fault) = self.faults.faults.get(index as usize).cloned() else {
            return;
        };
        self.markers
            .push(format!("{}@{}", fault.kind(), fault.at()));
        self.strike(&fault, index, host);
    }

    /// Injects a fault now (its `at` is ignored): it is checked against this setup (its pools
    /// exist, a spot interruption hits a spot pool), recorded, and strikes. Returns its record
    /// so far; the counts grow as its effects play out ([`Model::state`] has them all).
    pub fn inject(
        &mut self,
        now: u64,
        fault: &Fault,
        host: &mut impl Host<W>,
    ) -> Result<FaultEvent, FaultError> {
        self.now = now;
        match fault {
            Fault::SpotInterruption { pool, .. } => {
                let p = self.pool_named(pool, "interrupt")?;
                let spot = self
                    .cluster
                    .as_ref()
                    .is_some_and(|c| c.pools[p].capacity_type == "spot");
                if !spot {
                    return Err(FaultError::NotSpot(pool.clone()));
                }
            }
            Fault::PoolOutage { pool, .. } => {
                self.pool_named(pool, "lose")?;
            }
            Fault::PodEviction { .. } => {}
        }
        let index = self.record_fault(fault.kind(), fault.target());
        self.strike(fault, index, host);
        tracing::info!(kind = fault.kind(), target = %fault.target(), "fault injected");
        Ok(self.fault_events[index as usize].clone())
    }

    /// The pool named `name`, or why a fault cannot `what` it.
    fn pool_named(&self, name: &str, what: &'static str) -> Result<usize, FaultError> {
        let c = self.cluster.as_ref().ok_or(FaultError::NoNodes(what))?;
        c.pool_index(name).ok_or_else(|| FaultError::UnknownPool {
            pool: name.to_string(),
            known: c.pools.iter().map(|p| p.name.clone()).collect(),
        })
    }

    /// What every fault does, charged to fault record `index`.
    fn strike(&mut self, fault: &Fault, index: u32, host: &mut impl Host<W>) {
        match fault.clone() {
            Fault::SpotInterruption {
                pool,
                nodes,
                notice,
                ..
            } => {
                let Some((p, live)) = self.pool_nodes(&pool, false) else {
                    return;
                };
                let _ = p;
                let k = nodes.of(live.len() as u32) as usize;
                for node in self.pick(live, k) {
                    if let Some(c) = self.cluster.as_mut() {
                        c.cordon(self.now, node);
                    }
                    host.schedule(
                        self.now + notice.as_nanos(),
                        Timer::Reclaim { node, fault: index },
                    );
                }
            }
            Fault::PodEviction {
                pods,
                max_unavailable,
                ..
            } => {
                let ready: Vec<u32> = self
                    .live
                    .iter()
                    .copied()
                    .filter(|&p| self.pods[p as usize].state == PodPhase::Ready)
                    .collect();
                let wanted = pods.of(ready.len() as u32);
                let allowed = match max_unavailable {
                    None => wanted,
                    Some(budget) => {
                        let unavailable = self.live.len() as u32 - ready.len() as u32;
                        budget
                            .of(self.live.len() as u32)
                            .saturating_sub(unavailable)
                            .min(wanted)
                    }
                };
                let chosen = self.pick(ready, allowed as usize);
                self.fault_events[index as usize].blocked += wanted - allowed;
                self.evict(chosen, index, host);
            }
            Fault::PoolOutage { pool, length, .. } => {
                let Some((p, nodes)) = self.pool_nodes(&pool, true) else {
                    return;
                };
                if let Some(c) = self.cluster.as_mut() {
                    c.pools[p].out_until = self.now + length.as_nanos();
                }
                for node in nodes {
                    self.lose_node(node, Some(index), host);
                }
            }
        }
    }

    /// The pool's index and its nodes, when this setup uses the pool.
    fn pool_nodes(&self, pool: &str, with_cordoned: bool) -> Option<(usize, Vec<u32>)> {
        let c = self.cluster.as_ref()?;
        let p = c.pool_index(pool)?;
        Some((p, c.nodes_of(p, with_cordoned)))
    }

    /// Evicts `pods` now, charged to fault record `index`: each terminates gracefully (drains,
    /// killed at the grace period's end) and the ReplicaSet replaces it at once (cold).
    pub(super) fn evict(&mut self, pods: Vec<u32>, index: u32, host: &mut impl Host<W>) {
        self.fault_events[index as usize].pods_lost += pods.len() as u32;
        for p in pods {
            self.pods[p as usize].fault = Some(index);
            self.delete_pod(p, host);
        }
        self.reconcile(host);
    }

    /// A node is taken away now: its pods die with what they serve, it stops being paid for,
    /// and the ReplicaSet replaces the pods. What it cost is charged to fault record `fault`,
    /// when there is one.
    pub(super) fn lose_node(&mut self, node: u32, fault: Option<u32>, host: &mut impl Host<W>) {
        if let Some(c) = self.cluster.as_mut() {
            c.cordon(self.now, node);
        }
        let victims: Vec<u32> = self
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.node == Some(node) && p.state != PodPhase::Gone)
            .map(|(i, _)| i as u32)
            .collect();
        // Out of the router first, so that a retried request does not land on a pod about to die.
        for &p in &victims {
            self.router.remove(p);
        }
        let (mut failed, mut retried) = (0, 0);
        for &p in &victims {
            let (f, r) = self.kill_pod(p, host);
            failed += f;
            retried += r;
        }
        if let Some(c) = self.cluster.as_mut() {
            c.remove_node(self.now, node);
        }
        if let Some(record) = fault.and_then(|f| self.fault_events.get_mut(f as usize)) {
            record.pods_lost += victims.len() as u32;
            *record.requests_failed.get_or_insert(0) += failed;
            *record.retried.get_or_insert(0) += retried;
        }
        self.reconcile(host);
    }
}
