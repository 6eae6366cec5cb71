//! Pods and their lifecycle, in the phases `kubectl get pods` shows: Pending (no node with room)
//! -> ContainerCreating (scheduled: image pull, container start) -> Running (not ready: the model
//! loads) -> Ready -> Terminating (graceful termination) -> Gone. Scaling down removes the pods
//! that have cost the least to make first, as a ReplicaSet does: pending before creating before
//! running before ready, newest first within each.
//!
//! Pods belong to a group: those of a policy that places its replicas are pinned to one pool
//! each (one ReplicaSet per pool); the others, and the warm pool, may go anywhere. Each group is
//! reconciled to its own count. A pinned group does not count its pods on nodes under an
//! interruption notice: the policy has already asked for their replacements, and they serve
//! until the node is reclaimed.

use crate::{Dropped, Host, Model, Request, Timer};

/// Where a pod is in its life: the phases (and, for Ready, the Ready condition) `kubectl get
/// pods` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    /// Pending, unschedulable: no node has room for it (the cluster autoscaler may add one).
    Pending,
    /// Scheduled to a node; pulling its image and starting its container.
    ContainerCreating,
    /// Running, not ready: loading the model until its readiness probe passes.
    Running,
    /// Running and ready: serving.
    Ready,
    /// Terminating: finishes what it serves, takes nothing new, killed at the grace period's end.
    Terminating,
    /// Deleted.
    Gone,
}

/// One concurrency slot of a pod.
#[derive(Debug, Clone)]
pub(crate) struct Slot<W> {
    /// The request in service, if any.
    pub(crate) req: Option<W>,
    /// Bumped at every use, so that events of an earlier use are recognised as stale.
    pub(crate) token: u32,
}

impl<W> Default for Slot<W> {
    fn default() -> Self {
        Slot {
            req: None,
            token: 0,
        }
    }
}

/// A replica.
#[derive(Debug, Clone)]
pub(crate) struct Pod<W> {
    pub(crate) state: PodPhase,
    pub(crate) node: Option<u32>,
    pub(crate) in_flight: u32,
    pub(crate) slots: Vec<Slot<W>>,
    pub(crate) free: Vec<u32>,
    /// When it was created (Pending), ns.
    pub(crate) created: u64,
    /// When it was bound to a node (ContainerCreating), ns.
    pub(crate) scheduled: Option<u64>,
    /// When its container started (Running, the model loads), ns.
    pub(crate) started: Option<u64>,
    /// When it became ready, ns.
    pub(crate) ready: Option<u64>,
    /// When it started terminating (or was deleted, if it went at once), ns.
    pub(crate) deleting: Option<u64>,
    /// It was created to start cold (through the phases), not ready at time zero: a cold
    /// start, counted in the breakdown once ready and as unfinished if it never is.
    pub(crate) cold: bool,
    /// The fault that evicted it, if one did.
    pub(crate) fault: Option<u32>,
    /// The pool it is pinned to, if any.
    pub(crate) group: Option<u16>,
    /// How fast it serves (its node's pool's speed).
    pub(crate) speed: f64,
    /// Its continuous batching, under the token model.
    pub(crate) batch: crate::batch::Batch,
}

/// Pods per phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PodCounts {
    pub(crate) pending: u32,
    pub(crate) creating: u32,
    pub(crate) running: u32,
    pub(crate) ready: u32,
    pub(crate) terminating: u32,
}

impl PodCounts {
    fn slot(&mut self, s: PodPhase) -> Option<&mut u32> {
        match s {
            PodPhase::Pending => Some(&mut self.pending),
            PodPhase::ContainerCreating => Some(&mut self.creating),
            PodPhase::Running => Some(&mut self.running),
            PodPhase::Ready => Some(&mut self.ready),
            PodPhase::Terminating => Some(&mut self.terminating),
            PodPhase::Gone => None,
        }
    }

    /// What a policy sees, with `warm` pods of the warm pool taken out (ready ones first).
    pub(crate) fn for_policy(&self, warm: u32) -> autoscale::PodCounts {
        let ready = self.ready.saturating_sub(warm);
        let rest = warm.saturating_sub(self.ready);
        let loading = self.running.saturating_sub(rest);
        let rest = rest.saturating_sub(self.running);
        autoscale::PodCounts {
            pending: (self.pending + self.creating).saturating_sub(rest),
            loading,
            ready,
            draining: self.terminating,
        }
    }
}

impl<W: Request> Model<W> {
    fn set_state(&mut self, p: u32, to: PodPhase) {
        let from = self.pods[p as usize].state;
        if let Some(c) = self.counts.slot(from) {
            *c -= 1;
        }
        if let Some(c) = self.counts.slot(to) {
            *c += 1;
        }
        self.pods[p as usize].state = to;
    }

    fn new_pod(&mut self, group: Option<u16>) -> u32 {
        let id = self.pods.len() as u32;
        let c = self.concurrency;
        self.pods.push(Pod {
            state: PodPhase::Gone,
            node: None,
            in_flight: 0,
            slots: (0..c).map(|_| Slot::default()).collect(),
            free: (0..c).rev().collect(),
            created: self.now,
            scheduled: None,
            started: None,
            ready: None,
            deleting: None,
            cold: false,
            fault: None,
            group,
            speed: 1.0,
            batch: Default::default(),
        });
        self.live.push(id);
        self.replicas.add(self.now, 1);
        id
    }

    /// A pod that is ready at time zero (the policy's initial replicas and the warm pool).
    pub(super) fn create_ready_pod(&mut self, group: Option<u16>, host: &mut impl Host<W>) {
        let node = match self.cluster.as_mut() {
            Some(c) => match c.bind(group.map(usize::from)) {
                Some(n) => Some(n),
                None => {
                    // The pools cannot hold the initial replicas: start it like any other pod.
                    return self.create_pod(group, host);
                }
            },
            None => None,
        };
        let p = self.new_pod(group);
        self.place_on(p, node);
        let pod = &mut self.pods[p as usize];
        (pod.scheduled, pod.started, pod.ready) = (Some(self.now), Some(self.now), Some(self.now));
        self.set_state(p, PodPhase::Ready);
        self.became_ready(p, host);
    }

    /// A new pod, which waits for room if there is none.
    pub(super) fn create_pod(&mut self, group: Option<u16>, host: &mut impl Host<W>) {
        let p = self.new_pod(group);
        self.pods[p as usize].cold = true;
        self.set_state(p, PodPhase::Pending);
        if self.cluster.is_none() {
            self.start_pod(p, None, host);
        } else {
            self.unbound.push_back(p);
            self.bind_waiting(host);
        }
    }

    /// Binds waiting pods, oldest first, while nodes have room for them (a pod pinned to a
    /// full pool does not hold up the others).
    pub(super) fn bind_waiting(&mut self, host: &mut impl Host<W>) {
        let Some(pools) = self.cluster.as_ref().map(|c| c.pools.len()) else {
            return;
        };
        // The groups found full; the last one is the pods that may go anywhere, and when they
        // find no room, no pod does.
        let mut full = vec![false; pools + 1];
        let mut i = 0;
        while i < self.unbound.len() && !full[pools] {
            let p = self.unbound[i];
            if self.pods[p as usize].state != PodPhase::Pending {
                self.unbound.remove(i);
                continue;
            }
            let group = self.pods[p as usize].group.map(usize::from);
            let slot = group.unwrap_or(pools);
            if full[slot] {
                i += 1;
                continue;
            }
            match self.cluster.as_mut().and_then(|c| c.bind(group)) {
                Some(node) => {
                    self.unbound.remove(i);
                    self.start_pod(p, Some(node), host);
                }
                None => {
                    full[slot] = true;
                    i += 1;
                }
            }
        }
    }

    /// Puts `p` on `node` (or nowhere, under replica billing): it holds capacity and serves at
    /// the node's speed.
    fn place_on(&mut self, p: u32, node: Option<u32>) {
        let speed = match (node, self.cluster.as_ref()) {
            (Some(n), Some(c)) => c.pools[c.pool_of(n)].speed,
            _ => 1.0,
        };
        let pod = &mut self.pods[p as usize];
        pod.node = node;
        pod.speed = speed;
        self.allocated.add(self.now, 1);
    }

    fn start_pod(&mut self, p: u32, node: Option<u32>, host: &mut impl Host<W>) {
        self.place_on(p, node);
        self.pods[p as usize].scheduled = Some(self.now);
        self.set_state(p, PodPhase::ContainerCreating);
        let d = self.phases.schedule.sample_secs(&mut self.rng)
            + self.phases.start.sample_secs(&mut self.rng);
        host.schedule(self.now + secs_to_ns(d), Timer::PodPhase { pod: p });
    }

    /// `p` finished its current phase.
    pub(super) fn phase_done(&mut self, p: u32, host: &mut impl Host<W>) {
        match self.pods[p as usize].state {
            PodPhase::ContainerCreating => {
                self.pods[p as usize].started = Some(self.now);
                self.set_state(p, PodPhase::Running);
                let d = self.phases.load.sample_secs(&mut self.rng);
                host.schedule(self.now + secs_to_ns(d), Timer::PodPhase { pod: p });
            }
            PodPhase::Running => {
                self.pods[p as usize].ready = Some(self.now);
                self.set_state(p, PodPhase::Ready);
                self.cold_starts += 1;
                if let Some(t0) = self.first_transient
                    && self.scale_up_reaction.is_none()
                    && self.pods[p as usize].created >= t0
                {
                    self.scale_up_reaction = Some(self.now - t0);
                }
                self.became_ready(p, host);
            }
            // Deleted while in the phase: the event is stale.
            _ => {}
        }
    }

    fn became_ready(&mut self, p: u32, host: &mut impl Host<W>) {
        self.max_ready = self.max_ready.max(self.counts.ready);
        self.router.insert(p, self.pods[p as usize].in_flight);
        self.serve_queue(p, host);
    }

    /// Deletes a pod: at once when it serves nothing, else it drains.
    pub(super) fn delete_pod(&mut self, p: u32, host: &mut impl Host<W>) {
        if let Some(i) = self.live.iter().rposition(|&x| x == p) {
            self.live.remove(i);
        }
        match self.pods[p as usize].state {
            PodPhase::Ready => {
                self.router.remove(p);
                self.pods[p as usize].deleting = Some(self.now);
                self.set_state(p, PodPhase::Terminating);
                if self.pods[p as usize].in_flight == 0 {
                    self.gone(p, host);
                } else {
                    host.schedule(self.now + self.phases.grace_ns, Timer::GraceEnd { pod: p });
                }
            }
            PodPhase::Pending | PodPhase::ContainerCreating | PodPhase::Running => {
                self.gone(p, host)
            }
            PodPhase::Terminating | PodPhase::Gone => {}
        }
    }

    /// The grace period of a draining pod ended: whatever it still serves fails.
    pub(super) fn grace_end(&mut self, p: u32, host: &mut impl Host<W>) {
        if self.pods[p as usize].state != PodPhase::Terminating {
            return;
        }
        let (failed, retried) = self.kill_pod(p, host);
        if let Some(f) = self.pods[p as usize].fault {
            let record = &mut self.fault_events[f as usize];
            *record.requests_failed.get_or_insert(0) += failed;
            *record.retried.get_or_insert(0) += retried;
        }
    }

    /// Kills a pod now: the requests it serves whose clients still wait fail, or are sent again
    /// when the setup retries them; the pod is gone. Returns (failed, retried).
    pub(super) fn kill_pod(&mut self, p: u32, host: &mut impl Host<W>) -> (u64, u64) {
        if self.pods[p as usize].state == PodPhase::Gone {
            return (0, 0);
        }
        if let Some(i) = self.live.iter().rposition(|&x| x == p) {
            self.live.remove(i);
        }
        self.router.remove(p);
        let pod = &mut self.pods[p as usize];
        let mut killed = Vec::new();
        for s in pod.slots.iter_mut() {
            if let Some(w) = s.req.take()
                && w.wanted()
            {
                killed.push(w);
            }
        }
        let n = pod.in_flight as u64;
        pod.in_flight = 0;
        self.in_flight.sub(self.now, n);
        self.gone(p, host);
        let count = killed.len() as u64;
        if self.settings.retry_killed {
            // Sent again with their intended time: the client sees one slower request.
            for w in killed {
                self.route(w, host);
            }
            (0, count)
        } else {
            for w in killed {
                host.drop_request(self.now, w, Dropped::Killed);
            }
            (count, 0)
        }
    }

    /// The pod is gone: its room on the node is free.
    pub(super) fn gone(&mut self, p: u32, host: &mut impl Host<W>) {
        let was = self.pods[p as usize].state;
        self.set_state(p, PodPhase::Gone);
        self.replicas.sub(self.now, 1);
        let pod = &mut self.pods[p as usize];
        // Terminating since then, or, when it goes at once, deleted now.
        pod.deleting = pod.deleting.or(Some(self.now));
        pod.slots = Vec::new();
        pod.free = Vec::new();
        let left = pod.batch.waiting();
        pod.batch = Default::default();
        if left > 0 {
            self.batch_waiting.sub(self.now, u64::from(left));
        }
        if was != PodPhase::Pending {
            self.allocated.sub(self.now, 1);
        }
        if let (Some(node), Some(c)) = (pod.node.take(), self.cluster.as_mut()) {
            c.release(self.now, node);
            self.bind_waiting(host);
        }
    }

    /// Creates or deletes pods so that the policy's replicas (per pool, when it places them)
    /// plus the warm pool exist.
    pub(super) fn reconcile(&mut self, host: &mut impl Host<W>) {
        match self.placement.take() {
            None => {
                let want = self.desired + self.settings.warm_pool;
                self.reconcile_group(None, want, host);
            }
            Some(per_pool) => {
                for (i, &want) in per_pool.iter().enumerate() {
                    self.reconcile_group(Some(i as u16), want, host);
                }
                self.reconcile_group(None, self.settings.warm_pool, host);
                self.placement = Some(per_pool);
            }
        }
    }

    fn reconcile_group(&mut self, group: Option<u16>, want: u32, host: &mut impl Host<W>) {
        let have = self
            .live
            .iter()
            .filter(|&&p| self.counts_in(p, group))
            .count() as u32;
        for _ in have..want {
            self.create_pod(group, host);
        }
        for _ in want..have {
            let Some(victim) = self.victim(group) else {
                break;
            };
            self.delete_pod(victim, host);
        }
    }

    /// True when the live pod `p` counts toward `group`'s replicas: it is in the group and, for
    /// a pinned group, not on a node under an interruption notice.
    pub(super) fn counts_in(&self, p: u32, group: Option<u16>) -> bool {
        let pod = &self.pods[p as usize];
        pod.group == group && (group.is_none() || !self.on_cordoned_node(p))
    }

    /// True when `p` sits on a cordoned node (under a notice).
    pub(super) fn on_cordoned_node(&self, p: u32) -> bool {
        match (self.pods[p as usize].node, self.cluster.as_ref()) {
            (Some(n), Some(c)) => c.is_cordoned(n),
            _ => false,
        }
    }

    /// The pod of `group` a scale-down removes first: not ready before ready, newest first
    /// among equals, as a ReplicaSet picks. In a pinned group, among ready pods, the one on the
    /// node with the fewest pods goes first, so that nodes empty out and the cluster
    /// autoscaler can remove them (a placing policy sets `pod-deletion-cost` to that end).
    fn victim(&self, group: Option<u16>) -> Option<u32> {
        let rank = |p: u32| {
            let pod = &self.pods[p as usize];
            match pod.state {
                PodPhase::Pending => (0, 0),
                PodPhase::ContainerCreating => (1, 0),
                PodPhase::Running => (2, 0),
                _ => {
                    let packed = match (group, pod.node, self.cluster.as_ref()) {
                        (Some(_), Some(n), Some(c)) => c.pods_on(n),
                        _ => 0,
                    };
                    (3, packed)
                }
            }
        };
        // Newest first among equals: scan from the back and keep the first of the lowest rank.
        let mut best: Option<(u32, (u32, u32))> = None;
        for &p in self.live.iter().rev() {
            if !self.counts_in(p, group) {
                continue;
            }
            let r = rank(p);
            if best.is_none_or(|(_, br)| r < br) {
                best = Some((p, r));
            }
        }
        best.map(|(p, _)| p)
    }
}

/// Seconds to whole nanoseconds (negative and NaN become 0).
#[inline]
pub fn secs_to_ns(s: f64) -> u64 {
    // Adding a half and truncating rounds as well as round() for positive values, at a fraction
    // of its cost: this runs for every request.
    if s > 0.0 { (s * 1e9 + 0.5) as u64 } else { 0 }
}
