//! The testbed as the model's host on the real clock: the service model (the `model` crate)
//! with its agenda, stepped by the clock task when a timer is due and by the HTTP handlers when
//! a request arrives. A request holds its slot for its service time (the one it was sent with,
//! else a draw from the service model), which ends as an event on the agenda (not in its
//! handler), so a client that hangs up does not free the slot early: the replica goes on
//! serving, as the simulator's does.

use std::collections::HashMap;

use bytes::Bytes;
use model::{Agenda, Dropped, Host, Model, SlotId, Timer};
use openai::ResponseWriter;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use scalebench_core::dist::Sampler;
use scalebench_core::llm::{TokenLengths, Tokens};
use scalebench_core::window_hist::WindowHist;
use tokio::sync::{mpsc, oneshot};

use crate::TestbedConfig;

/// How a request ended, as its HTTP handler learns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Served by `pod`, after waiting `queued_ns` in the queue, for `service_ns` (scenario ns).
    Served {
        pod: u32,
        queued_ns: u64,
        service_ns: u64,
    },
    /// Not served.
    Dropped(Dropped),
}

/// A request in the model: its class, when it arrived, its service time, and where its answer
/// goes.
#[derive(Debug)]
pub(crate) struct Req {
    class: u16,
    arrived: u64,
    service_ns: u64,
    /// When it started service, scenario ns.
    started: u64,
    /// Its service time on its pod.
    served_ns: u64,
    reply: Option<oneshot::Sender<Reply>>,
    /// Its tokens and its stream, under the token model.
    llm: Option<Box<LlmReq>>,
}

/// What an OpenAI-style request carries through the model.
#[derive(Debug)]
pub(crate) struct LlmReq {
    pub(crate) tokens: Tokens,
    /// Where its server-sent events go, when it streams (the body of its HTTP answer).
    pub(crate) stream: Option<mpsc::UnboundedSender<Bytes>>,
    /// Writes its chunks.
    pub(crate) writer: ResponseWriter,
    /// It asked for the usage chunk (`stream_options.include_usage`).
    pub(crate) include_usage: bool,
    /// The pod that serves it.
    pod: u32,
}

/// The text of every generated token: one token in every tiktoken encoding.
pub(crate) const TOKEN_TEXT: &str = " the";

impl LlmReq {
    fn send(&self, event: Vec<u8>) {
        if let Some(tx) = &self.stream
            && !event.is_empty()
        {
            // The client may be gone: the replica goes on decoding, as a real one does until
            // it notices.
            let _ = tx.send(Bytes::from(event));
        }
    }
}

impl Req {
    fn answer(&mut self, reply: Reply) {
        if let Some(tx) = self.reply.take() {
            // The handler may be gone (its client hung up): nobody to tell.
            let _ = tx.send(reply);
        }
    }
}

impl model::Request for Req {
    fn class(&self) -> u16 {
        self.class
    }
    fn intended(&self) -> u64 {
        self.arrived
    }
    fn service_ns(&self) -> u64 {
        self.service_ns
    }
    fn wanted(&self) -> bool {
        self.reply.as_ref().is_some_and(|tx| !tx.is_closed())
    }
    fn tokens(&self) -> Option<Tokens> {
        self.llm.as_ref().map(|l| l.tokens)
    }
    const MAY_LEAVE: bool = true;
}

/// What happens at an instant: a timer of the model, or the end of a request's service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Done(SlotId),
    Model(Timer),
    /// The scenario's time runs out: the accounting is taken for the Run.
    End,
}

/// Request counters, for `/metrics` and snapshots.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) ok: u64,
    pub(crate) rejected: u64,
    pub(crate) killed: u64,
    pub(crate) expired: u64,
    /// Prompt tokens of the requests that produced a first token (token model).
    pub(crate) prompt_tokens: u64,
    /// Tokens generated (token model).
    pub(crate) generation_tokens: u64,
}

/// Everything but the model: the agenda, the counters and the latencies the autoscaler's
/// metrics see.
pub(crate) struct Side {
    agenda: Agenda<Event>,
    pub(crate) counts: Counts,
    /// Latencies (from arrival) of the requests served since the last metric sample, when the
    /// policy reads them.
    latency: Option<WindowHist>,
}

impl Host<Req> for Side {
    fn schedule(&mut self, at: u64, timer: Timer) {
        self.agenda.push(at, Event::Model(timer));
    }

    fn serve(&mut self, now: u64, slot: SlotId, w: &mut Req, service_ns: u64) {
        w.started = now;
        w.served_ns = service_ns;
        self.agenda.push(now + service_ns, Event::Done(slot));
    }

    fn drop_request(&mut self, _now: u64, mut w: Req, why: Dropped) {
        match why {
            Dropped::Rejected | Dropped::Shed => self.counts.rejected += 1,
            Dropped::Killed => self.counts.killed += 1,
            Dropped::Expired => self.counts.expired += 1,
        }
        if let Some(l) = &w.llm {
            // A stream that has started ends with an error event, as vLLM's does.
            let (kind, code) = match why {
                Dropped::Rejected | Dropped::Shed => ("ServiceUnavailable", 503),
                Dropped::Expired => ("Timeout", 504),
                Dropped::Killed => ("InternalServerError", 502),
            };
            l.send(
                l.writer
                    .error(crate::http::dropped_message(why), kind, code),
            );
        }
        w.answer(Reply::Dropped(why));
    }

    const STREAMS: bool = true;

    fn joined(&mut self, now: u64, slot: SlotId, w: &mut Req) {
        w.started = now;
        if let Some(l) = &mut w.llm {
            l.pod = slot.pod;
        }
    }

    fn token(&mut self, _now: u64, _slot: SlotId, w: &mut Req, n: u32, _last: bool) {
        let Some(l) = &w.llm else { return };
        self.counts.generation_tokens += 1;
        if n == 1 {
            self.counts.prompt_tokens += u64::from(l.tokens.prompt);
            l.send(l.writer.role());
        }
        l.send(l.writer.content(TOKEN_TEXT));
    }

    fn done(&mut self, now: u64, mut w: Req) {
        self.counts.ok += 1;
        if let Some(h) = self.latency.as_mut() {
            h.record(now.saturating_sub(w.arrived) / 1000);
        }
        let mut pod = 0;
        if let Some(l) = &w.llm {
            pod = l.pod;
            l.send(l.writer.finish("length"));
            if l.include_usage {
                l.send(l.writer.usage(l.tokens.prompt, l.tokens.output));
            }
            l.send(l.writer.done());
        }
        let reply = Reply::Served {
            pod,
            queued_ns: w.started.saturating_sub(w.arrived),
            service_ns: now.saturating_sub(w.started),
        };
        w.answer(reply);
    }

    fn latency_sample(&mut self) -> Option<(f64, f64)> {
        let h = self.latency.as_mut()?;
        if h.is_empty() {
            return None;
        }
        let [p95, p99] = h.quantiles_ms([0.95, 0.99]);
        h.reset();
        Some((p95, p99))
    }
}

/// The model and its host, behind the testbed's one lock.
pub(crate) struct Bed {
    pub(crate) model: Model<Req>,
    pub(crate) side: Side,
    /// The time of the last call, ns: the model's time never goes back.
    now: u64,
    /// Service time samplers by class index, and the default's.
    service: Sampler,
    classes: Vec<Sampler>,
    class_index: HashMap<String, u16>,
    speed: f64,
    rng: Pcg64Mcg,
    /// The scenario's token lengths, for a request that does not say its output length.
    lengths: Option<TokenLengths>,
    /// The model's accounting when the scenario's time ran out.
    at_end: Option<model::Outcome>,
}

impl Bed {
    /// The service at time zero, its timers set (the plan's faults among them).
    pub(crate) fn new(cfg: &TestbedConfig) -> Bed {
        let plan = &scalebench_core::Plan {
            seed: cfg.seed,
            ..cfg.plan.clone()
        };
        let setup = &cfg.setup;
        let mut side = Side {
            agenda: Agenda::default(),
            counts: Counts::default(),
            latency: None,
        };
        let mut model = Model::new(plan, setup, &mut side);
        // The testbed serves until it is stopped, past the scenario's duration.
        model.run_until(u64::MAX);
        if model.reads_latency() {
            side.latency = Some(WindowHist::default());
        }
        model.start(&mut side);
        model.plan_faults(&cfg.faults, &mut side);
        model.arm_interruptions(&mut side);
        side.agenda.push(plan.duration.as_nanos(), Event::End);
        let classes = &plan.traffic.classes;
        Bed {
            model,
            side,
            now: 0,
            service: plan.service.time.sampler(),
            classes: classes
                .iter()
                .map(|c| c.service.unwrap_or(plan.service.time).sampler())
                .collect(),
            class_index: classes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.clone(), i as u16))
                .collect(),
            speed: setup.speed,
            rng: Pcg64Mcg::seed_from_u64(cfg.seed ^ 0x7e57_bed0),
            lengths: plan.traffic.tokens,
            at_end: None,
        }
    }

    /// Handles every event due at or before `now`, each at its own time.
    pub(crate) fn advance_to(&mut self, now: u64) {
        let now = now.max(self.now);
        while let Some(t) = self.side.agenda.peek_time() {
            if t > now {
                break;
            }
            let Some((t, ev)) = self.side.agenda.pop() else {
                break;
            };
            self.now = t;
            match ev {
                Event::Model(timer) => self.model.timer(t, timer, &mut self.side),
                Event::Done(slot) => self.done(t, slot),
                Event::End => self.at_end = Some(self.model.outcome(t, None)),
            }
        }
        self.now = now;
    }

    /// When the next event is due, ns.
    pub(crate) fn next_due(&mut self) -> Option<u64> {
        self.side.agenda.peek_time()
    }

    /// The time of the last call, ns.
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    fn done(&mut self, now: u64, slot: SlotId) {
        let Some(mut w) = self.model.finish(now, slot, &mut self.side) else {
            return; // its pod died with it: already answered
        };
        self.side.counts.ok += 1;
        if let Some(h) = self.side.latency.as_mut() {
            h.record(now.saturating_sub(w.arrived) / 1000);
        }
        let reply = Reply::Served {
            pod: slot.pod,
            queued_ns: w.started.saturating_sub(w.arrived),
            service_ns: w.served_ns,
        };
        w.answer(reply);
    }

    /// A request of `class` (by name; one that names none or an unknown one waits behind every
    /// known class and gets the default service time) arrives at `now` (after [`Bed::advance_to`] it): the
    /// receiver tells how it ends. `service_s` is its service time on a speed-1 replica in
    /// seconds when the client sent it (finite, not negative: the scenario's draw for the
    /// arrival, as the simulator's `Arrival::service_s`); without it, one is drawn for its class.
    /// Either is divided by the setup's speed here and by its pod's speed in the model, as in
    /// the simulator.
    pub(crate) fn admit(
        &mut self,
        class: Option<&str>,
        service_s: Option<f64>,
    ) -> oneshot::Receiver<Reply> {
        let now = self.now;
        let index = class.and_then(|c| self.class_index.get(c)).copied();
        let raw = match service_s {
            Some(s) => s,
            None => index
                .and_then(|i| self.classes.get(i as usize))
                .unwrap_or(&self.service)
                .sample_secs(&mut self.rng),
        };
        let (tx, rx) = oneshot::channel();
        let w = Req {
            class: index.unwrap_or(u16::MAX),
            arrived: now,
            service_ns: model::secs_to_ns(raw / self.speed),
            started: 0,
            served_ns: 0,
            reply: Some(tx),
            llm: None,
        };
        self.model.offer(now, w, &mut self.side);
        rx
    }

    /// True when the service has a token model (`[service.llm]`).
    pub(crate) fn serves_tokens(&self) -> bool {
        self.model.llm_state().is_some()
    }

    /// An output length for a request that did not give one: a draw from the scenario's
    /// `[traffic.tokens]`, else 16 (OpenAI's default `max_tokens` for completions).
    pub(crate) fn default_output(&mut self) -> u32 {
        self.lengths.map_or(16, |l| l.output.sample(&mut self.rng))
    }

    /// An OpenAI-style request arrives now (token model): the receiver tells how it ends;
    /// its events go to `llm.stream` as its tokens come.
    pub(crate) fn admit_tokens(&mut self, llm: LlmReq) -> oneshot::Receiver<Reply> {
        let now = self.now;
        let (tx, rx) = oneshot::channel();
        let w = Req {
            class: 0,
            arrived: now,
            service_ns: 0,
            started: 0,
            served_ns: 0,
            reply: Some(tx),
            llm: Some(Box::new(llm)),
        };
        self.model.offer(now, w, &mut self.side);
        rx
    }
}

impl LlmReq {
    /// A request of `tokens` answered by `writer`, streamed to `stream` when given.
    pub(crate) fn new(
        tokens: Tokens,
        writer: ResponseWriter,
        stream: Option<mpsc::UnboundedSender<Bytes>>,
        include_usage: bool,
    ) -> LlmReq {
        LlmReq {
            tokens,
            stream,
            writer,
            include_usage,
            pod: 0,
        }
    }
}

impl Bed {
    /// The model's accounting at the scenario's end, or now when it has not been reached.
    pub(crate) fn outcome(&self) -> model::Outcome {
        self.at_end
            .clone()
            .unwrap_or_else(|| self.model.outcome(self.now, None))
    }

    /// Injects a fault now (its `at` is ignored).
    pub(crate) fn inject(
        &mut self,
        fault: &scalebench_core::fault::Fault,
    ) -> Result<scalebench_core::report::FaultEvent, model::FaultError> {
        self.model.inject(self.now, fault, &mut self.side)
    }

    /// Evicts a pod now ([`Model::evict_pod`]).
    pub(crate) fn evict_pod(&mut self, pod: u32) -> Result<(), model::Refused> {
        self.model.evict_pod(self.now, pod, &mut self.side)
    }

    /// Deletes a pod now ([`Model::remove_pod`]).
    pub(crate) fn remove_pod(&mut self, pod: u32) -> Result<(), model::Refused> {
        self.model.remove_pod(self.now, pod, &mut self.side)
    }

    /// Cordons or uncordons a node now ([`Model::set_cordoned`]).
    pub(crate) fn set_cordoned(&mut self, node: u32, on: bool) -> Result<(), model::Refused> {
        self.model.set_cordoned(self.now, node, on, &mut self.side)
    }

    /// Deletes a node now ([`Model::remove_node`]).
    pub(crate) fn remove_node(&mut self, node: u32) -> Result<(), model::Refused> {
        self.model.remove_node(self.now, node, &mut self.side)
    }

    /// Scales the Deployment now ([`Model::scale_to`]).
    pub(crate) fn scale_to(&mut self, replicas: u32) -> Result<(), model::Refused> {
        self.model.scale_to(self.now, replicas, &mut self.side)
    }

    /// Stops taking requests: new ones and queued ones are refused; those in service finish.
    pub(crate) fn close(&mut self) {
        self.model.close(self.now, &mut self.side);
    }
}
