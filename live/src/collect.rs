//! Outcomes into the Run: every request counted once, its latency from the intended send time,
//! timeline windows closed on the wall clock, and the schedule lag and outcome classes kept for
//! the report. One collector thread owns all of it, so recording takes no lock. An OpenAI
//! request's answer is decoded here too ([`Event::Answered`]): its TTFT, TPOT and tokens, and
//! each inter-token gap, go into the Recorder at the answer's end.

use std::collections::BTreeMap;

use openai::TokenTimes;
use scalebench_core::Plan;
use scalebench_core::record::Recorder;
use scalebench_core::report::TimelineSample;
use scalebench_core::run::{LatencyHist, LoadStats, SetupRun, TokenSample};

use crate::answer::Reading;
use crate::observe::{NoObserver, Observer};

/// How a request that was sent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP response with this status (its body read to the end).
    Status(u16),
    /// The connection could not be made (refused, unreachable).
    Connect,
    /// The connection broke (reset, closed mid-response).
    Reset,
    /// Another I/O or protocol error.
    Io,
    /// The TLS handshake failed (for example, a certificate that does not verify).
    Tls,
    /// No complete answer before the deadline (intended send time + timeout).
    Timeout,
    /// A 2xx answer to an OpenAI request that failed all the same: its stream carried an
    /// error, ended without `data: [DONE]`, or its body was not a completion.
    BadAnswer,
}

impl Outcome {
    /// The outcome class in reports: `http_<status>`, `connect`, `reset`, `io`, `tls`,
    /// `timeout`, `bad_answer`.
    pub fn class(self) -> String {
        match self {
            Outcome::Status(s) => format!("http_{s}"),
            Outcome::Connect => "connect".into(),
            Outcome::Reset => "reset".into(),
            Outcome::Io => "io".into(),
            Outcome::Tls => "tls".into(),
            Outcome::Timeout => "timeout".into(),
            Outcome::BadAnswer => "bad_answer".into(),
        }
    }
}

/// What happened to one request, as the engine (or a closed-loop user) tells the collector.
/// Times are scenario ns since the start.
#[derive(Debug)]
pub enum Event {
    /// A request of `class`, due at `intended_ns`, went out.
    Sent {
        /// Its request class.
        class: u16,
        /// When it was due.
        intended_ns: u64,
    },
    /// A request of `class`, due at `intended_ns`, was not sent: the in-flight bound was
    /// reached.
    NotSent {
        /// Its request class.
        class: u16,
        /// When it was due.
        intended_ns: u64,
    },
    /// A request that was sent ended.
    Done {
        /// Its request class.
        class: u16,
        /// When it was due.
        intended_ns: u64,
        /// When a sending thread took it from the schedule (its pacing lag is this minus
        /// `intended_ns`).
        taken_ns: u64,
        /// When it actually went out (after waiting for a connection since `taken_ns`).
        sent_ns: u64,
        /// When it ended.
        done_ns: u64,
        /// How.
        outcome: Outcome,
    },
    /// A request that was sent never ended: the run was cut short at `at_ns`.
    Cancelled {
        /// Its request class.
        class: u16,
        /// When it was given up.
        at_ns: u64,
    },
    /// An OpenAI request that ended with an answer (boxed: a plain request's [`Event::Done`]
    /// stays small).
    Answered(Box<Answered>),
}

/// An OpenAI request that ended with an answer: [`Event::Done`]'s times and outcome, and the
/// answer as it was read, which the collector decodes.
#[derive(Debug)]
pub struct Answered {
    /// Its request class.
    pub class: u16,
    /// When it was due.
    pub intended_ns: u64,
    /// When a sending thread took it from the schedule.
    pub taken_ns: u64,
    /// When it actually went out.
    pub sent_ns: u64,
    /// When its answer ended.
    pub done_ns: u64,
    /// How (the HTTP status, before the answer's content is judged).
    pub outcome: Outcome,
    pub(crate) reading: Box<Reading>,
}

impl Event {
    /// The instant the event counts at: arrivals at their intended time, ends when they ended.
    pub fn at_ns(&self) -> u64 {
        match self {
            Event::Sent { intended_ns, .. } | Event::NotSent { intended_ns, .. } => *intended_ns,
            Event::Done { done_ns, .. } => *done_ns,
            Event::Cancelled { at_ns, .. } => *at_ns,
            Event::Answered(a) => a.done_ns,
        }
    }
}

/// The collector's state. Events may come in any order from several senders; they are applied
/// in time order once the caller says that nothing earlier can still come ([`Collector::advance`]),
/// so each lands in the window it belongs to.
#[derive(Debug)]
pub struct Collector {
    rec: Recorder,
    lag: LatencyHist,
    pacing: LatencyHist,
    conn_wait: LatencyHist,
    outcomes: BTreeMap<String, u64>,
    /// Events not yet applied, because an earlier one may still come.
    pending: Vec<Event>,
    window_ns: u64,
    window_start: u64,
    end_ns: u64,
    slo_ns: u64,
    timeout_ns: u64,
    /// The most ready replicas an observer reported; `None` while none did.
    max_ready: Option<u32>,
}

impl Collector {
    /// A collector for the plan's classes, windows, SLO and timeout.
    pub fn new(plan: &Plan) -> Self {
        let timeout_ns = plan.traffic.timeout.as_nanos();
        Collector {
            rec: Recorder::new(plan),
            lag: LatencyHist::new(timeout_ns / 1000 + 1),
            pacing: LatencyHist::new(timeout_ns / 1000 + 1),
            conn_wait: LatencyHist::new(timeout_ns / 1000 + 1),
            outcomes: BTreeMap::new(),
            pending: Vec::new(),
            window_ns: plan.window.as_nanos().max(1),
            window_start: 0,
            end_ns: plan.duration.as_nanos(),
            slo_ns: plan.slo.latency.as_nanos(),
            timeout_ns,
            max_ready: None,
        }
    }

    /// The end of the scenario, in ns: the last window closes there.
    pub fn end_ns(&self) -> u64 {
        self.end_ns
    }

    /// When the open window closes, in ns since the start (`None` once the last one closed).
    pub fn next_close(&self) -> Option<u64> {
        (self.window_start < self.end_ns)
            .then(|| (self.window_start + self.window_ns).min(self.end_ns))
    }

    /// Takes one event; it is applied by the next [`Collector::advance`] past its instant.
    pub fn record(&mut self, ev: Event) {
        self.pending.push(ev);
    }

    /// Everything before `safe_ns` has been recorded: applies those events in time order and
    /// closes the windows that end by then, with what `observer` sees of the service.
    /// `oldest_in_flight` is the intended time of the oldest request still unanswered, which
    /// marks a window as stuck when it is older than the SLO latency.
    pub fn advance(
        &mut self,
        safe_ns: u64,
        oldest_in_flight: Option<u64>,
        observer: &dyn Observer,
    ) {
        let mut ready: Vec<Event> = self
            .pending
            .extract_if(.., |e| e.at_ns() < safe_ns)
            .collect();
        ready.sort_by_key(Event::at_ns);
        for ev in ready {
            self.close_until(ev.at_ns(), oldest_in_flight, observer);
            self.apply(ev);
        }
        self.close_until(safe_ns, oldest_in_flight, observer);
    }

    fn apply(&mut self, ev: Event) {
        match ev {
            Event::Sent { class, .. } => self.rec.arrived(class),
            Event::NotSent { class, .. } => {
                self.rec.not_sent(class);
                self.count("not_sent");
            }
            Event::Cancelled { class, .. } => {
                self.rec.failed(class);
                self.count("cancelled");
            }
            Event::Done {
                class,
                intended_ns,
                taken_ns,
                sent_ns,
                done_ns,
                outcome,
            } => {
                self.timing(intended_ns, taken_ns, sent_ns);
                self.ended(class, intended_ns, done_ns, outcome);
            }
            Event::Answered(a) => {
                self.timing(a.intended_ns, a.taken_ns, a.sent_ns);
                self.answered(*a);
            }
        }
    }

    /// The schedule lag of a request that went out, in its two parts.
    #[inline]
    fn timing(&mut self, intended_ns: u64, taken_ns: u64, sent_ns: u64) {
        self.lag.record(sent_ns.saturating_sub(intended_ns) / 1000);
        self.pacing
            .record(taken_ns.saturating_sub(intended_ns) / 1000);
        self.conn_wait
            .record(sent_ns.saturating_sub(taken_ns) / 1000);
    }

    /// A request that was sent ended with `outcome` (judged by its status alone).
    #[inline]
    fn ended(&mut self, class: u16, intended_ns: u64, done_ns: u64, outcome: Outcome) {
        self.count_outcome(outcome);
        match outcome {
            Outcome::Status(s) if (200..300).contains(&s) => {
                let latency = done_ns.saturating_sub(intended_ns).min(self.timeout_ns);
                self.rec.ok(class, latency);
            }
            Outcome::Status(429 | 503) => self.rec.rejected(class),
            Outcome::Timeout => self.rec.timed_out(class),
            _ => self.rec.failed(class),
        }
    }

    /// An OpenAI request's answer: decoded; its inter-token gaps recorded whatever its end; an
    /// answer that completed (no error, `[DONE]` or a whole completion) is ok with its TTFT,
    /// TPOT and tokens from the intended send time, any other 2xx answer a `bad_answer`. A
    /// whole (non-streamed) answer has no TTFT or TPOT: its tokens came at once.
    fn answered(&mut self, a: Answered) {
        let prompt = a.reading.prompt_tokens();
        let streamed = a.reading.streamed();
        let completion = match a.outcome {
            Outcome::Status(200..=299) => a.reading.finish(a.done_ns),
            _ => None,
        };
        let Some(c) = completion else {
            return self.ended(a.class, a.intended_ns, a.done_ns, a.outcome);
        };
        let times = TokenTimes::of(&c, a.intended_ns, a.done_ns);
        for &gap in &times.itl_ns {
            self.rec.itl(gap, 1);
        }
        if !c.ok() {
            bad_answer(&c);
            return self.ended(a.class, a.intended_ns, a.done_ns, Outcome::BadAnswer);
        }
        self.count_outcome(a.outcome);
        let latency = a.done_ns.saturating_sub(a.intended_ns).min(self.timeout_ns);
        let sample = TokenSample {
            ttft_ns: times.ttft_ns.filter(|_| streamed),
            tpot_ns: times.tpot_ns.filter(|_| streamed),
            output_tokens: times.output_tokens,
            prompt_tokens: Some(c.prompt_tokens.unwrap_or(prompt)),
        };
        self.rec.ok_tokens(a.class, latency, &sample);
    }

    fn count_outcome(&mut self, outcome: Outcome) {
        let key = match outcome {
            Outcome::Status(200) => "http_200",
            Outcome::Connect => "connect",
            Outcome::Reset => "reset",
            Outcome::Io => "io",
            Outcome::Tls => "tls",
            Outcome::Timeout => "timeout",
            Outcome::BadAnswer => "bad_answer",
            Outcome::Status(_) => return self.count(&outcome.class()),
        };
        self.count(key);
    }

    fn count(&mut self, class: &str) {
        match self.outcomes.get_mut(class) {
            Some(n) => *n += 1,
            None => {
                self.outcomes.insert(class.to_string(), 1);
            }
        }
    }

    /// Closes every window that ends at or before `now_ns`, with what `observer` sees of the
    /// service then.
    fn close_until(&mut self, now_ns: u64, oldest_in_flight: Option<u64>, observer: &dyn Observer) {
        while let Some(end) = self.next_close().filter(|&e| e <= now_ns) {
            let seen = observer.observe().unwrap_or_default();
            let stuck = oldest_in_flight.is_some_and(|t| end.saturating_sub(t) > self.slo_ns);
            let sample = TimelineSample {
                replicas_desired: seen.replicas_desired,
                replicas_ready: seen.replicas_ready,
                pods_pending: seen.pods_pending,
                nodes: seen.nodes,
                gpus_allocated: seen.gpus_allocated,
                gpu_util: seen.gpu_util,
                queue_depth: seen.queue_depth,
                cost_usd: seen.cost_usd,
                faults: observer.markers(),
                ..TimelineSample::default()
            };
            if let Some(ready) = seen.replicas_ready {
                self.max_ready = Some(self.max_ready.map_or(ready, |m| m.max(ready)));
            }
            self.rec.close_window(self.window_start, end, sample, stuck);
            self.window_start = end;
        }
    }

    /// The Run, from every event recorded. When the run was `interrupted` at `stopped_ns`,
    /// the scenario ends there. The caller has recorded requests that never ended as
    /// [`Event::Cancelled`].
    pub fn finish(mut self, name: &str, interrupted: Option<u64>) -> SetupRun {
        if let Some(at) = interrupted {
            self.end_ns = self.end_ns.min(at.max(self.window_start));
        }
        // Whatever is left counts in the last window.
        for ev in &mut self.pending {
            if let Event::Cancelled { at_ns, .. } = ev {
                *at_ns = (*at_ns).min(self.end_ns.saturating_sub(1));
            }
        }
        self.advance(u64::MAX, None, &NoObserver);
        let duration_s = self.end_ns as f64 / 1e9;
        // Nothing here bills the run or counts cold starts: unknown, not zero (the testbed
        // driver fills them from its model), and a driver that watches a real cluster adds
        // what it saw there.
        let base = self.rec.into_run(name, "load", duration_s);
        SetupRun {
            max_ready: self.max_ready,
            load: Some(LoadStats {
                schedule_lag: self.lag,
                pacing_lag: self.pacing,
                connection_wait: self.conn_wait,
                outcomes: self.outcomes,
                shards: None,
                max_connections: None,
                peak_busy: None,
                limits: Vec::new(),
                started_at: None,
            }),
            interrupted: interrupted.is_some(),
            ..base
        }
    }
}

/// Says why the first bad answer of the process failed (the outcome class `bad_answer` alone
/// does not): the server's error, or the stream cut before `[DONE]`.
fn bad_answer(c: &openai::Completion) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        let why = c
            .error
            .as_deref()
            .unwrap_or("the stream ended without data: [DONE]");
        tracing::warn!("an OpenAI answer failed: {why} (further ones are counted as `bad_answer`)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn plan() -> Plan {
        crate::Steady::test_plan(10.0, "3s")
    }

    fn done(intended_ns: u64, done_ns: u64) -> Event {
        Event::Done {
            class: 0,
            intended_ns,
            taken_ns: intended_ns,
            sent_ns: intended_ns,
            done_ns,
            outcome: Outcome::Status(200),
        }
    }

    #[test]
    fn events_in_any_order_land_in_their_windows_once_it_is_safe() {
        let mut c = Collector::new(&plan());
        // Two shards' batches, out of order: a request of the first window that ends in the
        // second, and one of the second window, reported before the first window's arrival.
        c.record(done(S / 2, S + S / 2));
        c.record(Event::Sent {
            class: 0,
            intended_ns: S + S / 4,
        });
        c.record(done(S + S / 4, S + S / 3));
        // Only the first shard has reported past 1 s: nothing of the second window applies.
        c.advance(S / 4, None, &NoObserver);
        assert!(c.rec.timeline.is_empty());
        c.record(Event::Sent {
            class: 0,
            intended_ns: S / 2,
        });
        c.advance(2 * S, Some(2 * S - S / 10), &NoObserver);
        let t = &c.rec.timeline;
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].rps, t[0].ok), (1.0, 0), "{:?}", t[0]);
        assert_eq!((t[1].rps, t[1].ok), (1.0, 2), "{:?}", t[1]);
        // A request of the last window never ends: the run gives it up.
        c.record(Event::Sent {
            class: 0,
            intended_ns: 2 * S + S / 2,
        });
        c.record(Event::Cancelled {
            class: 0,
            at_ns: 10 * S,
        });
        let run = c.finish("t", None);
        let r = run.requests();
        assert_eq!((r.scheduled, r.ok, r.failed), (3, 2, 1), "{r:?}");
        assert!(r.identity_holds());
        assert_eq!(run.timeline.len(), 3);
        assert_eq!(
            run.timeline[2].errors, 1,
            "cancelled counts in the last window"
        );
        assert_eq!(
            run.load.map(|l| l.outcomes.get("cancelled").copied()),
            Some(Some(1))
        );
    }
}
