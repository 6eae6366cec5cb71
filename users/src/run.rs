//! Running a Goose attack into a Run: Goose and its users on a multi-threaded tokio runtime,
//! the collector on its own thread. The collector thread also keeps time: at the scenario's
//! end, or when the run is cancelled, it moves the session to `Stopping` (no new request, no
//! more thinking) and stops Goose through its killswitch; requests still in flight get the
//! timeout (at the end) or [`GRACE`] (when interrupted) before they are given up, and Goose
//! another [`GRACE`] to return before it is abandoned. Every wait is bounded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use goose::GooseAttack;
use live::Observer;
use live::collect::{Collector, Event};
use scalebench_core::Plan;
use scalebench_core::run::SetupRun;

use crate::session::{Msg, Phase, Session};
use crate::{CtrlC, Endpoint, UsersConfig, UsersError};

/// How long an interrupted run waits for the requests in flight before it counts them as
/// cancelled, and then for Goose to return before it is abandoned.
pub const GRACE: Duration = Duration::from_secs(2);

/// How often the collector thread looks at the clock when no event comes.
const TICK: Duration = Duration::from_millis(10);

/// One Goose attack at a time in a process: Goose's killswitch, its Ctrl-C handler and
/// [`crate::record`]'s sink are process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What the collector thread hands back.
struct Ended {
    collector: Collector,
    /// The classes of requests sent and never ended.
    in_flight: Vec<u16>,
    /// When the run was interrupted, in scenario ns.
    interrupted: Option<u64>,
}

/// Runs `attack` with `session` as its clock into a Run named `name`. `margin` is how long
/// (real time) an event may take to reach the collector: a window closes only that long after
/// its end.
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive(
    attack: GooseAttack,
    plan: &Plan,
    config: &UsersConfig,
    session: &Arc<Session>,
    rx: Receiver<Msg>,
    name: &str,
    cancel: &AtomicBool,
    observer: &dyn Observer,
    margin: Duration,
) -> Result<SetupRun, UsersError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers.max(1))
        .thread_name("scalebench-users")
        .enable_all()
        .build()
        .map_err(UsersError::Runtime)?;
    let margin_ns = (margin.as_nanos() as f64 * session.scale()) as u64;
    // A run starts without a stale stop; Goose clears it too as its run starts.
    goose::reset_killswitch();
    let done = AtomicBool::new(false);
    let (ended, result) = std::thread::scope(|s| {
        let collector = std::thread::Builder::new()
            .name("scalebench-users-collect".into())
            .spawn_scoped(s, || {
                let c = Collector::new(plan);
                collect(rx, c, session, cancel, &done, observer, margin_ns)
            })
            .map_err(UsersError::Thread)?;
        let mut phase = session.watch();
        let result = rt.block_on(async {
            tokio::select! {
                r = attack.execute() => Some(r),
                _ = phase.wait_for(|p| *p >= Phase::Abandon) => None,
            }
        });
        rt.shutdown_timeout(Duration::ZERO);
        done.store(true, Ordering::Release);
        let ended = collector
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        Ok::<_, UsersError>((ended, result))
    })?;
    goose::reset_killswitch();
    match result {
        Some(Err(e)) => return Err(UsersError::goose(e)),
        Some(Ok(_)) => {}
        None => tracing::warn!("Goose did not return after its users were stopped: abandoned"),
    }
    let Ended {
        mut collector,
        in_flight,
        interrupted,
    } = ended;
    let at_ns = session.now_ns();
    for class in in_flight {
        collector.record(Event::Cancelled { class, at_ns });
    }
    let late = session.late.load(Ordering::Relaxed);
    if late > 0 {
        tracing::debug!(
            late,
            "requests started after the scenario's end were not recorded"
        );
    }
    Ok(collector.finish(name, interrupted))
}

/// The collector thread: records events, closes windows on the clock (asking the observer for
/// the service's state), moves the session's phase, and ends once `done` is set.
fn collect(
    rx: Receiver<Msg>,
    mut c: Collector,
    s: &Session,
    cancel: &AtomicBool,
    done: &AtomicBool,
    observer: &dyn Observer,
    margin_ns: u64,
) -> Ended {
    let mut in_flight: BTreeMap<(u64, u64), u16> = BTreeMap::new();
    let mut interrupted = None;
    // When the session started stopping, and how long requests in flight may then take.
    let mut stopping: Option<(Instant, Duration)> = None;
    loop {
        let finished = done.load(Ordering::Acquire);
        match rx.recv_timeout(TICK) {
            Ok(m) => apply(m, &mut c, &mut in_flight),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
        while let Ok(m) = rx.try_recv() {
            apply(m, &mut c, &mut in_flight);
        }
        let now = s.now_ns();
        let oldest = in_flight.keys().next().map(|&(t, _)| t);
        // Windows close on the clock until the run is interrupted; the last one ends there.
        if finished {
            // Everything has arrived: close what is due with the service's state now.
            c.advance(until(now, interrupted), oldest, observer);
            break;
        }
        let stopped_by_goose = goose::is_killswitch_triggered() && stopping.is_none();
        if stopping.is_none() && (cancel.load(Ordering::Relaxed) || stopped_by_goose) {
            interrupted = Some(now.min(s.end_ns));
            stopping = Some((Instant::now(), GRACE));
            s.advance_to(Phase::Stopping);
            tracing::info!(at_s = now as f64 / 1e9, "interrupted: stopping the users");
        } else if stopping.is_none() && now >= s.end_ns {
            stopping = Some((Instant::now(), s.timeout + GRACE));
            s.advance_to(Phase::Stopping);
        }
        if let Some((since, wait)) = &mut stopping {
            if interrupted.is_none() && cancel.load(Ordering::Relaxed) {
                // Interrupted while the last requests finish: give them the grace only.
                *wait = (*wait).min(since.elapsed() + GRACE);
            }
            if !goose::is_killswitch_triggered() {
                goose::trigger_killswitch("the scenario is over");
            }
            if since.elapsed() >= *wait {
                s.advance_to(Phase::Cut);
            }
            if since.elapsed() >= *wait + GRACE {
                s.advance_to(Phase::Abandon);
            }
        }
        let safe = until(now.saturating_sub(margin_ns), interrupted);
        c.advance(safe, oldest, observer);
    }
    Ended {
        collector: c,
        in_flight: in_flight.into_values().collect(),
        interrupted,
    }
}

/// How far windows may close: to `safe`, but not past an interruption.
fn until(safe: u64, interrupted: Option<u64>) -> u64 {
    interrupted.map_or(safe, |t| safe.min(t))
}

/// One message into the collector, keeping track of the requests in flight.
fn apply(m: Msg, c: &mut Collector, in_flight: &mut BTreeMap<(u64, u64), u16>) {
    match m {
        Msg::Sent { id, class, sent_ns } => {
            in_flight.insert((sent_ns, id), class);
            c.record(Event::Sent {
                class,
                intended_ns: sent_ns,
            });
        }
        Msg::Done {
            id,
            class,
            sent_ns,
            done_ns,
            outcome,
        } => {
            in_flight.remove(&(sent_ns, id));
            c.record(Event::Done {
                class,
                intended_ns: sent_ns,
                taken_ns: sent_ns,
                sent_ns,
                done_ns,
                outcome,
            });
        }
        Msg::Cancelled {
            id,
            class,
            sent_ns,
            at_ns,
        } => {
            in_flight.remove(&(sent_ns, id));
            c.record(Event::Cancelled { class, at_ns });
        }
        Msg::Complete {
            class,
            sent_ns,
            done_ns,
            outcome,
        } => {
            c.record(Event::Sent {
                class,
                intended_ns: sent_ns,
            });
            c.record(Event::Done {
                class,
                intended_ns: sent_ns,
                taken_ns: sent_ns,
                sent_ns,
                done_ns,
                outcome,
            });
        }
    }
}

/// Holds the process's one attack slot; also sets up what every attack needs first.
pub(crate) fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    crate::install_crypto_provider();
    if crate::claim_ctrl_c() == CtrlC::Foreign {
        tracing::warn!(
            "a SIGINT handler is already installed and Goose will replace it as its attack starts; call users::claim_ctrl_c() before installing yours"
        );
    }
    guard
}

impl Endpoint {
    /// Splits `url` into Goose's host (scheme and authority) and the request path.
    pub(crate) fn parse(url: &str) -> Result<Endpoint, UsersError> {
        let bad = |why: &str| UsersError::Url {
            url: url.to_string(),
            why: why.to_string(),
        };
        let uri: http::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s,
            _ => return Err(bad("expected http://host:port/path or https://...")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        Ok(Endpoint {
            host: format!("{scheme}://{authority}"),
            path,
        })
    }
}
