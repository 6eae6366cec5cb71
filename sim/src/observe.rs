//! The periodic side of the simulation: metric samples (what the autoscaler will see, after the
//! scrape delay), the autoscaler's sync, the cluster autoscaler's scan, timeline windows and the
//! bill.

use std::collections::BTreeMap;

use workloads::policy::PolicyConfig;

use autoscale::{MetricSample, Observation, Placement, PodCounts, PoolView};
use harness::report::{BudgetReport, TimelineSample};
use harness::run::{LatencyHist, PoolRun, SetupRun};

use super::Sim;
use super::events::Event;
use super::pods::PodState;

const SECOND: u64 = 1_000_000_000;
/// ns x USD/hour -> USD.
const NS_PER_HOUR: f64 = 3600.0 * 1e9;
/// Samples kept for the policies: more than any window a policy looks back over (10 min).
const KEEP_SAMPLES: usize = 1200;

/// What was paid, up to an instant.
#[derive(Debug, Clone)]
pub(super) struct Bill {
    pools: BTreeMap<String, PoolRun>,
    /// Pod capacity paid for, in pod x ns.
    paid_pod_ns: u128,
    /// Pod capacity busy serving, in pod x ns.
    busy_pod_ns: u128,
}

impl Bill {
    fn usd(&self) -> f64 {
        self.pools.values().map(|p| p.usd).sum()
    }
}

impl Sim<'_> {
    fn policy_interval_ns(&self) -> u64 {
        ((self.policy.interval() * 1e9).round() as u64).max(1)
    }

    /// Schedules the first of every periodic event.
    pub(super) fn schedule_periodic(&mut self) {
        let first_tick = self.policy_interval_ns();
        if first_tick <= self.end {
            self.agenda.push(first_tick, Event::PolicyTick);
        }
        if SECOND <= self.end {
            self.agenda.push(SECOND, Event::Sample);
        }
        let scan = self.plan.scan_interval.as_nanos().max(1);
        if self.cluster.is_some() && scan <= self.end {
            self.agenda.push(scan, Event::ClusterScan);
        }
        let w = self.plan.window.as_nanos().max(1);
        self.agenda.push(w.min(self.end), Event::Window);
    }

    /// Schedules the next periodic event `every` ns after now, if the scenario is still running.
    fn again(&mut self, every: u64, ev: Event) {
        let t = self.now + every;
        if t <= self.end {
            self.agenda.push(t, ev);
        }
    }

    /// The autoscaler's sync: it sees the samples older than the scrape delay.
    pub(super) fn policy_tick(&mut self) {
        if self.now > self.end {
            return; // the run was interrupted before this was due
        }
        let visible_s = self.now.saturating_sub(self.setup.scrape_delay.as_nanos()) as f64 / 1e9;
        let n = if self.now < self.setup.scrape_delay.as_nanos() {
            0
        } else {
            self.samples.partition_point(|s| s.t <= visible_s)
        };
        let pools = self.pool_views();
        let obs = Observation {
            now: self.now as f64 / 1e9,
            current: self.desired,
            pods: self.counts.for_policy(self.setup.warm_pool),
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
        self.reconcile();
        let every = self.policy_interval_ns();
        self.again(every, Event::PolicyTick);
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
                PodState::Unbound => {
                    c.pending += 1;
                    v.unbound += 1;
                }
                PodState::Starting => c.pending += 1,
                PodState::Loading => c.loading += 1,
                PodState::Ready => c.ready += 1,
                PodState::Draining | PodState::Gone => {}
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
    pub(super) fn cluster_scan(&mut self) {
        if self.now > self.end {
            return; // the run was interrupted before this was due
        }
        let unneeded = self.plan.scale_down_unneeded.as_nanos();
        let (pinned, anywhere) = self.unbound_by_group();
        if let Some(c) = self.cluster.as_mut() {
            for (node, up_at) in c.scan(self.now, &pinned, anywhere, unneeded) {
                self.agenda.push(up_at, Event::NodeUp { node });
            }
        }
        let every = self.plan.scan_interval.as_nanos().max(1);
        self.again(every, Event::ClusterScan);
    }

    /// Pods waiting for room: per pool for pinned pods, and those that may go anywhere.
    fn unbound_by_group(&self) -> (Vec<u32>, u32) {
        if self.placement.is_none() {
            return (Vec::new(), self.counts.unbound);
        }
        let mut pinned = vec![0u32; self.cluster.as_ref().map_or(0, |c| c.pools.len())];
        let mut anywhere = 0;
        for &p in &self.unbound {
            let pod = &self.pods[p as usize];
            if pod.state != PodState::Unbound {
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
    /// give up.
    pub(super) fn sample(&mut self) {
        if self.now > self.end {
            return; // the run was interrupted before this was due
        }
        let now = self.now;
        let mut expired = Vec::new();
        if let Some(cutoff) = now.checked_sub(self.timeout_ns) {
            self.queue.expire(cutoff, |w| expired.push(w.class));
        }
        if !expired.is_empty() {
            self.waiting.set(now, self.queue.len() as u64);
            for class in expired {
                self.rec.timed_out(class);
            }
        }
        let (fi, wq, al) = (
            self.in_flight.integral(now),
            self.waiting.integral(now),
            self.allocated.integral(now),
        );
        let dt = SECOND as f64;
        let in_flight = (fi - self.last_sample.0) as f64 / dt;
        let ready = self.counts.ready;
        let busy_pods = in_flight / self.concurrency as f64;
        let latency = self.rec.take_sample_latency();
        let sample = MetricSample {
            t: now as f64 / 1e9,
            ready,
            in_flight,
            queue: (wq - self.last_sample.1) as f64 / dt,
            arrival_rps: self.rec.sample_arrivals as f64,
            gpu_util_pct: if ready == 0 {
                0.0
            } else {
                (100.0 * busy_pods / ready as f64).min(100.0)
            },
            latency_p95_ms: latency.map(|(p95, _)| p95),
            latency_p99_ms: latency.map(|(_, p99)| p99),
        };
        self.rec.sample_arrivals = 0;
        self.last_sample = (fi, wq, al);
        self.samples.push(sample);
        if self.samples.len() >= 2 * KEEP_SAMPLES {
            self.samples.drain(..KEEP_SAMPLES);
        }
        self.again(SECOND, Event::Sample);
    }

    /// Ends the scenario early at `t` (the run was interrupted): the open window closes there,
    /// and no periodic event is scheduled after it.
    pub(super) fn stop_at(&mut self, t: u64) {
        if t >= self.end {
            return;
        }
        self.advance_to(t);
        self.now = t;
        self.end = t;
        self.interrupted = true;
        self.close_window();
    }

    /// Closes a timeline window.
    pub(super) fn close_window(&mut self) {
        let now = self.now;
        if self.window_start >= self.end {
            // Already closed when the run was interrupted.
            return;
        }
        let (fi, al) = (self.in_flight.integral(now), self.allocated.integral(now));
        let busy = (fi - self.last_window.0) as f64 / self.concurrency as f64;
        let held = (al - self.last_window.1) as f64;
        self.last_window = (fi, al);
        let bill = self.bill_at(now);
        let nodes = match &self.cluster {
            Some(c) => c.nodes_by_pool().map(|(n, k)| (n.to_string(), k)).collect(),
            None => BTreeMap::new(),
        };
        let sample = TimelineSample {
            replicas_desired: self.desired + self.setup.warm_pool,
            replicas_ready: self.counts.ready,
            pods_pending: self.counts.unbound + self.counts.starting,
            nodes,
            gpus_allocated: self.allocated.get() as u32 * self.plan.service.gpus,
            gpu_util: if held > 0.0 {
                (busy / held).min(1.0)
            } else {
                0.0
            },
            queue_depth: self.queue.len() as u32,
            cost_usd: bill.usd(),
            faults: std::mem::take(&mut self.window_faults),
            budget_held_back: self.held_back,
            ..TimelineSample::default()
        };
        let stuck = self
            .queue
            .oldest_intended()
            .is_some_and(|t| now.saturating_sub(t) > self.slo_ns);
        self.rec.close_window(self.window_start, now, sample, stuck);
        self.window_start = now;
        if now >= self.end {
            self.bill = Some(bill);
        } else {
            let next = (now + self.plan.window.as_nanos().max(1)).min(self.end);
            self.agenda.push(next, Event::Window);
        }
    }

    /// The bill up to `t`.
    fn bill_at(&self, t: u64) -> Bill {
        let gpus = self.plan.service.gpus;
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
                        usd: ns as f64 * self.setup.price_per_replica_hour / NS_PER_HOUR,
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

    /// The Run, once every request is resolved.
    pub(super) fn finish(mut self) -> SetupRun {
        // Latencies recorded after the last window (requests outstanding at the end).
        self.rec.flush();
        let bill = self.bill.clone().unwrap_or_else(|| self.bill_at(self.end));
        let mut latency = LatencyHist::new(self.timeout_ns / 1000 + 1);
        for c in &self.rec.classes {
            latency.merge(&c.latency);
        }
        let budget = match &self.setup.policy {
            PolicyConfig::CostAware(c) => c.budget_per_hour.map(|ceiling| BudgetReport {
                ceiling_usd_per_hour: ceiling,
                limited_s: self.budget_limited.integral(self.end) as f64 / 1e9,
                first_limited_s: self.first_held_back.map(|ns| ns as f64 / 1e9),
                max_held_back: self.max_held_back,
            }),
            _ => None,
        };
        let idle_fraction = if bill.paid_pod_ns == 0 {
            0.0
        } else {
            (1.0 - bill.busy_pod_ns as f64 / bill.paid_pod_ns as f64).clamp(0.0, 1.0)
        };
        SetupRun {
            name: self.setup.name.clone(),
            policy: self.setup.policy.kind().to_string(),
            classes: self.rec.classes,
            latency,
            pools: bill.pools,
            idle_fraction,
            max_ready: self.max_ready,
            cold_starts: self.cold_starts,
            scale_up_reaction_s: self.scale_up_reaction.map(|ns| ns as f64 / 1e9),
            budget,
            load: None,
            timeline: self.rec.timeline,
            window_slo: self.rec.window_slo,
            faults: self.fault_events,
            waited: self.rec.waited,
            duration_s: self.end as f64 / 1e9,
            interrupted: self.interrupted,
        }
    }
}
