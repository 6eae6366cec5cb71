//! Node pools, nodes and the cluster autoscaler of the testbed: where replicas find room, how
//! long new room takes, and what it costs. Same rules as the simulator's cluster (scenario
//! time in seconds instead of virtual nanoseconds): each scan adds nodes for waiting pods in the
//! pools in order of preference (counting room still provisioning, within `max_nodes`, skipping
//! pools in an outage), and removes nodes empty for `scale_down_unneeded`, never below
//! `min_nodes`. A node is paid from its request until its removal.

use std::collections::BTreeMap;

use rand::RngExt;
use rand_pcg::Pcg64Mcg;
use workloads::dist::Sampler;
use workloads::scenario::Pool;

/// A pool's settings and state.
#[derive(Debug)]
pub(crate) struct PoolState {
    pub(crate) name: String,
    pub(crate) spot: bool,
    /// Replicas that fit on one node.
    pub(crate) per_node: u32,
    price_per_hour: f64,
    provision: Sampler,
    min_nodes: u32,
    max_nodes: u32,
    /// Random interruptions per node-second (0: none) and their notice.
    interruptions_per_s: f64,
    pub(crate) notice_s: f64,
    pub(crate) speed: f64,
    /// No provisioning until then (an outage).
    pub(crate) out_until: f64,
    pub(crate) disrupted_at: Option<f64>,
    pub(crate) short_at: Option<f64>,
    /// Cost of its removed nodes.
    closed_usd: f64,
    /// Pod capacity its removed nodes were paid for, in pod-seconds.
    closed_pod_s: f64,
}

/// One node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) pool: usize,
    requested: f64,
    /// When it joins (if not up yet).
    up_at: f64,
    pub(crate) up: bool,
    pub(crate) cordoned: bool,
    /// Reclaimed then (a spot notice), with the fault record to charge.
    pub(crate) reclaim: Option<(f64, usize)>,
    /// A random interruption's notice comes then.
    pub(crate) interrupt_at: Option<f64>,
    /// Its random interruption was drawn (when it joined).
    armed: bool,
    used: u32,
    empty_since: Option<f64>,
}

/// The nodes of the testbed's cluster.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) pools: Vec<PoolState>,
    pub(crate) nodes: BTreeMap<usize, Node>,
    next: usize,
}

impl Cluster {
    /// The pools with their `min_nodes` up, plus up nodes for `pinned[p]` pods on pool p and
    /// `anywhere` more pods (pools in order) at time zero.
    pub(crate) fn new(pools: &[Pool], gpus: u32, pinned: &[u32], anywhere: u32) -> Cluster {
        let mut c = Cluster {
            pools: pools
                .iter()
                .map(|p| PoolState {
                    name: p.name.clone(),
                    spot: p.capacity_type == workloads::scenario::CapacityType::Spot,
                    per_node: p.replicas_per_node(gpus).max(1),
                    price_per_hour: p.price_per_hour,
                    provision: p.provision.sampler(),
                    min_nodes: p.min_nodes,
                    max_nodes: p.max_nodes,
                    interruptions_per_s: p.interruption_rate / 3600.0,
                    notice_s: p.interruption_notice.as_secs_f64(),
                    speed: p.speed,
                    out_until: f64::NEG_INFINITY,
                    disrupted_at: None,
                    short_at: None,
                    closed_usd: 0.0,
                    closed_pod_s: 0.0,
                })
                .collect(),
            nodes: BTreeMap::new(),
            next: 0,
        };
        let mut room = 0u64;
        for p in 0..c.pools.len() {
            let want = u64::from(pinned.get(p).copied().unwrap_or(0));
            let per = u64::from(c.pools[p].per_node);
            let mut pool_room = 0u64;
            while c.count(p) < c.pools[p].min_nodes
                || (pool_room < want && c.count(p) < c.pools[p].max_nodes)
            {
                c.add_node(0.0, p, 0.0);
                pool_room += per;
            }
            room += pool_room.saturating_sub(want);
        }
        for p in 0..c.pools.len() {
            while room < u64::from(anywhere) && c.count(p) < c.pools[p].max_nodes {
                c.add_node(0.0, p, 0.0);
                room += u64::from(c.pools[p].per_node);
            }
        }
        c
    }

    /// Nodes of pool `p` that exist (provisioning or up).
    pub(crate) fn count(&self, p: usize) -> u32 {
        self.nodes.values().filter(|n| n.pool == p).count() as u32
    }

    fn add_node(&mut self, now: f64, pool: usize, delay: f64) -> usize {
        let id = self.next;
        self.next += 1;
        self.nodes.insert(
            id,
            Node {
                pool,
                requested: now,
                up_at: now + delay,
                up: delay <= 0.0,
                cordoned: false,
                reclaim: None,
                interrupt_at: None,
                armed: false,
                used: 0,
                empty_since: Some(now + delay),
            },
        );
        id
    }

    /// Binds a pod to the fullest up node with room (only pool `pinned`'s when given).
    pub(crate) fn bind(&mut self, pinned: Option<usize>) -> Option<usize> {
        let mut best: Option<(usize, u32)> = None;
        for (&id, n) in &self.nodes {
            let full = n.used >= self.pools[n.pool].per_node;
            if !n.up || n.cordoned || full || pinned.is_some_and(|p| p != n.pool) {
                continue;
            }
            if best.is_none_or(|(_, used)| n.used > used) {
                best = Some((id, n.used));
            }
        }
        let (id, _) = best?;
        let n = self.nodes.get_mut(&id)?;
        n.used += 1;
        n.empty_since = None;
        Some(id)
    }

    /// A pod bound to `node` is gone.
    pub(crate) fn release(&mut self, now: f64, node: usize) {
        if let Some(n) = self.nodes.get_mut(&node) {
            n.used = n.used.saturating_sub(1);
            if n.used == 0 {
                n.empty_since = Some(now);
            }
        }
    }

    /// Nodes whose provisioning finished by `now` join; each node (those up from the start
    /// too) of a pool with an interruption rate draws when its random notice comes. True when
    /// any joined.
    pub(crate) fn join_due(&mut self, now: f64, rng: &mut Pcg64Mcg) -> bool {
        let mut joined = false;
        for n in self
            .nodes
            .values_mut()
            .filter(|n| !n.armed && n.up_at <= now)
        {
            n.armed = true;
            if !n.up {
                n.up = true;
                n.empty_since = Some(now);
                joined = true;
            }
            let rate = self.pools[n.pool].interruptions_per_s;
            if rate > 0.0 {
                let u: f64 = rng.random();
                n.interrupt_at = Some(now - (1.0 - u).ln() / rate);
            }
        }
        joined
    }

    /// One scan: nodes for waiting pods (`pinned[p]` pinned to pool p, `anywhere` others) and
    /// removal of nodes empty for `unneeded` seconds.
    pub(crate) fn scan(
        &mut self,
        now: f64,
        pinned: &[u32],
        anywhere: u32,
        unneeded: f64,
        rng: &mut Pcg64Mcg,
    ) {
        let mut coming = vec![0u64; self.pools.len()];
        for n in self.nodes.values().filter(|n| !n.up) {
            coming[n.pool] += u64::from(self.pools[n.pool].per_node);
        }
        let mut spare = 0u64;
        for (p, &on_way) in coming.iter().enumerate() {
            let want = u64::from(pinned.get(p).copied().unwrap_or(0));
            let (_, extra) = self.provision(now, p, want.saturating_sub(on_way), rng);
            spare += on_way.saturating_sub(want) + extra;
        }
        let mut need = u64::from(anywhere).saturating_sub(spare);
        for p in 0..self.pools.len() {
            need = self.provision(now, p, need, rng).0;
        }
        let idle: Vec<usize> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.up && n.used == 0 && !n.cordoned)
            .filter(|(_, n)| n.empty_since.is_some_and(|t| now - t >= unneeded))
            .map(|(&id, _)| id)
            .collect();
        for id in idle {
            let Some(p) = self.nodes.get(&id).map(|n| n.pool) else {
                continue;
            };
            if self.count(p) > self.pools[p].min_nodes {
                self.remove_node(now, id);
            }
        }
    }

    /// Starts nodes in pool `p` for `need` pods as far as it can; records a shortage when it
    /// cannot. Returns the pods still without room and the room started beyond the need.
    fn provision(&mut self, now: f64, p: usize, need: u64, rng: &mut Pcg64Mcg) -> (u64, u64) {
        if need == 0 {
            return (0, 0);
        }
        if self.pools[p].out_until > now {
            self.pools[p].short_at = Some(now);
            return (need, 0);
        }
        let per = u64::from(self.pools[p].per_node);
        let mut room = 0u64;
        while room < need && self.count(p) < self.pools[p].max_nodes {
            let delay = self.pools[p].provision.sample_secs(rng);
            self.add_node(now, p, delay);
            room += per;
        }
        if room < need {
            self.pools[p].short_at = Some(now);
        }
        (need.saturating_sub(room), room.saturating_sub(need))
    }

    /// Cordons a node about to go (a notice, a loss): nothing new binds to it.
    pub(crate) fn cordon(&mut self, now: f64, node: usize) {
        if let Some(n) = self.nodes.get_mut(&node) {
            n.cordoned = true;
            self.pools[n.pool].disrupted_at = Some(now);
        }
    }

    /// The node is taken away: it stops being paid for.
    pub(crate) fn remove_node(&mut self, now: f64, node: usize) {
        if let Some(n) = self.nodes.remove(&node) {
            let pool = &mut self.pools[n.pool];
            pool.closed_usd += (now - n.requested).max(0.0) * pool.price_per_hour / 3600.0;
            pool.closed_pod_s += (now - n.requested).max(0.0) * f64::from(pool.per_node);
        }
    }

    /// The index of the pool named `name`.
    pub(crate) fn pool_index(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.name == name)
    }

    /// The nodes of pool `p`, oldest first (cordoned ones only when asked).
    pub(crate) fn nodes_of(&self, p: usize, with_cordoned: bool) -> Vec<usize> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.pool == p && (with_cordoned || !n.cordoned))
            .map(|(&id, _)| id)
            .collect()
    }

    /// True when the node is cordoned.
    pub(crate) fn is_cordoned(&self, node: usize) -> bool {
        self.nodes.get(&node).is_some_and(|n| n.cordoned)
    }

    /// The node's pool's speed (1 for a node that is gone).
    pub(crate) fn speed_of(&self, node: usize) -> f64 {
        self.nodes
            .get(&node)
            .map_or(1.0, |n| self.pools[n.pool].speed)
    }

    /// Nodes per pool.
    pub(crate) fn nodes_by_pool(&self) -> BTreeMap<String, u32> {
        (0..self.pools.len())
            .map(|p| (self.pools[p].name.clone(), self.count(p)))
            .collect()
    }

    /// Pod capacity paid for up to `now` (nodes x pods per node, over time), in pod-seconds:
    /// what the simulator's idle share is a share of.
    pub(crate) fn paid_pod_seconds(&self, now: f64) -> f64 {
        let live: f64 = self
            .nodes
            .values()
            .map(|n| (now - n.requested).max(0.0) * f64::from(self.pools[n.pool].per_node))
            .sum();
        live + self.pools.iter().map(|p| p.closed_pod_s).sum::<f64>()
    }

    /// Everything paid up to `now`, in USD.
    pub(crate) fn cost(&self, now: f64) -> f64 {
        let live: f64 = self
            .nodes
            .values()
            .map(|n| (now - n.requested).max(0.0) * self.pools[n.pool].price_per_hour / 3600.0)
            .sum();
        live + self.pools.iter().map(|p| p.closed_usd).sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use workloads::Duration;
    use workloads::dist::DurationDist;
    use workloads::scenario::CapacityType;

    fn pool(name: &str, max: u32, min: u32) -> Pool {
        Pool {
            name: name.into(),
            capacity_type: CapacityType::OnDemand,
            gpu: None,
            gpus_per_node: 4,
            pods_per_node: None,
            price_per_hour: 3.6,
            provision: DurationDist::fixed(Duration::from_secs(120)),
            min_nodes: min,
            max_nodes: max,
            interruption_rate: 0.0,
            interruption_notice: Duration::from_secs(120),
            speed: 1.0,
        }
    }

    #[test]
    fn scan_provisions_in_order_skips_outages_and_removes_idle_nodes() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut c = Cluster::new(&[pool("a", 1, 0), pool("b", 5, 0)], 1, &[], 3);
        assert_eq!(c.count(0), 1, "three initial pods fit on one node of a");
        for _ in 0..3 {
            assert_eq!(c.bind(None), Some(0));
        }
        c.pools[0].out_until = 100.0;
        c.scan(10.0, &[], 5, 600.0, &mut rng);
        assert_eq!((c.count(0), c.count(1)), (1, 2), "a is out: b provisions");
        assert_eq!(c.pools[0].short_at, Some(10.0), "the outage is a shortage");
        assert_eq!(c.bind(Some(1)), None, "b's nodes are not up yet");
        assert!(c.join_due(130.0, &mut rng));
        assert!(c.bind(Some(1)).is_some());
        // One node of b is idle for 600 s and goes; the other holds a pod, a's holds three.
        c.scan(730.0, &[], 0, 600.0, &mut rng);
        assert_eq!((c.count(0), c.count(1)), (1, 1));
        // a: 1000 s; b: 720 s (removed) + 990 s; at 3.6 USD per node-hour.
        assert!((c.cost(1000.0) - 2.71).abs() < 1e-9, "{}", c.cost(1000.0));
    }
}
