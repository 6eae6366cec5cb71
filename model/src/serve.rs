//! The request path: arrivals, the least-loaded router, the bounded queue and the end of service.

use crate::pods::PodPhase;
use crate::queue::Offer;
use crate::{Dropped, Host, Model, Request, SlotId, Timer};

impl<W: Request> Model<W> {
    /// A request arrives now: it goes to the least-loaded ready pod with a free slot, or waits
    /// in the queue, or is dropped (the queue is full, or the model is closed).
    #[inline]
    pub fn offer(&mut self, now: u64, w: W, host: &mut impl Host<W>) {
        self.now = now;
        if !self.closed {
            self.sample_arrivals += 1;
        }
        self.route(w, host);
    }

    /// The service of the request in `id` has ended: the slot is free again (and serves the
    /// queue), and the request is handed back. `None` when the id is stale: the pod died with
    /// the request, which the model has already dropped or sent again.
    #[inline]
    pub fn finish(&mut self, now: u64, id: SlotId, host: &mut impl Host<W>) -> Option<W> {
        self.now = now;
        let p = &mut self.pods[id.pod as usize];
        let s = p.slots.get_mut(id.slot as usize)?;
        if s.token != id.token {
            return None;
        }
        let w = s.req.take()?;
        p.free.push(id.slot);
        p.in_flight -= 1;
        let (state, load) = (p.state, p.in_flight);
        self.in_flight.sub(now, 1);
        match state {
            PodPhase::Ready => {
                self.router.set_load(id.pod, load);
                if !self.queue.is_empty() {
                    self.serve_queue(id.pod, host);
                }
            }
            PodPhase::Terminating if load == 0 => self.gone(id.pod, host),
            _ => {}
        }
        Some(w)
    }

    /// The request in service in `id`, if the id is not stale (for a host whose client gave up
    /// on it while it is served).
    #[inline]
    pub fn in_service_mut(&mut self, id: SlotId) -> Option<&mut W> {
        let s = self
            .pods
            .get_mut(id.pod as usize)?
            .slots
            .get_mut(id.slot as usize)?;
        if s.token == id.token {
            s.req.as_mut()
        } else {
            None
        }
    }

    /// A timer the model set is due now.
    pub fn timer(&mut self, now: u64, timer: Timer, host: &mut impl Host<W>) {
        self.now = now;
        match timer {
            Timer::PodPhase { pod } => self.phase_done(pod, host),
            Timer::GraceEnd { pod } => self.grace_end(pod, host),
            Timer::NodeUp { node } => {
                if let Some(c) = self.cluster.as_mut() {
                    c.node_up(now, node);
                }
                self.arm_interruption(node, host);
                self.bind_waiting(host);
            }
            Timer::Interrupt { node } => self.random_interruption(node, host),
            Timer::PolicyTick => self.policy_tick(host),
            Timer::ClusterScan => self.cluster_scan(host),
            Timer::Sample => self.sample(host),
            Timer::Fault { index } => self.planned_fault(index, host),
            Timer::Reclaim { node, fault } => self.lose_node(node, Some(fault), host),
            Timer::Step { pod } => self.step_done(pod, host),
        }
    }

    /// Sends a request to the least-loaded ready pod, or queues it.
    #[inline]
    pub(crate) fn route(&mut self, w: W, host: &mut impl Host<W>) {
        if self.closed {
            // Closed: nothing new waits (a request sent again off a killed pod included).
            host.drop_request(self.now, w, Dropped::Rejected);
            return;
        }
        if self.queue.is_empty()
            && let Some(pod) = self.router.least_loaded()
        {
            self.dispatch(pod, w, host);
            return;
        }
        match self.queue.offer(w) {
            Offer::Queued => {
                self.waited += 1;
                self.waiting.set(self.now, self.queue.len() as u64);
            }
            Offer::Rejected(w) => host.drop_request(self.now, w, Dropped::Rejected),
            Offer::Shed(shed) => {
                self.waited += 1;
                host.drop_request(self.now, shed, Dropped::Shed);
            }
        }
    }

    /// Starts serving `w` on `pod`, which has a free slot.
    #[inline(always)]
    fn dispatch(&mut self, pod: u32, w: W, host: &mut impl Host<W>) {
        let now = self.now;
        let p = &mut self.pods[pod as usize];
        let Some(slot) = p.free.pop() else {
            debug_assert!(false, "dispatch to a full pod");
            return;
        };
        let service_ns = if p.speed == 1.0 {
            w.service_ns()
        } else {
            (w.service_ns() as f64 / p.speed + 0.5) as u64
        };
        let s = &mut p.slots[slot as usize];
        s.token = s.token.wrapping_add(1);
        let id = SlotId {
            pod,
            slot,
            token: s.token,
        };
        let w = s.req.insert(w);
        p.in_flight += 1;
        let load = p.in_flight;
        if self.llm.is_some() {
            host.joined(now, id, w);
            self.router.set_load(pod, load);
            self.in_flight.add(now, 1);
            self.join_batch(pod, slot, host);
            return;
        }
        host.serve(now, id, w, service_ns);
        self.router.set_load(pod, load);
        self.in_flight.add(now, 1);
    }

    /// Fills `pod`'s free slots from the queue (it is ready).
    pub(crate) fn serve_queue(&mut self, pod: u32, host: &mut impl Host<W>) {
        let before = self.queue.len();
        while !self.pods[pod as usize].free.is_empty() {
            let Some(w) = self.queue.pop() else { break };
            if self.now >= w.intended() + self.timeout_ns {
                host.drop_request(self.now, w, Dropped::Expired);
                continue;
            }
            self.dispatch(pod, w, host);
        }
        if self.queue.len() != before {
            self.waiting.set(self.now, self.queue.len() as u64);
        }
    }

    /// Drops every request still waiting (nothing will serve it: the run is over).
    pub fn drain_queue(&mut self, now: u64, host: &mut impl Host<W>) {
        self.now = now;
        let mut left = Vec::new();
        self.queue.drain_all(|w| left.push(w));
        for w in left {
            host.drop_request(now, w, Dropped::Expired);
        }
    }

    /// Stops taking requests: new ones are rejected, and those waiting are dropped (the
    /// testbed shutting down). Requests in service finish.
    pub fn close(&mut self, now: u64, host: &mut impl Host<W>) {
        self.closed = true;
        self.drain_queue(now, host);
        self.waiting.set(now, 0);
    }
}
