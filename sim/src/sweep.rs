//! A sweep: one scenario under a grid of settings, every setting's setups run on the simulator
//! in parallel, scored and put side by side, with the cost / tail-latency Pareto front.
//!
//! Settings often share setups: a grid over `keda.target` leaves a fixed setup unchanged, and a
//! grid over `warm_pool` and `hpa.target` gives the KEDA setup as many variants as there are
//! warm pool sizes. Each distinct (scenario, setup) pair is simulated once and its score shared
//! by every setting that has it. Pairs with the same scenario run in lockstep over one arrival
//! stream ([`simulate_together`]), a few at a time, on as many threads as asked for. The results
//! do not depend on the thread count: every simulation is deterministic for the seed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chaos::FaultPlan;
use harness::report::SetupReport;
use harness::report::SloSpec;
use harness::score::{rank, score};
use harness::sweep::{SCHEMA, Setting, Sweep};
use workloads::{Plan, Setup};

use crate::simulate_together;

/// Setups simulated in lockstep over one arrival stream: enough to share the arrivals' cost,
/// few enough to keep the work spread over the threads and the state in cache.
const LOCKSTEP: usize = 4;

/// One setting of the grid, ready to simulate.
#[derive(Debug, Clone)]
pub struct Point {
    /// The key values, as shown in outputs, one per key.
    pub values: Vec<String>,
    /// The scenario with the setting applied.
    pub plan: Plan,
    /// Its faults.
    pub faults: FaultPlan,
}

/// Runs every point's setups on `threads` threads (at least one) and scores them.
/// `done`, when given, counts the simulations finished. When `cancel` is set, no new
/// simulations start, the running ones stop at their next check, and the sweep keeps the
/// settings that finished.
pub fn run(
    keys: Vec<String>,
    points: &[Point],
    threads: usize,
    cancel: Option<&AtomicBool>,
    done: Option<&AtomicUsize>,
) -> Sweep {
    // Distinct (scenario, setup) pairs; the scenario part is everything but the setups.
    let mut scenario_ids: HashMap<String, usize> = HashMap::new();
    let mut scenarios: Vec<usize> = Vec::new(); // scenario id -> the first point that has it
    let mut job_ids: HashMap<(usize, String), usize> = HashMap::new();
    let mut jobs: Vec<(usize, &Setup)> = Vec::new(); // (scenario id, setup)
    let mut setting_jobs: Vec<Vec<usize>> = Vec::with_capacity(points.len());
    for (p, point) in points.iter().enumerate() {
        let key = scenario_key(&point.plan, &point.faults);
        let next = scenario_ids.len();
        let sid = *scenario_ids.entry(key).or_insert(next);
        if sid == scenarios.len() {
            scenarios.push(p);
        }
        let ids = point
            .plan
            .setups
            .iter()
            .map(|setup| {
                let next = job_ids.len();
                let id = *job_ids.entry((sid, format!("{setup:?}"))).or_insert(next);
                if id == jobs.len() {
                    jobs.push((sid, setup));
                }
                id
            })
            .collect();
        setting_jobs.push(ids);
    }

    // Chunks of jobs of one scenario each, to run in lockstep.
    let mut by_scenario: Vec<Vec<usize>> = vec![Vec::new(); scenarios.len()];
    for (id, &(sid, _)) in jobs.iter().enumerate() {
        by_scenario[sid].push(id);
    }
    let chunks: Vec<&[usize]> = by_scenario
        .iter()
        .flat_map(|ids| ids.chunks(LOCKSTEP))
        .collect();

    let results: Mutex<Vec<Option<SetupReport>>> = Mutex::new(vec![None; jobs.len()]);
    let next = AtomicUsize::new(0);
    let stopped = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let c = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(c) else { break };
                    if stopped() {
                        break;
                    }
                    let point = &points[scenarios[jobs[chunk[0]].0]];
                    let setups: Vec<&Setup> = chunk.iter().map(|&id| jobs[id].1).collect();
                    let runs = simulate_together(&point.plan, &setups, &point.faults, cancel, None);
                    let scored: Vec<(usize, SetupReport)> = chunk
                        .iter()
                        .zip(runs)
                        .filter(|(_, run)| !run.interrupted)
                        .map(|(&id, run)| {
                            let mut report = score(&point.plan, "sim", &[run]);
                            let mut setup = report.setups.remove(0);
                            setup.timeline = Vec::new();
                            (id, setup)
                        })
                        .collect();
                    if let Some(d) = done {
                        d.fetch_add(scored.len(), Ordering::Relaxed);
                    }
                    let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
                    for (id, setup) in scored {
                        results[id] = Some(setup);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());

    let mut settings = Vec::with_capacity(points.len());
    for (point, ids) in points.iter().zip(&setting_jobs) {
        let Some(mut setups) = ids
            .iter()
            .map(|&id| results[id].clone())
            .collect::<Option<Vec<SetupReport>>>()
        else {
            continue;
        };
        rank(&mut setups);
        // `ids` follows the plan's setup order; setup names are unique within a plan.
        let simulations = setups
            .iter()
            .map(|r| {
                let k = point.plan.setups.iter().position(|s| s.name == r.name);
                k.map_or(0, |k| ids[k])
            })
            .collect();
        settings.push(Setting {
            values: point.values.clone(),
            setups,
            simulations,
        });
    }
    let first = points.first().map(|p| &p.plan);
    Sweep {
        schema: SCHEMA.to_string(),
        scenario: first.map_or_else(String::new, |p| p.name.clone()),
        seed: first.map_or(0, |p| p.seed),
        slo: first.map_or(
            SloSpec {
                latency_ms: 0.0,
                percentile: 0.0,
                timeout_ms: 0.0,
            },
            |p| SloSpec {
                latency_ms: p.slo.latency.as_millis_f64(),
                percentile: p.slo.percentile,
                timeout_ms: p.traffic.timeout.as_millis_f64(),
            },
        ),
        keys,
        interrupted: settings.len() < points.len(),
        settings,
        simulations: jobs.len(),
    }
}

/// Identifies a scenario up to its setups: two points with the same key offer the same
/// arrivals, faults and cluster to their setups.
fn scenario_key(plan: &Plan, faults: &FaultPlan) -> String {
    let without_setups = Plan {
        setups: Vec::new(),
        ..plan.clone()
    };
    format!("{without_setups:?}{faults:?}")
}
