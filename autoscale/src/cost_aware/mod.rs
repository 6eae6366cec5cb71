//! The cost-aware policy: meet the SLO at the least cost per inference.
//!
//! It plans *capacity* in requests per second rather than a replica count, because the
//! resources it can buy differ in price and in throughput: a replica on pool `p` costs
//! `usd_per_replica_hour(p)` and serves `replica_rps(p)`, so an inference there costs
//! `price per hour / (3600 x throughput per replica)`. Every `interval` it:
//!
//! 1. **estimates the capacity needed**: the larger of the short-window and long-window mean
//!    arrival rate, times a latency headroom, divided by the target utilisation, plus a queue
//!    that stood through the short window without draining, drained within it. The headroom
//!    grows (x1.25, at most x3) while the tail latency at the SLO's percentile is not falling
//!    and, projected one decision ahead from its trend, exceeds 80% of the SLO; it shrinks back
//!    (0.05 per decision) once the tail is below half of the SLO with no queue. Both feedback
//!    terms read only samples taken after every planned replica was ready with nothing held
//!    back: capacity on its way is given time to act, so a slow cold start or a budget does not
//!    wind the plan up. A scale-down takes the largest need of the last `scale_down_window`, a
//!    scale-up the current one;
//! 2. **keeps** the replicas it has, except those waiting for a node in a pool it now avoids;
//!    replicas on nodes under an interruption notice are not counted (they are replaced now);
//! 3. **trims** a surplus from the dearest pool first, never taking away a ready replica whose
//!    capacity is still needed, never below `min_replicas` (asked for, or ready);
//! 4. **adds** what is missing on the preferred pool with room: pools whose service time keeps
//!    the SLO before those that cannot, cheapest per inference first, available pools before
//!    avoided ones (a pool is avoided for `avoid_after_disruption` after a node of it got an
//!    interruption notice or was lost, or the cluster autoscaler could not get a node there),
//!    spot pools within `max_spot_share` of the capacity planned while another pool has room;
//!    never above `max_replicas` nor, beyond `min_replicas`, above `budget_per_hour` (what it
//!    held back for the budget is reported);
//! 5. **moves back**: when nothing is on its way and nothing was added, it starts replacing the
//!    replicas of the dearest pool that has any with replicas on an available pool at least 5%
//!    cheaper per inference (after an outage, back from on-demand to spot), as many as that pool
//!    takes within the spot share and the budget (counted as it will be once the dearer replicas
//!    have gone); the dearer replicas go once the cheaper ones are ready (step 3). All at once
//!    costs least: the overlap is paid once, and the dearer nodes empty together.
//!
//! It asks for replicas per pool ([`Placement::PerPool`]), as a controller managing one
//! Deployment per pool would.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use scalebench_core::policy::{CostAwareConfig, PolicyConfig};
use scalebench_core::scenario::{Billing, CapacityType};
use scalebench_core::{Plan, Setup};

use super::{Decision, MetricSample, Observation, Placement, Policy, PoolView};

/// Pressure when the projected tail latency exceeds this share of the SLO latency.
const PRESSURE: f64 = 0.8;
/// Calm when the tail latency is below this share of the SLO latency.
const CALM: f64 = 0.5;
/// Headroom growth per decision under pressure.
const HEADROOM_UP: f64 = 1.25;
/// Headroom decay per calm decision.
const HEADROOM_DOWN: f64 = 0.05;
/// The most headroom.
const HEADROOM_MAX: f64 = 3.0;
/// A move goes to a pool only when it is at least this much cheaper per inference.
const CHEAPER: f64 = 0.95;

/// One resource the policy can buy: a node pool of the setup (or its replicas under replica
/// billing), with its line of the price table.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The pool's name (`replicas` under replica billing).
    pub name: String,
    /// Spot or on-demand.
    pub capacity_type: CapacityType,
    /// The price of one replica for an hour: its node's price over the replicas a node holds
    /// (or the replica price under replica billing).
    pub usd_per_replica_hour: f64,
    /// Requests per second one replica serves at full use.
    pub replica_rps: f64,
    /// The most replicas the pool holds.
    pub max_replicas: u32,
    /// The service time at the SLO's percentile on this resource, in seconds: latency that no
    /// amount of capacity takes away.
    pub service_tail_s: f64,
}

impl Resource {
    /// The cost of one inference at full use: price per hour / (3600 x throughput per replica).
    pub fn usd_per_inference(&self) -> f64 {
        self.usd_per_replica_hour / (3600.0 * self.replica_rps)
    }

    fn spot(&self) -> bool {
        self.capacity_type == CapacityType::Spot
    }

    /// The price table of a setup: one resource per pool, in the setup's order. Throughput
    /// comes from the service model (concurrency / mean service time, times the setup's and
    /// the pool's speed) unless the policy's settings give it.
    pub fn of_setup(plan: &Plan, setup: &Setup) -> Vec<Resource> {
        let base_rps = plan.service.concurrency as f64 / plan.mean_service_secs() * setup.speed;
        let tail = plan.service_quantile_secs(plan.slo.percentile / 100.0) / setup.speed;
        let given = match &setup.policy {
            PolicyConfig::CostAware(c) => Some(&c.throughput),
            _ => None,
        };
        let rps = |name: &str, speed: f64| {
            given
                .and_then(|g| g.get(name))
                .copied()
                .unwrap_or(base_rps * speed)
        };
        match setup.billing {
            Billing::Node => setup
                .pools
                .iter()
                .map(|p| {
                    let per_node = p.replicas_per_node(plan.service.gpus).max(1);
                    Resource {
                        name: p.name.clone(),
                        capacity_type: p.capacity_type,
                        usd_per_replica_hour: p.price_per_hour / per_node as f64,
                        replica_rps: rps(&p.name, p.speed),
                        max_replicas: p.max_nodes.saturating_mul(per_node),
                        service_tail_s: tail / p.speed,
                    }
                })
                .collect(),
            Billing::Replica => vec![Resource {
                name: "replicas".into(),
                capacity_type: CapacityType::OnDemand,
                usd_per_replica_hour: setup.price_per_replica_hour,
                replica_rps: rps("replicas", 1.0),
                max_replicas: u32::MAX,
                service_tail_s: tail,
            }],
        }
    }
}

/// The tail percentile the policy watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// The 95th percentile (SLOs at 95% or below).
    P95,
    /// The 99th percentile.
    P99,
}

/// The objective the policy steers by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// The latency requests must meet, in seconds.
    pub latency_s: f64,
    /// The percentile it watches for it.
    pub tail: Tail,
}

impl Slo {
    /// The scenario's objective.
    pub fn of(plan: &Plan) -> Slo {
        Slo {
            latency_s: plan.slo.latency.as_secs_f64(),
            tail: if plan.slo.percentile > 95.0 {
                Tail::P99
            } else {
                Tail::P95
            },
        }
    }

    fn of_sample(&self, s: &MetricSample) -> Option<f64> {
        match self.tail {
            Tail::P95 => s.latency_p95_ms,
            Tail::P99 => s.latency_p99_ms,
        }
        .map(|ms| ms / 1000.0)
    }
}

/// The cost-aware policy.
#[derive(Debug, Clone)]
pub struct CostAware {
    config: CostAwareConfig,
    slo: Slo,
    resources: Vec<Resource>,
    /// Resource indices, preferred first: those that keep the SLO before those that cannot,
    /// cheapest per inference first within each, the setup's order among equals.
    order: Vec<usize>,
    /// Multiplies the demand while the tail latency stays high with every replica ready.
    headroom: f64,
    /// Recent capacity needs (time, rps), for the scale-down window.
    needs: VecDeque<(f64, f64)>,
    /// Since when every replica of the plan has been ready with nothing held back (`None`
    /// while replicas are on their way or the budget holds some back).
    settled_since: Option<f64>,
}

impl CostAware {
    /// A cost-aware policy for the given objective and price table (one resource per pool, in
    /// the setup's order).
    pub fn new(config: &CostAwareConfig, slo: Slo, resources: Vec<Resource>) -> Self {
        let mut order: Vec<usize> = (0..resources.len()).collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&resources[a], &resources[b]);
            let late = |r: &Resource| r.service_tail_s > slo.latency_s;
            late(ra)
                .cmp(&late(rb))
                .then_with(|| ra.usd_per_inference().total_cmp(&rb.usd_per_inference()))
        });
        CostAware {
            config: config.clone(),
            slo,
            resources,
            order,
            headroom: 1.0,
            needs: VecDeque::new(),
            settled_since: None,
        }
    }

    /// The resources, preferred first.
    pub fn preference(&self) -> impl Iterator<Item = &Resource> {
        self.order.iter().map(|&i| &self.resources[i])
    }

    /// The capacity of `v` replicas per pool, in requests per second.
    fn capacity(&self, v: &[u32]) -> f64 {
        v.iter()
            .zip(&self.resources)
            .map(|(&n, r)| n as f64 * r.replica_rps)
            .sum()
    }

    /// The spot part of it.
    fn spot_capacity(&self, v: &[u32]) -> f64 {
        v.iter()
            .zip(&self.resources)
            .filter(|(_, r)| r.spot())
            .map(|(&n, r)| n as f64 * r.replica_rps)
            .sum()
    }

    /// The hourly price of `v` replicas per pool.
    fn price(&self, v: &[u32]) -> f64 {
        v.iter()
            .zip(&self.resources)
            .map(|(&n, r)| n as f64 * r.usd_per_replica_hour)
            .sum()
    }

    fn within_budget(&self, v: &[u32], pool: usize, k: u32) -> bool {
        self.config.budget_per_hour.is_none_or(|b| {
            self.price(v) + k as f64 * self.resources[pool].usd_per_replica_hour <= b * (1.0 + 1e-9)
        })
    }

    /// Capacity needed now (rps), updating the headroom from the samples taken since the plan
    /// was last fully in place (`settled_since`).
    fn need(&mut self, obs: &Observation<'_>) -> f64 {
        let samples = obs.samples;
        let Some(latest) = samples.last() else {
            return 0.0;
        };
        let c = &self.config;
        let since = |w: f64| {
            let from = samples.partition_point(|s| s.t <= latest.t - w);
            &samples[from..]
        };
        let short_window = c.panic_window.as_secs_f64();
        let demand = mean(since(short_window), |s| s.arrival_rps)
            .max(mean(since(c.stable_window.as_secs_f64()), |s| {
                s.arrival_rps
            }));
        // Feedback only from what was measured with the whole plan in place: capacity on its
        // way, or held back, is given time to act, so a cold start does not wind the plan up.
        let settled: &[MetricSample] = match self.settled_since {
            Some(t0) => {
                let short = since(short_window);
                &short[short.partition_point(|s| s.t < t0)..]
            }
            None => &[],
        };
        let slo = self.slo.latency_s;
        let mut backlog = 0.0;
        if !settled.is_empty() {
            let tail_now = mean_of(settled.iter().filter_map(|s| self.slo.of_sample(s)));
            let t0 = self.settled_since.unwrap_or(0.0);
            let trend_from = since(3.0 * short_window);
            let trend = slope(
                trend_from[trend_from.partition_point(|s| s.t < t0)..]
                    .iter()
                    .filter_map(|s| self.slo.of_sample(s).map(|l| (s.t, l))),
            );
            let projected = tail_now.map(|l| l + trend * 2.0 * c.interval.as_secs_f64());
            // A queue that stood through the whole short window without draining, drained
            // within the window; a queue on its way down needs nothing more.
            let standing = settled
                .iter()
                .map(|s| s.queue)
                .fold(f64::INFINITY, f64::min);
            let draining = slope(settled.iter().map(|s| (s.t, s.queue))) < 0.0;
            // A tail that is high and not falling: the plan's throughput is optimistic.
            if trend >= 0.0 && projected.is_some_and(|p| p > PRESSURE * slo) {
                self.headroom = (self.headroom * HEADROOM_UP).min(HEADROOM_MAX);
            } else if tail_now.is_none_or(|l| l < CALM * slo) && standing < 1.0 {
                self.headroom = (self.headroom - HEADROOM_DOWN).max(1.0);
            }
            if !draining {
                backlog = standing / short_window;
            }
        }
        let raw = demand * self.headroom / c.target_utilization + backlog;
        let now = obs.now;
        let window = c.scale_down_window.as_secs_f64();
        while self.needs.front().is_some_and(|&(t, _)| t <= now - window) {
            self.needs.pop_front();
        }
        self.needs.push_back((now, raw));
        self.needs.iter().map(|&(_, n)| n).fold(raw, f64::max)
    }

    /// True when `k` more replicas on pool `i` keep the spot capacity within its share of the
    /// capacity planned.
    fn share_ok(&self, target: &[u32], i: usize, k: u32) -> bool {
        let add = k as f64 * self.resources[i].replica_rps;
        !self.resources[i].spot()
            || self.spot_capacity(target) + add
                <= self.config.max_spot_share * (self.capacity(target) + add) + 1e-9
    }

    /// The preferred pool that can take one more replica: available pools with room first,
    /// within the spot share while another pool can take it; then any pool with room.
    fn pick(&self, target: &[u32], avail: &[bool]) -> Option<usize> {
        let room = |i: usize| target[i] < self.resources[i].max_replicas;
        let pass = |ok: &dyn Fn(usize) -> bool| self.order.iter().copied().find(|&i| ok(i));
        pass(&|i| avail[i] && room(i) && self.share_ok(target, i, 1))
            .or_else(|| pass(&|i| avail[i] && room(i)))
            .or_else(|| pass(&|i| room(i)))
    }

    /// Step 3: trims a surplus, dearest pool first, keeping ready capacity that is needed.
    fn trim(&self, target: &mut [u32], ready: &mut [u32], need: f64) {
        let min = self.config.min_replicas;
        let mut ready_cap = self.capacity(ready);
        for &i in self.order.iter().rev() {
            let rps = self.resources[i].replica_rps;
            while target[i] > 0 && total(target) > min && !short(self.capacity(target) - rps, need)
            {
                if !self.resources[i].spot() && self.config.max_spot_share < 1.0 {
                    let after = self.capacity(target) - rps;
                    if self.spot_capacity(target) > self.config.max_spot_share * after + 1e-9 {
                        break; // dropping it would put too much on spot: trim spot instead
                    }
                }
                if target[i] > ready[i] {
                    target[i] -= 1; // one not ready yet goes first
                } else if !short(ready_cap - rps, need) && total(ready) > min {
                    target[i] -= 1;
                    ready[i] -= 1;
                    ready_cap -= rps;
                } else {
                    return; // its ready replicas are still needed
                }
            }
        }
    }

    /// Step 5: starts replacing the replicas of the dearest pool that has any with replicas on
    /// a cheaper available pool, as many as that pool takes with the plan, once the dearer
    /// replicas they replace have gone, within the spot share and the budget.
    fn move_back(&self, target: &mut [u32], avail: &[bool]) {
        let late = |r: &Resource| r.service_tail_s > self.slo.latency_s;
        for (qi, &q) in self.order.iter().enumerate().rev() {
            if target[q] == 0 {
                continue;
            }
            let from = &self.resources[q];
            for &p in &self.order[..qi] {
                let to = &self.resources[p];
                let cheaper = to.usd_per_inference() <= CHEAPER * from.usd_per_inference();
                if !avail[p] || (late(to) == late(from) && !cheaper) {
                    continue;
                }
                let room = to.max_replicas.saturating_sub(target[p]);
                let most = (target[q] as f64 * from.replica_rps / to.replica_rps).ceil() as u32;
                for k in (1..=most.min(room)).rev() {
                    // The plan once the k replicas are ready and those they replace have gone.
                    let replaced = (k as f64 * to.replica_rps / from.replica_rps).floor() as u32;
                    let mut after = target.to_vec();
                    after[q] -= replaced.min(target[q]);
                    after[p] += k;
                    if self.within_budget(&after, p, 0) && self.share_ok(&after, p, 0) {
                        target[p] += k;
                        return;
                    }
                }
            }
        }
    }
}

/// True when capacity `cap` falls short of `need` (beyond rounding).
fn short(cap: f64, need: f64) -> bool {
    cap < need - 1e-9 * need.abs().max(1.0)
}

/// All replicas of a placement.
fn total(v: &[u32]) -> u32 {
    v.iter().sum()
}

/// The mean of `f` over the samples (0 with none).
fn mean(samples: &[MetricSample], f: fn(&MetricSample) -> f64) -> f64 {
    samples.iter().map(f).sum::<f64>() / samples.len().max(1) as f64
}

/// The mean of the values, `None` with none.
fn mean_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, sum) = values.fold((0u32, 0.0), |(n, s), v| (n + 1, s + v));
    (n > 0).then(|| sum / n as f64)
}

/// The least-squares slope of `(t, y)` points, per second (0 with fewer than two).
fn slope(points: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (mut n, mut st, mut sy, mut stt, mut sty) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (t, y) in points {
        n += 1.0;
        st += t;
        sy += y;
        stt += t * t;
        sty += t * y;
    }
    let d = n * stt - st * st;
    if n < 2.0 || d.abs() < 1e-12 {
        0.0
    } else {
        (n * sty - st * sy) / d
    }
}

impl Policy for CostAware {
    fn interval(&self) -> f64 {
        self.config.interval.as_secs_f64()
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        self.decide_placed(obs).placement.total()
    }

    fn decide_placed(&mut self, obs: &Observation<'_>) -> Decision {
        let n = self.resources.len();
        let view = |i: usize| obs.pools.get(i).copied().unwrap_or_default();
        let views: Vec<PoolView> = (0..n).map(view).collect();
        let current: Vec<u32> = views.iter().map(|v| v.pods.total()).collect();
        if obs.samples.is_empty() {
            // Nothing to go by yet: keep what there is.
            return Decision {
                placement: Placement::PerPool(current),
                held_back: 0,
            };
        }
        let avoid = self.config.avoid_after_disruption.as_secs_f64();
        let recent = |t: Option<f64>| t.is_some_and(|t| obs.now - t < avoid);
        let avail: Vec<bool> = views
            .iter()
            .map(|v| !recent(v.last_disruption) && !recent(v.last_shortage))
            .collect();
        let settling = views.iter().any(|v| v.pods.pending + v.pods.loading > 0);
        if settling {
            self.settled_since = None;
        } else if self.settled_since.is_none() {
            self.settled_since = Some(obs.now);
        }
        let need = self.need(obs);
        let mut ready: Vec<u32> = views.iter().map(|v| v.pods.ready).collect();
        // Step 2: keep, but give up on replicas waiting for a node in an avoided pool.
        let mut target: Vec<u32> = views
            .iter()
            .zip(&avail)
            .map(|(v, &ok)| v.pods.total() - if ok { 0 } else { v.unbound })
            .collect();
        self.trim(&mut target, &mut ready, need);
        // Step 4: add what is missing.
        let c = &self.config;
        let mut held_back = 0;
        let mut added = false;
        while (short(self.capacity(&target), need) || total(&target) < c.min_replicas)
            && total(&target) < c.max_replicas
        {
            let Some(i) = self.pick(&target, &avail) else {
                break;
            };
            if total(&target) >= c.min_replicas && !self.within_budget(&target, i, 1) {
                let missing = (need - self.capacity(&target)) / self.resources[i].replica_rps;
                held_back = (missing.ceil() as u32).max(1);
                break;
            }
            target[i] += 1;
            added = true;
        }
        if added || held_back > 0 {
            // The plan is not in place until what it adds is ready and nothing is held back.
            self.settled_since = None;
        }
        if !settling && !added {
            self.move_back(&mut target, &avail);
        }
        Decision {
            placement: Placement::PerPool(target),
            held_back,
        }
    }

    fn initial_placement(&self, replicas: u32) -> Option<Vec<u32>> {
        let mut v = vec![0u32; self.resources.len()];
        let spot_cap = (self.config.max_spot_share * replicas as f64).floor() as u32;
        let mut left = replicas;
        // Preferred pools first, spot within its share; then whatever room is left.
        for within_share in [true, false] {
            for &i in &self.order {
                let r = &self.resources[i];
                let mut k = left.min(r.max_replicas.saturating_sub(v[i]));
                if within_share && r.spot() {
                    let spot_now: u32 = (0..v.len())
                        .filter(|&j| self.resources[j].spot())
                        .map(|j| v[j])
                        .sum();
                    k = k.min(spot_cap.saturating_sub(spot_now));
                }
                v[i] += k;
                left -= k;
            }
        }
        // No pool has room for the rest: they wait for a node on the preferred pool.
        if let Some(&i) = self.order.first() {
            v[i] += left;
        }
        Some(v)
    }

    fn reads_latency(&self) -> bool {
        true
    }
}
