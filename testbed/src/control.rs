//! The periodic side of the testbed, in scenario time: one-second metric samples (what the
//! autoscaler sees after the scrape delay), the autoscaler's decisions every
//! [`Policy::interval`] with the ReplicaSet's reconciliation, the cluster autoscaler's scans,
//! and the timed transitions of pods and nodes. The control loop calls [`Model::advance`]
//! with the current scenario time a few times per scenario second.

use autoscale::{self, MetricSample, Observation, Placement, PodCounts, Policy, PoolView};
use workloads::{Plan, Setup};

use crate::model::{Model, Phase};

/// Samples kept for the policy: more than any window a policy looks back over (10 min).
const KEEP_SAMPLES: usize = 1200;

/// The autoscaler and the schedule of the periodic work.
pub(crate) struct Control {
    policy: Box<dyn Policy>,
    samples: Vec<MetricSample>,
    next_sample: f64,
    next_policy: f64,
    next_scan: f64,
    /// Integrals of in-flight and queued requests at the last sample, and its time.
    last: (f64, f64, f64),
}

impl Control {
    pub(crate) fn new(plan: &Plan, setup: &Setup) -> Control {
        let policy = autoscale::build(plan, setup);
        Control {
            next_policy: policy.interval().max(1e-3),
            next_scan: plan.scan_interval.as_secs_f64().max(1e-3),
            policy,
            samples: Vec::new(),
            next_sample: 1.0,
            last: (0.0, 0.0, 0.0),
        }
    }

    pub(crate) fn initial_placement(&self, replicas: u32) -> Option<Vec<u32>> {
        self.policy.initial_placement(replicas)
    }

    pub(crate) fn reads_latency(&self) -> bool {
        self.policy.reads_latency()
    }
}

impl Model {
    /// Brings the model up to scenario time `now`.
    pub(crate) fn advance(&mut self, now: f64) {
        if let Some(c) = self.cluster.as_mut() {
            if c.join_due(now, &mut self.rng) {
                self.bind_waiting(now);
            }
        }
        self.spot_events(now);
        self.step_phases(now);
        self.bind_waiting(now);
        self.prune_queue(now);
        self.dispatch(now);
        if self.ctl.next_sample <= now {
            // One sample per scenario second; when the loop fell behind, the seconds it
            // missed share the average over the whole span.
            let sample = self.sample(now);
            while self.ctl.next_sample <= now {
                let t = self.ctl.next_sample;
                self.ctl.samples.push(MetricSample { t, ..sample });
                self.ctl.next_sample = t + 1.0;
            }
            if self.ctl.samples.len() >= 2 * KEEP_SAMPLES {
                self.ctl.samples.drain(..KEEP_SAMPLES);
            }
        }
        if self.ctl.next_policy <= now {
            self.policy_tick(now);
            let every = self.ctl.policy.interval().max(1e-3);
            while self.ctl.next_policy <= now {
                self.ctl.next_policy += every;
            }
        }
        if self.ctl.next_scan <= now {
            self.scan(now);
            while self.ctl.next_scan <= now {
                self.ctl.next_scan += self.p.scan_interval;
            }
        }
    }

    /// The averages since the last sample, taken at `now` (its `t` is set by the caller).
    fn sample(&mut self, now: f64) -> MetricSample {
        let (fi, wq) = (
            self.in_flight.integral_at(now),
            self.queued.integral_at(now),
        );
        let span = (now - self.ctl.last.2).max(1e-9);
        let in_flight = ((fi - self.ctl.last.0) / span).max(0.0);
        let queue = ((wq - self.ctl.last.1) / span).max(0.0);
        self.ctl.last = (fi, wq, now);
        let ready = self.pod_counts().ready;
        let busy_pods = in_flight / f64::from(self.p.concurrency);
        let mut lat = std::mem::take(&mut self.stats.latencies);
        lat.sort_by(f64::total_cmp);
        let pct = |q: f64| -> Option<f64> {
            let i = ((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len().max(1)) - 1;
            lat.get(i).copied()
        };
        let sample = MetricSample {
            t: now,
            ready,
            in_flight,
            queue,
            arrival_rps: self.stats.arrivals as f64 / span,
            gpu_util_pct: if ready == 0 {
                0.0
            } else {
                (100.0 * busy_pods / f64::from(ready)).min(100.0)
            },
            latency_p95_ms: pct(0.95),
            latency_p99_ms: pct(0.99),
        };
        self.stats.arrivals = 0;
        sample
    }

    /// The autoscaler's decision, then the reconciliation of the replicas to it.
    fn policy_tick(&mut self, now: f64) {
        let visible = now - self.p.scrape_delay;
        let n = self.ctl.samples.partition_point(|s| s.t <= visible);
        let pools = self.pool_views();
        let obs = Observation {
            now,
            current: self.desired,
            pods: self.pods_for_policy(),
            samples: &self.ctl.samples[..n],
            pools: &pools,
        };
        let decision = self.ctl.policy.decide_placed(&obs);
        if decision.placement.total() != self.desired {
            tracing::debug!(
                now,
                from = self.desired,
                to = decision.placement.total(),
                "scale"
            );
        }
        self.desired = decision.placement.total();
        self.placement = match decision.placement {
            Placement::Anywhere(_) => None,
            Placement::PerPool(mut v) => {
                v.resize(pools.len(), 0);
                Some(v)
            }
        };
        self.reconcile(now);
    }

    /// Pods by state (draining ones apart), as the API server shows them.
    pub(crate) fn pod_counts(&self) -> PodCounts {
        let mut c = PodCounts::default();
        for r in self.replicas.values() {
            match r.phase {
                Phase::Pending | Phase::Starting => c.pending += 1,
                Phase::Loading => c.loading += 1,
                Phase::Ready => c.ready += 1,
                Phase::Draining => c.draining += 1,
            }
        }
        c
    }

    /// What the policy sees: the pods without the warm pool's share (ready ones first).
    fn pods_for_policy(&self) -> PodCounts {
        let c = self.pod_counts();
        let warm = self.p.warm;
        let ready = c.ready.saturating_sub(warm);
        let rest = warm.saturating_sub(c.ready);
        let loading = c.loading.saturating_sub(rest);
        let rest = rest.saturating_sub(c.loading);
        PodCounts {
            pending: c.pending.saturating_sub(rest),
            loading,
            ready,
            draining: c.draining,
        }
    }

    /// What the policy sees of each pool (one view under replica billing).
    fn pool_views(&self) -> Vec<PoolView> {
        let Some(c) = &self.cluster else {
            return vec![PoolView::default()];
        };
        let mut views: Vec<PoolView> = c
            .pools
            .iter()
            .map(|p| PoolView {
                last_disruption: p.disrupted_at,
                last_shortage: p.short_at,
                ..PoolView::default()
            })
            .collect();
        if self.placement.is_none() {
            return views;
        }
        for r in self.replicas.values() {
            let Some(v) = r.group.and_then(|g| views.get_mut(g)) else {
                continue;
            };
            if r.node.is_some_and(|n| c.is_cordoned(n)) {
                v.noticed += 1;
                continue;
            }
            match r.phase {
                Phase::Pending => {
                    v.pods.pending += 1;
                    v.unbound += 1;
                }
                Phase::Starting => v.pods.pending += 1,
                Phase::Loading => v.pods.loading += 1,
                Phase::Ready => v.pods.ready += 1,
                Phase::Draining => {}
            }
        }
        views
    }

    /// Creates or deletes replicas so that the policy's (per pool, when it places them) plus
    /// the warm pool exist.
    pub(crate) fn reconcile(&mut self, now: f64) {
        match self.placement.clone() {
            None => self.reconcile_group(None, self.desired + self.p.warm, now),
            Some(per_pool) => {
                for (g, &want) in per_pool.iter().enumerate() {
                    self.reconcile_group(Some(g), want, now);
                }
                self.reconcile_group(None, self.p.warm, now);
            }
        }
    }

    fn reconcile_group(&mut self, group: Option<usize>, want: u32, now: f64) {
        let have = self.members(group).len() as u32;
        for _ in have..want {
            self.create(group, now);
        }
        for _ in want..have {
            let Some(victim) = self.victim(group) else {
                break;
            };
            self.delete(victim, now);
        }
    }

    /// The live (not draining) replicas that count toward `group`: for a pinned group, not
    /// those on nodes under a notice.
    fn members(&self, group: Option<usize>) -> Vec<u64> {
        let cordoned = |n: Option<usize>| {
            n.zip(self.cluster.as_ref())
                .is_some_and(|(n, c)| c.is_cordoned(n))
        };
        self.replicas
            .iter()
            .filter(|(_, r)| r.phase != Phase::Draining && r.group == group)
            .filter(|(_, r)| group.is_none() || !cordoned(r.node))
            .map(|(&id, _)| id)
            .collect()
    }

    /// The replica a scale-down removes first: pending, starting, loading, then ready; the
    /// newest first among equals, as a ReplicaSet picks.
    fn victim(&self, group: Option<usize>) -> Option<u64> {
        let rank = |id: &u64| match self.replicas.get(id).map(|r| r.phase) {
            Some(Phase::Pending) => 0,
            Some(Phase::Starting) => 1,
            Some(Phase::Loading) => 2,
            _ => 3,
        };
        let members = self.members(group);
        members.iter().rev().min_by_key(|id| rank(id)).copied()
    }

    /// The cluster autoscaler's scan: nodes for the pending replicas, idle nodes removed.
    fn scan(&mut self, now: f64) {
        let Some(pools) = self.cluster.as_ref().map(|c| c.pools.len()) else {
            return;
        };
        let mut pinned = vec![0u32; pools];
        let mut anywhere = 0;
        for r in self.replicas.values().filter(|r| r.phase == Phase::Pending) {
            match r.group.and_then(|g| pinned.get_mut(g)) {
                Some(n) => *n += 1,
                None => anywhere += 1,
            }
        }
        let unneeded = self.p.unneeded;
        if let Some(c) = self.cluster.as_mut() {
            c.scan(now, &pinned, anywhere, unneeded, &mut self.rng);
        }
        self.bind_waiting(now);
    }
}
