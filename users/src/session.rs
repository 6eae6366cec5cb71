//! One run's shared state: the clock that turns real instants into scenario time, the channel
//! to the collector thread, and the phase every user obeys (run, stop sending, give up on what
//! is in flight, abandon Goose).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use live::collect::Outcome;
use scalebench_core::Plan;
use tokio::sync::watch;

/// What users and [`crate::record`] tell the collector thread. Times are scenario ns since the
/// start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Msg {
    /// Request `id` of `class` went out at `sent_ns`.
    Sent { id: u64, class: u16, sent_ns: u64 },
    /// Request `id`, sent at `sent_ns`, ended at `done_ns`.
    Done {
        id: u64,
        class: u16,
        sent_ns: u64,
        done_ns: u64,
        outcome: Outcome,
    },
    /// Request `id`, sent at `sent_ns`, was given up at `at_ns` (the run was interrupted).
    Cancelled {
        id: u64,
        class: u16,
        sent_ns: u64,
        at_ns: u64,
    },
    /// A request seen only once it ended (a user-provided attack's, through
    /// [`crate::record`]).
    Complete {
        class: u16,
        sent_ns: u64,
        done_ns: u64,
        outcome: Outcome,
    },
}

/// Where the run is; it only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Users send, wait and think.
    Running,
    /// The scenario is over or was interrupted: no new request goes out and thinking stops;
    /// requests in flight may still end.
    Stopping,
    /// Requests still in flight are given up (counted as cancelled).
    Cut,
    /// Goose did not return after its users were cut off: its future is dropped.
    Abandon,
}

/// Shared by the users, the collector thread and [`crate::record`].
#[derive(Debug)]
pub(crate) struct Session {
    start: Instant,
    /// Scenario seconds per real second.
    scale: f64,
    /// The end of the scenario, in scenario ns.
    pub(crate) end_ns: u64,
    /// The request timeout, in real time.
    pub(crate) timeout: Duration,
    /// The plan's request classes (`default` when it has none).
    pub(crate) classes: Vec<String>,
    tx: mpsc::Sender<Msg>,
    next_id: AtomicU64,
    phase: watch::Sender<Phase>,
    /// Requests a user-provided attack started after the end of the scenario (not recorded).
    pub(crate) late: AtomicU64,
}

impl Session {
    /// A session starting now, `scale` times faster than scenario time, and the receiving end
    /// of its channel.
    pub(crate) fn new(plan: &Plan, scale: f64) -> (Session, mpsc::Receiver<Msg>) {
        let (tx, rx) = mpsc::channel();
        let classes = plan.traffic.class_names();
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let session = Session {
            start: Instant::now(),
            scale,
            end_ns: plan.duration.as_nanos(),
            timeout: Duration::from_secs_f64(plan.traffic.timeout.as_secs_f64() / scale),
            classes,
            tx,
            next_id: AtomicU64::new(0),
            phase: watch::channel(Phase::Running).0,
            late: AtomicU64::new(0),
        };
        (session, rx)
    }

    /// Scenario ns since the start.
    pub(crate) fn now_ns(&self) -> u64 {
        self.scenario_ns(Instant::now())
    }

    /// The scenario ns of a real instant (0 before the start).
    pub(crate) fn scenario_ns(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.start).as_nanos() as f64 * self.scale) as u64
    }

    /// The real length of a scenario duration, in seconds.
    pub(crate) fn real_secs(&self, scenario_secs: f64) -> f64 {
        scenario_secs / self.scale
    }

    /// Scenario seconds per real second.
    pub(crate) fn scale(&self) -> f64 {
        self.scale
    }

    /// A fresh request id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Hands a message to the collector thread (dropped once it has gone).
    pub(crate) fn send(&self, msg: Msg) {
        let _ = self.tx.send(msg);
    }

    /// The phase now.
    pub(crate) fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// A receiver to wait on phase changes.
    pub(crate) fn watch(&self) -> watch::Receiver<Phase> {
        self.phase.subscribe()
    }

    /// Moves to `phase` if it is further along.
    pub(crate) fn advance_to(&self, phase: Phase) {
        self.phase.send_if_modified(|p| {
            let later = phase > *p;
            if later {
                *p = phase;
            }
            later
        });
    }
}
