//! The embedded simulated cluster: the service model (the `model` crate) stepped in virtual
//! time, bit-for-bit reproducible for a seed.
//!
//! One [`simulate`] call runs one setup of a [`Plan`]: the plan's lazy arrival stream (the same
//! arrivals and service times for every setup, so setups differ only by what they do with them)
//! is offered to the model, whose timers and the ends of service wait on one agenda with the
//! clients' timeouts and the timeline's windows. Time is integer nanoseconds; ties between events
//! are broken by the order they were scheduled in. What clients see is recorded by a
//! [`Recorder`], as the live engine records it.

mod driver;
mod engine;

pub use driver::Simulator;

use std::sync::atomic::{AtomicBool, Ordering};

use autoscale::Policy;
use model::{Agenda, Bill, Model, SlotId, Timer};
use scalebench_core::arrivals::ArrivalStream;
use scalebench_core::drive::Control;
use scalebench_core::fault::FaultPlan;
use scalebench_core::llm::Tokens;
use scalebench_core::record::Recorder;
use scalebench_core::run::SetupRun;
use scalebench_core::run::TokenSample;
use scalebench_core::{Plan, Setup};

/// Runs one setup of the plan to completion: every scheduled request is answered, fails, is
/// rejected or times out.
///
/// The plan's `[[faults]]` are not injected: use [`simulate_together`] with its fault plan.
pub fn simulate(plan: &Plan, setup: &Setup) -> SetupRun {
    simulate_together(plan, &[setup], &FaultPlan::default(), None, None).remove(0)
}

/// How often (in arrivals) a run looks at its cancel flag.
const CANCEL_CHECK: u64 = 1 << 14;

/// Runs several setups on this thread in lockstep over one arrival stream: each arrival is
/// generated once and offered to every setup, which is cheaper than one stream per setup. The
/// results are the same as [`simulate`]'s for each setup.
///
/// When `cancel` is set during the run (Ctrl-C), no more arrivals are offered: the scenario
/// ends at the last arrival, what was sent is resolved, and the runs say they were interrupted.
/// `progress`, when given, follows the scenario time reached.
pub fn simulate_together(
    plan: &Plan,
    setups: &[&Setup],
    faults: &FaultPlan,
    cancel: Option<&AtomicBool>,
    progress: Option<Control<'_>>,
) -> Vec<SetupRun> {
    let mut sims: Vec<Sim<'_>> = setups.iter().map(|s| Sim::new(plan, s, faults)).collect();
    let mut n = 0u64;
    for a in ArrivalStream::new(plan) {
        n += 1;
        if n.is_multiple_of(CANCEL_CHECK) {
            if let Some(p) = progress {
                p.reach(a.t_ns);
            }
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                for sim in &mut sims {
                    sim.stop_at(a.t_ns);
                }
                break;
            }
        }
        for sim in &mut sims {
            sim.advance_to(a.t_ns);
            sim.offer(a);
        }
    }
    let runs = sims.into_iter().map(Sim::drain).collect();
    if let Some(p) = progress {
        p.reach(plan.duration.as_nanos());
    }
    runs
}

/// A request as the simulator's clients send it.
#[derive(Debug, Clone, Copy)]
struct Req {
    /// Intended send time, ns.
    intended: u64,
    /// Service time on a speed-1 replica, ns.
    service_ns: u64,
    class: u16,
    /// Its client still waits for the answer (it has not timed out).
    waiting: bool,
    /// Its prompt and output lengths (token model).
    tokens: Option<Tokens>,
    /// When its first token came (token model), ns.
    first_token: Option<u64>,
}

impl model::Request for Req {
    #[inline]
    fn class(&self) -> u16 {
        self.class
    }
    #[inline]
    fn intended(&self) -> u64 {
        self.intended
    }
    #[inline]
    fn service_ns(&self) -> u64 {
        self.service_ns
    }
    #[inline]
    fn wanted(&self) -> bool {
        self.waiting
    }
    #[inline]
    fn tokens(&self) -> Option<Tokens> {
        self.tokens
    }
}

/// What happens at an instant: the model's timers and the clients' events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// The service of the request in the slot ends.
    Done(SlotId),
    /// The client of the request in the slot gives up (its timeout passed).
    ClientTimeout(SlotId),
    /// A timeline window closes.
    Window,
    /// A timer of the model.
    Model(Timer),
}

/// The clients and the clock: the agenda every event waits on and the recorder of what the
/// clients see. The model's host.
struct Clients {
    agenda: Agenda<Event>,
    rec: Recorder,
    timeout_ns: u64,
}

impl model::Host<Req> for Clients {
    #[inline]
    fn schedule(&mut self, at: u64, timer: Timer) {
        self.agenda.push(at, Event::Model(timer));
    }

    #[inline(always)]
    fn serve(&mut self, now: u64, slot: SlotId, w: &mut Req, service_ns: u64) {
        let done = now + service_ns;
        let deadline = w.intended + self.timeout_ns;
        self.agenda.push(done, Event::Done(slot));
        if done > deadline {
            self.agenda.push(deadline, Event::ClientTimeout(slot));
        }
    }

    #[inline]
    fn drop_request(&mut self, _now: u64, w: Req, why: model::Dropped) {
        use model::Dropped::*;
        match why {
            Rejected | Shed => self.rec.rejected(w.class),
            Expired => self.rec.timed_out(w.class),
            Killed => self.rec.failed(w.class),
        }
    }

    fn latency_sample(&mut self) -> Option<(f64, f64)> {
        self.rec.take_sample_latency()
    }

    fn joined(&mut self, _now: u64, slot: SlotId, w: &mut Req) {
        self.agenda
            .push(w.intended + self.timeout_ns, Event::ClientTimeout(slot));
    }

    fn first_token(&mut self, now: u64, _slot: SlotId, w: &mut Req) {
        w.first_token = Some(now);
    }

    fn decode_step(&mut self, _now: u64, gap_ns: u64, continuing: u32) {
        self.rec.itl(gap_ns, u64::from(continuing));
    }

    fn done(&mut self, now: u64, w: Req) {
        if !w.waiting {
            return;
        }
        let output = w.tokens.map_or(1, |t| t.output.max(1));
        let sample = TokenSample {
            ttft_ns: w.first_token.map(|f| f - w.intended),
            tpot_ns: w
                .first_token
                .and_then(|f| TokenSample::tpot(f, now, output)),
            output_tokens: output,
            prompt_tokens: w.tokens.map(|t| t.prompt),
        };
        self.rec.ok_tokens(w.class, now - w.intended, &sample);
    }
}

/// One setup's simulation.
struct Sim<'a> {
    plan: &'a Plan,
    setup: &'a Setup,
    model: Model<Req>,
    clients: Clients,
    now: u64,
    end: u64,
    slo_ns: u64,
    speed: f64,
    window_start: u64,
    /// The bill when the scenario's time ran out.
    bill: Option<Bill>,
    /// The run was cut short; `end` is when.
    interrupted: bool,
}

impl<'a> Sim<'a> {
    fn new(plan: &'a Plan, setup: &'a Setup, faults: &FaultPlan) -> Self {
        Self::with_policy(plan, setup, faults, autoscale::build(plan, setup))
    }

    /// The simulation of `setup` with `policy` deciding, its timers set.
    fn with_policy(
        plan: &'a Plan,
        setup: &'a Setup,
        faults: &FaultPlan,
        policy: Box<dyn Policy>,
    ) -> Self {
        let mut clients = Clients {
            agenda: Agenda::default(),
            rec: Recorder::new(plan),
            timeout_ns: plan.traffic.timeout.as_nanos(),
        };
        let mut model = Model::with_policy(plan, setup, policy, &mut clients);
        if model.reads_latency() {
            clients.rec.measure_samples();
        }
        let end = plan.duration.as_nanos();
        model.start(&mut clients);
        let w = plan.window.as_nanos().max(1);
        clients.agenda.push(w.min(end), Event::Window);
        model.plan_faults(faults, &mut clients);
        model.arm_interruptions(&mut clients);
        Sim {
            plan,
            setup,
            model,
            clients,
            now: 0,
            end,
            slo_ns: plan.slo.latency.as_nanos(),
            speed: setup.speed,
            window_start: 0,
            bill: None,
            interrupted: false,
        }
    }
}

#[cfg(test)]
mod placement_tests;
#[cfg(test)]
mod tests;
