//! A sweep: one scenario under a grid of settings, every setting's setups run, scored and put
//! side by side, with the cost / tail-latency Pareto front.
//!
//! Settings often share setups: a grid over `keda.target` leaves a fixed setup unchanged, and a
//! grid over `warm_pool` and `hpa.target` gives the KEDA setup as many variants as there are
//! warm pool sizes. Each distinct (scenario, setup) pair is run once and its score shared by
//! every setting that has it; pairs of one scenario are consecutive jobs of the
//! [`schedule`], so the simulator runs them in lockstep over one
//! arrival stream. The results do not depend on the thread count when the driver is
//! deterministic, as the simulator is for a seed.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use crate::{Plan, Setup};
use serde::{Deserialize, Serialize};

use crate::drive::{DriveError, Driver, Job, JobResult, Progress, schedule};
use crate::report::{SetupReport, SloSpec};
use crate::score::{rank, score};

/// The schema identifier of a sweep's JSON.
pub const SCHEMA: &str = "scalebench.sweep/v1";

/// A sweep's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The scenario's name.
    pub scenario: String,
    /// The seed of every setting.
    pub seed: u64,
    /// The objective (of the first setting; a sweep over `slo.*` changes it per setting).
    pub slo: SloSpec,
    /// The keys varied, in the order given.
    pub keys: Vec<String>,
    /// Every setting, in grid order (the last key varies fastest).
    pub settings: Vec<Setting>,
    /// Distinct setups simulated (settings share the unchanged ones).
    pub simulations: usize,
    /// Interrupted: only the settings whose every setup finished are reported.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// One setting and how its setups did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// The key values, one per key.
    pub values: Vec<String>,
    /// The setups, ranked within the setting, best first; without their timelines.
    pub setups: Vec<SetupReport>,
    /// Each setup's distinct simulation, parallel to `setups`: settings that leave a setup
    /// unchanged share its simulation.
    pub simulations: Vec<usize>,
}

/// A row of the sweep: one setup under one setting.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The setting's index.
    pub setting: usize,
    /// The setting.
    pub values: &'a [String],
    /// The setup's results.
    pub setup: &'a SetupReport,
    /// Its distinct simulation: rows with the same one are the same run.
    pub simulation: usize,
    /// It failed no more requests than the SLO's error budget allows (see
    /// [`Sweep::error_budget`]): only such rows compete for the front, since p99 counts only
    /// the requests that were answered. A row whose cost nothing measured is not eligible:
    /// an unknown cost has no place on the front.
    pub eligible: bool,
    /// Eligible, and no other eligible row is at least as cheap and as fast and better in one
    /// of the two.
    pub pareto: bool,
}

impl Sweep {
    /// The share of requests a setup may fail and still compete for the front: what the SLO
    /// leaves outside its percentile (1% for p99). A setup that sheds load can show a low p99
    /// at a low cost; it does not meet the objective.
    pub fn error_budget(&self) -> f64 {
        (1.0 - self.slo.percentile / 100.0).max(0.0)
    }

    /// Every (setting, setup) row, in grid order, with its place on the Pareto front of total
    /// cost against p99 (both lower is better) among the rows within the error budget.
    pub fn rows(&self) -> Vec<Row<'_>> {
        let budget = self.error_budget() + 1e-12;
        let mut rows: Vec<Row<'_>> = self
            .settings
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                s.setups
                    .iter()
                    .zip(&s.simulations)
                    .map(move |(setup, &simulation)| Row {
                        setting: i,
                        values: &s.values,
                        setup,
                        simulation,
                        // An unknown cost has no place on a cost axis.
                        eligible: setup.requests.error_rate() <= budget
                            && setup.cost.total_usd.is_some(),
                        pareto: false,
                    })
            })
            .collect();
        let eligible: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].eligible).collect();
        let points: Vec<(f64, f64)> = eligible
            .iter()
            .map(|&i| {
                let s = rows[i].setup;
                // Eligible rows have a known cost.
                (s.cost.total_usd.unwrap_or(f64::INFINITY), s.latency_ms.p99)
            })
            .collect();
        for (&i, on) in eligible.iter().zip(pareto_front(&points)) {
            rows[i].pareto = on;
        }
        rows
    }

    /// The cheapest row that meets the SLO (ties: the better attainment, then the earlier); a
    /// row of unknown cost only when no row that meets the SLO has a known one.
    pub fn cheapest_meeting_slo(&self) -> Option<Row<'_>> {
        self.rows()
            .into_iter()
            .filter(|r| r.setup.slo.met)
            .min_by(|a, b| {
                crate::score::known_first(a.setup.cost.total_usd, b.setup.cost.total_usd)
                    .then_with(|| b.setup.slo.attainment.total_cmp(&a.setup.slo.attainment))
            })
    }
}

/// Marks the points `(cost, latency)` that no other point dominates (at most as much of both
/// and less of one). Equal points are all on the front.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then_with(|| points[a].1.total_cmp(&points[b].1))
    });
    let mut on = vec![false; points.len()];
    // The lowest latency among strictly cheaper points, and among points of the current cost.
    let mut best_cheaper = f64::INFINITY;
    let mut i = 0;
    while i < order.len() {
        let cost = points[order[i]].0;
        let group_end = order[i..]
            .iter()
            .position(|&k| points[k].0.total_cmp(&cost).is_ne())
            .map_or(order.len(), |n| i + n);
        // Sorted by latency within the group: its first has the group's best latency.
        let group_best = points[order[i]].1;
        for &k in &order[i..group_end] {
            let lat = points[k].1;
            on[k] = lat < best_cheaper && lat.total_cmp(&group_best).is_eq();
        }
        best_cheaper = best_cheaper.min(group_best);
        i = group_end;
    }
    on
}

/// One setting of the grid, ready to run.
#[derive(Debug, Clone)]
pub struct Point {
    /// The key values, as shown in outputs, one per key.
    pub values: Vec<String>,
    /// The scenario with the setting applied.
    pub plan: Plan,
}

/// The distinct (scenario, setup) pairs of a sweep, as jobs for the schedule.
#[derive(Debug)]
pub struct Jobs<'a> {
    /// The jobs: pairs of one scenario are consecutive.
    pub jobs: Vec<Job<'a>>,
    /// For each point, the distinct pair of each of its setups, in the plan's setup order,
    /// numbered in order of first appearance (the sweep's `simulation` ids).
    setting_pairs: Vec<Vec<usize>>,
    /// The job of each pair.
    job_of_pair: Vec<usize>,
}

/// Identifies a scenario up to its setups: two points with the same key offer the same
/// arrivals, faults and cluster to their setups.
fn scenario_key(plan: &Plan) -> String {
    let without_setups = Plan {
        setups: Vec::new(),
        ..plan.clone()
    };
    format!("{without_setups:?}")
}

/// The jobs of a sweep: each distinct (scenario, setup) pair once, pairs of one scenario
/// together.
pub fn jobs(points: &[Point]) -> Jobs<'_> {
    let mut scenario_ids: HashMap<String, usize> = HashMap::new();
    let mut first_point: Vec<usize> = Vec::new(); // scenario id -> the first point that has it
    let mut pair_ids: HashMap<(usize, String), usize> = HashMap::new();
    let mut pairs: Vec<(usize, &Setup)> = Vec::new(); // (scenario id, setup)
    let mut setting_pairs: Vec<Vec<usize>> = Vec::with_capacity(points.len());
    for (p, point) in points.iter().enumerate() {
        let next = scenario_ids.len();
        let sid = *scenario_ids
            .entry(scenario_key(&point.plan))
            .or_insert(next);
        if sid == first_point.len() {
            first_point.push(p);
        }
        let ids = point
            .plan
            .setups
            .iter()
            .map(|setup| {
                let next = pair_ids.len();
                let id = *pair_ids.entry((sid, format!("{setup:?}"))).or_insert(next);
                if id == pairs.len() {
                    pairs.push((sid, setup));
                }
                id
            })
            .collect();
        setting_pairs.push(ids);
    }
    // Jobs in scenario order, so that a scenario's pairs are consecutive.
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by_key(|&id| pairs[id].0);
    let mut job_of_pair = vec![0; pairs.len()];
    let jobs = order
        .iter()
        .enumerate()
        .map(|(j, &id)| {
            job_of_pair[id] = j;
            let (sid, setup) = pairs[id];
            Job {
                plan: &points[first_point[sid]].plan,
                plan_index: sid,
                setup,
            }
        })
        .collect();
    Jobs {
        jobs,
        setting_pairs,
        job_of_pair,
    }
}

/// Runs every point's setups with `driver` on `threads` threads and scores them. When
/// `cancel` is set, no new runs start, the running ones stop, and the sweep keeps the
/// settings whose every setup finished. Fails with the first failure of the driver.
pub fn run(
    driver: &dyn Driver,
    keys: Vec<String>,
    points: &[Point],
    sweep: &Jobs<'_>,
    threads: usize,
    cancel: &AtomicBool,
    progress: &Progress,
) -> Result<Sweep, DriveError> {
    // Each run is scored as soon as it ends, on its thread; only the score is kept.
    let keep = |job: &Job<'_>, run: crate::run::SetupRun| {
        if run.interrupted {
            return None;
        }
        let mut report = score(job.plan, driver.name(), &[run]);
        let mut setup = report.setups.remove(0);
        setup.timeline = Vec::new();
        Some(setup)
    };
    let mut results = Vec::with_capacity(sweep.jobs.len());
    for result in schedule(driver, &sweep.jobs, threads, cancel, progress, keep) {
        results.push(match result {
            JobResult::Ran(setup) => setup,
            JobResult::Skipped => None,
            JobResult::Failed(e) => return Err(e),
        });
    }
    let mut settings = Vec::with_capacity(points.len());
    for (point, ids) in points.iter().zip(&sweep.setting_pairs) {
        let Some(mut setups) = ids
            .iter()
            .map(|&id| results[sweep.job_of_pair[id]].clone())
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
    Ok(Sweep {
        schema: SCHEMA.to_string(),
        scenario: first.map_or_else(String::new, |p| p.name.clone()),
        seed: first.map_or(0, |p| p.seed),
        slo: first.map_or(
            SloSpec {
                latency_ms: 0.0,
                percentile: 0.0,
                timeout_ms: 0.0,
                ttft_ms: None,
                tpot_ms: None,
            },
            |p| SloSpec {
                latency_ms: p.slo.latency.as_millis_f64(),
                percentile: p.slo.percentile,
                timeout_ms: p.traffic.timeout.as_millis_f64(),
                ttft_ms: p.slo.ttft.map(crate::Duration::as_millis_f64),
                tpot_ms: p.slo.tpot.map(crate::Duration::as_millis_f64),
            },
        ),
        keys,
        interrupted: settings.len() < points.len(),
        settings,
        simulations: sweep.jobs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::pareto_front;

    #[test]
    fn pareto_front_keeps_the_undominated_points() {
        let points = [
            (1.0, 10.0), // cheapest
            (2.0, 5.0),  // faster for more
            (2.0, 6.0),  // same cost, slower: dominated
            (3.0, 5.0),  // same latency, dearer: dominated
            (4.0, 1.0),  // fastest
            (5.0, 2.0),  // dominated by (4, 1)
            (4.0, 1.0),  // equal to a front point: on it too
        ];
        assert_eq!(
            pareto_front(&points),
            [true, true, false, false, true, false, true]
        );
        assert!(pareto_front(&[]).is_empty());
    }
}
