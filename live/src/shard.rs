//! One shard of the engine: a thread with its own single-threaded tokio runtime that takes
//! the schedule a lease at a time (about a millisecond of arrivals, see `schedule`) and sends
//! it on connections it owns. It paces itself: it waits for the next due instant on a timer
//! to the microsecond in the same poll as its sockets (`pace`), so the schedule holds to
//! microseconds, answers are read as they come, and the thread uses CPU only for work.
//! Nothing on this path crosses a thread per request: outcomes are batched to the collector
//! about every millisecond.
//!
//! Its connection pool follows what the supervisor sets in `Shared`: connections are opened
//! ahead for what the schedule says is coming (`conn_ready`), more when requests wait, never
//! more than `conn_cap`, and at most [`MAX_CONNECTING`] at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use scalebench_core::arrivals::Arrival;
use std::future::Future;

use crate::answer::Reading;
use crate::collect::{Answered, Event, Outcome};
use crate::engine::{Clock, GRACE};
use crate::h1::Conn;
use crate::pace::{Busy, POLL_EVERY, Pacer, SPIN};
use crate::request::{Exchanged, H2Client, Requests};
use crate::schedule::{LEASE_AHEAD, Shared};
/// A batch goes to the collector when it has this many events...
const BATCH_EVENTS: usize = 1024;
/// ...or is this old, and at least this often when idle.
const BATCH_AGE: Duration = Duration::from_millis(1);
const IDLE_FLUSH: Duration = Duration::from_millis(10);
/// At most this many connections are opened at once by a shard; requests beyond wait for the
/// first connection free (their wait shows in the schedule lag). A server that accepts slowly
/// (a listen backlog, one accept per event loop turn) would otherwise be flooded with
/// connection attempts the moment answers slow down, and fail them all.
pub(crate) const MAX_CONNECTING: usize = 32;
/// After a connection opened ahead fails, the shard opens none ahead for this long.
const READY_BACKOFF: Duration = Duration::from_secs(1);
/// The longest a warm connection may take to open.
const WARM_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle connection older than this is checked for a close by the server before reuse.
const STALE: Duration = Duration::from_millis(500);

/// What a shard tells the collector.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Which shard.
    pub shard: usize,
    /// Its events since the last batch.
    pub events: Vec<Event>,
    /// Every event of this shard that counts before this instant (scenario ns) is in this or
    /// an earlier batch.
    pub safe_ns: u64,
    /// The intended time of its oldest request still in flight.
    pub oldest_in_flight: Option<u64>,
    /// The shard is done: no more batches.
    pub finished: bool,
    /// Connections open or opening.
    pub open: usize,
    /// The most at once so far.
    pub max_open: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
    /// Requests since the last batch that found no idle connection when they were due (they
    /// waited for one to free or open).
    pub starved: u64,
    /// The busy share of the quarter second that just ended, when one did.
    pub busy: Option<f64>,
    /// The highest busy share of any quarter second so far.
    pub peak_busy: Option<f64>,
}

/// What a shard needs.
pub(crate) struct Shard<'a> {
    pub index: usize,
    pub shared: &'a Shared,
    pub requests: &'a Requests,
    pub clock: Clock,
    /// The client's timeout, in real time.
    pub timeout: Duration,
    pub cancel: &'a AtomicBool,
    pub tx: mpsc::Sender<Batch>,
    /// Connections to open before the start.
    pub warm: usize,
}

/// Where the shards wait for each other and for the start: the clock starts once every shard
/// has opened its warm connections, so none of them counts against the first requests.
#[derive(Default)]
pub(crate) struct Gate {
    state: Mutex<(usize, Option<Clock>)>,
    cv: Condvar,
}

impl Gate {
    /// A shard is ready.
    fn warmed(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.0 += 1;
        self.cv.notify_all();
    }

    /// Waits (at most `limit`) until `n` shards are ready.
    pub fn wait_warmed(&self, n: usize, limit: Duration) {
        let until = Instant::now() + limit;
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while s.0 < n {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            s = self
                .cv
                .wait_timeout(s, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Starts the clock for every shard.
    pub fn open(&self, clock: Clock) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.1 = Some(clock);
        self.cv.notify_all();
    }

    fn wait_start(&self) -> Clock {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(c) = s.1 {
                return c;
            }
            s = self.cv.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A request admitted (counted as sent) and not yet on a connection.
#[derive(Clone, Copy)]
struct Waiting {
    /// Its place among the shard's requests in flight.
    id: u64,
    /// Its position in the whole schedule.
    seq: u64,
    a: Arrival,
    /// When the shard took it from the schedule, scenario ns.
    taken_ns: u64,
}

/// A request that ended.
struct Finished {
    w: Waiting,
    sent_ns: u64,
    done_ns: u64,
    outcome: Outcome,
    /// The connection, when it may carry another request.
    conn: Option<Conn>,
    /// An OpenAI request's answer, as read.
    reading: Option<Box<Reading>>,
}

/// What the shard's one task waits on.
enum Job {
    /// A connection opened, or could not be; `ahead` when it was opened for what is coming
    /// rather than for a waiting request.
    Connected {
        conn: Result<Conn, Outcome>,
        ahead: bool,
    },
    /// A request ended.
    Finished(Finished),
}

/// A connection being opened or a request in flight.
type JobFuture = std::pin::Pin<Box<dyn Future<Output = Job>>>;

/// The shard's state: its jobs, connections and requests.
struct State {
    running: FuturesUnordered<JobFuture>,
    /// Arrivals leased from the schedule and not yet due, in order.
    queue: VecDeque<(u64, Arrival)>,
    /// The schedule has more to lease.
    more: bool,
    idle: Vec<Conn>,
    /// Requests waiting for a connection, oldest first.
    waiting: VecDeque<Waiting>,
    /// Connections being opened.
    connecting: usize,
    /// Waiting requests with an id below this were counted as starved.
    starved_upto: u64,
    /// Requests starved since the last batch.
    starved: u64,
    /// Connections open or opening (idle, carrying a request, or connecting).
    open: usize,
    max_open: usize,
    /// No connections are opened ahead before this instant (one failed).
    ready_after: Option<Instant>,
    flight: InFlight,
    out: Out,
    busy: Busy,
}

/// Requests in flight by sending order, so the oldest is known at any time.
#[derive(Default)]
struct InFlight {
    base: u64,
    slots: VecDeque<Option<(u64, u16)>>,
    len: u64,
}

impl InFlight {
    fn push(&mut self, intended_ns: u64, class: u16) -> u64 {
        self.slots.push_back(Some((intended_ns, class)));
        self.len += 1;
        self.base + self.slots.len() as u64 - 1
    }

    fn finish(&mut self, id: u64) {
        if let Some(slot) = self.slots.get_mut((id - self.base) as usize)
            && slot.take().is_some()
        {
            self.len -= 1;
        }
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
    }

    fn oldest(&self) -> Option<u64> {
        self.slots.front().copied().flatten().map(|(t, _)| t)
    }

    fn left(&self) -> impl Iterator<Item = (u64, u16)> + '_ {
        self.slots.iter().flatten().copied()
    }
}

/// The batch being filled.
struct Out {
    batch: Batch,
    since: Instant,
}

impl State {
    /// Connections changed: keeps the most at once.
    fn opened(&mut self) {
        self.max_open = self.max_open.max(self.open);
    }
}

impl Shard<'_> {
    /// Runs the shard to the end of the schedule (or the cancel), then waits for what is in
    /// flight (each request has a deadline; a cancelled run gives it [`GRACE`]).
    /// First it opens its share of the warm connections and waits at `gate` for the start.
    /// A shard added during the run (`gate` is `None`) starts at once on the run's clock.
    pub fn run(mut self, gate: Option<&Gate>) -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let warm = match &rt {
            Ok(rt) => rt.block_on(self.warm_up()),
            Err(_) => Vec::new(),
        };
        if let Some(gate) = gate {
            gate.warmed();
            self.clock = gate.wait_start();
        }
        let rt = rt?;
        let pacer = rt.block_on(async { Pacer::new() })?;
        // One task polls every request: tokio's cooperative budget would make the requests
        // yield and wake themselves over and over once it ran out.
        rt.block_on(tokio::task::unconstrained(self.drive(warm, pacer)));
        Ok(())
    }

    /// Opens the shard's warm connections, concurrently, giving up on each after the timeout.
    async fn warm_up(&self) -> Vec<Conn> {
        if self.warm == 0 || self.requests.is_http2() {
            return Vec::new();
        }
        let dest = self.requests.dest();
        let opening = (0..self.warm).map(|_| {
            let dest = dest.clone();
            let timeout = self.timeout.min(WARM_TIMEOUT);
            async move {
                tokio::time::timeout(timeout, Conn::connect(&dest))
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
        });
        futures_util::future::join_all(opening)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    fn due(&self, a: &Arrival) -> Instant {
        self.clock.start + self.clock.real(a.t_ns)
    }

    async fn drive(self, warm: Vec<Conn>, mut pacer: Pacer) {
        let index = self.index;
        let h2 = self.requests.h2_client();
        let mut st = State {
            running: FuturesUnordered::new(),
            queue: VecDeque::new(),
            more: true,
            open: warm.len(),
            max_open: warm.len(),
            ready_after: None,
            idle: warm,
            waiting: VecDeque::new(),
            connecting: 0,
            starved_upto: 0,
            starved: 0,
            flight: InFlight::default(),
            busy: Busy::start(),
            out: Out {
                batch: Batch {
                    shard: index,
                    events: Vec::with_capacity(BATCH_EVENTS),
                    ..Batch::default()
                },
                since: Instant::now(),
            },
        };
        // When the sockets were last polled (by a sleep or a spin).
        let mut last_poll = Instant::now();
        loop {
            self.take_ended(&mut st, h2.as_ref());
            if self.cancel.load(Ordering::Relaxed) {
                break;
            }
            let now = Instant::now();
            let now_ns = self.clock.ns_at(now);
            let ahead = now_ns + LEASE_AHEAD;
            if st.more && st.queue.back().is_none_or(|(_, a)| a.t_ns < ahead) {
                st.more = self.shared.lease(ahead, &mut st.queue);
            }
            while let Some(&(seq, a)) = st.queue.front().filter(|(_, a)| self.due(a) <= now) {
                st.queue.pop_front();
                let intended_ns = a.t_ns;
                if self.shared.admit() {
                    st.out.batch.events.push(Event::Sent {
                        class: a.class,
                        intended_ns,
                    });
                    let id = st.flight.push(intended_ns, a.class);
                    st.waiting.push_back(Waiting {
                        id,
                        seq,
                        a,
                        taken_ns: now_ns,
                    });
                } else {
                    st.out.batch.events.push(Event::NotSent {
                        class: a.class,
                        intended_ns,
                    });
                }
            }
            self.expire(&mut st, now);
            self.assign(&mut st, h2.as_ref());
            self.trim(&mut st);
            self.open_ahead(&mut st, h2.as_ref(), now);
            self.maybe_flush(&mut st, now_ns.min(self.shared.head()), now);
            if st.queue.is_empty() && !st.more {
                break;
            }
            // The next instant: the next arrival due, the next lease, or a waiting request's
            // deadline; at least every IDLE_FLUSH to report.
            let next = match st.queue.front() {
                Some((_, a)) => self.due(a),
                None => self
                    .clock
                    .instant(self.shared.head().saturating_sub(LEASE_AHEAD / 2)),
            };
            let mut wake = next.min(now + IDLE_FLUSH);
            if let Some(w) = st.waiting.front() {
                wake = wake.min(self.deadline(&w.a));
            }
            let now = Instant::now();
            // Sleep until the pacer's margin before the instant (how late wake-ups come on
            // this machine now), then poll. HTTP/2's connection tasks run on this thread
            // while it yields, so its waits are never polled: that time would count as idle
            // while it is work.
            let margin = if h2.is_some() {
                Duration::ZERO
            } else {
                pacer.margin().max(SPIN)
            };
            if wake > now + margin {
                last_poll = wake - margin;
                tokio::select! {
                    biased;
                    Some(job) = st.running.next(), if !st.running.is_empty() => {
                        self.ended(job, &mut st, h2.as_ref());
                    }
                    () = pacer.wait_until(wake - margin) => {}
                }
            } else if wake > now {
                // Too close to sleep: spin until it comes, polling the sockets at most every
                // POLL_EVERY. Requests just handed a connection go out first.
                self.take_ended(&mut st, h2.as_ref());
                let now = Instant::now();
                let poll_at = last_poll + POLL_EVERY;
                let until = wake.min(poll_at);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                if until == poll_at {
                    tokio::task::yield_now().await;
                    last_poll = Instant::now();
                }
                st.busy.spun(now.elapsed());
            }
        }
        // The schedule ended or the run was cancelled: wait for what is in flight.
        let mut grace_until = None;
        loop {
            if grace_until.is_none() && self.cancel.load(Ordering::Relaxed) {
                grace_until = Some(Instant::now() + GRACE);
            }
            let now = Instant::now();
            self.expire(&mut st, now);
            if st.flight.len == 0 || grace_until.is_some_and(|g| now >= g) {
                break;
            }
            tokio::select! {
                Some(job) = st.running.next(), if !st.running.is_empty() => {
                    self.ended(job, &mut st, h2.as_ref());
                }
                () = tokio::time::sleep(IDLE_FLUSH) => {}
            }
            let now = Instant::now();
            self.maybe_flush(&mut st, self.clock.ns_at(now), now);
        }
        drop(st.running);
        let at_ns = self.clock.now_ns();
        for (_, class) in st.flight.left() {
            self.shared.release();
            st.out.batch.events.push(Event::Cancelled { class, at_ns });
        }
        let mut batch = std::mem::take(&mut st.out.batch);
        batch.shard = self.index;
        batch.finished = true;
        batch.safe_ns = at_ns;
        batch.oldest_in_flight = None;
        // HTTP/2 multiplexes every request of a shard on its client's one connection.
        batch.max_open = if h2.is_some() { 1 } else { st.max_open };
        batch.peak_busy = st.busy.peak;
        let _ = self.tx.send(batch);
    }

    /// A request's deadline: its intended time plus the timeout.
    fn deadline(&self, a: &Arrival) -> Instant {
        self.due(a) + self.timeout
    }

    /// Requests that waited for a connection past their deadline time out.
    fn expire(&self, st: &mut State, now: Instant) {
        while let Some(w) = st.waiting.front().filter(|w| self.deadline(&w.a) <= now) {
            let w = *w;
            st.waiting.pop_front();
            let done_ns = self.clock.ns_at(now);
            self.record(
                st,
                w,
                done_ns.max(w.taken_ns),
                done_ns,
                Outcome::Timeout,
                None,
            );
        }
    }

    /// Gives waiting requests a connection: an idle one, or a new one while fewer than
    /// [`MAX_CONNECTING`] are being opened (one per waiting request at most). HTTP/2 requests
    /// go out at once, multiplexed.
    fn assign(&self, st: &mut State, h2: Option<&H2Client>) {
        while let Some(&w) = st.waiting.front() {
            let conn = if h2.is_some() {
                None
            } else if let Some(c) = take_idle(&mut st.idle, &mut st.open) {
                Some(c)
            } else {
                let cap = self.shared.conn_cap.load(Ordering::Relaxed);
                while st.connecting < MAX_CONNECTING.min(st.waiting.len()) && st.open < cap {
                    st.connecting += 1;
                    st.open += 1;
                    st.running.push(Box::pin(self.connect(false)));
                }
                st.opened();
                // It, and those behind it, wait for a connection: count each once.
                for w in st.waiting.iter().rev() {
                    if w.id < st.starved_upto {
                        break;
                    }
                    st.starved += 1;
                }
                st.starved_upto = st.waiting.back().map_or(0, |w| w.id + 1);
                return;
            };
            st.waiting.pop_front();
            st.running.push(self.request(w, conn, h2));
        }
    }

    /// Closes the least recently used idle connections beyond the supervisor's cap, which it
    /// lowers once the pool has been calm for a while: connections opened for a stall do not
    /// stay open for good.
    fn trim(&self, st: &mut State) {
        let cap = self.shared.conn_cap.load(Ordering::Relaxed);
        if st.open > cap && !st.idle.is_empty() {
            // Idle connections are reused last in, first out: the front was used longest ago.
            let n = (st.open - cap).min(st.idle.len());
            st.idle.drain(..n);
            st.open -= n;
        }
    }

    /// Opens connections for what the schedule says is coming, up to what the supervisor
    /// set, a few at a time, when no request is waiting for one.
    fn open_ahead(&self, st: &mut State, h2: Option<&H2Client>, now: Instant) {
        if h2.is_some() || !st.waiting.is_empty() || st.ready_after.is_some_and(|t| now < t) {
            return;
        }
        let want = self
            .shared
            .conn_ready
            .load(Ordering::Relaxed)
            .min(self.shared.conn_cap.load(Ordering::Relaxed));
        while st.open < want && st.connecting < MAX_CONNECTING {
            st.connecting += 1;
            st.open += 1;
            st.running.push(Box::pin(self.connect(true)));
        }
        st.opened();
    }

    /// Polls the jobs that are ready without waiting (requests just handed a connection go
    /// out) and takes those that ended.
    fn take_ended(&self, st: &mut State, h2: Option<&H2Client>) {
        while let Some(Some(job)) = st.running.next().now_or_never() {
            self.ended(job, st, h2);
        }
    }

    /// A job ended: a connection opened (or failed to), or a request ended.
    fn ended(&self, job: Job, st: &mut State, h2: Option<&H2Client>) {
        match job {
            Job::Connected { conn: Ok(conn), .. } => {
                st.connecting -= 1;
                st.idle.push(conn);
            }
            Job::Connected {
                conn: Err(_),
                ahead: true,
            } => {
                st.connecting -= 1;
                st.open -= 1;
                st.ready_after = Some(Instant::now() + READY_BACKOFF);
            }
            Job::Connected {
                conn: Err(outcome),
                ahead: false,
            } => {
                st.connecting -= 1;
                st.open -= 1;
                // The oldest waiting request is the one this connection was for.
                if let Some(w) = st.waiting.pop_front() {
                    let now = self.clock.now_ns();
                    self.record(st, w, now, now, outcome, None);
                }
            }
            Job::Finished(f) => {
                match f.conn {
                    Some(c) => st.idle.push(c),
                    // HTTP/2 requests hold no connection of the shard's.
                    None if h2.is_none() => st.open -= 1,
                    None => {}
                }
                self.record(st, f.w, f.sent_ns, f.done_ns, f.outcome, f.reading);
            }
        }
        self.assign(st, h2);
    }

    /// A request ended: its event (with an OpenAI request's answer, which the collector
    /// decodes) goes into the batch.
    fn record(
        &self,
        st: &mut State,
        w: Waiting,
        sent_ns: u64,
        done_ns: u64,
        outcome: Outcome,
        reading: Option<Box<Reading>>,
    ) {
        st.flight.finish(w.id);
        self.shared.release();
        let event = match reading {
            None => Event::Done {
                class: w.a.class,
                intended_ns: w.a.t_ns,
                taken_ns: w.taken_ns,
                sent_ns,
                done_ns,
                outcome,
            },
            Some(reading) => Event::Answered(Box::new(Answered {
                class: w.a.class,
                intended_ns: w.a.t_ns,
                taken_ns: w.taken_ns,
                sent_ns,
                done_ns,
                outcome,
                reading,
            })),
        };
        st.out.batch.events.push(event);
    }

    /// Opens a connection, for the waiting requests or `ahead` of what is coming.
    fn connect(&self, ahead: bool) -> impl Future<Output = Job> + 'static {
        let dest = self.requests.dest();
        let timeout = if ahead {
            self.timeout.min(WARM_TIMEOUT)
        } else {
            self.timeout
        };
        async move {
            let conn = tokio::time::timeout(timeout, Conn::connect(&dest))
                .await
                .unwrap_or(Err(Outcome::Connect));
            Job::Connected { conn, ahead }
        }
    }

    /// Closes the busy share's span when it is due, then sends the batch when it is full or
    /// old enough. Every event of this shard before `safe_ns` is in it or an earlier one.
    fn maybe_flush(&self, st: &mut State, safe_ns: u64, now: Instant) {
        if st.busy.tick(now) {
            st.out.batch.busy = st.busy.last;
        }
        let out = &mut st.out;
        let age = now.saturating_duration_since(out.since);
        let due = out.batch.events.len() >= BATCH_EVENTS
            || (age >= BATCH_AGE && !out.batch.events.is_empty())
            || age >= IDLE_FLUSH;
        if !due {
            return;
        }
        let events = std::mem::replace(&mut out.batch.events, Vec::with_capacity(BATCH_EVENTS));
        let _ = self.tx.send(Batch {
            shard: self.index,
            events,
            safe_ns,
            oldest_in_flight: st.flight.oldest(),
            finished: false,
            open: st.open,
            max_open: st.max_open,
            waiting: st.waiting.len(),
            starved: std::mem::take(&mut st.starved),
            busy: out.batch.busy.take(),
            peak_busy: st.busy.peak,
        });
        out.since = now;
    }

    /// One request, on `conn` for HTTP/1.1 or through `h2`, until its deadline.
    fn request(&self, w: Waiting, conn: Option<Conn>, h2: Option<&H2Client>) -> JobFuture {
        let (clock, deadline) = (self.clock, self.deadline(&w.a));
        let rq = self.requests;
        match (conn, h2) {
            (_, Some(client)) if rq.is_openai() => Box::pin(until_deadline(
                clock,
                w,
                deadline,
                rq.exchange_h2_openai(&w.a, w.seq, client, clock),
            )),
            (Some(conn), None) if rq.is_openai() => Box::pin(until_deadline(
                clock,
                w,
                deadline,
                rq.exchange_h1_openai(&w.a, w.seq, conn, clock),
            )),
            (_, Some(client)) => Box::pin(until_deadline(
                clock,
                w,
                deadline,
                self.requests.exchange_h2(&w.a, w.seq, client),
            )),
            (Some(conn), None) => Box::pin(until_deadline(
                clock,
                w,
                deadline,
                self.requests.exchange_h1(&w.a, w.seq, conn),
            )),
            // `assign` gives every HTTP/1.1 request a connection.
            (None, None) => Box::pin(std::future::ready(Job::Finished(Finished {
                w,
                sent_ns: clock.now_ns(),
                done_ns: clock.now_ns(),
                outcome: Outcome::Io,
                conn: None,
                reading: None,
            }))),
        }
    }
}

/// Runs `exchange` until `deadline`, timing it.
async fn until_deadline(
    clock: Clock,
    w: Waiting,
    deadline: Instant,
    exchange: impl Future<Output = Exchanged>,
) -> Job {
    let sent_ns = clock.now_ns();
    let (outcome, conn, reading) = tokio::time::timeout_at(deadline.into(), exchange)
        .await
        .unwrap_or((Outcome::Timeout, None, None));
    Job::Finished(Finished {
        w,
        sent_ns,
        done_ns: clock.now_ns(),
        outcome,
        conn,
        reading,
    })
}

/// The most recently used idle connection that is still open.
fn take_idle(idle: &mut Vec<Conn>, open: &mut usize) -> Option<Conn> {
    while let Some(mut c) = idle.pop() {
        if c.idle_since.elapsed() < STALE || !c.closed_while_idle() {
            return Some(c);
        }
        *open -= 1;
    }
    None
}
