//! What a client sees: every request's outcome, counted per class and per timeline window, the
//! same for the simulator and the live load engine. Histograms and counters only; a closed
//! window keeps a few percentiles, never samples. An LLM endpoint's answers add their token
//! figures ([`Recorder::ok_tokens`], [`Recorder::itl`]; see [`crate::run::TokenRun`]).

use crate::Plan;

use crate::report::{Requests, TimelineSample};
use crate::run::tokens::{self, Bounds, TokenWindow};
use crate::run::{ClassRun, LatencyHist, SetupRun, TokenRun, TokenSample, WindowSlo};
use crate::window_hist::{FineHist, WindowHist};

/// Outcomes per class, for the whole run and the open window.
#[derive(Debug)]
pub struct Recorder {
    /// Per class, for the whole run.
    pub classes: Vec<ClassRun>,
    slo: Bounds,
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
    /// Requests of the open window that met every per-request objective (ok within the SLO
    /// latency, and within its TTFT and TPOT bounds for answers with token figures).
    window_good: u64,
    /// The token figures of the whole run: `None` until a driver records one (an LLM
    /// endpoint's answer or inter-token gap); the Run's `tokens`.
    pub tokens: Option<TokenRun>,
    /// The open window's token figures, with `tokens`.
    token_window: Option<Box<TokenWindow>>,
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
            slo: Bounds::of(&plan.slo),
            timeout_ns,
            window: WindowHist::default(),
            pending: vec![FineHist::default(); names.len()],
            window_arrivals: 0,
            window_ok: 0,
            window_errors: 0,
            window_within: 0,
            window_good: 0,
            tokens: None,
            token_window: None,
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

    /// A request was answered `latency_ns` after its intended send time. In a run with token
    /// figures it is good when it came within the SLO latency (it has no token bounds to meet).
    #[inline]
    pub fn ok(&mut self, class: u16, latency_ns: u64) {
        if self.answered(class, latency_ns) {
            self.window_good += 1;
            if let Some(t) = &mut self.tokens {
                t.good += 1;
            }
        }
    }

    /// An LLM endpoint answered `latency_ns` after the intended send time with the token
    /// figures `t`: counted ok exactly like [`Recorder::ok`], plus its TTFT, TPOT and tokens,
    /// and good when it met every per-request objective of the SLO. Failed and timed-out
    /// requests have no token figures: record them with [`Recorder::failed`] and
    /// [`Recorder::timed_out`].
    pub fn ok_tokens(&mut self, class: u16, latency_ns: u64, t: &TokenSample) {
        // Started before this answer counts, so that it is not counted good twice.
        self.token_state();
        self.answered(class, latency_ns);
        let good = self.slo.good(latency_ns, t);
        if good {
            self.window_good += 1;
        }
        let (run, window) = self.token_state();
        if let Some(ns) = t.ttft_ns {
            run.ttft.record(ns / 1000);
        }
        if let Some(ns) = t.tpot_ns {
            run.tpot.record(ns / 1000);
        }
        run.output_tokens += u64::from(t.output_tokens);
        if let Some(p) = t.prompt_tokens {
            run.prompt_tokens = Some(run.prompt_tokens.unwrap_or(0) + u64::from(p));
        }
        window.answer(t);
        if good {
            run.good += 1;
        }
    }

    /// `count` inter-token gaps of `gap_ns` each (the simulator records one decode step's gap
    /// once for every sequence that continued; the live engine each gap as it comes). Gaps are
    /// recorded as they happen, so those of an answer that later fails count too.
    pub fn itl(&mut self, gap_ns: u64, count: u64) {
        if count == 0 {
            return;
        }
        let (run, window) = self.token_state();
        run.itl.record_n(gap_ns / 1000, count);
        window.itl(gap_ns / 1000, count);
    }

    /// Counts an answered request and records its latency; true when it came within the SLO
    /// latency.
    #[inline]
    fn answered(&mut self, class: u16, latency_ns: u64) -> bool {
        let c = &mut self.classes[class as usize];
        c.requests.ok += 1;
        let us = latency_ns / 1000;
        self.pending[class as usize].record(us);
        self.window.record(us);
        if let Some(h) = &mut self.sample_latency {
            h.record(us);
        }
        self.window_ok += 1;
        let within = latency_ns <= self.slo.latency_ns;
        if within {
            c.within_slo += 1;
            self.window_within += 1;
        }
        within
    }

    /// The run's and the open window's token figures, started at the first one recorded: the
    /// requests answered before it were good when they came within the SLO latency, and the
    /// windows closed before it measured no token and as many good requests.
    fn token_state(&mut self) -> (&mut TokenRun, &mut TokenWindow) {
        let max_us = self.timeout_ns / 1000 + 1;
        if self.tokens.is_none() {
            let mut start = 0.0;
            for (s, w) in self.timeline.iter_mut().zip(&self.window_slo) {
                tokens::rates(s, s.t_s - start, 0, w.within, w.finished);
                start = s.t_s;
            }
            let mut run = TokenRun::new(max_us);
            run.good = self.classes.iter().map(|c| c.within_slo).sum();
            self.tokens = Some(run);
        }
        let run = self.tokens.get_or_insert_with(|| TokenRun::new(max_us));
        (run, self.token_window.get_or_insert_with(Box::default))
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
        if let Some(w) = &mut self.token_window {
            w.close(&mut s, secs, self.window_good, finished);
        }
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
        self.window_good = 0;
    }

    /// Hands the latencies recorded since the last flush to the classes' HdrHistograms.
    pub fn flush(&mut self) {
        for (p, c) in self.pending.iter_mut().zip(&mut self.classes) {
            p.drain_into(&mut c.latency);
        }
    }

    /// What a driver hands to the score, from what this recorder saw (its windows closed):
    /// the classes, every latency, the timeline and its SLO accounting, the token figures.
    /// Whatever a client cannot see (the bill, replicas, cold starts, the engine's schedule)
    /// is `None`, unknown rather than zero: a driver that measured it fills it in.
    pub fn into_run(mut self, name: &str, policy: &str, duration_s: f64) -> SetupRun {
        self.flush();
        let mut latency = LatencyHist::new(self.timeout_ns / 1000 + 1);
        for c in &self.classes {
            latency.merge(&c.latency);
        }
        SetupRun {
            name: name.to_owned(),
            policy: policy.to_owned(),
            classes: self.classes,
            latency,
            pools: None,
            idle_fraction: None,
            max_ready: None,
            cold_starts: None,
            scale_up_reaction_s: None,
            budget: None,
            load: None,
            timeline: self.timeline,
            window_slo: self.window_slo,
            faults: Vec::new(),
            waited: 0,
            duration_s,
            interrupted: false,
            prometheus: None,
            cluster: None,
            tokens: self.tokens,
        }
    }
}
