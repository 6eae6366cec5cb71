//! Running a plan's arrivals against a target. The schedule is sent by shards: threads with
//! their own single-threaded tokio runtime, connections and pacing (the `shard` module), which
//! take it a lease of about a millisecond at a time (`schedule`), so no request crosses a
//! thread on its way out. Outcomes come back to the calling thread in batches, where the
//! collector applies them in time order and closes the timeline windows. Each request's
//! deadline is its intended send time plus the plan's timeout, so a request that went out late
//! does not get more time than its client would give it.
//!
//! The calling thread also supervises, so the defaults need no tuning:
//! - **Connections.** The pool is sized by Little's law from the schedule ahead (the most
//!   requests due within one observed response time, over the next second, so a burst finds
//!   its connections open; the window is the target's response time without a queue (the
//!   least mean of the last 5 s) plus a millisecond, so a stall of the target that long makes
//!   no request wait) with a quarter of headroom, and grows by half when requests wait
//!   for connections and the shards are not busy (a busy shard leaves answers unread in its
//!   sockets: more connections would only add to its work), and shrinks back after 5 s of
//!   calm, the shards closing their least recently used idle connections; it stops growing when growing did not raise the rate of answers (the
//!   target, not the pool, is the limit), so a slow target never gets a storm of connections.
//! - **Shards.** One to start; another only while every shard was busy working (not waiting)
//!   for most of the last second and the machine had a core idle, never more than its cores.
//!   A target on the same machine needs its cores too: a second shard on a machine with no
//!   idle core would slow the target and the first shard alike.
//! - **Self-diagnosis.** At the end the engine judges whether it, rather than the target,
//!   limited the run (`judge`): its own pacing lag, requests not sent, a saturated thread, a
//!   user-set connection cap. The figures and the advice go into the Run's `LoadStats`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use scalebench_core::Plan;
use scalebench_core::run::{GeneratorLimit, LimitKind, SetupRun};

use crate::collect::{Collector, Event, Outcome};
use crate::observe::{NoObserver, Observer};
use crate::pace::CpuReading;
use crate::request::Requests;
use crate::schedule::{Scout, Shared};
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
    /// Shards: sending threads, each with its own connections. `None` (the default) starts
    /// with one and adds one while every shard is busy and the machine has a core idle, up to
    /// its cores; `Some(n)` runs exactly `n`.
    pub workers: Option<usize>,
    /// HTTP/1.1 connections opened before the first request is due (split over the shards);
    /// 0 (the default) sizes the pool from the schedule and the observed response time.
    pub connections: usize,
    /// Whether `connections` is also the most that are open at once, as with wrk's `-c`:
    /// requests beyond wait for a free connection, and the wait shows in the schedule lag.
    /// Otherwise the pool grows as the engine sees fit.
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
    /// Defaults: 10,000 in flight, HTTP/1.1, shards and connections chosen by the engine.
    pub fn new(target: Target) -> Self {
        LoadConfig {
            target,
            max_in_flight: 10_000,
            http2: false,
            workers: None,
            connections: 0,
            fixed_connections: false,
            time_scale: 1.0,
            h1_client: crate::H1Client::Own,
        }
    }
}

impl LoadConfig {
    /// Scenario seconds per real second: `time_scale`, or 1 when it is not above 0.
    fn scale(&self) -> f64 {
        if self.time_scale > 0.0 {
            self.time_scale
        } else {
            1.0
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
    /// Sending threads now.
    pub shards: AtomicU64,
    /// Connections open now.
    pub connections: AtomicU64,
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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let first = config.workers.map_or(1, |w| w.clamp(1, 1024));
    let scale = config.scale();
    let mut clock = Clock {
        start: Instant::now(),
        scale,
    };
    let timeout = clock.real(plan.traffic.timeout.as_nanos());
    let mut pool = Pool::new(plan, config, first);
    let shared = Shared::new(
        plan,
        config.max_in_flight,
        pool.cap(first),
        pool.ready(first),
    );
    let (tx, rx) = mpsc::channel::<Batch>();
    let gate = Gate::default();
    let warm = if config.connections > 0 {
        config.connections
    } else {
        pool.ready(1) * first
    };
    std::thread::scope(|s| {
        let gate = &gate;
        let spawn = |index: usize, warm: usize, gated: bool, clock: Clock| {
            let shard = Shard {
                index,
                shared: &shared,
                requests: &requests,
                clock,
                timeout,
                cancel,
                tx: tx.clone(),
                warm,
            };
            let gate = gated.then_some(gate);
            std::thread::Builder::new()
                .name(format!("scalebench-load-{index}"))
                .spawn_scoped(s, move || {
                    if let Err(e) = shard.run(gate) {
                        tracing::error!("load shard {index} could not start: {e}");
                    }
                })
                .map(|_| ())
        };
        for index in 0..first {
            let share = warm / first + usize::from(index < warm % first);
            if let Err(e) = spawn(index, share, true, clock) {
                // The shards already started must not wait for a start that never comes.
                gate.open(clock);
                return Err(LoadError::Thread(e));
            }
        }
        gate.wait_warmed(first, Duration::from_secs(10));
        // A moment for every shard to see the start before the first arrival is due.
        clock.start = Instant::now() + Duration::from_millis(2);
        let started_at = std::time::SystemTime::now() + Duration::from_millis(2);
        gate.open(clock);
        let mut c = Collector::new(plan);
        let mut more = Supervisor {
            auto: config.workers.is_none(),
            cores,
            cpu: CpuReading::now(),
            last: Instant::now(),
        };
        let mut add = |index: usize| -> bool {
            more.wants(index, Instant::now()) && spawn(index, 0, false, clock).is_ok()
        };
        let seen = collect(
            &rx,
            &mut c,
            Run {
                shards: first,
                clock,
                cancel,
                progress,
                observer,
                shared: &shared,
                pool: &mut pool,
            },
            &mut add,
        );
        let mut run = c.finish(name, seen.interrupted);
        if let Some(load) = run.load.as_mut() {
            load.shards = Some(seen.shards as u32);
            load.max_connections = Some(seen.max_open as u32);
            load.peak_busy = seen.peak_busy;
            load.started_at = Some(started_at);
            let latency_p99_ms = run.latency.quantile_ms(0.99);
            load.limits = judge(load, latency_p99_ms, config, cores);
            tracing::info!(
                "load engine: {:?} sending threads, {:?} connections at most, busiest thread {:?}, \
                 pacing lag p99 {:.3} ms, connection wait p99 {:.3} ms, limits {:?}",
                load.shards,
                load.max_connections,
                load.peak_busy,
                load.pacing_lag.quantile_ms(0.99),
                load.connection_wait.quantile_ms(0.99),
                load.limits
                    .iter()
                    .map(|l| l.kind.name())
                    .collect::<Vec<_>>()
            );
        }
        Ok(run)
    })
}

/// Whether to add a shard: every shard busy, a core idle, fewer shards than cores.
struct Supervisor {
    /// The user left the number of shards to the engine.
    auto: bool,
    cores: usize,
    cpu: Option<CpuReading>,
    last: Instant,
}

impl Supervisor {
    /// Called when every shard was busy for most of its last quarter second; `shards` run now.
    fn wants(&mut self, shards: usize, now: Instant) -> bool {
        if !self.auto || shards >= self.cores || now < self.last + Duration::from_secs(1) {
            return false;
        }
        let reading = CpuReading::now();
        let idle = match (reading, self.cpu) {
            (Some(r), Some(before)) => r.idle_cores_since(&before, self.cores),
            _ => None,
        };
        self.cpu = reading;
        self.last = now;
        idle.is_some_and(|i| i >= IDLE_CORE)
    }
}

/// A shard is busy when it wanted a core (working or waiting for one) this share of its last
/// quarter second...
const BUSY: f64 = 0.75;
/// ...and another is added only when the machine had this much of a core idle meanwhile.
const IDLE_CORE: f64 = 0.9;
/// A thread busy this share of a quarter second is saturated: it cannot take more.
const SATURATED: f64 = 0.9;
/// The engine's own delay at the 99th percentile is acceptable up to this (real time)...
const LAG_FLOOR_MS: f64 = 1.0;
/// ...or this share of the 99th percentile latency it reports, whichever is more...
const LAG_SHARE: f64 = 0.05;
/// ...unless fewer requests than this were that late: a handful of a machine's hiccups in a
/// short run are its 99th percentile, not a limit.
const MIN_LATE: u64 = 10;

/// The pool's size: how many connections the shards may open (`cap`) and keep open ahead of
/// what is coming (`ready`), from the schedule ahead and the response time seen.
struct Pool {
    /// A user-set size that never changes (`--connections N --fixed-connections`).
    fixed: Option<usize>,
    scout: Scout,
    /// The most connections in all, now.
    ceiling: usize,
    /// Connections wanted for what is coming.
    target: usize,
    /// Of those, what covers only the least stall ([`STALL`]): what growth probes from.
    law: usize,
    /// The mean response time (sent to done) of each of the last epochs, scenario ns: their
    /// least is the target's response time without a queue, which Little's law is applied to.
    /// (The response time of a loaded target grows with its queue; sizing the pool by it would
    /// feed more connections to a target that slows down, and slow it down more.)
    service_ns: std::collections::VecDeque<f64>,
    epoch_sum_ns: f64,
    /// A stall of the target this long (scenario ns) finds a connection free for every
    /// request that arrives meanwhile: [`STALL`] at first, longer while requests keep waiting
    /// for connections.
    stall_ns: f64,
    /// [`STALL`] and [`STALL_MAX`] in scenario ns.
    stall_min_ns: f64,
    stall_max_ns: f64,
    /// Since the last look at the waits: answers, requests that found no idle connection,
    /// and whether a sending thread was busy in an epoch meanwhile.
    waits: Waits,
    epoch_done: u64,
    /// Arrivals (sent or not) this epoch.
    epoch_arrived: u64,
    /// The ceiling and answer rate before the last growth, when it grew, and whether answers
    /// were falling behind arrivals then.
    probe: Option<(usize, f64, Instant, bool)>,
    /// Growing stopped raising the rate of answers: the target is the limit.
    plateau: Option<Instant>,
    /// Growths in a row that raised nothing.
    strikes: u32,
    /// Since when no request waited and answers kept up with arrivals.
    calm_since: Option<Instant>,
    /// Open connections and waiting requests over all shards, as last reported.
    epoch_start: Instant,
    /// Scenario seconds per real second.
    scale: f64,
    /// Every request is an OpenAI request whose answer streams for seconds: every request
    /// due gets a connection (see [`Pool::resize`]).
    streams: bool,
}

/// How often the pool is resized.
const EPOCH: Duration = Duration::from_millis(100);
/// After this long with no request waiting and answers keeping up, the pool shrinks back
/// toward what Little's law asks for.
const SHRINK_AFTER: Duration = Duration::from_secs(5);
/// Over how many epochs the least mean response time is taken (5 s).
const FLOOR_EPOCHS: usize = 50;
/// How far ahead the schedule is read.
const HORIZON_NS: u64 = 1_000_000_000;
/// Connections beyond Little's law, as a share.
const HEADROOM: f64 = 1.25;
/// The pool also covers the requests that arrive while the target stalls this long (a
/// scheduler's hiccup on a shared machine): the schedule lag the engine aims to stay under.
const STALL: Duration = Duration::from_millis(1);
/// The longest stall covered. (Requests that still wait for connections then wait for a
/// target that pauses this long, which no pool size changes much.)
const STALL_MAX: Duration = Duration::from_millis(10);
/// How often the waits are looked at (half a second).
const WAITS_EVERY: u32 = 5;
/// More than this share of requests found no idle connection when due in a look: the stall
/// covered doubles. (The aim is a schedule lag under a millisecond at the 99th percentile; a
/// pool that leaves one request in 200 waiting is too small for that. Doubling every half
/// second reaches [`STALL_MAX`] in two seconds: at growth by half every second, the first six
/// seconds of a run on a machine that stalls for 10 ms waited, enough of a 30 s run's
/// requests to put its schedule lag p99 at 2-6 ms.)
const WAITED_SHARE: f64 = 0.005;
/// After this many looks in a row (a minute) in which almost none waited (a tenth of that
/// share), the stall covered shrinks by a fifth, back toward [`STALL`].
const QUIET_LOOKS: u32 = 120;
/// The pool before any response was seen.
const FIRST_POOL: usize = 8;
/// Growth that probes whether more connections raise the rate of answers stops at this many
/// times what Little's law asks for.
const PROBE_BOUND: usize = 4;

/// Requests that waited for a connection, since the last look.
#[derive(Debug, Default)]
struct Waits {
    done: u64,
    starved: u64,
    /// Answered requests that their sending thread took from the schedule more than
    /// [`STALL`] late.
    late: u64,
    /// The waits were excused in an epoch of it (see [`Pool::look_at_waits`]).
    excused: bool,
    epochs: u32,
    quiet: u32,
}

impl Pool {
    fn new(plan: &Plan, config: &LoadConfig, shards: usize) -> Pool {
        let scale = config.scale();
        let fixed = config
            .fixed_connections
            .then_some(config.connections.max(shards));
        let mut pool = Pool {
            fixed,
            scout: Scout::new(plan),
            ceiling: config.connections.max(FIRST_POOL * shards),
            target: config.connections,
            law: FIRST_POOL,
            service_ns: std::collections::VecDeque::new(),
            epoch_sum_ns: 0.0,
            stall_ns: STALL.as_nanos() as f64 * scale,
            stall_min_ns: STALL.as_nanos() as f64 * scale,
            stall_max_ns: STALL_MAX.as_nanos() as f64 * scale,
            waits: Waits::default(),
            epoch_done: 0,
            epoch_arrived: 0,
            probe: None,
            plateau: None,
            strikes: 0,
            calm_since: None,
            epoch_start: Instant::now(),
            scale,
            streams: plan.traffic.openai.is_some(),
        };
        pool.resize(0, 0, 0, false, Instant::now());
        pool
    }

    /// Connections a shard may open, of `shards`. Streamed answers: as many as requests
    /// wait for (each opens its own at once, not an epoch later; `max_in_flight` bounds them).
    fn cap(&self, shards: usize) -> usize {
        if self.streams && self.fixed.is_none() {
            return usize::MAX;
        }
        self.fixed
            .unwrap_or(self.ceiling)
            .div_ceil(shards.max(1))
            .max(1)
    }

    /// Connections a shard keeps open ahead, of `shards`.
    fn ready(&self, shards: usize) -> usize {
        match self.fixed {
            Some(n) => n.div_ceil(shards.max(1)),
            None => self.target.min(self.ceiling).div_ceil(shards.max(1)),
        }
    }

    /// A request was due.
    fn arrived(&mut self) {
        self.epoch_arrived += 1;
    }

    /// A request was answered after `service_ns` on its connection; its sending thread took
    /// it from the schedule `pacing_ns` after its instant.
    fn answered(&mut self, service_ns: u64, pacing_ns: u64) {
        self.epoch_sum_ns += service_ns as f64;
        self.epoch_done += 1;
        self.waits.done += 1;
        if pacing_ns as f64 > self.stall_min_ns {
            self.waits.late += 1;
        }
    }

    /// `n` requests found no idle connection when they were due.
    fn starved(&mut self, n: u64) {
        self.waits.starved += n;
    }

    /// Every [`WAITS_EVERY`] epochs: while requests keep waiting for connections, the pool
    /// covers a longer stall of the target; once they have not for a while, a shorter one.
    /// Not when it was `excused` in an epoch of the look: a sending thread was busy (its
    /// requests wait for it, not for connections), answers fell behind arrivals (they wait
    /// for the target, which the growth below probes), or the pool had not yet opened what
    /// Little's law asks for. Nor when the sending threads took more than that share of the
    /// answered requests late from the schedule: a thread that is late to send is late to
    /// read the answers too, its connections are busy with answers it has not read, and more
    /// of them would add to its work (near its ceiling, a pool grown so made the run fail
    /// where the pool Little's law asks for kept it).
    fn look_at_waits(&mut self, excused: bool) {
        let w = &mut self.waits;
        w.excused |= excused;
        w.epochs += 1;
        if w.epochs < WAITS_EVERY {
            return;
        }
        let (share, late) = if w.done > 0 {
            (
                w.starved as f64 / w.done as f64,
                w.late as f64 / w.done as f64,
            )
        } else {
            (0.0, 0.0)
        };
        tracing::trace!(
            "connections: {:.2}% found none free, {:.2}% taken late, excused {}, stall {:.1} ms",
            share * 100.0,
            late * 100.0,
            w.excused,
            self.stall_ns / 1e6
        );
        if share > WAITED_SHARE && late <= WAITED_SHARE && !w.excused {
            w.quiet = 0;
            if self.stall_ns < self.stall_max_ns {
                self.stall_ns = (self.stall_ns * 2.0).min(self.stall_max_ns);
                tracing::debug!(
                    "connections: {:.1}% of requests found none free; the pool now covers a \
                     {:.1} ms stall",
                    share * 100.0,
                    self.stall_ns / 1e6
                );
            }
        } else if share < WAITED_SHARE / 10.0 {
            w.quiet += 1;
            if w.quiet >= QUIET_LOOKS {
                w.quiet = 0;
                self.stall_ns = (self.stall_ns * 0.8).max(self.stall_min_ns);
            }
        } else {
            w.quiet = 0;
        }
        w.done = 0;
        w.starved = 0;
        w.late = 0;
        w.excused = false;
        w.epochs = 0;
    }

    /// Every [`EPOCH`]: the response time, what the schedule needs next, and whether the pool
    /// may grow; `open` connections and `waiting` requests over all shards now, and whether
    /// every shard was `busy` working.
    fn resize(&mut self, now_ns: u64, open: usize, waiting: usize, busy: bool, now: Instant) {
        let span = now
            .saturating_duration_since(self.epoch_start)
            .as_secs_f64();
        let (rate, offered) = if span > 0.0 {
            (
                self.epoch_done as f64 / span,
                self.epoch_arrived as f64 / span,
            )
        } else {
            (0.0, 0.0)
        };
        self.epoch_arrived = 0;
        if self.epoch_done > 0 {
            if self.service_ns.len() == FLOOR_EPOCHS {
                self.service_ns.pop_front();
            }
            self.service_ns
                .push_back(self.epoch_sum_ns / self.epoch_done as f64);
        }
        self.epoch_sum_ns = 0.0;
        self.epoch_done = 0;
        self.epoch_start = now;
        // Before an answer: a millisecond, the order of a loopback exchange.
        let unloaded = self
            .service_ns
            .iter()
            .copied()
            .reduce(f64::min)
            .unwrap_or(1e6);
        // Answers fall behind arrivals: the target, the engine or the pool is the limit.
        let behind = rate < 0.95 * offered;
        // Not yet open, or not yet allowed, what Little's law asks for: the ceiling doubles
        // toward it from the first answers, and what waits meanwhile says nothing of the
        // target's stalls (counted, the first half second of a run near the sending thread's
        // ceiling doubled the stall covered, and the pool, for the rest of the run).
        let opening = open < self.target;
        self.look_at_waits(busy || behind || opening);
        let need = self
            .scout
            .demand(now_ns, HORIZON_NS, (unloaded + self.stall_ns).ceil() as u64);
        self.target = ((need as f64 * HEADROOM).ceil() as usize + 1).max(self.target.min(1));
        // Little's law is linear in the time covered: the same demand over the least stall.
        let least = (unloaded + self.stall_min_ns) / (unloaded + self.stall_ns);
        self.law = ((need as f64 * least * HEADROOM).ceil() as usize + 1).max(FIRST_POOL);
        if self.fixed.is_some() {
            return;
        }
        if waiting > 0 || behind {
            self.calm_since = None;
        } else if self.calm_since.is_none() {
            self.calm_since = Some(now);
        }
        let calm = self
            .calm_since
            .is_some_and(|since| now.saturating_duration_since(since) >= SHRINK_AFTER);
        if calm {
            // Nothing waited and answers kept up for a while: traffic changed, growing may
            // help again. (Not merely nothing waiting: a pool large enough that nothing waits
            // for a target that falls behind must not start growing again.)
            self.plateau = None;
            // And what a stall made the pool grow to goes back toward Little's law, a quarter
            // per epoch (the shards close their least recently used idle connections beyond
            // it), so a run on a busy machine does not ratchet its pool up stall by stall.
            let floor = self.target.max(FIRST_POOL);
            if self.ceiling > floor {
                self.ceiling = (self.ceiling - self.ceiling / 4).max(floor);
            }
        }
        // Streamed answers (an OpenAI run) hold their connection for seconds, and their rate
        // moves a response time after the pool does, too late and too noisily to judge a
        // growth by. Every request due gets a connection, as LLM benchmarks give each request
        // its own: the connections are the requests in flight, which `max_in_flight` bounds,
        // and a server that slows down sees the load offered to it, as open loop means.
        if self.streams {
            self.ceiling = self.ceiling.max(self.target).max(open + waiting);
            return;
        }
        // Requests wait for connections meanwhile: the pool may be, unless every sending
        // thread is busy. Then the answers wait in the sockets for a thread to read them, more
        // connections would only add work to those threads, and what helps is another thread.
        let limited = behind && waiting > 0 && open >= self.ceiling && !busy;
        if self.plateau.is_some() {
            return;
        }
        // Growth is a probe: while answers fall behind, it goes on only while it raised their
        // rate, so a target that slows down under load (its response time, and with it
        // Little's law, growing) gets no storm of connections. A growth can raise the rate of
        // answers a response time later at the soonest (a streamed LLM answer takes seconds):
        // it is judged no sooner. Before any answer came there is no rate to raise, and no
        // growth is judged in vain (a run of long streams would stop growing before its first
        // answer otherwise).
        if let Some((before, before_rate, at, was_behind)) = self.probe {
            let response = Duration::from_secs_f64((unloaded / self.scale / 1e9).min(60.0));
            if now.saturating_duration_since(at) < response.max(2 * EPOCH) {
                return;
            }
            if was_behind && behind && rate <= before_rate * 1.05 && !self.service_ns.is_empty() {
                self.strikes += 1;
            } else {
                self.strikes = 0;
            }
            // Two growths in a row that raised nothing (one may be the machine's noise).
            if self.strikes >= 2 {
                self.strikes = 0;
                self.plateau = Some(now);
                tracing::debug!(
                    "connections: {} answer no faster than {before} did ({rate:.0}/s); the \
                     pool stops growing",
                    self.ceiling
                );
                return;
            }
            self.probe = None;
        }
        // A probe goes at most to four times what Little's law asks over the least stall (or
        // to what the stall learnt above asks, if more): beyond, the target's rate of answers
        // moves by chance (a shared machine's noise) more than by the pool, and growth that
        // follows chance ratchets up. (A run beside three compilers grew to 7,800 connections
        // without this bound; one with the bound on the learnt stall's pool, to 4,076.)
        let grow = if limited {
            (self.ceiling + self.ceiling / 2 + 2).min((PROBE_BOUND * self.law).max(self.target))
        } else {
            self.target
        };
        if grow > self.ceiling {
            self.probe = Some((self.ceiling, rate, now, behind));
            // At most doubling per epoch.
            self.ceiling = grow.min(self.ceiling * 2);
        }
    }
}

/// What a run's collection saw of the engine.
struct Seen {
    interrupted: Option<u64>,
    shards: usize,
    max_open: usize,
    peak_busy: Option<f64>,
}

/// What collection works with.
struct Run<'a> {
    shards: usize,
    clock: Clock,
    cancel: &'a AtomicBool,
    progress: &'a Progress,
    observer: &'a dyn Observer,
    shared: &'a Shared,
    pool: &'a mut Pool,
}

/// Whether the engine, not the target, limited the run, and what to change.
pub(crate) fn judge(
    load: &scalebench_core::run::LoadStats,
    latency_p99_ms: f64,
    config: &LoadConfig,
    cores: usize,
) -> Vec<GeneratorLimit> {
    let mut limits = Vec::new();
    // The floor is the engine's precision, in real time; the figures are in scenario time.
    let scale = config.scale();
    let bound = (LAG_FLOOR_MS * scale).max(LAG_SHARE * latency_p99_ms);
    let pacing = load.pacing_lag.quantile_ms(0.99);
    let shards = load.shards.unwrap_or(1) as usize;
    let more_threads = match config.workers {
        Some(w) if w < cores => format!("raise --workers (now {w}; the machine has {cores} cores)"),
        Some(w) => format!(
            "the {w} sending threads already match the machine's {cores} cores: send from a \
             machine with more cores, or lower the rate"
        ),
        None if CpuReading::now().is_none() => format!(
            "pass --workers {} (this platform does not tell idle cores, so the engine adds no \
             sending threads by itself)",
            shards + 1
        ),
        None if shards < cores => format!(
            "no core of the machine's {cores} was idle for another sending thread (the target \
             or other processes use them): send from another machine, or lower the rate"
        ),
        None => format!(
            "all {cores} cores of the machine already send: send from a machine with more \
             cores, or lower the rate"
        ),
    };
    if pacing > bound && load.pacing_lag.count_above_ms(bound) >= MIN_LATE {
        limits.push(GeneratorLimit {
            kind: LimitKind::PacingLag,
            value: pacing,
            bound,
            advice: format!(
                "requests left {pacing:.2} ms after their instant at the 99th percentile \
                 because the sending threads were busy or descheduled; {more_threads}"
            ),
        });
    }
    let not_sent = load.outcomes.get("not_sent").copied().unwrap_or(0);
    if not_sent > 0 {
        limits.push(GeneratorLimit {
            kind: LimitKind::NotSent,
            value: not_sent as f64,
            bound: 0.0,
            advice: format!(
                "{not_sent} requests were not sent because {} were already in flight: raise \
                 --max-in-flight (requests pile up in flight when the target or the sending \
                 threads cannot keep up: see the other reasons and the latency)",
                config.max_in_flight
            ),
        });
    }
    let wait = load.connection_wait.quantile_ms(0.99);
    if let Some(busy) = load.peak_busy.filter(|&b| b >= SATURATED) {
        limits.push(GeneratorLimit {
            kind: LimitKind::Saturated,
            value: busy,
            bound: SATURATED,
            advice: format!(
                "a sending thread wanted a core {:.0}% of a quarter second (working, or waiting for the \
                 CPU); {more_threads}",
                busy * 100.0
            ),
        });
    } else if let Some(busy) = load
        .peak_busy
        .filter(|&b| b >= BUSY && wait > bound && !config.fixed_connections)
    {
        // Requests waited for connections while the pool had stopped growing and a sending
        // thread was busy: more connections did not help because the thread could not drive
        // them, so the wait cannot be laid on the target alone.
        limits.push(GeneratorLimit {
            kind: LimitKind::Saturated,
            value: busy,
            bound: BUSY,
            advice: format!(
                "requests waited {wait:.2} ms for a connection at the 99th percentile while a \
                 sending thread wanted a core {:.0}% of a quarter second, so more connections could \
                 not be driven; {more_threads}",
                busy * 100.0
            ),
        });
    }
    if config.fixed_connections
        && wait > bound
        && load.connection_wait.count_above_ms(bound) >= MIN_LATE
    {
        limits.push(GeneratorLimit {
            kind: LimitKind::ConnectionCap,
            value: wait,
            bound,
            advice: format!(
                "requests waited {wait:.2} ms for one of the {} connections at the 99th \
                 percentile: raise --connections or drop --fixed-connections",
                config.connections
            ),
        });
    }
    limits
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

    /// The real instant of scenario time `scenario_ns`.
    pub fn instant(&self, scenario_ns: u64) -> Instant {
        self.start + self.real(scenario_ns)
    }

    /// The real duration of `scenario_ns`.
    pub fn real(&self, scenario_ns: u64) -> Duration {
        Duration::from_nanos((scenario_ns as f64 / self.scale) as u64)
    }
}

/// Takes the shards' batches until every shard is done: counts them for the progress
/// display, lets the collector apply what is safe (every shard has reported past it) and close
/// windows, resizes the pool every [`EPOCH`], and asks `add` for another shard when every
/// shard is busy (`add` says whether it started one).
fn collect(
    rx: &mpsc::Receiver<Batch>,
    c: &mut Collector,
    run: Run<'_>,
    add: &mut dyn FnMut(usize) -> bool,
) -> Seen {
    let Run {
        shards,
        clock,
        cancel,
        progress,
        observer,
        shared,
        pool,
    } = run;
    let mut state: Vec<ShardSeen> = (0..shards).map(|_| ShardSeen::default()).collect();
    let mut interrupted = None;
    let mut next_epoch = Instant::now() + EPOCH;
    progress.shards.store(shards as u64, Ordering::Relaxed);
    while state.iter().any(|s| !s.finished) {
        if interrupted.is_none() && cancel.load(Ordering::Relaxed) {
            interrupted = Some(clock.now_ns());
        }
        let now = Instant::now();
        if now >= next_epoch {
            next_epoch = now + EPOCH;
            let open = state.iter().map(|s| s.open).sum();
            let waiting = state.iter().map(|s| s.waiting).sum();
            progress.connections.store(open as u64, Ordering::Relaxed);
            let all_busy = state
                .iter()
                .all(|s| s.finished || s.busy.is_some_and(|b| b >= BUSY));
            pool.resize(clock.ns_at(now), open, waiting, all_busy, now);
            let n = state.len();
            shared.conn_cap.store(pool.cap(n), Ordering::Relaxed);
            shared.conn_ready.store(pool.ready(n), Ordering::Relaxed);
            if all_busy && shared.head() != u64::MAX && add(n) {
                // Its first events are due no earlier than the schedule's head.
                state.push(ShardSeen {
                    safe: clock.ns_at(now).min(shared.head()),
                    ..ShardSeen::default()
                });
                shared.conn_cap.store(pool.cap(n + 1), Ordering::Relaxed);
                shared
                    .conn_ready
                    .store(pool.ready(n + 1), Ordering::Relaxed);
                progress.shards.store(n as u64 + 1, Ordering::Relaxed);
                tracing::info!("load engine: every sending thread is busy; now {}", n + 1);
            }
        }
        let mut batch = match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(b) => b,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            // A shard that could not start: nothing more comes.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        for ev in std::mem::take(&mut batch.events) {
            count(progress, &ev);
            match &ev {
                Event::Sent { .. } | Event::NotSent { .. } => pool.arrived(),
                Event::Done {
                    sent_ns,
                    done_ns,
                    outcome: Outcome::Status(_),
                    intended_ns,
                    taken_ns,
                    ..
                } => pool.answered(
                    done_ns.saturating_sub(*sent_ns),
                    taken_ns.saturating_sub(*intended_ns),
                ),
                Event::Answered(a) => pool.answered(
                    a.done_ns.saturating_sub(a.sent_ns),
                    a.taken_ns.saturating_sub(a.intended_ns),
                ),
                _ => {}
            }
            c.record(ev);
        }
        let Some(seen) = state.get_mut(batch.shard) else {
            continue;
        };
        seen.safe = batch.safe_ns;
        seen.oldest = batch.oldest_in_flight;
        seen.finished = batch.finished;
        seen.open = batch.open;
        seen.waiting = batch.waiting;
        pool.starved(batch.starved);
        seen.max_open = seen.max_open.max(batch.max_open);
        seen.peak_busy = batch.peak_busy.or(seen.peak_busy);
        if batch.busy.is_some() {
            seen.busy = batch.busy;
        }
        let horizon = state.iter().filter(|s| !s.finished).map(|s| s.safe).min();
        if let Some(h) = horizon {
            let oldest = state.iter().filter_map(|s| s.oldest).min();
            c.advance(h, oldest, observer);
        }
    }
    Seen {
        interrupted: interrupted.or_else(|| cancel.load(Ordering::Relaxed).then(|| clock.now_ns())),
        shards: state.len(),
        max_open: state.iter().map(|s| s.max_open).sum(),
        peak_busy: state
            .iter()
            .filter_map(|s| s.peak_busy)
            .fold(None, |m: Option<f64>, b| Some(m.map_or(b, |m| m.max(b)))),
    }
}

/// What the collector knows of one shard.
#[derive(Debug, Default)]
struct ShardSeen {
    safe: u64,
    oldest: Option<u64>,
    finished: bool,
    open: usize,
    waiting: usize,
    max_open: usize,
    busy: Option<f64>,
    peak_busy: Option<f64>,
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
        Event::Answered(a) => {
            p.done.fetch_add(1, Ordering::Relaxed);
            if !matches!(a.outcome, Outcome::Status(200..=299)) {
                p.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        Event::Cancelled { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10,000 requests a second for two minutes, evenly spaced.
    fn pool() -> Pool {
        pool_for("120s")
    }

    /// 10,000 requests a second for `duration`, evenly spaced.
    fn pool_for(duration: &str) -> Pool {
        let plan = crate::Steady::test_plan(10_000.0, duration);
        let target = Target::new("http://127.0.0.1:1/", None, &[], None, |_| None)
            .unwrap_or_else(|e| panic!("{e}"));
        Pool::new(&plan, &LoadConfig::new(target), 1)
    }

    /// The run's clock, in epochs.
    struct Epochs {
        start: Instant,
        n: u32,
        /// Connections are still being opened: half the pool's are open.
        opening: bool,
        /// The sending thread takes every request 2 ms late from the schedule.
        late: bool,
    }

    impl Epochs {
        fn of(p: &Pool) -> Epochs {
            Epochs {
                start: p.epoch_start,
                n: 0,
                opening: false,
                late: false,
            }
        }

        /// One epoch in which `answered` of the 1,000 arrivals were answered, each after
        /// `service`, with every connection open and `waiting` requests at its end, and every
        /// sending thread `busy` or not.
        fn run(&mut self, p: &mut Pool, answered: u64, ms: u64, waiting: usize, busy: bool) {
            self.run_waited(p, answered, ms, waiting, busy, 0);
        }

        /// As [`Epochs::run`], with `waited` of the answered requests having found no idle
        /// connection.
        fn run_waited(
            &mut self,
            p: &mut Pool,
            answered: u64,
            ms: u64,
            waiting: usize,
            busy: bool,
            waited: u64,
        ) {
            for _ in 0..1000 {
                p.arrived();
            }
            for _ in 0..answered {
                p.answered(ms * 1_000_000, if self.late { 2_000_000 } else { 0 });
            }
            p.starved(waited);
            self.n += 1;
            let t = self.start + EPOCH * self.n;
            let open = if self.opening {
                p.ceiling / 2
            } else {
                p.ceiling
            };
            p.resize((EPOCH * self.n).as_nanos() as u64, open, waiting, busy, t);
        }
    }

    #[test]
    fn the_pool_follows_littles_law_on_the_unloaded_response_time() {
        let mut p = pool();
        let mut e = Epochs::of(&p);
        for _ in 0..5 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        // 10,000/s over 2 ms plus the 1 ms stall is 30, with a quarter headroom and one more.
        assert_eq!(p.target, 39);
        assert!(p.ceiling >= 39, "{}", p.ceiling);
        // Later answers take 40 ms (a queue at the target): the pool is still sized on 2 ms.
        for _ in 0..5 {
            e.run(&mut p, 1000, 40, 0, false);
        }
        assert_eq!(p.target, 39);
    }

    #[test]
    fn the_pool_covers_longer_stalls_while_requests_wait_for_connections() {
        let mut p = pool_for("800s");
        let mut e = Epochs::of(&p);
        for _ in 0..10 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        assert_eq!(p.target, 39);
        // One request in a hundred waits a millisecond for a connection, every half second:
        // the pool covers 2 ms, then 4 ms of stall (10,000/s over 2 + 4 ms with headroom).
        for _ in 0..10 {
            e.run_waited(&mut p, 1000, 2, 0, false, 10);
        }
        assert_eq!(p.target, 76);
        assert_eq!(p.ceiling, 76);
        // Not while a sending thread is busy: its requests wait for it.
        for _ in 0..20 {
            e.run_waited(&mut p, 1000, 2, 0, true, 10);
        }
        assert_eq!(p.target, 76);
        // Nor while answers fall behind arrivals: they wait for the target.
        for _ in 0..20 {
            e.run_waited(&mut p, 800, 2, 0, false, 10);
        }
        assert_eq!(p.target, 76);
        // Nor while the pool is still opening its connections.
        e.opening = true;
        for _ in 0..20 {
            e.run_waited(&mut p, 1000, 2, 0, false, 10);
        }
        assert_eq!(p.target, 76);
        e.opening = false;
        // Nor while the sending thread takes its requests late: it is late to read their
        // answers too, which keeps its connections busy.
        e.late = true;
        for _ in 0..20 {
            e.run_waited(&mut p, 1000, 2, 0, false, 10);
        }
        assert_eq!(p.target, 76);
        e.late = false;
        // At most STALL_MAX, however long they keep waiting: (2 + 10) ms at 10,000/s.
        for _ in 0..200 {
            e.run_waited(&mut p, 1000, 2, 0, false, 10);
        }
        assert_eq!(p.target, 151);
        // A minute in which none waited: a fifth less, and so on back to a millisecond.
        for _ in 0..610 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        assert_eq!(p.target, 126);
        for _ in 0..6600 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        assert_eq!(p.target, 39);
    }

    #[test]
    fn waits_while_the_pool_rises_to_littles_law_teach_it_no_stall() {
        let mut p = pool();
        let mut e = Epochs::of(&p);
        // The first half second: the pool doubles from 8 toward the 39 Little's law asks for,
        // and requests wait meanwhile, which says nothing of the target's stalls.
        assert!(p.ceiling < 39, "{}", p.ceiling);
        for _ in 0..WAITS_EVERY {
            e.run_waited(&mut p, 1000, 2, 0, false, 50);
        }
        assert_eq!(p.target, 39);
        // Once it has: they do.
        for _ in 0..WAITS_EVERY {
            e.run_waited(&mut p, 1000, 2, 0, false, 50);
        }
        assert_eq!(p.target, 51);
    }

    #[test]
    fn the_pool_grows_while_growing_raises_the_answer_rate_and_then_stops() {
        let mut p = pool();
        let mut e = Epochs::of(&p);
        for _ in 0..5 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        let sized = p.ceiling;
        // Answers fall behind and requests wait: it grows by half.
        e.run(&mut p, 500, 2, 100, false);
        e.run(&mut p, 500, 2, 100, false);
        e.run(&mut p, 500, 2, 100, false);
        let grown = p.ceiling;
        assert!(grown > sized, "{grown} after {sized}");
        // Growing raises nothing, twice: it stops, however long requests keep waiting.
        for _ in 0..20 {
            e.run(&mut p, 500, 2, 100, false);
        }
        let stopped = p.ceiling;
        assert!(p.plateau.is_some());
        for _ in 0..20 {
            e.run(&mut p, 500, 2, 100, false);
        }
        assert_eq!(p.ceiling, stopped);
    }

    #[test]
    fn a_pool_grown_for_a_stall_shrinks_back_once_it_is_calm() {
        let mut p = pool();
        let mut e = Epochs::of(&p);
        for _ in 0..5 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        let sized = p.ceiling;
        // A stall: answers fall behind, requests wait, the pool grows.
        for _ in 0..4 {
            e.run(&mut p, 500, 2, 100, false);
        }
        assert!(p.ceiling > sized, "{} after {sized}", p.ceiling);
        // Calm again: it keeps its size for SHRINK_AFTER, then goes back to Little's law.
        let grown = p.ceiling;
        for _ in 0..49 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        assert_eq!(p.ceiling, grown, "not before {SHRINK_AFTER:?} of calm");
        for _ in 0..30 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        assert_eq!(p.ceiling, sized);
    }

    /// OpenAI runs: every waiting request gets a connection, whatever the rate of answers.
    #[test]
    fn streamed_answers_get_a_connection_for_every_waiting_request() {
        let mut p = pool();
        p.streams = true;
        let mut e = Epochs::of(&p);
        for _ in 0..5 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        // Answers fall behind (the server streams for seconds) and requests wait: the pool
        // grows by what waits, every epoch, never stopping.
        for _ in 0..50 {
            let before = p.ceiling;
            e.run(&mut p, 100, 2, 300, false);
            assert_eq!(p.ceiling, before + 300);
        }
        assert!(p.plateau.is_none());
        // And a shard opens one for each waiting request at once, not an epoch later.
        assert_eq!(p.cap(2), usize::MAX);
    }

    /// Regression: a run of streamed LLM answers (seconds each) stopped growing its pool at
    /// 24 connections before its first answer came (two growths "raised nothing": no answer
    /// could come yet), and its requests then waited up to their timeout for a connection.
    #[test]
    fn long_answers_are_waited_for_before_a_growth_is_judged() {
        let mut p = pool();
        let mut e = Epochs::of(&p);
        // Three seconds in which requests wait and no answer has come yet: every growth
        // is a probe, none judged in vain.
        for _ in 0..30 {
            e.run(&mut p, 0, 0, 100, false);
        }
        assert!(p.plateau.is_none());
        let before = p.ceiling;
        assert!(before > FIRST_POOL, "{before}");
        // Answers of 2 s come and keep up: Little's law on them asks for far more, and each
        // growth is judged 2 s after it, when its answers can have come.
        for _ in 0..250 {
            e.run(&mut p, 1000, 2000, 100, false);
        }
        assert!(p.plateau.is_none());
        assert!(p.target > 1000, "{}", p.target);
        assert!(p.ceiling >= p.target, "{} of {}", p.ceiling, p.target);
    }

    #[test]
    fn a_target_that_slows_down_under_load_gets_no_storm_of_connections() {
        let mut p = pool();
        let mut e = Epochs::of(&p);
        for _ in 0..5 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        let sized = p.ceiling;
        // Overloaded, the target answers half the arrivals after 100 ms: after 5 s that is its
        // response time without a queue as far as anyone can tell, and Little's law asks for
        // 1,264 connections. Nothing waits for a connection, yet more connections raise
        // nothing: the pool grows twice, sees no gain, and stops, for as long as it lasts.
        for _ in 0..300 {
            e.run(&mut p, 500, 100, 0, false);
        }
        assert!(p.target > 1000, "{}", p.target);
        assert!(p.plateau.is_some());
        assert!(p.ceiling <= 4 * sized, "{} from {sized}", p.ceiling);
    }

    #[test]
    fn growth_that_follows_chance_stops_at_four_times_littles_law() {
        let mut p = pool();
        let mut e = Epochs::of(&p);
        for _ in 0..5 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        assert_eq!(p.target, 39);
        // Answers behind arrivals, requests waiting, and the rate of answers after each
        // growth a little higher by chance, for a minute: the probe never sees a growth in
        // vain, yet stops at four times what Little's law asks.
        for i in 0..600 {
            e.run(&mut p, 500 + (i % 4) * 100, 2, 100, false);
        }
        assert!(p.ceiling <= 4 * 39, "{}", p.ceiling);
        assert!(p.ceiling > 39, "it did grow: {}", p.ceiling);
    }

    #[test]
    fn a_learnt_stall_does_not_raise_the_probes_bound() {
        let mut p = pool_for("300s");
        let mut e = Epochs::of(&p);
        // Requests keep finding no free connection: the pool learns a 10 ms stall, 151.
        for _ in 0..300 {
            e.run_waited(&mut p, 1000, 2, 0, false, 10);
        }
        assert_eq!(p.target, 151);
        // Then answers fall behind with requests waiting, the rate rising by chance: the probe
        // stops at four times the pool of the least stall (4 x 39), here barely above the
        // learnt pool; not at four times the learnt one (604).
        for i in 0..600 {
            e.run(&mut p, 500 + (i % 4) * 100, 2, 100, false);
        }
        assert!(p.ceiling <= 4 * 39, "{}", p.ceiling);
    }

    #[test]
    fn the_pool_does_not_grow_when_every_sending_thread_is_busy() {
        let mut p = pool();
        let mut e = Epochs::of(&p);
        for _ in 0..5 {
            e.run(&mut p, 1000, 2, 0, false);
        }
        let sized = p.ceiling;
        for _ in 0..20 {
            e.run(&mut p, 500, 2, 100, true);
        }
        assert_eq!(
            p.ceiling, sized,
            "answers wait in the sockets of a busy thread"
        );
    }
}
