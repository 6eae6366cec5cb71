//! The seam between a plan and its runs: a [`Driver`] turns setups of a [`Plan`] into
//! [`SetupRun`]s (the simulator in virtual time, the testbed over real HTTP, next a real
//! cluster), and [`schedule`] runs many of them, seeds x setups x sweep points, on the cores a
//! driver can use. Every command that runs setups goes through here, so cancellation, progress
//! and the use of the cores are decided in one place.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::{Plan, Setup};

use crate::run::SetupRun;

/// What a driver's failure means for the caller.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The plan or setup cannot be run as written (bad input).
    #[error("{0}")]
    Input(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The environment failed: a socket, a runtime, the target.
    #[error("{0}")]
    Env(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DriveError {
    /// Bad input.
    pub fn input(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DriveError::Input(e.into())
    }

    /// The environment failed.
    pub fn env(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DriveError::Env(e.into())
    }
}

/// What a running batch is given: the flag that cuts it short (Ctrl-C) and where it reports
/// the scenario time it has reached, one counter per setup of the batch, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Control<'a> {
    /// Set when the run must stop: the driver ends the scenario where it is and returns runs
    /// marked interrupted, holding what they measured.
    pub cancel: &'a AtomicBool,
    /// Scenario time reached by each setup of the batch, ns.
    pub reached: &'a [AtomicU64],
}

impl Control<'_> {
    /// True once the run must stop.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Records that every setup of the batch has reached scenario time `ns`.
    pub fn reach(&self, ns: u64) {
        for r in self.reached {
            r.fetch_max(ns, Ordering::Relaxed);
        }
    }
}

/// Something that runs setups of a plan and measures them.
pub trait Driver: Sync {
    /// Its name in reports: `sim`, `testbed`, `cluster`.
    fn name(&self) -> &'static str;

    /// How many batches may run at once: the simulator runs one per core; a driver in real
    /// time runs one setup after another (setups on one machine or cluster would disturb each
    /// other).
    fn parallel(&self) -> usize;

    /// The most setups of one plan a batch may hold: the simulator runs them in lockstep over
    /// one arrival stream; others take one at a time.
    fn batch(&self) -> usize {
        1
    }

    /// Runs `setups` of `plan`, returning one Run per setup, in order.
    fn run(
        &self,
        plan: &Plan,
        setups: &[&Setup],
        control: Control<'_>,
    ) -> Result<Vec<SetupRun>, DriveError>;
}

/// One setup of one plan to run.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The plan (a seed, a sweep setting): jobs of the same plan may share a batch.
    pub plan: &'a Plan,
    /// Its index among the plans of the schedule: equal indices, same plan.
    pub plan_index: usize,
    /// The setup.
    pub setup: &'a Setup,
}

/// How far a schedule has come, for a progress line.
#[derive(Debug)]
pub struct Progress {
    reached: Vec<AtomicU64>,
    total_ns: u128,
    done: AtomicUsize,
}

impl Progress {
    /// Progress of `jobs`.
    pub fn new(jobs: &[Job<'_>]) -> Progress {
        Progress {
            reached: jobs.iter().map(|_| AtomicU64::new(0)).collect(),
            total_ns: jobs
                .iter()
                .map(|j| u128::from(j.plan.duration.as_nanos()))
                .sum(),
            done: AtomicUsize::new(0),
        }
    }

    /// The share (0-1) of the scenario time of every job reached so far.
    pub fn fraction(&self) -> f64 {
        if self.total_ns == 0 {
            return 0.0;
        }
        let reached: u128 = self
            .reached
            .iter()
            .map(|r| u128::from(r.load(Ordering::Relaxed)))
            .sum();
        (reached as f64 / self.total_ns as f64).min(1.0)
    }

    /// Jobs finished.
    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// Jobs in all.
    pub fn jobs(&self) -> usize {
        self.reached.len()
    }
}

/// What became of one job.
#[derive(Debug)]
pub enum JobResult<T> {
    /// It ran (its Run says whether it was interrupted), and this is what was kept of it.
    Ran(T),
    /// It was not started: the schedule was cancelled, or another batch failed, first.
    Skipped,
    /// Its batch failed.
    Failed(DriveError),
}

/// Runs every job with `driver` on at most `threads` threads (and no more than the driver
/// runs at once): jobs of one plan are grouped into batches of up to [`Driver::batch`]
/// setups, each batch on one thread, in job order. `keep` turns each Run into what the caller
/// keeps of it (a sweep keeps a score, not the Run with its histograms and timeline), on the
/// thread that ran it, as soon as its batch ends. Once `cancel` is set, running batches stop
/// where they are and no new batch starts but the first (a run always has something to
/// report); once a batch fails, no new batch starts. Results are in job order
/// and do not depend on the thread count when the driver is deterministic.
pub fn schedule<T: Send>(
    driver: &dyn Driver,
    jobs: &[Job<'_>],
    threads: usize,
    cancel: &AtomicBool,
    progress: &Progress,
    keep: impl Fn(&Job<'_>, SetupRun) -> T + Sync,
) -> Vec<JobResult<T>> {
    let threads = threads.min(driver.parallel()).max(1);
    let batches = batches(jobs, threads, driver.batch().max(1));
    let results: Mutex<Vec<Option<JobResult<T>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads.min(batches.len()) {
            s.spawn(|| {
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(b) else { break };
                    // The first batch always runs, so a run cut short at once still reports
                    // what it measured; after a cancel or a failure, no other batch starts.
                    let stop = cancel.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed);
                    if stop && b > 0 {
                        break;
                    }
                    let first = &jobs[batch[0]];
                    let setups: Vec<&Setup> = batch.iter().map(|&j| jobs[j].setup).collect();
                    let reached = &progress.reached[batch[0]..batch[0] + batch.len()];
                    let control = Control { cancel, reached };
                    let outcome = driver.run(first.plan, &setups, control).map(|runs| {
                        batch
                            .iter()
                            .zip(runs)
                            .map(|(&j, run)| (j, keep(&jobs[j], run)))
                            .collect::<Vec<_>>()
                    });
                    progress.done.fetch_add(batch.len(), Ordering::Relaxed);
                    let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        Ok(kept) => {
                            for (j, kept) in kept {
                                progress.reached[j]
                                    .store(first.plan.duration.as_nanos(), Ordering::Relaxed);
                                results[j] = Some(JobResult::Ran(kept));
                            }
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            results[batch[0]] = Some(JobResult::Failed(e));
                        }
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or(JobResult::Skipped))
        .collect()
}

/// The chosen setups of plans that differ only by seed (`run --repeat`), or of one plan.
#[derive(Debug)]
pub struct Seeds<'a> {
    plans: &'a [Plan],
    jobs: Vec<Job<'a>>,
}

impl<'a> Seeds<'a> {
    /// The setups of each plan named in `names` (all when none is named), in the plan's order.
    pub fn new(plans: &'a [Plan], names: &[String]) -> Seeds<'a> {
        let jobs = plans
            .iter()
            .enumerate()
            .flat_map(|(plan_index, plan)| {
                plan.setups
                    .iter()
                    .filter(|s| names.is_empty() || names.contains(&s.name))
                    .map(move |setup| Job {
                        plan,
                        plan_index,
                        setup,
                    })
            })
            .collect();
        Seeds { plans, jobs }
    }

    /// The jobs, plan by plan.
    pub fn jobs(&self) -> &[Job<'a>] {
        &self.jobs
    }

    /// Runs every job and scores each plan's runs into its report, in plan order. A plan some
    /// of whose setups did not start (the run was cancelled) is left out, except the first:
    /// its report holds the setups that ran, and the ones that did not are named in a warning.
    pub fn run(
        &self,
        driver: &dyn Driver,
        threads: usize,
        cancel: &AtomicBool,
        progress: &Progress,
    ) -> Result<Vec<crate::report::Report>, DriveError> {
        let results = schedule(driver, &self.jobs, threads, cancel, progress, |_, run| run);
        let mut runs: Vec<Vec<SetupRun>> = self.plans.iter().map(|_| Vec::new()).collect();
        let mut skipped: Vec<Vec<&str>> = self.plans.iter().map(|_| Vec::new()).collect();
        for (job, result) in self.jobs.iter().zip(results) {
            match result {
                JobResult::Ran(run) => runs[job.plan_index].push(run),
                JobResult::Skipped => skipped[job.plan_index].push(&job.setup.name),
                JobResult::Failed(e) => return Err(e),
            }
        }
        if !skipped[0].is_empty() {
            tracing::warn!(
                "interrupted: setups not run, so not in the report: {}",
                skipped[0].join(", ")
            );
        }
        Ok(self
            .plans
            .iter()
            .zip(runs)
            .zip(&skipped)
            .enumerate()
            .take_while(|(i, ((_, runs), skipped))| {
                *i == 0 || (skipped.is_empty() && !runs.is_empty())
            })
            .map(|(_, ((plan, runs), _))| crate::score::score(plan, driver.name(), &runs))
            .collect())
    }
}

/// Consecutive jobs of one plan, in batches of up to `width` (fewer when that spreads one
/// plan's jobs over more threads): each batch is a run of consecutive job indices.
fn batches(jobs: &[Job<'_>], threads: usize, width: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < jobs.len() {
        let plan = jobs[i].plan_index;
        let end = jobs[i..]
            .iter()
            .position(|j| j.plan_index != plan)
            .map_or(jobs.len(), |n| i + n);
        let n = end - i;
        let w = width.min(n.div_ceil(threads)).max(1);
        for start in (i..end).step_by(w) {
            out.push((start..(start + w).min(end)).collect());
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_group_consecutive_jobs_of_a_plan_and_spread_them_over_the_threads() {
        let plan = crate::Plan::parse(
            std::path::Path::new("t.toml"),
            "duration = \"1s\"\n[slo]\nlatency = \"1s\"\n[traffic]\n[[traffic.shape]]\nkind = \"steady\"\nrate = 1\n[service]\ntime = \"1ms\"\n[cluster]\nbilling = \"replica\"\nprice_per_replica_hour = 1\n[[setup]]\nname = \"a\"\n[setup.fixed]\nreplicas = 1\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let job = |plan_index| Job {
            plan: &plan,
            plan_index,
            setup: &plan.setups[0],
        };
        // Three setups of one plan on two threads: two batches, so both threads work.
        let jobs = [job(0), job(0), job(0)];
        assert_eq!(batches(&jobs, 2, 4), vec![vec![0, 1], vec![2]]);
        // Many setups of one plan: batches of the driver's width.
        let many: Vec<_> = (0..9).map(|_| job(0)).collect();
        assert_eq!(batches(&many, 2, 4).len(), 3);
        // A batch never mixes plans.
        let mixed = [job(0), job(1), job(1), job(2)];
        assert_eq!(batches(&mixed, 1, 4), vec![vec![0], vec![1, 2], vec![3]]);
        assert_eq!(batches(&mixed, 2, 1).len(), 4);
    }
}
