//! The event loop and the request path: arrivals, the least-loaded router, the bounded queue,
//! completions and client timeouts.

use workloads::arrivals::Arrival;

use super::Sim;
use super::events::Event;
use super::pods::{PodState, secs_to_ns};
use super::queue::{Offer, Waiting};
use harness::run::SetupRun;

impl Sim<'_> {
    /// Handles every event due at or before `t`: events come first at equal times, so a
    /// completion at t frees its slot for an arrival at t.
    #[inline]
    pub(super) fn advance_to(&mut self, t: u64) {
        while let Some(te) = self.agenda.peek_time() {
            if te > t {
                break;
            }
            if let Some((te, ev)) = self.agenda.pop() {
                self.now = te;
                self.handle(ev);
            }
        }
    }

    /// Offers one arrival (after [`Sim::advance_to`] its time).
    #[inline]
    pub(super) fn offer(&mut self, a: Arrival) {
        self.now = a.t_ns;
        self.arrive(a);
    }

    /// After the last arrival: runs until every scheduled request is resolved.
    pub(super) fn drain(mut self) -> SetupRun {
        self.advance_to(u64::MAX);
        // Nothing can serve what still waits: its clients time out.
        let mut left = Vec::new();
        self.queue.drain_all(|w| left.push(w.class));
        for class in left {
            self.rec.timed_out(class);
        }
        self.finish()
    }

    #[inline]
    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Done { pod, slot, token } => self.done(pod, slot, token),
            Event::ClientTimeout { pod, slot, token } => self.client_timeout(pod, slot, token),
            _ => self.handle_rare(ev),
        }
    }

    /// Every event but a request's: a few per second of scenario time against thousands of
    /// requests, so kept out of the request loop (its code would bloat the loop's prologue).
    #[cold]
    #[inline(never)]
    fn handle_rare(&mut self, ev: Event) {
        match ev {
            Event::Done { .. } | Event::ClientTimeout { .. } => {}
            Event::PodPhase { pod } => self.phase_done(pod),
            Event::GraceEnd { pod } => self.grace_end(pod),
            Event::NodeUp { node } => {
                if let Some(c) = self.cluster.as_mut() {
                    c.node_up(self.now, node);
                }
                self.arm_interruption(node);
                self.bind_waiting();
            }
            Event::Interrupt { node } => self.random_interruption(node),
            Event::PolicyTick => self.policy_tick(),
            Event::ClusterScan => self.cluster_scan(),
            Event::Sample => self.sample(),
            Event::Window => self.close_window(),
            Event::Fault { index } => self.fault(index),
            Event::Reclaim { node, fault } => self.lose_node(node, fault),
        }
    }

    #[inline]
    fn arrive(&mut self, a: Arrival) {
        self.rec.arrived(a.class);
        let w = Waiting {
            intended: a.t_ns,
            service_ns: secs_to_ns(a.service_s / self.speed),
            class: a.class,
        };
        self.route(w);
    }

    /// Sends a request to the least-loaded ready pod, or queues it.
    #[inline]
    pub(super) fn route(&mut self, w: Waiting) {
        if self.queue.is_empty() {
            if let Some(pod) = self.router.least_loaded() {
                self.dispatch(pod, w);
                return;
            }
        }
        match self.queue.offer(w) {
            Offer::Queued => {
                self.rec.waited += 1;
                self.waiting.set(self.now, self.queue.len() as u64);
            }
            Offer::Rejected => self.rec.rejected(w.class),
            Offer::Shed(shed) => {
                self.rec.waited += 1;
                self.rec.rejected(shed.class);
            }
        }
    }

    /// Starts serving `w` on `pod`, which has a free slot.
    #[inline(always)]
    fn dispatch(&mut self, pod: u32, w: Waiting) {
        let now = self.now;
        let deadline = w.intended + self.timeout_ns;
        let p = &mut self.pods[pod as usize];
        let Some(slot) = p.free.pop() else {
            debug_assert!(false, "dispatch to a full pod");
            return;
        };
        let s = &mut p.slots[slot as usize];
        s.token = s.token.wrapping_add(1);
        s.intended = w.intended;
        s.class = w.class;
        s.service_ns = w.service_ns;
        s.busy = true;
        s.waiting = true;
        let token = s.token;
        p.in_flight += 1;
        let load = p.in_flight;
        let service_ns = if p.speed == 1.0 {
            w.service_ns
        } else {
            (w.service_ns as f64 / p.speed + 0.5) as u64
        };
        self.router.set_load(pod, load);
        self.in_flight.add(now, 1);
        let done = now + service_ns;
        self.agenda.push(done, Event::Done { pod, slot, token });
        if done > deadline {
            self.agenda
                .push(deadline, Event::ClientTimeout { pod, slot, token });
        }
    }

    /// Fills `pod`'s free slots from the queue (it is ready).
    pub(super) fn serve_queue(&mut self, pod: u32) {
        let before = self.queue.len();
        while !self.pods[pod as usize].free.is_empty() {
            let Some(w) = self.queue.pop() else { break };
            if self.now >= w.intended + self.timeout_ns {
                self.rec.timed_out(w.class);
                continue;
            }
            self.dispatch(pod, w);
        }
        if self.queue.len() != before {
            self.waiting.set(self.now, self.queue.len() as u64);
        }
    }

    fn done(&mut self, pod: u32, slot: u32, token: u32) {
        let p = &mut self.pods[pod as usize];
        let Some(s) = p.slots.get_mut(slot as usize) else {
            return; // the pod is gone: the request was killed
        };
        if s.token != token || !s.busy {
            return;
        }
        s.busy = false;
        let (waiting, intended, class) = (s.waiting, s.intended, s.class);
        s.waiting = false;
        p.free.push(slot);
        p.in_flight -= 1;
        let (state, load) = (p.state, p.in_flight);
        self.in_flight.sub(self.now, 1);
        if waiting {
            self.rec.ok(class, self.now - intended);
        }
        match state {
            PodState::Ready => {
                self.router.set_load(pod, load);
                if !self.queue.is_empty() {
                    self.serve_queue(pod);
                }
            }
            PodState::Draining if load == 0 => self.gone(pod),
            _ => {}
        }
    }

    fn client_timeout(&mut self, pod: u32, slot: u32, token: u32) {
        let Some(s) = self.pods[pod as usize].slots.get_mut(slot as usize) else {
            return;
        };
        if s.token == token && s.busy && s.waiting {
            s.waiting = false;
            let class = s.class;
            self.rec.timed_out(class);
        }
    }
}
