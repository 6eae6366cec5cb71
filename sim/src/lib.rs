//! The embedded simulated cluster: a discrete-event simulation of an inference service on node
//! pools, in virtual time, bit-for-bit reproducible for a seed.
//!
//! One [`simulate`] call runs one setup of a [`Plan`]: the plan's lazy arrival stream (the same
//! arrivals and service times for every setup, so setups differ only by what they do with them)
//! meets a least-loaded router, per-replica concurrency slots, a bounded priority queue, pods
//! going through their lifecycle on nodes that a cluster autoscaler provisions, and the setup's
//! autoscaler policy fed with scrape-delayed metrics. Time is integer nanoseconds; ties between
//! events are broken by the order they were scheduled in.

mod cluster;
mod engine;
mod events;
mod faults;
mod gauge;
mod observe;
mod pods;
mod queue;
mod router;
pub mod sweep;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chaos::FaultPlan;
use rand_pcg::Pcg64Mcg;
use workloads::arrivals::ArrivalStream;
use workloads::dist::Sampler;
use workloads::scenario::Billing;
use workloads::{Plan, Setup};

use autoscale::{self, MetricSample, Policy};
use harness::run::SetupRun;

use harness::record::Recorder;
use cluster::Cluster;
use events::Agenda;
use gauge::Gauge;
use pods::{Pod, PodCounts};
use queue::WaitQueue;
use router::LoadIndex;

/// Runs one setup of the plan to completion: every scheduled request is answered, fails, is
/// rejected or times out.
///
/// The plan's `[[faults]]` are not injected: use [`simulate_together`] with its fault plan.
pub fn simulate(plan: &Plan, setup: &Setup) -> SetupRun {
    simulate_together(plan, &[setup], &FaultPlan::default(), None, None).remove(0)
}

/// How often (in arrivals) a run looks at its cancel flag.
const CANCEL_CHECK: u64 = 1 << 14;

/// Runs several setups on this thread in lockstep over one arrival stream: each arrival is
/// generated once and offered to every setup, which is cheaper than one stream per setup. The
/// results are the same as [`simulate`]'s for each setup.
///
/// When `cancel` is set during the run (Ctrl-C), no more arrivals are offered: the scenario
/// ends at the last arrival, what was sent is resolved, and the runs say they were interrupted.
/// `progress`, when given, follows the scenario time reached, in nanoseconds.
pub fn simulate_together(
    plan: &Plan,
    setups: &[&Setup],
    faults: &FaultPlan,
    cancel: Option<&AtomicBool>,
    progress: Option<&AtomicU64>,
) -> Vec<SetupRun> {
    let mut sims: Vec<Sim<'_>> = setups.iter().map(|s| Sim::new(plan, s, faults)).collect();
    for sim in &mut sims {
        sim.schedule_periodic();
        sim.schedule_faults();
        let nodes = sim
            .cluster
            .as_ref()
            .map(|c| c.all_nodes())
            .unwrap_or_default();
        for (node, _) in nodes {
            sim.arm_interruption(node);
        }
    }
    let mut n = 0u64;
    for a in ArrivalStream::new(plan) {
        n += 1;
        if n % CANCEL_CHECK == 0 {
            if let Some(p) = progress {
                p.store(a.t_ns, Ordering::Relaxed);
            }
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                for sim in &mut sims {
                    sim.stop_at(a.t_ns);
                }
                break;
            }
        }
        for sim in &mut sims {
            sim.advance_to(a.t_ns);
            sim.offer(a);
        }
    }
    let runs = sims.into_iter().map(Sim::drain).collect();
    if let Some(p) = progress {
        p.store(plan.duration.as_nanos(), Ordering::Relaxed);
    }
    runs
}

/// Runs every given setup of the plan, each on its own thread, in the given order;
/// `progress[i]`, when given, follows setup i's scenario time.
pub fn simulate_all(
    plan: &Plan,
    setups: &[&Setup],
    faults: &FaultPlan,
    cancel: Option<&AtomicBool>,
    progress: Option<&[AtomicU64]>,
) -> Vec<SetupRun> {
    std::thread::scope(|s| {
        let handles: Vec<_> = setups
            .iter()
            .enumerate()
            .map(|(i, setup)| {
                let p = progress.and_then(|p| p.get(i));
                s.spawn(move || simulate_together(plan, &[setup], faults, cancel, p).remove(0))
            })
            .collect();
        handles
            .into_iter()
            .zip(setups)
            .map(|(h, setup)| match h.join() {
                Ok(run) => run,
                // A panic in a simulation thread is a bug; re-raise it on the caller's thread.
                Err(e) => {
                    tracing::error!(setup = %setup.name, "simulation thread panicked");
                    std::panic::resume_unwind(e)
                }
            })
            .collect()
    })
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

/// One setup's simulation state.
struct Sim<'a> {
    plan: &'a Plan,
    setup: &'a Setup,
    agenda: Agenda,
    now: u64,
    end: u64,
    timeout_ns: u64,
    slo_ns: u64,
    concurrency: u32,
    speed: f64,
    pods: Vec<Pod>,
    /// Pods that count toward the replica count (not draining, not gone), oldest first.
    live: Vec<u32>,
    /// Pods waiting for room on a node, oldest first (may hold pods deleted since).
    unbound: VecDeque<u32>,
    counts: PodCounts,
    router: LoadIndex,
    queue: WaitQueue,
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
    /// Pods that exist (any state but gone): paid under replica billing.
    replicas: Gauge,
    /// Pods bound to a node or past binding (capacity held), for utilisation.
    allocated: Gauge,
    samples: Vec<MetricSample>,
    /// Integrals at the last metric sample: (in-flight, waiting, allocated).
    last_sample: (u128, u128, u128),
    /// Integrals at the last window close: (in-flight, allocated).
    last_window: (u128, u128),
    window_start: u64,
    rec: Recorder,
    /// Transient starts (ns), for the scale-up reaction time.
    first_transient: Option<u64>,
    scale_up_reaction: Option<u64>,
    cold_starts: u32,
    max_ready: u32,
    /// Snapshot of the bill when the scenario's time ran out.
    bill: Option<observe::Bill>,
    /// The run was cut short; `end` is when.
    interrupted: bool,
    /// The scenario's faults, and what each did.
    faults: &'a FaultPlan,
    fault_events: Vec<harness::report::FaultEvent>,
    /// Faults that struck in the open window.
    window_faults: Vec<String>,
}

impl<'a> Sim<'a> {
    fn new(plan: &'a Plan, setup: &'a Setup, faults: &'a FaultPlan) -> Self {
        let lc = &setup.lifecycle;
        let initial = setup.initial_replicas;
        let policy = autoscale::build(plan, setup);
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
        let mut sim = Sim {
            plan,
            setup,
            agenda: Agenda::default(),
            now: 0,
            end: plan.duration.as_nanos(),
            timeout_ns: plan.traffic.timeout.as_nanos(),
            slo_ns: plan.slo.latency.as_nanos(),
            concurrency: plan.service.concurrency,
            speed: setup.speed,
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
            replicas: Gauge::default(),
            allocated: Gauge::default(),
            samples: Vec::new(),
            last_sample: (0, 0, 0),
            last_window: (0, 0),
            window_start: 0,
            rec: Recorder::new(plan),
            first_transient,
            scale_up_reaction: None,
            cold_starts: 0,
            max_ready: 0,
            bill: None,
            interrupted: false,
            faults,
            fault_events: Vec::new(),
            window_faults: Vec::new(),
        };
        if sim.policy.reads_latency() {
            sim.rec.measure_samples();
        }
        for (i, &n) in pinned.iter().enumerate() {
            for _ in 0..n {
                sim.create_ready_pod(Some(i as u16));
            }
        }
        for _ in 0..anywhere {
            sim.create_ready_pod(None);
        }
        sim
    }
}

#[cfg(test)]
mod placement_tests;
#[cfg(test)]
mod tests;
