//! The state the HTTP handlers and the clock task share: the model and its host behind one
//! mutex, the clock that maps real time to scenario time, and the signal that wakes the clock
//! task when a handler set a timer earlier than the one it sleeps for.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::bed::Bed;

/// Maps real (tokio) time to scenario time: scenario seconds = real seconds x `scale`; and
/// scenario time to the wall clock, for the times the Kubernetes mirror writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    /// The wall-clock time of scenario time zero.
    wall: SystemTime,
    scale: f64,
}

impl Clock {
    /// A clock at scenario time zero now.
    pub(crate) fn new(scale: f64) -> Clock {
        Clock {
            start: Instant::now(),
            wall: SystemTime::now(),
            scale,
        }
    }

    /// The wall-clock time of scenario time `ns`: the start's, plus `ns` / `scale`.
    pub(crate) fn wall(&self, ns: u64) -> SystemTime {
        self.wall + self.real(ns)
    }

    /// Scenario nanoseconds since the start.
    pub(crate) fn now_ns(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * self.scale * 1e9) as u64
    }

    /// The real instant of scenario time `ns`.
    pub(crate) fn instant(&self, ns: u64) -> Instant {
        let real = (ns as f64 / 1e9 / self.scale).clamp(0.0, 1e9);
        self.start + std::time::Duration::from_secs_f64(real)
    }

    /// The real duration of `ns` scenario nanoseconds.
    pub(crate) fn real(&self, ns: u64) -> std::time::Duration {
        std::time::Duration::from_secs_f64((ns as f64 / 1e9 / self.scale).clamp(0.0, 1e9))
    }
}

/// The model, its host and the clock.
pub(crate) struct Shared {
    bed: Mutex<Bed>,
    pub(crate) clock: Clock,
    /// Counts the prompts' tokens of OpenAI requests.
    pub(crate) encoding: openai::Encoding,
    /// Wakes the clock task: a timer earlier than the one it sleeps for was set.
    pub(crate) wake: Notify,
}

/// The locked bed, brought up to the clock's time: every event due by now has been handled.
pub(crate) struct Now<'a> {
    pub(crate) bed: MutexGuard<'a, Bed>,
    shared: &'a Shared,
    due: Option<u64>,
}

impl std::ops::Deref for Now<'_> {
    type Target = Bed;
    fn deref(&self) -> &Bed {
        &self.bed
    }
}

impl std::ops::DerefMut for Now<'_> {
    fn deref_mut(&mut self) -> &mut Bed {
        &mut self.bed
    }
}

impl Drop for Now<'_> {
    fn drop(&mut self) {
        // A handler may have set a timer (the end of a service) earlier than the one the clock
        // task sleeps for.
        let due = self.bed.next_due();
        if due.is_some() && (self.due.is_none() || due < self.due) {
            self.shared.wake.notify_one();
        }
    }
}

impl Shared {
    /// Shared state around a bed, at scenario time zero now.
    pub(crate) fn new(bed: Bed, clock: Clock, encoding: openai::Encoding) -> Shared {
        Shared {
            bed: Mutex::new(bed),
            clock,
            encoding,
            wake: Notify::new(),
        }
    }

    /// The bed, locked and brought up to now. The clock is read under the lock, so the model's
    /// time never goes back. A panic while it was locked leaves it usable: a load test is
    /// better served by a testbed that goes on.
    pub(crate) fn now(&self) -> Now<'_> {
        let mut bed = self.bed.lock().unwrap_or_else(PoisonError::into_inner);
        bed.advance_to(self.clock.now_ns());
        let due = bed.next_due();
        Now {
            bed,
            shared: self,
            due,
        }
    }
}
