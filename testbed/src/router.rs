//! The router and the queue: a request goes to the ready replica with the fewest requests in
//! service that has a free slot, or waits in a bounded queue that serves higher priorities
//! first (first come, first served within one); a full queue sheds its lowest-priority,
//! newest request for a request of a higher priority, else rejects the newcomer.
//! A request holds its slot ([`Slot`]) until it is served, its client leaves, or its replica
//! is killed; each freed slot serves the head of the queue.

use tokio::sync::{oneshot, watch};

use crate::model::{Model, Phase};
use crate::shared::{Admit, Slot};

/// A request waiting in the queue.
#[derive(Debug)]
pub(crate) struct Waiter {
    pub(crate) tx: oneshot::Sender<Slot>,
    pub(crate) class: Option<String>,
    /// Its class's priority (higher is served first).
    pub(crate) priority: u8,
}

/// The most latencies kept per sample (a second of scenario time).
const MAX_LATENCIES: usize = 200_000;

impl Model {
    /// A request arrives (of `class`, when it names one).
    pub(crate) fn admit(&mut self, now: f64, class: Option<String>) -> Admit {
        if self.closed {
            return Admit::Closed;
        }
        self.stats.arrivals += 1;
        if let Some(id) = self.route() {
            return Admit::Serve(self.take_slot(id, now, class.as_deref()));
        }
        let priority = class
            .as_deref()
            .and_then(|c| self.p.priorities.get(c))
            .copied()
            .unwrap_or(0);
        if self.queue.len() >= self.p.queue_cap {
            self.stats.rejected += 1;
            match self.queue.back() {
                // Dropping its sender answers the shed request 503.
                Some(last) if last.priority < priority => {
                    self.queue.pop_back();
                }
                _ => return Admit::Full,
            }
        }
        let (tx, rx) = oneshot::channel();
        let at = self.queue.partition_point(|w| w.priority >= priority);
        self.queue.insert(
            at,
            Waiter {
                tx,
                class,
                priority,
            },
        );
        self.queued.set(now, self.queue.len() as f64);
        Admit::Wait(rx)
    }

    /// The ready replica with a free slot and the fewest requests in service.
    fn route(&self) -> Option<u64> {
        self.replicas
            .iter()
            .filter(|(_, r)| r.phase == Phase::Ready && r.in_flight < self.p.concurrency)
            .min_by_key(|(_, r)| r.in_flight)
            .map(|(&id, _)| id)
    }

    fn take_slot(&mut self, id: u64, now: f64, class: Option<&str>) -> Slot {
        let sampler = class
            .and_then(|c| self.p.classes.get(c))
            .unwrap_or(&self.p.service);
        let raw = sampler.sample_secs(&mut self.rng);
        let (speed, killed) = match self.replicas.get_mut(&id) {
            Some(r) => {
                r.in_flight += 1;
                (r.speed, r.kill.subscribe())
            }
            None => (1.0, watch::channel(true).1),
        };
        self.in_flight.set(now, self.in_flight.value + 1.0);
        Slot::new(id, raw / speed, killed, self.shared.clone())
    }

    /// Serves queued requests while ready replicas have free slots.
    pub(crate) fn dispatch(&mut self, now: f64) {
        while !self.queue.is_empty() {
            let Some(id) = self.route() else {
                break;
            };
            let Some(w) = self.queue.pop_front() else {
                break;
            };
            if w.tx.is_closed() {
                continue; // the client left
            }
            let slot = self.take_slot(id, now, w.class.as_deref());
            if let Err(slot) = w.tx.send(slot) {
                slot.disarm();
                self.undo_slot(id, now);
            }
        }
        self.queued.set(now, self.queue.len() as f64);
    }

    fn undo_slot(&mut self, id: u64, now: f64) {
        if let Some(r) = self.replicas.get_mut(&id) {
            r.in_flight = r.in_flight.saturating_sub(1);
        }
        self.in_flight.set(now, self.in_flight.value - 1.0);
    }

    /// A request held a slot of `id` and is done: served (with its latency in scenario
    /// seconds) or abandoned. False when the replica is gone (it was killed).
    pub(crate) fn release(&mut self, id: u64, now: f64, latency_s: Option<f64>) -> bool {
        let Some(r) = self.replicas.get_mut(&id) else {
            return false;
        };
        if r.in_flight == 0 {
            return false;
        }
        r.in_flight -= 1;
        let drained = r.phase == Phase::Draining && r.in_flight == 0;
        self.in_flight.set(now, self.in_flight.value - 1.0);
        if let Some(l) = latency_s {
            self.stats.ok += 1;
            if self.stats.measure_latency && self.stats.latencies.len() < MAX_LATENCIES {
                self.stats.latencies.push(l * 1000.0);
            }
        }
        if drained {
            self.remove(id, now);
        }
        self.dispatch(now);
        true
    }

    /// Drops waiters whose clients left, so the queue depth counts real requests.
    pub(crate) fn prune_queue(&mut self, now: f64) {
        self.queue.retain(|w| !w.tx.is_closed());
        self.queued.set(now, self.queue.len() as f64);
    }

    /// Stops taking requests: new ones and queued ones are refused.
    pub(crate) fn close(&mut self, now: f64) {
        self.closed = true;
        self.queue.clear();
        self.queued.set(now, 0.0);
    }

    /// Requests waiting in the queue.
    pub(crate) fn queue_len(&self) -> usize {
        self.queue.len()
    }
}
