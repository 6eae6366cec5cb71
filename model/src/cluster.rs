//! Node pools, nodes and the cluster autoscaler: where pods find room, how long new room takes,
//! and what the room costs.
//!
//! The cluster autoscaler follows Cluster Autoscaler's shape: every scan it adds nodes for the
//! pods that could not be scheduled (pools in order of preference, counting room on nodes that are
//! still provisioning, within each pool's `max_nodes`), and removes nodes that have been empty for
//! `scale_down_unneeded`, never below `min_nodes`. Pods are not moved off under-used nodes. A
//! node is paid from the moment it is requested until it is removed.
//!
//! A pod may be pinned to one pool (a node affinity, as a policy that places its replicas asks
//! for): it binds only to that pool's nodes, and the cluster autoscaler provisions for it only
//! there. When a pool cannot give a node that is needed (an outage, or `max_nodes` reached), the
//! scan records a shortage, which such a policy sees.

use rand_pcg::Pcg64Mcg;
use scalebench_core::dist::Sampler;
use scalebench_core::scenario::Pool;

use super::gauge::Gauge;
use crate::view::NodeView;

/// A pool's settings and its node count over time.
#[derive(Debug)]
pub(crate) struct PoolState {
    pub(crate) name: String,
    pub(crate) capacity_type: &'static str,
    /// Replicas that fit on one node.
    pub(crate) per_node: u32,
    pub(crate) gpus_per_node: u32,
    pub(crate) price_per_hour: f64,
    provision: Sampler,
    min_nodes: u32,
    max_nodes: u32,
    /// Nodes that exist (provisioning or up): the ones being paid for.
    pub(crate) nodes: Gauge,
    /// The pool cannot provision until then (an outage), in ns.
    pub(crate) out_until: u64,
    /// Random interruptions per node-second (0: none).
    pub(crate) interruptions_per_s: f64,
    /// Their notice, ns.
    pub(crate) notice_ns: u64,
    /// The most nodes at once.
    pub(crate) max_seen: u32,
    /// How fast replicas serve on its nodes, relative to the service model.
    pub(crate) speed: f64,
    /// When a node of it last got an interruption notice or was lost, ns.
    pub(crate) disrupted_at: Option<u64>,
    /// When a scan last needed a node here and could not get one, ns.
    pub(crate) short_at: Option<u64>,
}

/// One node.
#[derive(Debug, Clone)]
struct Node {
    pool: usize,
    up: bool,
    gone: bool,
    /// Cordoned (a spot notice): nothing new is bound to it.
    cordoned: bool,
    /// Cordoned by a client of the testbed's Kubernetes API (`kubectl cordon`, a `NoSchedule`
    /// taint): nothing new is bound to it either, but it is not about to go, so its pods count
    /// as usual and it can be uncordoned.
    unschedulable: bool,
    /// Pods bound to it.
    used: u32,
    /// Empty and up since.
    empty_since: Option<u64>,
    /// When it was requested (provisioning from then; 0 for the nodes up at the start), ns.
    created: u64,
    /// When it came up (joined and took pods), ns.
    up_at: Option<u64>,
}

/// The nodes of one setup's cluster.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) pools: Vec<PoolState>,
    nodes: Vec<Node>,
    rng: Pcg64Mcg,
}

impl Cluster {
    /// A cluster with each pool's `min_nodes` up, plus enough nodes for `pinned[p]` pods pinned
    /// to pool p and then (pools in order) for `anywhere` more pods to be bound at time zero.
    pub(crate) fn new(
        pools: &[Pool],
        gpus_per_replica: u32,
        pinned: &[u32],
        anywhere: u32,
        seed: u64,
    ) -> Self {
        let mut c = Cluster {
            pools: pools
                .iter()
                .map(|p| PoolState {
                    name: p.name.clone(),
                    capacity_type: p.capacity_type.as_str(),
                    per_node: p.replicas_per_node(gpus_per_replica).max(1),
                    gpus_per_node: p.gpus_per_node,
                    price_per_hour: p.price_per_hour,
                    provision: p.provision.sampler(),
                    min_nodes: p.min_nodes,
                    max_nodes: p.max_nodes,
                    nodes: Gauge::default(),
                    out_until: 0,
                    interruptions_per_s: p.interruption_rate / 3600.0,
                    notice_ns: p.interruption_notice.as_nanos(),
                    max_seen: 0,
                    speed: p.speed,
                    disrupted_at: None,
                    short_at: None,
                })
                .collect(),
            nodes: Vec::new(),
            rng: <Pcg64Mcg as rand::SeedableRng>::seed_from_u64(seed),
        };
        // Room left for pods that may go anywhere, after the pinned ones.
        let mut room = 0u64;
        for p in 0..c.pools.len() {
            let want = pinned.get(p).copied().unwrap_or(0) as u64;
            let mut pool_room = 0u64;
            for _ in 0..c.pools[p].min_nodes {
                c.add_node(0, p, true);
                pool_room += c.pools[p].per_node as u64;
            }
            while pool_room < want && (c.pools[p].nodes.get() as u32) < c.pools[p].max_nodes {
                c.add_node(0, p, true);
                pool_room += c.pools[p].per_node as u64;
            }
            room += pool_room.saturating_sub(want);
        }
        for p in 0..c.pools.len() {
            while room < anywhere as u64 && (c.pools[p].nodes.get() as u32) < c.pools[p].max_nodes {
                c.add_node(0, p, true);
                room += c.pools[p].per_node as u64;
            }
        }
        c
    }

    fn add_node(&mut self, now: u64, pool: usize, up: bool) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            pool,
            up,
            gone: false,
            cordoned: false,
            unschedulable: false,
            used: 0,
            empty_since: up.then_some(now),
            created: now,
            up_at: up.then_some(now),
        });
        let p = &mut self.pools[pool];
        p.nodes.add(now, 1);
        p.max_seen = p.max_seen.max(p.nodes.get() as u32);
        id
    }

    /// Binds a pod to the fullest up node with room (bin packing), earlier nodes first on
    /// ties; only to nodes of pool `pinned` when given.
    pub(crate) fn bind(&mut self, pinned: Option<usize>) -> Option<u32> {
        let mut best: Option<(u32, u32)> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.up
                || n.gone
                || n.cordoned
                || n.unschedulable
                || n.used >= self.pools[n.pool].per_node
            {
                continue;
            }
            if pinned.is_some_and(|p| p != n.pool) {
                continue;
            }
            if best.is_none_or(|(_, used)| n.used > used) {
                best = Some((i as u32, n.used));
            }
        }
        let (id, _) = best?;
        let n = &mut self.nodes[id as usize];
        n.used += 1;
        n.empty_since = None;
        Some(id)
    }

    /// A pod bound to `node` is gone.
    pub(crate) fn release(&mut self, now: u64, node: u32) {
        let n = &mut self.nodes[node as usize];
        if n.gone {
            return;
        }
        n.used = n.used.saturating_sub(1);
        if n.used == 0 {
            n.empty_since = Some(now);
        }
    }

    /// A provisioning node has joined and advertises its capacity.
    pub(crate) fn node_up(&mut self, now: u64, node: u32) {
        let n = &mut self.nodes[node as usize];
        if !n.gone {
            n.up = true;
            n.empty_since = Some(now);
            n.up_at = Some(now);
        }
    }

    /// One scan of the cluster autoscaler. `pinned[p]` pods pinned to pool p and `anywhere`
    /// other pods are waiting for room. Returns the nodes it started provisioning and when each
    /// will be up.
    pub(crate) fn scan(
        &mut self,
        now: u64,
        pinned: &[u32],
        anywhere: u32,
        unneeded: u64,
    ) -> Vec<(u32, u64)> {
        let mut started = Vec::new();
        // Room that is on its way counts against the need, as in Cluster Autoscaler's estimator:
        // first against the pods pinned to its pool, what is left against the others.
        let mut coming = vec![0u64; self.pools.len()];
        for n in self.nodes.iter().filter(|n| !n.up && !n.gone) {
            coming[n.pool] += self.pools[n.pool].per_node as u64;
        }
        let mut spare = 0u64;
        for (p, &on_way) in coming.iter().enumerate() {
            let want = pinned.get(p).copied().unwrap_or(0) as u64;
            let (_, extra) = self.provision(now, p, want.saturating_sub(on_way), &mut started);
            spare += on_way.saturating_sub(want) + extra;
        }
        let mut need = (anywhere as u64).saturating_sub(spare);
        for p in 0..self.pools.len() {
            if self.pools[p].out_until > now {
                if need > 0 {
                    self.pools[p].short_at = Some(now);
                }
                continue; // out of capacity: the next pool in the list is the fallback
            }
            need = self.provision(now, p, need, &mut started).0;
        }
        for n in self.nodes.iter_mut() {
            if n.gone || !n.up || n.used > 0 {
                continue;
            }
            let pool = &mut self.pools[n.pool];
            let idle_long = n
                .empty_since
                .is_some_and(|t| now.saturating_sub(t) >= unneeded);
            if idle_long && pool.nodes.get() as u32 > pool.min_nodes {
                n.gone = true;
                pool.nodes.sub(now, 1);
            }
        }
        started
    }

    /// Starts nodes in pool `p` for `need` pods, as far as the pool can; records a shortage when
    /// it cannot. Returns the pods still without room and the room started beyond the need.
    fn provision(
        &mut self,
        now: u64,
        p: usize,
        need: u64,
        started: &mut Vec<(u32, u64)>,
    ) -> (u64, u64) {
        if need == 0 {
            return (0, 0);
        }
        if self.pools[p].out_until > now {
            self.pools[p].short_at = Some(now);
            return (need, 0);
        }
        let mut room = 0u64;
        while room < need && (self.pools[p].nodes.get() as u32) < self.pools[p].max_nodes {
            let id = self.add_node(now, p, false);
            let delay = self.pools[p].provision.sample(&mut self.rng).as_nanos();
            started.push((id, now + delay));
            room += self.pools[p].per_node as u64;
        }
        if room < need {
            self.pools[p].short_at = Some(now);
        }
        (need.saturating_sub(room), room.saturating_sub(need))
    }

    /// Every node ever requested, gone ones included, in id order.
    pub(crate) fn views(&self) -> impl Iterator<Item = NodeView<'_>> {
        self.nodes.iter().enumerate().map(|(i, n)| {
            let pool = &self.pools[n.pool];
            NodeView {
                id: i as u32,
                pool: &pool.name,
                capacity_type: pool.capacity_type,
                gpus: pool.gpus_per_node,
                up: n.up,
                cordoned: n.cordoned,
                unschedulable: n.unschedulable,
                gone: n.gone,
                created_ns: n.created,
                up_ns: n.up_at,
            }
        })
    }

    /// The node's pool.
    pub(crate) fn pool_of(&self, node: u32) -> usize {
        self.nodes[node as usize].pool
    }

    /// Pods bound to the node.
    pub(crate) fn pods_on(&self, node: u32) -> u32 {
        self.nodes[node as usize].used
    }

    /// True when the node is cordoned (under an interruption notice, or being lost).
    pub(crate) fn is_cordoned(&self, node: u32) -> bool {
        self.nodes[node as usize].cordoned
    }

    /// Whether the node was removed; `None` when there is no such node.
    pub(crate) fn is_gone(&self, node: u32) -> Option<bool> {
        self.nodes.get(node as usize).map(|n| n.gone)
    }

    /// Cordons (`true`) or uncordons a node for a client: nothing new is bound to it while
    /// it is unschedulable. A node under a notice stays cordoned either way.
    pub(crate) fn set_unschedulable(&mut self, node: u32, on: bool) {
        self.nodes[node as usize].unschedulable = on;
    }

    /// The index of the pool named `name`.
    pub(crate) fn pool_index(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.name == name)
    }

    /// The nodes of `pool` that exist (cordoned ones only when asked), oldest first.
    pub(crate) fn nodes_of(&self, pool: usize, with_cordoned: bool) -> Vec<u32> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.pool == pool && !n.gone && (with_cordoned || !n.cordoned))
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Every node that exists, with its pool.
    pub(crate) fn all_nodes(&self) -> Vec<(u32, usize)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.gone)
            .map(|(i, n)| (i as u32, n.pool))
            .collect()
    }

    /// The node's pool, when it still exists and is not cordoned.
    pub(crate) fn serving_pool(&self, node: u32) -> Option<usize> {
        let n = &self.nodes[node as usize];
        (!n.gone && !n.cordoned).then_some(n.pool)
    }

    /// Cordons a node that is about to go (a notice, a loss): nothing new is bound to it, and
    /// its pool counts as disrupted from now.
    pub(crate) fn cordon(&mut self, now: u64, node: u32) {
        let n = &mut self.nodes[node as usize];
        n.cordoned = true;
        self.pools[n.pool].disrupted_at = Some(now);
    }

    /// The node is taken away (reclaimed or lost): it stops being paid for. Its pods must be
    /// gone already or be released by the caller.
    pub(crate) fn remove_node(&mut self, now: u64, node: u32) {
        let n = &mut self.nodes[node as usize];
        if !n.gone {
            n.gone = true;
            n.used = 0;
            self.pools[n.pool].nodes.sub(now, 1);
        }
    }

    /// Nodes per pool that exist now (provisioning or up).
    pub(crate) fn nodes_by_pool(&self) -> impl Iterator<Item = (&str, u32)> {
        self.pools
            .iter()
            .map(|p| (p.name.as_str(), p.nodes.get() as u32))
    }

    /// Pod capacity paid for up to `t`, in pod x ns.
    pub(crate) fn paid_pod_ns(&self, t: u64) -> u128 {
        self.pools
            .iter()
            .map(|p| p.nodes.integral(t) * p.per_node as u128)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalebench_core::Duration;
    use scalebench_core::dist::DurationDist;
    use scalebench_core::scenario::CapacityType;

    fn pool(name: &str, max: u32, min: u32) -> Pool {
        Pool {
            name: name.into(),
            capacity_type: CapacityType::OnDemand,
            gpu: None,
            gpus_per_node: 4,
            pods_per_node: None,
            price_per_hour: 4.0,
            provision: DurationDist::fixed(Duration::from_secs(120)),
            min_nodes: min,
            max_nodes: max,
            interruption_rate: 0.0,
            interruption_notice: Duration::from_secs(120),
            speed: 1.0,
        }
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn initial_nodes_hold_the_initial_pods() {
        let c = Cluster::new(&[pool("a", 2, 0), pool("b", 10, 1)], 1, &[], 10, 1);
        // b's min node (4 pods), then a fills up (2 nodes, 8 pods) before b gets a second.
        let counts: Vec<_> = c.nodes_by_pool().collect();
        assert_eq!(counts, vec![("a", 2), ("b", 1)]);
    }

    #[test]
    fn scan_provisions_for_unschedulable_pods_and_counts_coming_room() {
        let mut c = Cluster::new(&[pool("a", 3, 0)], 2, &[], 0, 1);
        let started = c.scan(10 * S, &[], 3, 600 * S);
        // 2 replicas per node: two nodes for three pods.
        assert_eq!(started, vec![(0, 130 * S), (1, 130 * S)]);
        assert!(
            c.scan(20 * S, &[], 3, 600 * S).is_empty(),
            "room on its way is counted"
        );
        assert_eq!(c.bind(None), None, "nothing is up yet");
        c.node_up(130 * S, 0);
        assert_eq!(c.bind(None), Some(0));
        assert_eq!(c.bind(None), Some(0));
        assert_eq!(c.bind(None), None);
        // The pool is capped at 3 nodes: the rest is a shortage.
        assert_eq!(c.pools[0].short_at, None);
        let more = c.scan(140 * S, &[], 10, 600 * S);
        assert_eq!(more.len(), 1);
        assert_eq!(c.pools[0].short_at, Some(140 * S));
    }

    #[test]
    fn empty_nodes_go_after_the_unneeded_time_but_not_below_min() {
        let mut c = Cluster::new(&[pool("a", 5, 1)], 1, &[], 8, 1);
        assert_eq!(c.pools[0].nodes.get(), 2);
        let n = c.bind(None).unwrap_or(u32::MAX);
        assert_eq!(n, 0);
        c.release(100 * S, n);
        c.scan(599 * S, &[], 0, 600 * S);
        assert_eq!(
            c.pools[0].nodes.get(),
            2,
            "node 1 has not been empty for 10 minutes yet"
        );
        c.scan(600 * S, &[], 0, 600 * S);
        assert_eq!(c.pools[0].nodes.get(), 1, "node 1 removed");
        c.scan(700 * S, &[], 0, 600 * S);
        assert_eq!(
            c.pools[0].nodes.get(),
            1,
            "node 0 is idle too, but min_nodes is kept"
        );
        // Paid: node 0 for 700 s and node 1 for 600 s, 4 pods each.
        assert_eq!(c.paid_pod_ns(700 * S), (700 + 600) * S as u128 * 4);
    }

    #[test]
    fn pinned_pods_bind_and_provision_only_in_their_pool() {
        // Pool a has room for 4 at the start; 2 are pinned to b, 3 may go anywhere.
        let mut c = Cluster::new(&[pool("a", 1, 1), pool("b", 2, 0)], 1, &[0, 2], 3, 1);
        assert_eq!(
            c.nodes_by_pool().collect::<Vec<_>>(),
            vec![("a", 1), ("b", 1)]
        );
        assert_eq!(c.bind(Some(1)), Some(1));
        assert_eq!(c.bind(Some(1)), Some(1));
        // Node a has room left, node b too, but pinned pods never take a's.
        for _ in 0..4 {
            assert_eq!(c.bind(Some(0)).map(|n| c.pool_of(n)), Some(0));
        }
        assert_eq!(c.bind(Some(0)), None, "a is full");
        assert_eq!(c.bind(None).map(|n| c.pool_of(n)), Some(1), "b has room");
        // Five pods pinned to a: a is at max_nodes, so that is a shortage; three pinned to b and
        // one that may go anywhere: b starts one node (4 pods), which also holds the other.
        let started = c.scan(10 * S, &[5, 3], 1, 600 * S);
        assert_eq!(started.len(), 1);
        assert_eq!(c.pool_of(started[0].0), 1);
        assert_eq!(c.pools[0].short_at, Some(10 * S));
        assert_eq!(c.pools[1].short_at, None);
        // An outage: the pool is short as soon as a pod needs it.
        c.pools[1].out_until = 100 * S;
        assert!(c.scan(20 * S, &[0, 9], 0, 600 * S).is_empty());
        assert_eq!(c.pools[1].short_at, Some(20 * S));
    }
}
