//! Running a plan's arrivals against a target: the pacer on the calling thread, the requests on
//! a multi-threaded tokio runtime with a keep-alive connection pool, the collector on its own
//! thread. Each request's deadline is its intended send time plus the plan's timeout, so a
//! request that went out late does not get more time than its client would give it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use harness::run::SetupRun;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use workloads::Plan;
use workloads::arrivals::ArrivalStream;

use crate::collect::{Collector, Event, Outcome};
use crate::observe::{NoObserver, Observer};
use crate::pacer::pace;
use crate::target::Target;

/// How an interrupted run waits for what is in flight before it counts it as cancelled.
pub const GRACE: Duration = Duration::from_secs(2);

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The async runtime could not be built.
    #[error("cannot start the load engine's runtime")]
    Runtime(#[source] std::io::Error),
    /// A thread could not be spawned.
    #[error("cannot start the load engine's collector thread")]
    Thread(#[source] std::io::Error),
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
    /// Runtime worker threads.
    pub workers: usize,
    /// Scenario seconds per real second (a testbed that runs faster than real time): the
    /// schedule and the timeout shrink by it, measured times grow by it, so the Run is in
    /// scenario time.
    pub time_scale: f64,
}

impl LoadConfig {
    /// Defaults: 10,000 in flight, HTTP/1.1, one worker per core.
    pub fn new(target: Target) -> Self {
        LoadConfig {
            target,
            max_in_flight: 10_000,
            http2: false,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            time_scale: 1.0,
        }
    }
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests handed to the runtime.
    pub sent: AtomicU64,
    /// Requests that ended, any way.
    pub done: AtomicU64,
    /// Of those, not answered 2xx.
    pub errors: AtomicU64,
    /// Requests not sent because of the in-flight bound.
    pub not_sent: AtomicU64,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers.max(1))
        .thread_name("scalebench-load")
        .enable_all()
        .build()
        .map_err(LoadError::Runtime)?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .http2_only(config.http2)
        // A load test counts a broken connection; it does not hide it behind a silent retry.
        .retry_canceled_requests(false)
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector);
    let target = Arc::new(config.target.clone());
    let clock = Clock {
        start: Instant::now(),
        scale: if config.time_scale > 0.0 {
            config.time_scale
        } else {
            1.0
        },
    };
    let timeout = clock.real(plan.traffic.timeout.as_nanos());
    let (tx, rx) = mpsc::channel::<Event>();
    let start = clock.start;
    std::thread::scope(|s| {
        let collector = std::thread::Builder::new()
            .name("scalebench-collect".into())
            .spawn_scoped(s, move || {
                collect(rx, Collector::new(plan), clock, progress, observer)
            })
            .map_err(LoadError::Thread)?;
        // Due instants in real time; the events carry scenario time.
        let schedule = ArrivalStream::new(plan).enumerate().map(|(seq, a)| {
            let due = clock.real(a.t_ns).as_nanos() as u64;
            (due, (seq as u64, a.class, a.t_ns))
        });
        let in_flight = Arc::new(AtomicU64::new(0));
        let mut last_due = 0;
        pace(schedule, start, cancel, |(seq, class, intended_ns)| {
            last_due = clock.real(intended_ns).as_nanos() as u64;
            if in_flight.load(Ordering::Relaxed) >= config.max_in_flight {
                progress.not_sent.fetch_add(1, Ordering::Relaxed);
                let _ = tx.send(Event::NotSent { class });
                return;
            }
            in_flight.fetch_add(1, Ordering::Relaxed);
            progress.sent.fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(Event::Sent {
                seq,
                class,
                intended_ns,
            });
            let (tx, client, target, in_flight) = (
                tx.clone(),
                client.clone(),
                Arc::clone(&target),
                Arc::clone(&in_flight),
            );
            let deadline = start + clock.real(intended_ns) + timeout;
            rt.spawn(async move {
                let sent_ns = clock.now_ns();
                let outcome = tokio::time::timeout_at(deadline.into(), send(&client, &target))
                    .await
                    .unwrap_or(Outcome::Timeout);
                let done_ns = clock.now_ns();
                in_flight.fetch_sub(1, Ordering::Relaxed);
                let _ = tx.send(Event::Done {
                    seq,
                    sent_ns,
                    done_ns,
                    outcome,
                });
            });
        });
        let interrupted = cancel.load(Ordering::Relaxed).then(|| clock.now_ns());
        drop(tx);
        // Every request has a deadline: the wait ends at the last one (or after the grace),
        // with a margin for its task to report.
        let wait_until = match interrupted {
            Some(_) => Instant::now() + GRACE,
            None => start + Duration::from_nanos(last_due) + timeout + Duration::from_millis(250),
        };
        while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < wait_until {
            std::thread::sleep(Duration::from_millis(5));
        }
        rt.shutdown_timeout(Duration::ZERO);
        let collector = collector
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        Ok(collector.finish(name, interrupted))
    })
}

/// Real time and scenario time.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    /// Scenario seconds per real second.
    scale: f64,
}

impl Clock {
    /// Scenario nanoseconds since the start.
    fn now_ns(&self) -> u64 {
        (self.start.elapsed().as_nanos() as f64 * self.scale) as u64
    }

    /// The real duration of `scenario_ns`.
    fn real(&self, scenario_ns: u64) -> Duration {
        Duration::from_nanos((scenario_ns as f64 / self.scale) as u64)
    }
}

/// The collector thread: records events, closes windows on the clock (asking the observer for
/// the service's state), ends when every sender is gone.
fn collect(
    rx: mpsc::Receiver<Event>,
    mut c: Collector,
    clock: Clock,
    progress: &Progress,
    observer: &dyn Observer,
) -> Collector {
    loop {
        let now = clock.now_ns();
        c.close_until(now, observer);
        let wait = c.next_close().map_or(Duration::from_millis(100), |t| {
            clock.real(t.saturating_sub(now))
        });
        match rx.recv_timeout(wait.max(Duration::from_micros(100))) {
            Ok(ev) => {
                let at = match ev {
                    Event::Sent { intended_ns, .. } => intended_ns,
                    Event::Done { done_ns, .. } => done_ns,
                    Event::NotSent { .. } => now,
                };
                c.close_until(at, observer);
                if let Event::Done { outcome, .. } = ev {
                    progress.done.fetch_add(1, Ordering::Relaxed);
                    if !matches!(outcome, Outcome::Status(200..=299)) {
                        progress.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                c.handle(ev);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return c,
        }
    }
}

/// Sends one request and reads its answer to the end.
async fn send(client: &HttpClient, target: &Target) -> Outcome {
    let mut req = Request::builder()
        .method(target.method.clone())
        .uri(target.uri.clone());
    for (k, v) in &target.headers {
        req = req.header(k, v);
    }
    let Ok(req) = req.body(Full::new(target.body.clone())) else {
        return Outcome::Io;
    };
    match client.request(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match resp.into_body().collect().await {
                Ok(_) => Outcome::Status(status),
                Err(e) => classify(&e),
            }
        }
        Err(e) if e.is_connect() => Outcome::Connect,
        Err(e) => classify(&e),
    }
}

/// A broken connection or another I/O failure, from an error's chain of sources.
fn classify(e: &(dyn std::error::Error + 'static)) -> Outcome {
    use std::io::ErrorKind::*;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                ConnectionRefused | AddrNotAvailable | NotConnected => Outcome::Connect,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => Outcome::Reset,
                TimedOut => Outcome::Timeout,
                _ => Outcome::Io,
            };
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                return Outcome::Reset;
            }
        }
        cur = err.source();
    }
    Outcome::Io
}
