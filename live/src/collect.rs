//! Outcomes into the Run: every request counted once, its latency from the intended send time,
//! timeline windows closed on the wall clock, and the schedule lag and outcome classes kept for
//! the report. One collector thread owns all of it, so recording takes no lock.

use std::collections::BTreeMap;

use harness::record::Recorder;
use harness::report::TimelineSample;
use harness::run::{LatencyHist, LoadStats, SetupRun};
use workloads::Plan;

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
    /// No complete answer before the deadline (intended send time + timeout).
    Timeout,
}

impl Outcome {
    /// The outcome class in reports: `http_<status>`, `connect`, `reset`, `io`, `timeout`.
    pub fn class(self) -> String {
        match self {
            Outcome::Status(s) => format!("http_{s}"),
            Outcome::Connect => "connect".into(),
            Outcome::Reset => "reset".into(),
            Outcome::Io => "io".into(),
            Outcome::Timeout => "timeout".into(),
        }
    }
}

/// What the engine tells the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Request `seq` of `class`, due at `intended_ns`, was handed to the runtime.
    Sent {
        /// Its position in the schedule.
        seq: u64,
        /// Its request class.
        class: u16,
        /// When it was due, in ns since the start.
        intended_ns: u64,
    },
    /// A request of `class` was not sent: the in-flight bound was reached.
    NotSent {
        /// Its request class.
        class: u16,
    },
    /// Request `seq` ended.
    Done {
        /// Its position in the schedule.
        seq: u64,
        /// When it actually went out, in ns since the start.
        sent_ns: u64,
        /// When it ended, in ns since the start.
        done_ns: u64,
        /// How.
        outcome: Outcome,
    },
}

/// A request in flight: when it was due and its class.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    intended_ns: u64,
    class: u16,
}

/// The collector's state.
#[derive(Debug)]
pub struct Collector {
    rec: Recorder,
    lag: LatencyHist,
    outcomes: BTreeMap<String, u64>,
    /// By schedule position; schedule order is intended-time order, so the first is the oldest.
    in_flight: BTreeMap<u64, InFlight>,
    window_ns: u64,
    window_start: u64,
    end_ns: u64,
    slo_ns: u64,
    timeout_ns: u64,
    /// The most ready replicas an observer reported.
    max_ready: u32,
}

impl Collector {
    /// A collector for the plan's classes, windows, SLO and timeout.
    pub fn new(plan: &Plan) -> Self {
        let timeout_ns = plan.traffic.timeout.as_nanos();
        Collector {
            rec: Recorder::new(plan),
            lag: LatencyHist::new(timeout_ns / 1000 + 1),
            outcomes: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            window_ns: plan.window.as_nanos().max(1),
            window_start: 0,
            end_ns: plan.duration.as_nanos(),
            slo_ns: plan.slo.latency.as_nanos(),
            timeout_ns,
            max_ready: 0,
        }
    }

    /// Requests sent and not yet ended.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
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

    /// Records one event.
    pub fn handle(&mut self, ev: Event) {
        match ev {
            Event::Sent {
                seq,
                class,
                intended_ns,
            } => {
                self.rec.arrived(class);
                self.in_flight.insert(seq, InFlight { intended_ns, class });
            }
            Event::NotSent { class } => {
                self.rec.not_sent(class);
                self.count("not_sent");
            }
            Event::Done {
                seq,
                sent_ns,
                done_ns,
                outcome,
            } => {
                // Unknown: already counted as cancelled when the run was cut short.
                let Some(r) = self.in_flight.remove(&seq) else {
                    return;
                };
                self.lag
                    .record(sent_ns.saturating_sub(r.intended_ns) / 1000);
                self.count(&outcome.class());
                match outcome {
                    Outcome::Status(s) if (200..300).contains(&s) => {
                        let latency = done_ns.saturating_sub(r.intended_ns).min(self.timeout_ns);
                        self.rec.ok(r.class, latency);
                    }
                    Outcome::Status(429 | 503) => self.rec.rejected(r.class),
                    Outcome::Timeout => self.rec.timed_out(r.class),
                    _ => self.rec.failed(r.class),
                }
            }
        }
    }

    fn count(&mut self, class: &str) {
        *self.outcomes.entry(class.to_string()).or_default() += 1;
    }

    /// Closes every window that ends at or before `now_ns`, with what `observer` sees of the
    /// service then.
    pub fn close_until(&mut self, now_ns: u64, observer: &dyn Observer) {
        while let Some(end) = self.next_close().filter(|&e| e <= now_ns) {
            let seen = observer.observe().unwrap_or_default();
            let stuck = self
                .in_flight
                .values()
                .next()
                .is_some_and(|r| end.saturating_sub(r.intended_ns) > self.slo_ns);
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
            self.max_ready = self.max_ready.max(seen.replicas_ready);
            self.rec.close_window(self.window_start, end, sample, stuck);
            self.window_start = end;
        }
    }

    /// The Run. Requests still in flight are counted as failed (`cancelled`); when the run was
    /// `interrupted` at `stopped_ns`, the scenario ends there.
    pub fn finish(mut self, name: &str, interrupted: Option<u64>) -> SetupRun {
        if let Some(at) = interrupted {
            self.end_ns = self.end_ns.min(at.max(self.window_start));
            self.close_until(self.end_ns, &NoObserver);
        }
        let left: Vec<InFlight> = std::mem::take(&mut self.in_flight).into_values().collect();
        for r in left {
            self.rec.failed(r.class);
            self.count("cancelled");
        }
        self.close_until(self.end_ns, &NoObserver);
        self.rec.flush();
        let mut latency = LatencyHist::new(self.timeout_ns / 1000 + 1);
        for c in &self.rec.classes {
            latency.merge(&c.latency);
        }
        SetupRun {
            name: name.to_string(),
            policy: "load".to_string(),
            classes: self.rec.classes,
            latency,
            pools: BTreeMap::new(),
            idle_fraction: 0.0,
            max_ready: self.max_ready,
            cold_starts: 0,
            scale_up_reaction_s: None,
            budget: None,
            load: Some(LoadStats {
                schedule_lag: self.lag,
                outcomes: self.outcomes,
            }),
            timeline: self.rec.timeline,
            window_slo: self.rec.window_slo,
            faults: Vec::new(),
            waited: 0,
            duration_s: self.end_ns as f64 / 1e9,
            interrupted: interrupted.is_some(),
        }
    }
}
