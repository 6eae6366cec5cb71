//! The replicas, the router and the queue: the state machine of the service the testbed
//! emulates. Replicas go Pending (waiting for room on a node) -> Starting (schedule + start)
//! -> Loading (model load) -> Ready -> Draining (serves what it has, killed at the end of its
//! grace period) -> gone. Requests are routed to them by [`crate::router`].
//!
//! Every method takes the scenario time `now` (seconds) instead of reading a clock, so the
//! control loop, the HTTP handlers and unit tests drive the same code.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Weak;

use harness::report::FaultEvent;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use tokio::sync::watch;
use workloads::dist::Sampler;
use workloads::scenario::Billing;

use crate::TestbedConfig;
use crate::cluster::Cluster;
use crate::control::Control;
use crate::router::Waiter;
use crate::shared::Shared;

/// The phase of a replica's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for a node with room.
    Pending,
    /// Bound: being scheduled, pulling its image, starting.
    Starting,
    /// Loading the model.
    Loading,
    /// Serving.
    Ready,
    /// Terminating: serves what it has, takes nothing new.
    Draining,
}

/// One replica (pod).
#[derive(Debug)]
pub(crate) struct Replica {
    pub(crate) phase: Phase,
    /// When the current phase ends (the grace period's end while draining).
    pub(crate) until: f64,
    pub(crate) node: Option<usize>,
    /// The pool it is pinned to, for a policy that places its replicas.
    pub(crate) group: Option<usize>,
    pub(crate) in_flight: u32,
    /// Service rate relative to the service model (setup speed x pool speed).
    pub(crate) speed: f64,
    created: f64,
    /// The fault record its death is charged to.
    pub(crate) fault: Option<usize>,
    pub(crate) kill: watch::Sender<bool>,
}

/// A value integrated over scenario time, for averages over a sampling interval.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Gauge {
    pub(crate) value: f64,
    last: f64,
    integral: f64,
}

impl Gauge {
    pub(crate) fn set(&mut self, now: f64, v: f64) {
        self.integral = self.integral_at(now);
        self.last = self.last.max(now);
        self.value = v;
    }
    pub(crate) fn integral_at(&self, now: f64) -> f64 {
        self.integral + self.value * (now - self.last).max(0.0)
    }
}

/// Settings derived from the configuration.
#[derive(Debug)]
pub(crate) struct Params {
    pub(crate) concurrency: u32,
    pub(crate) queue_cap: usize,
    pub(crate) gpus: u32,
    pub(crate) warm: u32,
    schedule: Sampler,
    start: Sampler,
    load: Sampler,
    grace: f64,
    pub(crate) service: Sampler,
    pub(crate) classes: HashMap<String, Sampler>,
    /// Request classes' priorities (0 when not named).
    pub(crate) priorities: HashMap<String, u8>,
    speed: f64,
    /// USD per replica-hour under replica billing.
    replica_price: Option<f64>,
    pub(crate) scan_interval: f64,
    pub(crate) unneeded: f64,
    pub(crate) scrape_delay: f64,
}

/// Request counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) ok: u64,
    pub(crate) rejected: u64,
    pub(crate) killed: u64,
    /// Replicas that became ready after loading the model during the run.
    pub(crate) cold_starts: u64,
    /// Arrivals since the last metric sample.
    pub(crate) arrivals: u64,
    /// Latencies (scenario ms) of requests finished since the last sample, when measured.
    pub(crate) latencies: Vec<f64>,
    pub(crate) measure_latency: bool,
}

/// The service: replicas, queue, cluster, counters, and the control state.
pub(crate) struct Model {
    pub(crate) p: Params,
    pub(crate) replicas: BTreeMap<u64, Replica>,
    next_id: u64,
    pub(crate) queue: VecDeque<Waiter>,
    pub(crate) cluster: Option<Cluster>,
    pub(crate) rng: Pcg64Mcg,
    /// What the policy asked for last (without the warm pool), and where.
    pub(crate) desired: u32,
    pub(crate) placement: Option<Vec<u32>>,
    pub(crate) stats: Stats,
    pub(crate) in_flight: Gauge,
    pub(crate) queued: Gauge,
    replica_usd: f64,
    /// Lifetimes of removed replicas, in seconds (paid under replica billing).
    replica_s: f64,
    pub(crate) faults: Vec<FaultEvent>,
    pub(crate) closed: bool,
    pub(crate) shared: Weak<Shared>,
    pub(crate) ctl: Control,
}

impl Model {
    /// The service at time zero: the setup's initial replicas and warm pool ready on nodes
    /// that are up.
    pub(crate) fn new(cfg: &TestbedConfig, shared: Weak<Shared>) -> Model {
        let (plan, setup) = (&cfg.plan, &cfg.setup);
        let lc = &setup.lifecycle;
        let classes = plan.traffic.classes.iter();
        let p = Params {
            concurrency: plan.service.concurrency.max(1),
            queue_cap: plan.service.queue as usize,
            gpus: plan.service.gpus,
            warm: setup.warm_pool,
            schedule: lc.schedule.sampler(),
            start: lc.start.sampler(),
            load: lc.load.sampler(),
            grace: lc.grace_period.as_secs_f64(),
            service: plan.service.time.sampler(),
            classes: classes
                .filter_map(|c| c.service.map(|s| (c.name.clone(), s.sampler())))
                .collect(),
            priorities: plan
                .traffic
                .classes
                .iter()
                .map(|c| (c.name.clone(), c.priority))
                .collect(),
            speed: setup.speed,
            replica_price: (setup.billing == Billing::Replica)
                .then_some(setup.price_per_replica_hour),
            scan_interval: plan.scan_interval.as_secs_f64().max(1e-3),
            unneeded: plan.scale_down_unneeded.as_secs_f64(),
            scrape_delay: setup.scrape_delay.as_secs_f64(),
        };
        let ctl = Control::new(plan, setup);
        let initial = setup.initial_replicas;
        let placed = ctl.initial_placement(initial);
        let anywhere = placed.as_ref().map_or(initial, |_| 0) + p.warm;
        let cluster = (p.replica_price.is_none()).then(|| {
            Cluster::new(
                &setup.pools,
                p.gpus,
                placed.as_deref().unwrap_or(&[]),
                anywhere,
            )
        });
        let mut m = Model {
            p,
            replicas: BTreeMap::new(),
            next_id: 0,
            queue: VecDeque::new(),
            cluster,
            rng: Pcg64Mcg::seed_from_u64(cfg.seed),
            desired: initial,
            placement: placed.clone(),
            stats: Stats::default(),
            in_flight: Gauge::default(),
            queued: Gauge::default(),
            replica_usd: 0.0,
            replica_s: 0.0,
            faults: Vec::new(),
            closed: false,
            shared,
            ctl,
        };
        m.stats.measure_latency = m.ctl.reads_latency();
        for (g, &n) in placed.iter().flatten().enumerate() {
            (0..n).for_each(|_| m.create_ready(Some(g)));
        }
        (0..anywhere).for_each(|_| m.create_ready(None));
        m
    }

    fn new_replica(&mut self, group: Option<usize>, now: f64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let (kill, _) = watch::channel(false);
        let r = Replica {
            phase: Phase::Pending,
            until: f64::INFINITY,
            node: None,
            group,
            in_flight: 0,
            speed: self.p.speed,
            created: now,
            fault: None,
            kill,
        };
        self.replicas.insert(id, r);
        id
    }

    /// A replica ready at time zero, or started like any other when no node has room.
    fn create_ready(&mut self, group: Option<usize>) {
        let node = match self.cluster.as_mut() {
            Some(c) => match c.bind(group) {
                Some(n) => Some(n),
                None => return self.create(group, 0.0),
            },
            None => None,
        };
        let id = self.new_replica(group, 0.0);
        self.place(id, node);
        if let Some(r) = self.replicas.get_mut(&id) {
            r.phase = Phase::Ready;
        }
    }

    /// A new replica, which waits for room when the cluster has none.
    pub(crate) fn create(&mut self, group: Option<usize>, now: f64) {
        let id = self.new_replica(group, now);
        if self.cluster.is_none() {
            self.start(id, None, now);
        } else {
            self.bind_waiting(now);
        }
    }

    fn place(&mut self, id: u64, node: Option<usize>) {
        let speed = match (node, self.cluster.as_ref()) {
            (Some(n), Some(c)) => c.speed_of(n),
            _ => 1.0,
        };
        if let Some(r) = self.replicas.get_mut(&id) {
            r.node = node;
            r.speed = self.p.speed * speed;
        }
    }

    fn start(&mut self, id: u64, node: Option<usize>, now: f64) {
        self.place(id, node);
        let d =
            self.p.schedule.sample_secs(&mut self.rng) + self.p.start.sample_secs(&mut self.rng);
        if let Some(r) = self.replicas.get_mut(&id) {
            r.phase = Phase::Starting;
            r.until = now + d;
        }
    }

    /// Binds pending replicas, oldest first, while nodes have room (a replica pinned to a full
    /// pool does not hold up the others).
    pub(crate) fn bind_waiting(&mut self, now: f64) {
        let Some(pools) = self.cluster.as_ref().map(|c| c.pools.len()) else {
            return;
        };
        let mut full = vec![false; pools + 1];
        let pending: Vec<(u64, Option<usize>)> = self
            .replicas
            .iter()
            .filter(|(_, r)| r.phase == Phase::Pending)
            .map(|(&id, r)| (id, r.group))
            .collect();
        for (id, group) in pending {
            let slot = group.unwrap_or(pools).min(pools);
            if full[pools] {
                break;
            }
            if full[slot] {
                continue;
            }
            match self.cluster.as_mut().and_then(|c| c.bind(group)) {
                Some(node) => self.start(id, Some(node), now),
                None => full[slot] = true,
            }
        }
    }

    /// Moves replicas whose phase ended by `now` on; kills those whose grace period ended.
    pub(crate) fn step_phases(&mut self, now: f64) {
        let due: Vec<u64> = self
            .replicas
            .iter()
            .filter(|(_, r)| r.until <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            let Some(r) = self.replicas.get(&id) else {
                continue;
            };
            match r.phase {
                Phase::Starting => {
                    let until = r.until + self.p.load.sample_secs(&mut self.rng);
                    if let Some(r) = self.replicas.get_mut(&id) {
                        r.phase = Phase::Loading;
                        r.until = until;
                    }
                    if until <= now {
                        self.ready(id, now);
                    }
                }
                Phase::Loading => self.ready(id, now),
                Phase::Draining => {
                    let fault = r.fault;
                    let failed = self.kill(id, now);
                    if let Some(f) = fault.and_then(|f| self.faults.get_mut(f)) {
                        f.requests_failed += failed;
                    }
                }
                Phase::Pending | Phase::Ready => {}
            }
        }
    }

    fn ready(&mut self, id: u64, now: f64) {
        if let Some(r) = self.replicas.get_mut(&id) {
            r.phase = Phase::Ready;
            r.until = f64::INFINITY;
            // A replica that loaded its model during the run: a cold start.
            self.stats.cold_starts += 1;
        }
        self.dispatch(now);
    }

    /// Deletes a replica: at once when it serves nothing, else it drains.
    pub(crate) fn delete(&mut self, id: u64, now: f64) {
        let Some(r) = self.replicas.get_mut(&id) else {
            return;
        };
        match r.phase {
            Phase::Ready if r.in_flight > 0 => {
                r.phase = Phase::Draining;
                r.until = now + self.p.grace;
            }
            Phase::Draining => {}
            _ => {
                self.remove(id, now);
            }
        }
    }

    /// Kills a replica now with the requests it serves (they fail). Returns how many.
    pub(crate) fn kill(&mut self, id: u64, now: f64) -> u64 {
        let Some(r) = self.remove(id, now) else {
            return 0;
        };
        let failed = u64::from(r.in_flight);
        self.in_flight
            .set(now, self.in_flight.value - failed as f64);
        self.stats.killed += failed;
        r.kill.send_replace(true);
        failed
    }

    /// The replica is gone: its room on the node is free and it stops being paid for.
    pub(crate) fn remove(&mut self, id: u64, now: f64) -> Option<Replica> {
        let r = self.replicas.remove(&id)?;
        self.replica_s += (now - r.created).max(0.0);
        if let Some(price) = self.p.replica_price {
            self.replica_usd += (now - r.created).max(0.0) * price / 3600.0;
        }
        if let (Some(node), Some(c)) = (r.node, self.cluster.as_mut()) {
            c.release(now, node);
            self.bind_waiting(now);
        }
        Some(r)
    }

    /// The share of paid pod capacity up to `now` that served no request, as the simulator
    /// reports it: 1 - (requests in service x time / concurrency) / paid pod-seconds.
    pub(crate) fn idle_fraction(&self, now: f64) -> f64 {
        let paid = match &self.cluster {
            Some(c) => c.paid_pod_seconds(now),
            None => {
                self.replica_s
                    + self
                        .replicas
                        .values()
                        .map(|r| (now - r.created).max(0.0))
                        .sum::<f64>()
            }
        };
        if paid <= 0.0 {
            return 0.0;
        }
        let busy = self.in_flight.integral_at(now) / f64::from(self.p.concurrency.max(1));
        (1.0 - busy / paid).clamp(0.0, 1.0)
    }

    /// Everything paid up to `now`, in USD.
    pub(crate) fn cost(&self, now: f64) -> f64 {
        match (&self.cluster, self.p.replica_price) {
            (Some(c), _) => c.cost(now),
            (None, Some(price)) => {
                let live: f64 = self
                    .replicas
                    .values()
                    .map(|r| (now - r.created).max(0.0))
                    .sum();
                self.replica_usd + live * price / 3600.0
            }
            (None, None) => 0.0,
        }
    }
}
