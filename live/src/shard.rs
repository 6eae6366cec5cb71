//! One shard of the engine: a thread with its own single-threaded tokio runtime that sends every
//! N-th arrival of the schedule (as the distributed workers of DESIGN.md do) on connections it
//! owns. It paces itself: it sleeps on tokio's timer until shortly before the next due instant,
//! then polls its sockets in a tight loop until the instant comes, so the schedule holds to
//! microseconds while answers are still read as they come. Nothing on this path crosses a
//! thread per request: outcomes are batched to the collector about every millisecond.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use scalebench_core::Plan;
use scalebench_core::arrivals::{Arrival, ArrivalStream};
use std::future::Future;

use crate::collect::{Event, Outcome};
use crate::engine::{Clock, GRACE};
use crate::h1::Conn;
use crate::request::{H2Client, Requests};

/// How long before a due instant the shard stops sleeping on tokio's timer (which ticks in
/// milliseconds and may wake a tick late) and polls in a loop.
const TIMER_MARGIN: Duration = Duration::from_millis(2);
/// How long before a due instant a shard with nothing in flight stops sleeping on the OS timer.
const OS_MARGIN: Duration = Duration::from_micros(300);
/// A batch goes to the collector when it has this many events...
const BATCH_EVENTS: usize = 1024;
/// ...or is this old, and at least this often when idle.
const BATCH_AGE: Duration = Duration::from_millis(1);
const IDLE_FLUSH: Duration = Duration::from_millis(10);
/// At most this many connections are opened at once by a shard; requests beyond wait for the
/// first connection free (their wait shows in the schedule lag). A server that accepts slowly
/// (a listen backlog, one accept per event loop turn) would otherwise be flooded with
/// connection attempts the moment answers slow down, and fail them all.
const MAX_CONNECTING: usize = 64;
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
}

/// What a shard needs.
pub(crate) struct Shard<'a> {
    pub index: usize,
    pub count: usize,
    pub plan: &'a Plan,
    pub requests: &'a Requests,
    pub clock: Clock,
    /// The client's timeout, in real time.
    pub timeout: Duration,
    /// This shard's share of the in-flight bound.
    pub max_in_flight: u64,
    pub cancel: &'a AtomicBool,
    pub tx: mpsc::Sender<Batch>,
    /// Connections to open before the start.
    pub warm: usize,
    /// The most connections open at once; requests beyond wait for one to be free.
    pub max_connections: usize,
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
}

/// A request that ended.
struct Finished {
    w: Waiting,
    sent_ns: u64,
    done_ns: u64,
    outcome: Outcome,
    /// The connection, when it may carry another request.
    conn: Option<Conn>,
}

/// What the shard's one task waits on.
enum Job {
    /// A connection opened, or could not be.
    Connected(Result<Conn, Outcome>),
    /// A request ended.
    Finished(Finished),
}

/// A connection being opened or a request in flight.
type JobFuture = std::pin::Pin<Box<dyn Future<Output = Job>>>;

/// The shard's state: its jobs, connections and requests.
struct State {
    running: FuturesUnordered<JobFuture>,
    idle: Vec<Conn>,
    /// Requests waiting for a connection, oldest first.
    waiting: VecDeque<Waiting>,
    /// Connections being opened.
    connecting: usize,
    /// Connections open or opening (idle, carrying a request, or connecting).
    open: usize,
    flight: InFlight,
    out: Out,
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
        if let Some(slot) = self.slots.get_mut((id - self.base) as usize) {
            if slot.take().is_some() {
                self.len -= 1;
            }
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

impl Shard<'_> {
    /// Runs the shard to the end of the schedule (or the cancel), then waits for what is in
    /// flight (each request has a deadline; a cancelled run gives it [`GRACE`]).
    /// First it opens its share of the warm connections and waits at `gate` for the start.
    pub fn run(mut self, gate: &Gate) -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let warm = match &rt {
            Ok(rt) => rt.block_on(self.warm_up()),
            Err(_) => Vec::new(),
        };
        gate.warmed();
        self.clock = gate.wait_start();
        // One task polls every request: tokio's cooperative budget would make the requests
        // yield and wake themselves over and over once it ran out.
        rt?.block_on(tokio::task::unconstrained(self.drive(warm)));
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

    async fn drive(self, warm: Vec<Conn>) {
        let (index, count) = (self.index, self.count);
        let mut arrivals = ArrivalStream::new(self.plan)
            .enumerate()
            .filter(move |(i, _)| i % count == index)
            .map(|(i, a)| (i as u64, a));
        let mut next = arrivals.next();
        let h2 = self.requests.h2_client();
        let mut st = State {
            running: FuturesUnordered::new(),
            open: warm.len(),
            idle: warm,
            waiting: VecDeque::new(),
            connecting: 0,
            flight: InFlight::default(),
            out: Out {
                batch: Batch {
                    shard: index,
                    events: Vec::with_capacity(BATCH_EVENTS),
                    ..Batch::default()
                },
                since: Instant::now(),
            },
        };
        loop {
            while let Some(Some(job)) = st.running.next().now_or_never() {
                self.ended(job, &mut st, h2.as_ref());
            }
            if self.cancel.load(Ordering::Relaxed) {
                break;
            }
            let now = Instant::now();
            while let Some((seq, a)) = next.filter(|(_, a)| self.due(a) <= now) {
                let intended_ns = a.t_ns;
                if st.flight.len >= self.max_in_flight {
                    st.out.batch.events.push(Event::NotSent {
                        class: a.class,
                        intended_ns,
                    });
                } else {
                    st.out.batch.events.push(Event::Sent {
                        class: a.class,
                        intended_ns,
                    });
                    let id = st.flight.push(intended_ns, a.class);
                    st.waiting.push_back(Waiting { id, seq, a });
                }
                next = arrivals.next();
            }
            self.expire(&mut st, now);
            self.assign(&mut st, h2.as_ref());
            self.maybe_flush(&mut st.out, self.clock.ns_at(now), &st.flight, now);
            let Some((_, a)) = next else { break };
            let mut due = self.due(&a);
            if let Some(w) = st.waiting.front() {
                due = due.min(self.deadline(&w.a));
            }
            let now = Instant::now();
            if due > now + TIMER_MARGIN {
                let wake = (due - TIMER_MARGIN).min(now + IDLE_FLUSH);
                tokio::select! {
                    biased;
                    Some(job) = st.running.next(), if !st.running.is_empty() => {
                        self.ended(job, &mut st, h2.as_ref());
                    }
                    () = tokio::time::sleep_until(wake.into()) => {}
                }
            } else if st.running.is_empty() && due > now + OS_MARGIN {
                // Nothing to read meanwhile: the OS timer is finer than tokio's.
                std::thread::sleep(due - now - OS_MARGIN);
            } else {
                tokio::task::yield_now().await;
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
            self.maybe_flush(&mut st.out, self.clock.ns_at(now), &st.flight, now);
        }
        drop(st.running);
        let at_ns = self.clock.now_ns();
        for (_, class) in st.flight.left() {
            st.out.batch.events.push(Event::Cancelled { class, at_ns });
        }
        let mut batch = std::mem::take(&mut st.out.batch);
        batch.finished = true;
        batch.safe_ns = at_ns;
        batch.oldest_in_flight = None;
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
            self.record(st, w, done_ns, done_ns, Outcome::Timeout);
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
                while st.connecting < MAX_CONNECTING.min(st.waiting.len())
                    && st.open < self.max_connections
                {
                    st.connecting += 1;
                    st.open += 1;
                    st.running.push(Box::pin(self.connect()));
                }
                return;
            };
            st.waiting.pop_front();
            st.running.push(self.request(w, conn, h2));
        }
    }

    /// A job ended: a connection opened (or failed to), or a request ended.
    fn ended(&self, job: Job, st: &mut State, h2: Option<&H2Client>) {
        match job {
            Job::Connected(Ok(conn)) => {
                st.connecting -= 1;
                st.idle.push(conn);
            }
            Job::Connected(Err(outcome)) => {
                st.connecting -= 1;
                st.open -= 1;
                // The oldest waiting request is the one this connection was for.
                if let Some(w) = st.waiting.pop_front() {
                    let now = self.clock.now_ns();
                    self.record(st, w, now, now, outcome);
                }
            }
            Job::Finished(f) => {
                match f.conn {
                    Some(c) => st.idle.push(c),
                    // HTTP/2 requests hold no connection of the shard's.
                    None if h2.is_none() => st.open -= 1,
                    None => {}
                }
                self.record(st, f.w, f.sent_ns, f.done_ns, f.outcome);
            }
        }
        self.assign(st, h2);
    }

    fn record(&self, st: &mut State, w: Waiting, sent_ns: u64, done_ns: u64, outcome: Outcome) {
        st.flight.finish(w.id);
        st.out.batch.events.push(Event::Done {
            class: w.a.class,
            intended_ns: w.a.t_ns,
            sent_ns,
            done_ns,
            outcome,
        });
    }

    /// Opens a connection for the waiting requests.
    fn connect(&self) -> impl Future<Output = Job> + 'static {
        let dest = self.requests.dest();
        let timeout = self.timeout;
        async move {
            let conn = tokio::time::timeout(timeout, Conn::connect(&dest))
                .await
                .unwrap_or(Err(Outcome::Connect));
            Job::Connected(conn)
        }
    }

    /// Sends the batch when it is full or old enough.
    fn maybe_flush(&self, out: &mut Out, safe_ns: u64, flight: &InFlight, now: Instant) {
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
            oldest_in_flight: flight.oldest(),
            finished: false,
        });
        out.since = now;
    }

    /// One request, on `conn` for HTTP/1.1 or through `h2`, until its deadline.
    fn request(&self, w: Waiting, conn: Option<Conn>, h2: Option<&H2Client>) -> JobFuture {
        let (clock, deadline) = (self.clock, self.deadline(&w.a));
        match (conn, h2) {
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
            }))),
        }
    }
}

/// Runs `exchange` until `deadline`, timing it.
async fn until_deadline(
    clock: Clock,
    w: Waiting,
    deadline: Instant,
    exchange: impl Future<Output = (Outcome, Option<Conn>)>,
) -> Job {
    let sent_ns = clock.now_ns();
    let (outcome, conn) = tokio::time::timeout_at(deadline.into(), exchange)
        .await
        .unwrap_or((Outcome::Timeout, None));
    Job::Finished(Finished {
        w,
        sent_ns,
        done_ns: clock.now_ns(),
        outcome,
        conn,
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
