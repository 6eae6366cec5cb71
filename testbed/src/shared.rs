//! The state the HTTP handlers and the control loop share: the model behind one mutex, the
//! clock that maps real time to scenario time, and the concurrency slot a request holds while
//! it is served (released when dropped, so a client that goes away frees its slot).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::model::Model;

/// Maps real (tokio) time to scenario time: scenario seconds = real seconds x `scale`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    scale: f64,
}

impl Clock {
    /// A clock at scenario time zero now.
    pub(crate) fn new(scale: f64) -> Clock {
        Clock {
            start: Instant::now(),
            scale,
        }
    }

    /// Scenario seconds since the start.
    pub(crate) fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * self.scale
    }

    /// The real duration of `secs` scenario seconds.
    pub(crate) fn real(&self, secs: f64) -> std::time::Duration {
        std::time::Duration::from_secs_f64((secs / self.scale).clamp(0.0, 1e9))
    }
}

/// The model and its clock.
pub(crate) struct Shared {
    model: Mutex<Model>,
    pub(crate) clock: Clock,
}

impl Shared {
    /// Shared state around a model built with a handle back to it (for the slots it hands out).
    pub(crate) fn new(clock: Clock, build: impl FnOnce(Weak<Shared>) -> Model) -> Arc<Shared> {
        Arc::new_cyclic(|weak| Shared {
            model: Mutex::new(build(weak.clone())),
            clock,
        })
    }

    /// The model, locked. A panic while it was locked leaves it usable: every update keeps it
    /// consistent step by step, and a load test is better served by a testbed that goes on.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What happened to a request that asked for a slot.
#[derive(Debug)]
pub(crate) enum Admit {
    /// A ready replica had room: serve now.
    Serve(Slot),
    /// It waits in the queue for a slot.
    Wait(oneshot::Receiver<Slot>),
    /// The queue is full (503).
    Full,
    /// The testbed is shutting down (503).
    Closed,
}

/// One concurrency slot of a replica, held while a request is served. Dropping it without
/// [`Slot::complete`] frees the slot without counting a success (the client left, or the replica
/// was killed).
#[derive(Debug)]
pub(crate) struct Slot {
    /// The replica serving the request.
    pub(crate) replica: u64,
    /// The sampled service time, in scenario seconds.
    pub(crate) service_s: f64,
    /// Turns true when the replica is killed with the requests it serves.
    pub(crate) killed: watch::Receiver<bool>,
    pub(crate) shared: Weak<Shared>,
    armed: bool,
}

impl Slot {
    /// A slot of `replica`, which the model has already counted as busy.
    pub(crate) fn new(
        replica: u64,
        service_s: f64,
        killed: watch::Receiver<bool>,
        shared: Weak<Shared>,
    ) -> Slot {
        Slot {
            replica,
            service_s,
            killed,
            shared,
            armed: true,
        }
    }

    /// Forgets the slot without touching the model (the model already took it back).
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }

    /// The request was served: frees the slot and counts a success with its latency (scenario
    /// seconds). False when the replica was killed meanwhile (the request failed).
    pub(crate) fn complete(mut self, latency_s: f64) -> bool {
        self.armed = false;
        let Some(shared) = self.shared.upgrade() else {
            return false;
        };
        let now = shared.clock.now();
        shared.lock().release(self.replica, now, Some(latency_s))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            let now = shared.clock.now();
            shared.lock().release(self.replica, now, None);
        }
    }
}
