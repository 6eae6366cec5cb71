//! Faults in the simulated cluster, from the scenario's fault plan (the `chaos` crate):
//! - a spot interruption cordons the chosen nodes at the notice; their pods serve until the
//!   reclaim, then die with what they serve, and the ReplicaSet replaces them (cold);
//! - a pod eviction terminates pods gracefully (draining, killed at the grace period's end) and
//!   the ReplicaSet replaces them at once, unless the disruption budget blocks it;
//! - a pool outage takes every node of the pool at once and stops it provisioning for a while;
//!   the cluster autoscaler provisions in the next pool of the setup's list instead.
//!
//! Nodes and pods are chosen by the run's seeded random stream. Every fault is recorded with
//! what it cost: pods lost, requests failed, evictions blocked.

use chaos::Fault;
use rand::RngExt;

use super::Sim;
use super::events::Event;
use super::pods::PodState;
use harness::report::FaultEvent;

impl Sim<'_> {
    /// Puts every fault of the plan on the agenda.
    pub(super) fn schedule_faults(&mut self) {
        for (i, f) in self.faults.faults.iter().enumerate() {
            self.fault_events.push(FaultEvent {
                t_s: f.at().as_secs_f64(),
                kind: f.kind().to_string(),
                target: f.target(),
                pods_lost: 0,
                requests_failed: 0,
                blocked: 0,
                retried: 0,
            });
            self.agenda
                .push(f.at().as_nanos(), Event::Fault { index: i as u32 });
        }
    }

    /// Draws when a spot node that just came up will be interrupted, if its pool has a rate.
    pub(super) fn arm_interruption(&mut self, node: u32) {
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
            self.agenda.push(at, Event::Interrupt { node });
        }
    }

    /// A random spot interruption: the node gets its pool's notice, then is reclaimed.
    pub(super) fn random_interruption(&mut self, node: u32) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let Some(pool) = c.serving_pool(node) else {
            return; // already gone or under notice
        };
        c.cordon(self.now, node);
        let (name, notice) = (c.pools[pool].name.clone(), c.pools[pool].notice_ns);
        let index = self.fault_events.len() as u32;
        self.fault_events.push(FaultEvent {
            t_s: self.now as f64 / 1e9,
            kind: "spot-interruption".to_string(),
            target: name,
            pods_lost: 0,
            requests_failed: 0,
            blocked: 0,
            retried: 0,
        });
        let at = workloads::Duration::from_nanos(self.now);
        self.window_faults.push(format!("spot-interruption@{at}"));
        self.agenda
            .push(self.now + notice, Event::Reclaim { node, fault: index });
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

    /// A fault of the plan strikes now.
    pub(super) fn fault(&mut self, index: u32) {
        let Some(fault) = self.faults.faults.get(index as usize).cloned() else {
            return;
        };
        self.window_faults
            .push(format!("{}@{}", fault.kind(), fault.at()));
        match fault {
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
                    self.agenda.push(
                        self.now + notice.as_nanos(),
                        Event::Reclaim { node, fault: index },
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
                    .filter(|&p| self.pods[p as usize].state == PodState::Ready)
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
                let record = &mut self.fault_events[index as usize];
                record.pods_lost += chosen.len() as u32;
                record.blocked += wanted - allowed;
                for p in chosen {
                    self.pods[p as usize].fault = Some(index);
                    self.delete_pod(p);
                }
                self.reconcile();
            }
            Fault::PoolOutage { pool, length, .. } => {
                let Some((p, nodes)) = self.pool_nodes(&pool, true) else {
                    return;
                };
                if let Some(c) = self.cluster.as_mut() {
                    c.pools[p].out_until = self.now + length.as_nanos();
                }
                for node in nodes {
                    self.lose_node(node, index);
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

    /// A node is taken away now: its pods die with what they serve, it stops being paid for,
    /// and the ReplicaSet replaces the pods.
    pub(super) fn lose_node(&mut self, node: u32, fault: u32) {
        if let Some(c) = self.cluster.as_mut() {
            c.cordon(self.now, node);
        }
        let victims: Vec<u32> = self
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.node == Some(node) && p.state != PodState::Gone)
            .map(|(i, _)| i as u32)
            .collect();
        // Out of the router first, so that a retried request does not land on a pod about to die.
        for &p in &victims {
            self.router.remove(p);
        }
        let (mut failed, mut retried) = (0, 0);
        for &p in &victims {
            let (f, r) = self.kill_pod(p);
            failed += f;
            retried += r;
        }
        if let Some(c) = self.cluster.as_mut() {
            c.remove_node(self.now, node);
        }
        let record = &mut self.fault_events[fault as usize];
        record.pods_lost += victims.len() as u32;
        record.requests_failed += failed;
        record.retried += retried;
        self.reconcile();
    }
}
