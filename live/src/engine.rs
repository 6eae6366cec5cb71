//! Running a plan's arrivals against a target. The schedule is split over shards: shard i of N
//! sends arrivals i, i + N, ... on its own thread, with its own single-threaded tokio runtime,
//! its own connections and its own pacing (the `shard` module), so no request crosses a
//! thread on its way out. Outcomes come back to the calling thread in batches, where the
//! collector applies them in time order and closes the timeline windows. Each request's
//! deadline is its intended send time plus the plan's timeout, so a request that went out late
//! does not get more time than its client would give it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use scalebench_core::Plan;
use scalebench_core::run::SetupRun;

use crate::collect::{Collector, Event, Outcome};
use crate::observe::{NoObserver, Observer};
use crate::request::Requests;
use crate::shard::{Batch, Gate, Shard};
use crate::target::{Target, TargetError};

/// How an interrupted run waits for what is in flight before it counts it as cancelled.
pub const GRACE: Duration = Duration::from_secs(2);

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The async runtime could not be built.
    #[error("cannot start the load engine's runtime")]
    Runtime(#[source] std::io::Error),
    /// A thread could not be spawned.
    #[error("cannot start the load engine's threads")]
    Thread(#[source] std::io::Error),
    /// The target cannot be reached as given (its name does not resolve, its TLS settings are
    /// wrong).
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// How to send.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// What each request is.
    pub target: Target,
    /// The most requests in flight at once; an arrival beyond it is counted as not sent.
    pub max_in_flight: u64,
    /// HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1.
    pub http2: bool,
    /// Shards: threads that each send every N-th arrival on their own connections.
    pub workers: usize,
    /// HTTP/1.1 connections opened before the first request is due (split over the shards).
    pub connections: usize,
    /// Whether `connections` is also the most that are open at once, as with wrk's `-c`:
    /// requests beyond wait for a free connection, and the wait shows in the schedule lag.
    /// Otherwise more are opened as requests need them.
    pub fixed_connections: bool,
    /// Scenario seconds per real second (a testbed that runs faster than real time): the
    /// schedule and the timeout shrink by it, measured times grow by it, so the Run is in
    /// scenario time.
    pub time_scale: f64,
    /// Which HTTP/1.1 client (a benchmark switch).
    #[doc(hidden)]
    pub h1_client: crate::H1Client,
}

impl LoadConfig {
    /// Defaults: 10,000 in flight, HTTP/1.1, one worker per core.
    pub fn new(target: Target) -> Self {
        LoadConfig {
            target,
            max_in_flight: 10_000,
            http2: false,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            connections: 0,
            fixed_connections: false,
            time_scale: 1.0,
            h1_client: crate::H1Client::Own,
        }
    }
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests sent.
    pub sent: AtomicU64,
    /// Requests that ended, any way.
    pub done: AtomicU64,
    /// Of those, not answered 2xx.
    pub errors: AtomicU64,
    /// Requests not sent because of the in-flight bound.
    pub not_sent: AtomicU64,
}

/// Sends the plan's arrivals to the target and measures them; `name` names the setup in the
/// report. When `cancel` is set, no more requests are sent, what is in flight gets [`GRACE`]
/// to finish, and the Run reports what was measured until then.
pub fn run(
    plan: &Plan,
    name: &str,
    config: &LoadConfig,
    cancel: &AtomicBool,
    progress: &Progress,
) -> Result<SetupRun, LoadError> {
    run_observed(plan, name, config, cancel, progress, &NoObserver)
}

/// [`run`], with `observer` asked for the service's state at every window's end.
pub fn run_observed(
    plan: &Plan,
    name: &str,
    config: &LoadConfig,
    cancel: &AtomicBool,
    progress: &Progress,
    observer: &dyn Observer,
) -> Result<SetupRun, LoadError> {
    let requests = Requests::new(&config.target, plan, config.http2, config.h1_client)?;
    // The in-flight bound is split exactly over the shards, so no shard gets none of it.
    let bound = config.max_in_flight.max(1);
    let shards = config.workers.clamp(1, bound.min(1024) as usize);
    let scale = if config.time_scale > 0.0 {
        config.time_scale
    } else {
        1.0
    };
    let mut clock = Clock {
        start: Instant::now(),
        scale,
    };
    let timeout = clock.real(plan.traffic.timeout.as_nanos());
    let (tx, rx) = mpsc::channel::<Batch>();
    let gate = Gate::default();
    let warm = config.connections;
    std::thread::scope(|s| {
        for index in 0..shards {
            let shard = Shard {
                index,
                count: shards,
                plan,
                requests: &requests,
                clock,
                timeout,
                max_in_flight: bound / shards as u64
                    + u64::from((index as u64) < bound % shards as u64),
                cancel,
                tx: tx.clone(),
                warm: warm / shards + usize::from(index < warm % shards),
                max_connections: if config.fixed_connections {
                    (warm / shards + usize::from(index < warm % shards)).max(1)
                } else {
                    usize::MAX
                },
            };
            let gate = &gate;
            let spawned = std::thread::Builder::new()
                .name(format!("scalebench-load-{index}"))
                .spawn_scoped(s, move || {
                    if let Err(e) = shard.run(gate) {
                        tracing::error!("load shard {index} could not start: {e}");
                    }
                });
            if let Err(e) = spawned {
                // The shards already started must not wait for a start that never comes.
                gate.open(clock);
                return Err(LoadError::Thread(e));
            }
        }
        drop(tx);
        gate.wait_warmed(shards, Duration::from_secs(10));
        // A moment for every shard to see the start before the first arrival is due.
        clock.start = Instant::now() + Duration::from_millis(2);
        gate.open(clock);
        let mut c = Collector::new(plan);
        let interrupted = collect(&rx, &mut c, shards, clock, cancel, progress, observer);
        Ok(c.finish(name, interrupted))
    })
}

/// Real time and scenario time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub start: Instant,
    /// Scenario seconds per real second.
    pub scale: f64,
}

impl Clock {
    /// Scenario nanoseconds since the start.
    pub fn now_ns(&self) -> u64 {
        self.ns_at(Instant::now())
    }

    /// Scenario nanoseconds from the start to `t` (0 before the start).
    pub fn ns_at(&self, t: Instant) -> u64 {
        (t.saturating_duration_since(self.start).as_nanos() as f64 * self.scale) as u64
    }

    /// The real duration of `scenario_ns`.
    pub fn real(&self, scenario_ns: u64) -> Duration {
        Duration::from_nanos((scenario_ns as f64 / self.scale) as u64)
    }
}

/// Takes the shards' batches until every shard is done: counts them for the progress
/// display, and lets the collector apply what is safe (every shard has reported past it) and
/// close windows. Returns when the run was interrupted, in scenario ns.
fn collect(
    rx: &mpsc::Receiver<Batch>,
    c: &mut Collector,
    shards: usize,
    clock: Clock,
    cancel: &AtomicBool,
    progress: &Progress,
    observer: &dyn Observer,
) -> Option<u64> {
    let mut safe = vec![0u64; shards];
    let mut oldest: Vec<Option<u64>> = vec![None; shards];
    let mut finished = vec![false; shards];
    let mut interrupted = None;
    while finished.iter().any(|f| !f) {
        if interrupted.is_none() && cancel.load(Ordering::Relaxed) {
            interrupted = Some(clock.now_ns());
        }
        let batch = match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(b) => b,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            // A shard that could not start: nothing more comes.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let i = batch.shard;
        for ev in &batch.events {
            count(progress, ev);
            c.record(*ev);
        }
        safe[i] = batch.safe_ns;
        oldest[i] = batch.oldest_in_flight;
        finished[i] = batch.finished;
        let horizon = (0..shards).filter(|&j| !finished[j]).map(|j| safe[j]).min();
        if let Some(h) = horizon {
            c.advance(h, oldest.iter().flatten().copied().min(), observer);
        }
    }
    interrupted.or_else(|| cancel.load(Ordering::Relaxed).then(|| clock.now_ns()))
}

/// Counts an event for the progress display.
fn count(p: &Progress, ev: &Event) {
    match ev {
        Event::Sent { .. } => {
            p.sent.fetch_add(1, Ordering::Relaxed);
        }
        Event::NotSent { .. } => {
            p.not_sent.fetch_add(1, Ordering::Relaxed);
        }
        Event::Done { outcome, .. } => {
            p.done.fetch_add(1, Ordering::Relaxed);
            if !matches!(outcome, Outcome::Status(200..=299)) {
                p.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        Event::Cancelled { .. } => {}
    }
}
