//! The control side of the model: one-second metric samples (what the autoscaler will see,
//! after the scrape delay), the autoscaler's sync and the reconciliation of the pods to its
//! decision, the cluster autoscaler's scan, the service's state for timelines and snapshots,
//! and the bill.

use std::collections::BTreeMap;

use autoscale::{MetricSample, Observation, Placement, PodCounts, PoolView};
use scalebench_core::report::{BudgetReport, FaultEvent, TimelineSample};
use scalebench_core::run::{ColdStarts, PoolRun};

use crate::pods::PodPhase;
use crate::{Dropped, Host, Model, Request, Timer};

const SECOND: u64 = 1_000_000_000;
/// ns x USD/hour -> USD.
const NS_PER_HOUR: f64 = 3600.0 * 1e9;
/// Samples kept for the policies: more than any window a policy looks back over (10 min).
const KEEP_SAMPLES: usize = 1200;

/// What was paid, up to an instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bill {
    /// Per pool (or `replicas` under replica billing).
    pub pools: BTreeMap<String, PoolRun>,
    /// Pod capacity paid for, in pod x ns.
    pub paid_pod_ns: u128,
    /// Pod capacity busy serving, in pod x ns.
    pub busy_pod_ns: u128,
}

impl Bill {
    /// The total.
    pub fn usd(&self) -> f64 {
        self.pools.values().map(|p| p.usd).sum()
    }

    /// The share of the paid pod capacity that served no request.
    pub fn idle_fraction(&self) -> f64 {
        if self.paid_pod_ns == 0 {
            0.0
        } else {
            (1.0 - self.busy_pod_ns as f64 / self.paid_pod_ns as f64).clamp(0.0, 1.0)
        }
    }
}

/// The service's state at an instant, as an operator's dashboard shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceState {
    /// Replicas the policy asks for plus the warm pool.
    pub replicas_desired: u32,
    /// Pods ready to serve.
    pub ready: u32,
    /// Pods waiting for a node with room.
    pub pending: u32,
    /// Pods scheduled and starting their container.
    pub creating: u32,
    /// Pods running but not ready (loading the model).
    pub running: u32,
    /// Pods terminating.
    pub terminating: u32,
    /// Requests waiting in the queue.
    pub queue_depth: u32,
    /// Requests in service.
    pub in_flight: u32,
    /// Nodes per pool (provisioning or up); empty under replica billing.
    pub nodes: BTreeMap<String, u32>,
    /// GPUs held by pods bound to nodes (or existing, under replica billing).
    pub gpus_allocated: u32,
    /// Share (0-1) of the slots of the pods holding capacity that are busy now.
    pub utilization: f64,
    /// Requests in service x time so far, in slot-seconds.
    pub busy_slot_seconds: f64,
    /// Pods holding capacity x time so far, in pod-seconds.
    pub allocated_pod_seconds: f64,
    /// What was paid so far.
    pub bill: Bill,
    /// Replicas that loaded the model during the run (cold starts).
    pub cold_starts: u32,
    /// Seconds from the first spike or burst to the first replica created after it becoming
    /// ready, once one has.
    pub scale_up_reaction_s: Option<f64>,
    /// Every fault so far, with its effects.
    pub faults: Vec<FaultEvent>,
    /// The token model's batches now, when the service is an LLM: vLLM's gauges, summed (or
    /// averaged, for the cache) over the pods.
    pub llm: Option<LlmState>,
}

/// The token model's state over all pods: what vLLM exports per replica as
/// `vllm:num_requests_running`, `vllm:num_requests_waiting` and `vllm:kv_cache_usage_perc`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LlmState {
    /// Sequences in a batch, decoding.
    pub running: u32,
    /// Requests waiting to join a batch: holding a pod's slot, or in the service's queue.
    pub waiting: u32,
    /// KV-cache tokens reserved over the KV cache of the pods that are up (ready or
    /// terminating), 0-1; 0 with no such pod.
    pub kv_cache_usage: f64,
}

/// What the model contributes to a setup's Run at its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The bill, per pool.
    pub pools: BTreeMap<String, PoolRun>,
    /// Paid pod capacity with no request in service, over paid pod capacity.
    pub idle_fraction: f64,
    /// Most replicas ready at once.
    pub max_ready: u32,
    /// The replicas started during the run: the cold-start breakdown of each that became
    /// ready (their count is the model's cold-start count) and how many never did.
    pub cold_starts: ColdStarts,
    /// Seconds from the first transient to the first replica created after it becoming ready.
    pub scale_up_reaction_s: Option<f64>,
    /// What the policy's budget ceiling held back, for a policy with one.
    pub budget: Option<BudgetReport>,
    /// Faults and their effects.
    pub faults: Vec<FaultEvent>,
    /// Requests that found no free slot and waited in the queue.
    pub waited: u64,
}

impl<W: Request> Model<W> {
    fn policy_interval_ns(&self) -> u64 {
        ((self.policy.interval() * 1e9).round() as u64).max(1)
    }

    /// Sets the first of the model's periodic timers: the autoscaler's sync, the one-second
    /// metric sample and the cluster autoscaler's scan.
    pub fn start(&mut self, host: &mut impl Host<W>) {
        let first_tick = self.policy_interval_ns();
        if first_tick <= self.end {
            host.schedule(first_tick, Timer::PolicyTick);
        }
        if SECOND <= self.end {
            host.schedule(SECOND, Timer::Sample);
        }
        let scan = self.settings.scan_ns;
        if self.cluster.is_some() && scan <= self.end {
            host.schedule(scan, Timer::ClusterScan);
        }
    }

    /// Sets the next periodic timer `every` ns after now, if the scenario is still running.
    fn again(&mut self, every: u64, timer: Timer, host: &mut impl Host<W>) {
        let t = self.now + every;
        if t <= self.end {
            host.schedule(t, timer);
        }
    }

    /// The autoscaler's sync: it sees the samples older than the scrape delay.
    pub(super) fn policy_tick(&mut self, host: &mut impl Host<W>) {
        if self.now > self.end {
            return; // the run was interrupted before this was due
        }
        let delay = self.settings.scrape_delay_ns;
        let visible_s = self.now.saturating_sub(delay) as f64 / 1e9;
        let n = if self.now < delay {
            0
        } else {
            self.samples.partition_point(|s| s.t <= visible_s)
        };
        let pools = self.pool_views();
        let obs = Observation {
            now: self.now as f64 / 1e9,
            current: self.desired,
            pods: self.counts.for_policy(self.settings.warm_pool),
            samples: &self.samples[..n],
            pools: &pools,
        };
        let decision = self.policy.decide_placed(&obs);
        self.desired = decision.placement.total();
        self.placement = match decision.placement {
            Placement::Anywhere(_) => None,
            Placement::PerPool(mut per_pool) => {
                debug_assert_eq!(per_pool.len(), pools.len(), "one count per pool");
                per_pool.resize(pools.len(), 0);
                Some(per_pool)
            }
        };
        self.note_held_back(decision.held_back);
        self.reconcile(host);
        let every = self.policy_interval_ns();
        self.again(every, Timer::PolicyTick, host);
    }

    /// What the policy sees of each pool (one view under replica billing).
    fn pool_views(&self) -> Vec<PoolView> {
        let secs = |ns: u64| ns as f64 / 1e9;
        let mut views = match &self.cluster {
            Some(c) => c
                .pools
                .iter()
                .map(|p| PoolView {
                    last_disruption: p.disrupted_at.map(secs),
                    last_shortage: p.short_at.map(secs),
                    ..PoolView::default()
                })
                .collect(),
            None => vec![PoolView::default()],
        };
        if self.placement.is_none() {
            return views; // nothing is pinned
        }
        for &p in &self.live {
            let pod = &self.pods[p as usize];
            let Some(v) = pod.group.and_then(|g| views.get_mut(g as usize)) else {
                continue;
            };
            if self.on_cordoned_node(p) {
                v.noticed += 1;
                continue;
            }
            let c: &mut PodCounts = &mut v.pods;
            match pod.state {
                PodPhase::Pending => {
                    c.pending += 1;
                    v.unbound += 1;
                }
                PodPhase::ContainerCreating => c.pending += 1,
                PodPhase::Running => c.loading += 1,
                PodPhase::Ready => c.ready += 1,
                PodPhase::Terminating | PodPhase::Gone => {}
            }
        }
        views
    }

    /// Records what the policy's budget held back at this decision.
    fn note_held_back(&mut self, held_back: u32) {
        self.held_back = held_back;
        self.budget_limited.set(self.now, u64::from(held_back > 0));
        if held_back > 0 {
            self.first_held_back.get_or_insert(self.now);
            self.max_held_back = self.max_held_back.max(held_back);
        }
    }

    /// The cluster autoscaler's scan.
    pub(super) fn cluster_scan(&mut self, host: &mut impl Host<W>) {
        if self.now > self.end {
            return; // the run was interrupted before this was due
        }
        let unneeded = self.settings.unneeded_ns;
        let (pinned, anywhere) = self.unbound_by_group();
        if let Some(c) = self.cluster.as_mut() {
            for (node, up_at) in c.scan(self.now, &pinned, anywhere, unneeded) {
                host.schedule(up_at, Timer::NodeUp { node });
            }
        }
        let every = self.settings.scan_ns;
        self.again(every, Timer::ClusterScan, host);
    }

    /// Pods waiting for room: per pool for pinned pods, and those that may go anywhere.
    fn unbound_by_group(&self) -> (Vec<u32>, u32) {
        if self.placement.is_none() {
            return (Vec::new(), self.counts.pending);
        }
        let mut pinned = vec![0u32; self.cluster.as_ref().map_or(0, |c| c.pools.len())];
        let mut anywhere = 0;
        for &p in &self.unbound {
            let pod = &self.pods[p as usize];
            if pod.state != PodPhase::Pending {
                continue;
            }
            match pod.group.and_then(|g| pinned.get_mut(g as usize)) {
                Some(n) => *n += 1,
                None => anywhere += 1,
            }
        }
        (pinned, anywhere)
    }

    /// A one-second metrics sample; also lets the clients of requests queued past their timeout
    /// (or gone) give up.
    pub(super) fn sample(&mut self, host: &mut impl Host<W>) {
        if self.now > self.end {
            return; // the run was cut short before this was due
        }
        let now = self.now;
        let before = self.queue.len();
        let mut expired = Vec::new();
        if let Some(cutoff) = now.checked_sub(self.timeout_ns) {
            self.queue.expire(cutoff, |w| expired.push(w));
        }
        if W::MAY_LEAVE {
            self.queue.prune(|w| expired.push(w));
        }
        if self.queue.len() != before {
            self.waiting.set(now, self.queue.len() as u64);
        }
        for w in expired {
            host.drop_request(now, w, Dropped::Expired);
        }
        let (fi, wq, al) = (
            self.in_flight.integral(now),
            self.waiting.integral(now) + self.batch_waiting.integral(now),
            self.allocated.integral(now),
        );
        let dt = SECOND as f64;
        let in_flight = (fi - self.last_sample.0) as f64 / dt;
        let ready = self.counts.ready;
        let busy_pods = in_flight / self.concurrency as f64;
        let latency = host.latency_sample();
        let sample = MetricSample {
            t: now as f64 / 1e9,
            ready,
            in_flight,
            queue: (wq - self.last_sample.1) as f64 / dt,
            arrival_rps: self.sample_arrivals as f64,
            gpu_util_pct: if ready == 0 {
                0.0
            } else {
                (100.0 * busy_pods / ready as f64).min(100.0)
            },
            latency_p95_ms: latency.map(|(p95, _)| p95),
            latency_p99_ms: latency.map(|(_, p99)| p99),
        };
        self.sample_arrivals = 0;
        self.last_sample = (fi, wq, al);
        self.samples.push(sample);
        if self.samples.len() >= 2 * KEEP_SAMPLES {
            self.samples.drain(..KEEP_SAMPLES);
        }
        self.again(SECOND, Timer::Sample, host);
    }

    /// Ends the scenario early at `t` (the run was cut short): no periodic timer is set after it.
    pub fn stop(&mut self, t: u64) {
        self.now = t;
        self.end = t;
    }

    /// The service side of a timeline window ending now: the state at its end, with the GPU
    /// utilisation over the window (since the previous call), the faults that struck in it and
    /// the cost so far; and the bill.
    pub fn window_sample(&mut self, now: u64) -> (TimelineSample, Bill) {
        self.now = now;
        let (fi, al) = (self.in_flight.integral(now), self.allocated.integral(now));
        let busy = (fi - self.last_window.0) as f64 / self.concurrency as f64;
        let held = (al - self.last_window.1) as f64;
        self.last_window = (fi, al);
        let bill = self.bill(now);
        let sample = TimelineSample {
            replicas_desired: Some(self.desired + self.settings.warm_pool),
            replicas_ready: Some(self.counts.ready),
            pods_pending: Some(self.counts.pending + self.counts.creating),
            nodes: self.nodes_by_pool(),
            gpus_allocated: Some(self.allocated.get() as u32 * self.settings.gpus),
            gpu_util: Some(if held > 0.0 {
                (busy / held).min(1.0)
            } else {
                0.0
            }),
            queue_depth: Some(self.queue.len() as u32),
            cost_usd: Some(bill.usd()),
            faults: std::mem::take(&mut self.markers),
            budget_held_back: self.held_back,
            ..TimelineSample::default()
        };
        (sample, bill)
    }

    /// The markers (`pod-eviction@6m`) of the faults that struck since the last call (or the
    /// last [`Model::window_sample`]).
    pub fn take_markers(&mut self) -> Vec<String> {
        std::mem::take(&mut self.markers)
    }

    /// True when a request older than `age` ns (intended time) waits in the queue now.
    pub fn stuck(&self, now: u64, age: u64) -> bool {
        self.queue
            .oldest_intended()
            .is_some_and(|t| now.saturating_sub(t) > age)
    }

    /// Nodes per pool that exist now; empty under replica billing.
    fn nodes_by_pool(&self) -> BTreeMap<String, u32> {
        match &self.cluster {
            Some(c) => c.nodes_by_pool().map(|(n, k)| (n.to_string(), k)).collect(),
            None => BTreeMap::new(),
        }
    }

    /// The token model's batches now (None without a token model).
    pub fn llm_state(&self) -> Option<LlmState> {
        let m = self.llm?;
        let mut st = LlmState {
            waiting: self.queue.len() as u32,
            ..LlmState::default()
        };
        let (mut used, mut pods) = (0u64, 0u64);
        for p in &self.pods {
            if matches!(p.state, PodPhase::Ready | PodPhase::Terminating) {
                st.running += p.batch.running();
                st.waiting += p.batch.waiting();
                used += p.batch.kv_used();
                pods += 1;
            }
        }
        if pods > 0 {
            st.kv_cache_usage = (used as f64 / (pods * m.kv_cache_tokens) as f64).min(1.0);
        }
        Some(st)
    }

    /// The service's state now.
    pub fn state(&self, now: u64) -> ServiceState {
        let c = &self.counts;
        ServiceState {
            replicas_desired: self.desired + self.settings.warm_pool,
            ready: c.ready,
            pending: c.pending,
            creating: c.creating,
            running: c.running,
            terminating: c.terminating,
            queue_depth: self.queue.len() as u32,
            in_flight: self.in_flight.get() as u32,
            nodes: self.nodes_by_pool(),
            gpus_allocated: self.allocated.get() as u32 * self.settings.gpus,
            utilization: match self.allocated.get() {
                0 => 0.0,
                pods => {
                    let slots = pods as f64 * f64::from(self.concurrency);
                    (self.in_flight.get() as f64 / slots).clamp(0.0, 1.0)
                }
            },
            busy_slot_seconds: self.in_flight.integral(now) as f64 / 1e9,
            allocated_pod_seconds: self.allocated.integral(now) as f64 / 1e9,
            bill: self.bill(now),
            cold_starts: self.cold_starts,
            scale_up_reaction_s: self.scale_up_reaction.map(|ns| ns as f64 / 1e9),
            faults: self.fault_events.clone(),
            llm: self.llm_state(),
        }
    }

    /// The bill up to `t`.
    pub fn bill(&self, t: u64) -> Bill {
        let gpus = self.settings.gpus;
        let mut pools = BTreeMap::new();
        let paid_pod_ns = match &self.cluster {
            Some(c) => {
                for p in &c.pools {
                    let ns = p.nodes.integral(t);
                    pools.insert(
                        p.name.clone(),
                        PoolRun {
                            capacity_type: p.capacity_type.to_string(),
                            unit_seconds: ns as f64 / 1e9,
                            usd: ns as f64 * p.price_per_hour / NS_PER_HOUR,
                            gpu_seconds: ns as f64 * p.gpus_per_node as f64 / 1e9,
                            max_units: p.max_seen,
                        },
                    );
                }
                c.paid_pod_ns(t)
            }
            None => {
                let ns = self.replicas.integral(t);
                pools.insert(
                    "replicas".to_string(),
                    PoolRun {
                        capacity_type: "on-demand".to_string(),
                        unit_seconds: ns as f64 / 1e9,
                        usd: ns as f64 * self.settings.price_per_replica_hour / NS_PER_HOUR,
                        gpu_seconds: ns as f64 * gpus as f64 / 1e9,
                        max_units: self.max_ready,
                    },
                );
                ns
            }
        };
        Bill {
            pools,
            paid_pod_ns,
            busy_pod_ns: self.in_flight.integral(t) / self.concurrency as u128,
        }
    }

    /// What the model contributes to the Run, given the bill at the scenario's end (or at
    /// `end` when none is given).
    pub fn outcome(&self, end: u64, bill: Option<Bill>) -> Outcome {
        let bill = bill.unwrap_or_else(|| self.bill(end));
        let budget = self.settings.budget_per_hour.map(|ceiling| BudgetReport {
            ceiling_usd_per_hour: ceiling,
            limited_s: self.budget_limited.integral(end) as f64 / 1e9,
            first_limited_s: self.first_held_back.map(|ns| ns as f64 / 1e9),
            max_held_back: self.max_held_back,
        });
        Outcome {
            idle_fraction: bill.idle_fraction(),
            pools: bill.pools,
            max_ready: self.max_ready,
            cold_starts: self.cold_starts(),
            scale_up_reaction_s: self.scale_up_reaction.map(|ns| ns as f64 / 1e9),
            budget,
            faults: self.fault_events.clone(),
            waited: self.waited,
        }
    }
}
