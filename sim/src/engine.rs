//! The event loop: arrivals offered to the model, the ends of service, client timeouts, the
//! model's timers and the timeline's windows, in time order.

use scalebench_core::arrivals::Arrival;
use scalebench_core::run::SetupRun;

use super::{Event, Req, Sim};

impl Sim<'_> {
    /// Handles every event due at or before `t`: events come first at equal times, so a
    /// completion at t frees its slot for an arrival at t.
    #[inline]
    pub(super) fn advance_to(&mut self, t: u64) {
        while let Some(te) = self.clients.agenda.peek_time() {
            if te > t {
                break;
            }
            if let Some((te, ev)) = self.clients.agenda.pop() {
                self.now = te;
                self.handle(ev);
            }
        }
    }

    /// Offers one arrival (after [`Sim::advance_to`] its time).
    #[inline]
    pub(super) fn offer(&mut self, a: Arrival) {
        self.now = a.t_ns;
        self.clients.rec.arrived(a.class);
        let w = Req {
            intended: a.t_ns,
            service_ns: model::secs_to_ns(a.service_s / self.speed),
            class: a.class,
            waiting: true,
            tokens: a.tokens,
            first_token: None,
        };
        self.model.offer(a.t_ns, w, &mut self.clients);
    }

    /// After the last arrival: runs until every scheduled request is resolved.
    pub(super) fn drain(mut self) -> SetupRun {
        self.advance_to(u64::MAX);
        // Nothing can serve what still waits: its clients time out.
        self.model.drain_queue(self.now, &mut self.clients);
        self.finish()
    }

    #[inline]
    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Done(slot) => {
                if let Some(w) = self.model.finish(self.now, slot, &mut self.clients)
                    && w.waiting
                {
                    self.clients.rec.ok(w.class, self.now - w.intended);
                }
            }
            Event::ClientTimeout(slot) => {
                if let Some(w) = self.model.in_service_mut(slot)
                    && w.waiting
                {
                    w.waiting = false;
                    self.clients.rec.timed_out(w.class);
                }
            }
            _ => self.handle_rare(ev),
        }
    }

    /// Every event but a request's: a few per second of scenario time against thousands of
    /// requests, so kept out of the request loop (its code would bloat the loop's prologue).
    #[cold]
    #[inline(never)]
    fn handle_rare(&mut self, ev: Event) {
        match ev {
            Event::Done(_) | Event::ClientTimeout(_) => {}
            Event::Window => self.close_window(),
            Event::Model(timer) => self.model.timer(self.now, timer, &mut self.clients),
        }
    }

    /// Ends the scenario early at `t` (the run was interrupted): the open window closes there,
    /// and no periodic event is scheduled after it.
    pub(super) fn stop_at(&mut self, t: u64) {
        if t >= self.end {
            return;
        }
        self.advance_to(t);
        self.now = t;
        self.end = t;
        self.model.stop(t);
        self.interrupted = true;
        self.close_window();
    }

    /// Closes a timeline window.
    fn close_window(&mut self) {
        let now = self.now;
        if self.window_start >= self.end {
            // Already closed when the run was interrupted.
            return;
        }
        let (sample, bill) = self.model.window_sample(now);
        let stuck = self.model.stuck(now, self.slo_ns);
        self.clients
            .rec
            .close_window(self.window_start, now, sample, stuck);
        self.window_start = now;
        if now >= self.end {
            self.bill = Some(bill);
        } else {
            let next = (now + self.plan.window.as_nanos().max(1)).min(self.end);
            self.clients.agenda.push(next, Event::Window);
        }
    }

    /// The Run, once every request is resolved.
    fn finish(mut self) -> SetupRun {
        // Latencies recorded after the last window (requests outstanding at the end) are
        // flushed by `into_run`.
        let outcome = self.model.outcome(self.end, self.bill.take());
        let base = self.clients.rec.into_run(
            &self.setup.name,
            self.setup.policy.kind(),
            self.end as f64 / 1e9,
        );
        SetupRun {
            pools: Some(outcome.pools),
            idle_fraction: Some(outcome.idle_fraction),
            max_ready: Some(outcome.max_ready),
            cold_starts: Some(outcome.cold_starts),
            scale_up_reaction_s: outcome.scale_up_reaction_s,
            budget: outcome.budget,
            faults: outcome.faults,
            waited: outcome.waited,
            interrupted: self.interrupted,
            ..base
        }
    }
}
