//! What a client sees: every request's outcome, counted per class and per timeline window, the
//! same for the simulator and the live load engine. Histograms and counters only; a closed
//! window keeps a few percentiles, never samples.

use crate::Plan;

use crate::report::{Requests, TimelineSample};
use crate::run::{ClassRun, LatencyHist, WindowSlo};
use crate::window_hist::{FineHist, WindowHist};

/// Outcomes per class, for the whole run and the open window.
#[derive(Debug)]
pub struct Recorder {
    /// Per class, for the whole run.
    pub classes: Vec<ClassRun>,
    slo_ns: u64,
    timeout_ns: u64,
    /// Latencies finished in the open window (compact: percentiles to 1%).
    window: WindowHist,
    /// Latencies of the open window per class, on their way to the classes' HdrHistograms.
    pending: Vec<FineHist>,
    /// Arrivals in the open window.
    pub(crate) window_arrivals: u64,
    window_ok: u64,
    window_errors: u64,
    window_within: u64,
    /// Latencies since the last metric sample, when the policy reads them.
    sample_latency: Option<WindowHist>,
    /// The closed windows.
    pub timeline: Vec<TimelineSample>,
    /// Their SLO accounting, parallel to `timeline`.
    pub window_slo: Vec<WindowSlo>,
}

impl Recorder {
    /// A recorder for the plan's request classes, SLO and timeout.
    pub fn new(plan: &Plan) -> Self {
        let timeout_ns = plan.traffic.timeout.as_nanos();
        let max_us = timeout_ns / 1000 + 1;
        let names = plan.traffic.class_names();
        Recorder {
            classes: names
                .iter()
                .cloned()
                .map(|name| ClassRun {
                    name,
                    requests: Requests::default(),
                    latency: LatencyHist::new(max_us),
                    within_slo: 0,
                })
                .collect(),
            slo_ns: plan.slo.latency.as_nanos(),
            timeout_ns,
            window: WindowHist::default(),
            pending: vec![FineHist::default(); names.len()],
            window_arrivals: 0,
            window_ok: 0,
            window_errors: 0,
            window_within: 0,
            sample_latency: None,
            timeline: Vec::new(),
            window_slo: Vec::new(),
        }
    }

    /// Measures the latency percentiles of each metric sample from now on.
    pub fn measure_samples(&mut self) {
        self.sample_latency = Some(WindowHist::default());
    }

    /// The 95th and 99th percentile latency (ms) since the last call, when measured and any
    /// request finished.
    pub fn take_sample_latency(&mut self) -> Option<(f64, f64)> {
        let h = self.sample_latency.as_mut()?;
        if h.is_empty() {
            return None;
        }
        let [p95, p99] = h.quantiles_ms([0.95, 0.99]);
        h.reset();
        Some((p95, p99))
    }

    /// A request was scheduled but not sent (the load engine's in-flight bound was reached).
    pub fn not_sent(&mut self, class: u16) {
        let r = &mut self.classes[class as usize].requests;
        r.scheduled += 1;
        r.not_sent += 1;
        self.window_arrivals += 1;
        self.window_errors += 1;
    }

    /// A request was scheduled and sent.
    #[inline]
    pub fn arrived(&mut self, class: u16) {
        let r = &mut self.classes[class as usize].requests;
        r.scheduled += 1;
        r.sent += 1;
        self.window_arrivals += 1;
    }

    /// A request was answered `latency_ns` after its intended send time.
    #[inline]
    pub fn ok(&mut self, class: u16, latency_ns: u64) {
        let c = &mut self.classes[class as usize];
        c.requests.ok += 1;
        let us = latency_ns / 1000;
        self.pending[class as usize].record(us);
        self.window.record(us);
        if let Some(h) = &mut self.sample_latency {
            h.record(us);
        }
        self.window_ok += 1;
        if latency_ns <= self.slo_ns {
            c.within_slo += 1;
            self.window_within += 1;
        }
    }

    /// A request's client gave up at its timeout; its latency is recorded as the timeout.
    pub fn timed_out(&mut self, class: u16) {
        let c = &mut self.classes[class as usize];
        c.requests.timed_out += 1;
        self.pending[class as usize].record(self.timeout_ns / 1000);
        self.window.record(self.timeout_ns / 1000);
        if let Some(h) = &mut self.sample_latency {
            h.record(self.timeout_ns / 1000);
        }
        self.window_errors += 1;
    }

    /// A request failed (killed in flight).
    pub fn failed(&mut self, class: u16) {
        self.classes[class as usize].requests.failed += 1;
        self.window_errors += 1;
    }

    /// A request was refused or shed by the queue.
    pub fn rejected(&mut self, class: u16) {
        self.classes[class as usize].requests.rejected += 1;
        self.window_errors += 1;
    }

    /// Closes the open window `[start, end)` (ns) with the cluster's state at its end.
    /// `stuck` is true when requests older than the SLO latency are still unanswered.
    pub fn close_window(&mut self, start: u64, end: u64, mut s: TimelineSample, stuck: bool) {
        let secs = (end - start) as f64 / 1e9;
        s.t_s = end as f64 / 1e9;
        s.rps = if secs > 0.0 {
            self.window_arrivals as f64 / secs
        } else {
            0.0
        };
        s.ok = self.window_ok;
        s.errors = self.window_errors;
        // A window in which no request finished has no latency (not a latency of 0).
        [s.p50_ms, s.p95_ms, s.p99_ms] = if self.window.is_empty() {
            [None; 3]
        } else {
            self.window.quantiles_ms([0.50, 0.95, 0.99]).map(Some)
        };
        self.window.reset();
        self.flush();
        let finished = self.window_ok + self.window_errors;
        self.timeline.push(s);
        self.window_slo.push(WindowSlo {
            finished,
            within: self.window_within,
            stuck,
        });
        self.window_arrivals = 0;
        self.window_ok = 0;
        self.window_errors = 0;
        self.window_within = 0;
    }

    /// Hands the latencies recorded since the last flush to the classes' HdrHistograms.
    pub fn flush(&mut self) {
        for (p, c) in self.pending.iter_mut().zip(&mut self.classes) {
            p.drain_into(&mut c.latency);
        }
    }
}
