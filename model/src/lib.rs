//! The service model, written once: an inference service on node pools as a sans-IO state
//! machine that both the simulator and the testbed step.
//!
//! [`Model`] holds node pools and the cluster autoscaler, pods through their phases
//! ([`PodPhase`]), the least-loaded router with per-pod concurrency slots, the bounded priority
//! queue, faults, billing, and the control loop that samples metrics for the setup's autoscaler
//! policy (the `autoscale` crate) and reconciles the pods to its decision. It does no I/O and
//! reads no clock: every call is given the time `now` in integer nanoseconds of scenario time,
//! and everything it needs done it asks of its [`Host`]:
//! - its timers ([`Timer`]): the host calls [`Model::timer`] when one is due;
//! - a request starting service ([`Host::serve`]): the host calls [`Model::finish`] when its
//!   service time has passed;
//! - a request leaving unserved ([`Host::drop_request`]: rejected, shed, expired, killed);
//! - the latency its metrics pipeline saw, for a policy that reads latency.
//!
//! Its pods and nodes can be read, without changing anything, through [`Model::pods`] and
//! [`Model::nodes`] (each pod with the instants it entered its phases, from which
//! [`Model::cold_starts`] makes the run's cold-start breakdown), and changed one at a time by
//! id as a Kubernetes API client would ([`Model::evict_pod`], [`Model::remove_pod`],
//! [`Model::set_cordoned`], [`Model::remove_node`], [`Model::scale_to`]).
//!
//! What waits in the queue and sits in a slot is generic ([`Request`]): the simulator's requests
//! are a few numbers, the testbed's carry the channel their HTTP handler waits on. The simulator
//! steps the model from its agenda in virtual time; the testbed from the same [`Agenda`] on the
//! real clock and from its HTTP handlers. The same calls in the same order give the same
//! result: the model's random draws (pod phases, node provisioning, fault targets, spot
//! interruptions) come from streams seeded by the plan.

mod agenda;
mod batch;
#[cfg(test)]
mod batch_tests;
mod cluster;
mod control;
mod faults;
mod gauge;
mod ops;
#[cfg(test)]
mod ops_tests;
mod pods;
mod queue;
mod router;
mod serve;
#[cfg(test)]
mod testing;
mod view;
#[cfg(test)]
mod view_tests;

use std::collections::VecDeque;

use autoscale::{MetricSample, Policy};
use rand_pcg::Pcg64Mcg;
use scalebench_core::dist::Sampler;
use scalebench_core::fault::FaultPlan;
use scalebench_core::policy::PolicyConfig;
use scalebench_core::report::FaultEvent;
use scalebench_core::scenario::Billing;
use scalebench_core::{Plan, Setup};

pub use agenda::Agenda;
pub use control::{Bill, LlmState, Outcome, ServiceState};
pub use faults::FaultError;
pub use ops::Refused;
pub use pods::{PodPhase, secs_to_ns};
pub use view::{NodeView, PodView};

use cluster::Cluster;
use gauge::Gauge;
use pods::{Pod, PodCounts};
use queue::WaitQueue;
use router::LoadIndex;

/// A request the model routes, queues and serves.
pub trait Request {
    /// Its class: the index of its request class in the plan (0 when the plan has none).
    fn class(&self) -> u16;
    /// When its client meant it to be sent, ns; it has waited too long once
    /// `now >= intended + timeout` (the plan's client timeout).
    fn intended(&self) -> u64;
    /// Its service time on a replica of speed 1, ns (the setup's speed already applied).
    fn service_ns(&self) -> u64;
    /// True while its client still waits for the answer. A request killed with its pod is sent
    /// again (a setup that retries) only while it is wanted.
    fn wanted(&self) -> bool;
    /// Its prompt and output lengths, for a service with a token model (`[service.llm]`).
    fn tokens(&self) -> Option<scalebench_core::llm::Tokens> {
        None
    }
    /// True when a request may stop being wanted while it waits in the queue (a client that
    /// hangs up), so the model takes such requests out at every metric sample. False lets the
    /// model skip the scan.
    const MAY_LEAVE: bool = false;
}

/// One use of one concurrency slot: what [`Host::serve`] gives and [`Model::finish`] takes
/// back. A stale id (the pod died, the slot serves another request since) is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotId {
    /// The pod.
    pub pod: u32,
    /// The slot within the pod.
    pub slot: u32,
    /// Which use of the slot.
    pub token: u32,
}

/// Why a request leaves without being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The queue was full.
    Rejected,
    /// It was shed from the full queue to make room for a request of a higher priority.
    Shed,
    /// It waited in the queue past its client's timeout, or its client left.
    Expired,
    /// Its pod died while serving it (a reclaimed node, a grace period that ran out).
    Killed,
}

/// The model's own timers: set through [`Host::schedule`], handed back to [`Model::timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// `pod` finishes its current lifecycle phase.
    PodPhase {
        /// The pod.
        pod: u32,
    },
    /// `pod`'s termination grace period ends; whatever it still serves fails.
    GraceEnd {
        /// The pod.
        pod: u32,
    },
    /// A node finishes provisioning.
    NodeUp {
        /// The node.
        node: u32,
    },
    /// The autoscaler's sync.
    PolicyTick,
    /// The cluster autoscaler's scan.
    ClusterScan,
    /// Fault `index` of the plan strikes.
    Fault {
        /// Its index in the fault plan.
        index: u32,
    },
    /// A spot node's random interruption comes (its notice starts).
    Interrupt {
        /// The node.
        node: u32,
    },
    /// A spot node's notice (from fault record `fault`) ends: it is reclaimed.
    Reclaim {
        /// The node.
        node: u32,
        /// The fault record it is charged to.
        fault: u32,
    },
    /// A one-second metrics sample.
    Sample,
    /// `pod`'s decode step ends (token model).
    Step {
        /// The pod.
        pod: u32,
    },
}

/// What the model asks of whoever steps it.
pub trait Host<W> {
    /// Calls [`Model::timer`] with `timer` at `at` ns (never before now).
    fn schedule(&mut self, at: u64, timer: Timer);
    /// `w` starts service in `slot` now and takes `service_ns` (the pod's speed applied): the
    /// host calls [`Model::finish`] with `slot` when that has passed. `w` stays in the slot
    /// (the host may note on it when it started).
    fn serve(&mut self, now: u64, slot: SlotId, w: &mut W, service_ns: u64);
    /// `w` leaves without being served, for the reason given.
    fn drop_request(&mut self, now: u64, w: W, why: Dropped);
    /// The 95th and 99th percentile latency (ms) its metrics saw since the last call, for a
    /// policy that reads latency; `None` when nothing finished.
    fn latency_sample(&mut self) -> Option<(f64, f64)>;

    /// Token model: `w` took `slot` now and waits there to join the pod's batch (the host
    /// may arm its client's timeout on the slot, as for [`Host::serve`]).
    fn joined(&mut self, _now: u64, _slot: SlotId, _w: &mut W) {}
    /// Token model: `w` (in `slot`) produced its first token now. Under the token model the
    /// model does not call [`Host::serve`]: it steps the batch itself and hands the request
    /// back through [`Host::done`].
    fn first_token(&mut self, _now: u64, _slot: SlotId, _w: &mut W) {}
    /// Token model: a decode step of `gap_ns` ended now and gave `continuing` sequences their
    /// next token after the first: each of them saw an inter-token gap of `gap_ns`.
    fn decode_step(&mut self, _now: u64, _gap_ns: u64, _continuing: u32) {}
    /// Token model, for a host that streams tokens ([`Host::STREAMS`]): `w` produced its
    /// `n`-th token now (`last` when it has all of them).
    fn token(&mut self, _now: u64, _slot: SlotId, _w: &mut W, _n: u32, _last: bool) {}
    /// Token model: `w` produced its last token now; its slot is free.
    fn done(&mut self, _now: u64, _w: W) {}
    /// True when the host wants [`Host::token`] for every token of every sequence (the
    /// testbed, which streams them); the simulator only needs the first and the gaps.
    const STREAMS: bool = false;
}

/// Samplers of the pod lifecycle phases.
#[derive(Debug, Clone, Copy)]
struct PhaseModel {
    /// Scheduling plus image pull and container start.
    schedule: Sampler,
    start: Sampler,
    load: Sampler,
    grace_ns: u64,
}

/// What the model keeps of the plan and the setup.
#[derive(Debug, Clone)]
struct Settings {
    /// GPUs one replica holds.
    gpus: u32,
    scan_ns: u64,
    unneeded_ns: u64,
    warm_pool: u32,
    retry_killed: bool,
    scrape_delay_ns: u64,
    price_per_replica_hour: f64,
    /// The cost-aware policy's budget ceiling, USD per hour.
    budget_per_hour: Option<f64>,
    /// The setup's speed (the token model's steps are divided by it and the pod's).
    speed: f64,
}

/// One setup's service: pods on nodes, the router and queue, the autoscaler and the bill.
pub struct Model<W> {
    settings: Settings,
    /// The time of the call being handled.
    now: u64,
    /// No periodic timer is set after this (the scenario's end, or where it was cut short).
    end: u64,
    timeout_ns: u64,
    concurrency: u32,
    /// The token model, when the service is an LLM.
    llm: Option<scalebench_core::llm::TokenModel>,
    pods: Vec<Pod<W>>,
    /// Pods that count toward the replica count (not draining, not gone), oldest first.
    live: Vec<u32>,
    /// Pods waiting for room on a node, oldest first (may hold pods deleted since).
    unbound: VecDeque<u32>,
    counts: PodCounts,
    router: LoadIndex,
    queue: WaitQueue<W>,
    cluster: Option<Cluster>,
    phases: PhaseModel,
    rng: Pcg64Mcg,
    policy: Box<dyn Policy>,
    /// The policy's last decision (spec.replicas), without the warm pool.
    desired: u32,
    /// Where the policy wants its replicas, per pool, when it places them.
    placement: Option<Vec<u32>>,
    /// Replicas the policy's budget held back at its last decision.
    held_back: u32,
    /// 1 while the budget holds replicas back: its integral is the time limited by it.
    budget_limited: Gauge,
    /// When the budget first held replicas back, and the most it held back at once.
    first_held_back: Option<u64>,
    max_held_back: u32,
    /// Requests in service, all pods.
    in_flight: Gauge,
    /// Requests waiting.
    waiting: Gauge,
    /// Requests holding a slot but waiting to join a batch (token model): with `waiting`,
    /// what vLLM calls requests waiting, which a policy on the queue reads.
    batch_waiting: Gauge,
    /// Pods that exist (any state but gone): paid under replica billing.
    replicas: Gauge,
    /// Pods bound to a node or past binding (capacity held), for utilisation.
    allocated: Gauge,
    samples: Vec<MetricSample>,
    /// Arrivals since the last metric sample.
    sample_arrivals: u64,
    /// Integrals at the last metric sample: (in-flight, waiting and waiting to join a batch,
    /// allocated).
    last_sample: (u128, u128, u128),
    /// Integrals at the last service sample: (in-flight, allocated).
    last_window: (u128, u128),
    /// Requests that found no free slot and waited in the queue.
    waited: u64,
    /// Transient starts (ns), for the scale-up reaction time.
    first_transient: Option<u64>,
    scale_up_reaction: Option<u64>,
    cold_starts: u32,
    max_ready: u32,
    /// The faults of the plan, and what each fault did (the plan's first, in its order, then
    /// random interruptions and injected faults as they come).
    faults: FaultPlan,
    fault_events: Vec<FaultEvent>,
    /// Markers of faults that struck since the last service sample.
    markers: Vec<String>,
    /// The model stopped taking requests (the testbed is shutting down).
    closed: bool,
}

impl<W: Request> Model<W> {
    /// One setup of the plan at time zero: the setup's initial replicas and warm pool ready on
    /// nodes that are up (pods the pools cannot hold start like any other, which sets timers).
    /// Then call [`Model::start`], and [`Model::plan_faults`] and [`Model::arm_interruptions`]
    /// as the host wants them.
    pub fn new(plan: &Plan, setup: &Setup, host: &mut impl Host<W>) -> Self {
        Self::with_policy(plan, setup, autoscale::build(plan, setup), host)
    }

    /// The same with another policy than the setup's (tests, experiments).
    pub fn with_policy(
        plan: &Plan,
        setup: &Setup,
        policy: Box<dyn Policy>,
        host: &mut impl Host<W>,
    ) -> Self {
        let lc = &setup.lifecycle;
        let initial = setup.initial_replicas;
        // The initial replicas: per pool for a policy that places them, else anywhere; the
        // warm pool always anywhere.
        let placement = policy.initial_placement(initial);
        let pinned = placement.clone().unwrap_or_default();
        let anywhere = setup.warm_pool + if placement.is_some() { 0 } else { initial };
        let cluster = match setup.billing {
            Billing::Node => Some(Cluster::new(
                &setup.pools,
                plan.service.gpus,
                &pinned,
                anywhere,
                plan.seed ^ 0x005e_edc1_u64,
            )),
            Billing::Replica => None,
        };
        let priorities: Vec<u8> = if plan.traffic.classes.is_empty() {
            vec![0]
        } else {
            plan.traffic.classes.iter().map(|c| c.priority).collect()
        };
        let first_transient = plan.transients().iter().map(|(_, t)| t.as_nanos()).min();
        let budget_per_hour = match &setup.policy {
            PolicyConfig::CostAware(c) => c.budget_per_hour,
            _ => None,
        };
        let mut model = Model {
            settings: Settings {
                gpus: plan.service.gpus,
                scan_ns: plan.scan_interval.as_nanos().max(1),
                unneeded_ns: plan.scale_down_unneeded.as_nanos(),
                warm_pool: setup.warm_pool,
                retry_killed: setup.retry_killed,
                scrape_delay_ns: setup.scrape_delay.as_nanos(),
                price_per_replica_hour: setup.price_per_replica_hour,
                budget_per_hour,
                speed: setup.speed,
            },
            now: 0,
            end: plan.duration.as_nanos(),
            timeout_ns: plan.traffic.timeout.as_nanos(),
            concurrency: plan.service.concurrency,
            llm: plan.service.llm,
            pods: Vec::new(),
            live: Vec::new(),
            unbound: VecDeque::new(),
            counts: PodCounts::default(),
            router: LoadIndex::new(plan.service.concurrency),
            queue: WaitQueue::new(plan.service.queue as usize, &priorities),
            cluster,
            phases: PhaseModel {
                schedule: lc.schedule.sampler(),
                start: lc.start.sampler(),
                load: lc.load.sampler(),
                grace_ns: lc.grace_period.as_nanos(),
            },
            rng: <Pcg64Mcg as rand::SeedableRng>::seed_from_u64(plan.seed ^ 0x9e37_79b9_7f4a_7c15),
            policy,
            desired: initial,
            placement,
            held_back: 0,
            budget_limited: Gauge::default(),
            first_held_back: None,
            max_held_back: 0,
            in_flight: Gauge::default(),
            waiting: Gauge::default(),
            batch_waiting: Gauge::default(),
            replicas: Gauge::default(),
            allocated: Gauge::default(),
            samples: Vec::new(),
            sample_arrivals: 0,
            last_sample: (0, 0, 0),
            last_window: (0, 0),
            waited: 0,
            first_transient,
            scale_up_reaction: None,
            cold_starts: 0,
            max_ready: 0,
            faults: FaultPlan::default(),
            fault_events: Vec::new(),
            markers: Vec::new(),
            closed: false,
        };
        for (i, &n) in pinned.iter().enumerate() {
            for _ in 0..n {
                model.create_ready_pod(Some(i as u16), host);
            }
        }
        for _ in 0..anywhere {
            model.create_ready_pod(None, host);
        }
        model
    }

    /// True when the setup's policy reads latency percentiles, so the host should measure
    /// them for [`Host::latency_sample`].
    pub fn reads_latency(&self) -> bool {
        self.policy.reads_latency()
    }

    /// The plan's client timeout, ns.
    pub fn timeout_ns(&self) -> u64 {
        self.timeout_ns
    }

    /// Sets no periodic timer past `end` ns (default: the scenario's duration; a testbed that
    /// serves until it is stopped passes `u64::MAX`).
    pub fn run_until(&mut self, end: u64) {
        self.end = end;
    }
}
