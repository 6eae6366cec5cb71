//! The arrival stream of a scenario: lazy, seeded, and cheap enough for 86 M arrivals a run.
//!
//! Arrivals come from time rescaling: a renewal process with unit mean gaps (exponential for
//! Poisson, exactly 1 for constant spacing, gamma with the given coefficient of variation) runs in
//! "expected arrivals" time and is mapped to wall time through the inverse of
//! Λ(t) = ∫ rate. The rate is taken as linear within cells of at most one second that never
//! straddle a shape's boundary, so steady rates, spikes and ramps are exact and a diurnal cycle is
//! followed to well within a part in a million. Bursts are separate streams of sorted uniform
//! instants merged in time order. Only the next arrival is ever held.
//!
//! Service times and classes come from their own random streams, so every setup of a scenario
//! sees the same requests, and changing the rate shape does not reshuffle service times.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1, Gamma};
use rand_pcg::Pcg64Mcg;

use crate::Plan;
use crate::dist::Sampler;
use crate::llm::{TokenLengths, TokenModel, Tokens};
use crate::traffic::{ArrivalKind, Shape, Traffic};

/// One scheduled request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Its intended send time, in nanoseconds from the start of the run.
    pub t_ns: u64,
    /// Its request class: an index into the scenario's classes (0 when there are none).
    pub class: u16,
    /// Its service time on a speed-1 replica, in seconds (with a token model: the time of
    /// its tokens alone on a replica).
    pub service_s: f64,
    /// Its prompt and output lengths, when the scenario gives them (`[traffic.tokens]`).
    pub tokens: Option<Tokens>,
}

/// The longest cell over which the rate is taken as linear.
const CELL_S: f64 = 1.0;

/// Unit-mean renewal gaps.
#[derive(Debug, Clone)]
enum Gaps {
    Poisson,
    Constant,
    Gamma(Gamma<f64>),
}

/// A burst: `left` more requests, spread uniformly over `[next, end)` in sorted order.
#[derive(Debug, Clone)]
struct Burst {
    next: f64,
    end: f64,
    left: u64,
}

/// The requests of a replayed trace, cut at the run's end.
#[derive(Debug)]
struct TraceArrivals {
    replay: traces::Replay,
    end_ns: u64,
    /// Why the replay stopped early, if it did.
    failed: Option<String>,
}

/// The lazy, seeded arrival stream of a plan.
#[derive(Debug)]
pub struct ArrivalStream {
    rate: RateCells,
    gaps: Gaps,
    gap_rng: Pcg64Mcg,
    /// The renewal part's next arrival, in seconds (None when it is over).
    renewal_next: Option<f64>,
    bursts: Vec<Burst>,
    burst_rng: Pcg64Mcg,
    /// Cumulative class weights, normalised to end at 1 (empty with a single class).
    class_cdf: Vec<f64>,
    class_rng: Pcg64Mcg,
    service: Vec<Sampler>,
    service_rng: Pcg64Mcg,
    tokens: Option<TokenLengths>,
    token_model: Option<TokenModel>,
    token_rng: Pcg64Mcg,
    /// The trace replayed instead of the rate shapes, if any.
    trace: Option<TraceArrivals>,
    expected: f64,
}

impl ArrivalStream {
    /// The stream of `plan`, seeded from its seed.
    pub fn new(plan: &Plan) -> Self {
        let traffic = &plan.traffic;
        let duration = plan.duration.as_secs_f64();
        let mut rate = RateCells::new(traffic, plan.capacity_rps, duration);
        let expected_renewal = rate.clone().total_mass();
        let gaps = match (traffic.arrival, traffic.cv) {
            (ArrivalKind::Constant, _) => Gaps::Constant,
            (ArrivalKind::Gamma, Some(cv)) if cv > 0.0 && cv.is_finite() => {
                let shape = 1.0 / (cv * cv);
                match Gamma::new(shape, cv * cv) {
                    Ok(g) => Gaps::Gamma(g),
                    Err(_) => Gaps::Poisson,
                }
            }
            _ => Gaps::Poisson,
        };
        let seed = plan.seed;
        let mut gap_rng = Pcg64Mcg::seed_from_u64(seed ^ 0x243f_6a88_85a3_08d3);
        // The first arrival comes after one gap, as in any stationary renewal process, except
        // with constant spacing, which starts half a gap in so that a window of length T holds
        // rate x T arrivals.
        let first = match &gaps {
            Gaps::Constant => 0.5,
            _ => sample_gap(&gaps, &mut gap_rng),
        };
        let renewal_next = rate.advance(first);
        let mut bursts = Vec::new();
        let mut burst_total = 0u64;
        for s in &traffic.shapes {
            if let Shape::Burst {
                requests,
                at,
                within,
            } = s
            {
                let start = at.as_secs_f64();
                if *requests > 0 && start < duration {
                    bursts.push(Burst {
                        next: start,
                        end: (start + within.as_secs_f64()).min(duration),
                        left: *requests,
                    });
                    burst_total += requests;
                }
            }
        }
        let mut burst_rng = Pcg64Mcg::seed_from_u64(seed ^ 0x1319_8a2e_0370_7344);
        for b in &mut bursts {
            b.next = next_sorted_uniform(b.next, b.end, b.left, &mut burst_rng);
        }
        let classes = &traffic.classes;
        let class_cdf = traffic.class_cdf();
        let service = if classes.is_empty() {
            vec![plan.service.time.sampler()]
        } else {
            classes
                .iter()
                .map(|c| c.service.unwrap_or(plan.service.time).sampler())
                .collect()
        };
        let mut stream = ArrivalStream {
            rate,
            gaps,
            gap_rng,
            renewal_next,
            bursts,
            burst_rng,
            class_cdf,
            class_rng: Pcg64Mcg::seed_from_u64(seed ^ 0xa409_3822_299f_31d0),
            service,
            service_rng: Pcg64Mcg::seed_from_u64(seed ^ 0x082e_fa98_ec4e_6c89),
            tokens: traffic.tokens,
            token_model: plan.service.llm,
            token_rng: Pcg64Mcg::seed_from_u64(seed ^ 0xbe54_66cf_34e9_0c6c),
            trace: None,
            expected: expected_renewal + burst_total as f64,
        };
        if let Some(spec) = &traffic.trace {
            stream.renewal_next = None;
            stream.bursts.clear();
            stream.expected = plan.trace.map_or(0.0, |t| t.expected);
            let (replay, failed) = match traces::open(spec) {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(e.to_string())),
            };
            if let Some(msg) = &failed {
                tracing::error!(error = %msg, "the trace cannot be replayed");
            }
            stream.trace = replay.map(|replay| TraceArrivals {
                replay,
                end_ns: plan.duration.as_nanos(),
                failed,
            });
        }
        stream
    }

    /// Why the trace's replay stopped before the run's end (the file changed or went away
    /// since the scenario was loaded), if it did.
    pub fn trace_error(&self) -> Option<&str> {
        self.trace.as_ref().and_then(|t| t.failed.as_deref())
    }

    /// Malformed rows of the trace skipped so far (with `malformed = "skip"`).
    pub fn trace_skipped(&self) -> u64 {
        self.trace.as_ref().map_or(0, |t| t.replay.skipped())
    }

    /// The next request of the trace, before the run's end.
    fn next_traced(&mut self) -> Option<Arrival> {
        let tr = self.trace.as_mut()?;
        if tr.failed.is_some() {
            return None;
        }
        let r = match tr.replay.next()? {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "the trace's replay stopped");
                tr.failed = Some(e.to_string());
                return None;
            }
        };
        if r.t_ns >= tr.end_ns {
            return None;
        }
        let made = self.tokens.map(|t| t.sample(&mut self.token_rng));
        let tokens = match (r.prompt_tokens, r.output_tokens, made) {
            (None, None, made) => made,
            (p, o, made) => Some(Tokens {
                prompt: p.or(made.map(|m| m.prompt)).unwrap_or(0),
                output: o.or(made.map(|m| m.output)).unwrap_or(1).max(1),
            }),
        };
        let mut a = self.request(r.t_ns as f64 / 1e9, tokens);
        a.t_ns = r.t_ns;
        if let Some(d) = r.duration_ns {
            a.service_s = d as f64 / 1e9;
        }
        Some(a)
    }

    /// The expected number of arrivals: the integral of the rate over the run plus the bursts'
    /// requests.
    pub fn expected_count(&self) -> f64 {
        self.expected
    }

    #[inline]
    fn request(&mut self, t: f64, tokens: Option<Tokens>) -> Arrival {
        let class = if self.class_cdf.is_empty() {
            0
        } else {
            let u: f64 = self.class_rng.random();
            let i = self
                .class_cdf
                .iter()
                .position(|&c| u < c)
                .unwrap_or(self.class_cdf.len() - 1);
            i as u16
        };
        let service_s = match (self.token_model, tokens) {
            (Some(m), Some(t)) => m.alone_ns(t) as f64 / 1e9,
            _ => self.service[class as usize].sample_secs(&mut self.service_rng),
        };
        Arrival {
            t_ns: (t * 1e9) as u64,
            class,
            service_s,
            tokens,
        }
    }
}

impl Iterator for ArrivalStream {
    type Item = Arrival;

    #[inline]
    fn next(&mut self) -> Option<Arrival> {
        if self.trace.is_some() {
            return self.next_traced();
        }
        // The earliest burst instant, if any burst has requests left.
        let mut burst: Option<(usize, f64)> = None;
        for (i, b) in self.bursts.iter().enumerate() {
            if b.left > 0 && burst.is_none_or(|(_, t)| b.next < t) {
                burst = Some((i, b.next));
            }
        }
        match (self.renewal_next, burst) {
            (Some(r), Some((_, tb))) if r <= tb => self.next_renewal(r),
            (None, None) => None,
            (Some(r), None) => self.next_renewal(r),
            (_, Some((i, tb))) => {
                let b = &mut self.bursts[i];
                b.left -= 1;
                if b.left > 0 {
                    b.next = next_sorted_uniform(tb, b.end, b.left, &mut self.burst_rng);
                }
                let tokens = self.tokens.map(|t| t.sample(&mut self.token_rng));
                Some(self.request(tb, tokens))
            }
        }
    }
}

impl ArrivalStream {
    #[inline]
    fn next_renewal(&mut self, t: f64) -> Option<Arrival> {
        let gap = sample_gap(&self.gaps, &mut self.gap_rng);
        self.renewal_next = self.rate.advance(gap);
        let tokens = self.tokens.map(|t| t.sample(&mut self.token_rng));
        Some(self.request(t, tokens))
    }
}

#[inline]
fn sample_gap(gaps: &Gaps, rng: &mut Pcg64Mcg) -> f64 {
    match gaps {
        Gaps::Poisson => Exp1.sample(rng),
        Gaps::Constant => 1.0,
        Gaps::Gamma(g) => g.sample(rng),
    }
}

/// The smallest of `left` uniforms on `[from, end)`, drawn after the previous one at `from`:
/// sorted uniforms one at a time, without holding them.
fn next_sorted_uniform(from: f64, end: f64, left: u64, rng: &mut Pcg64Mcg) -> f64 {
    if end <= from {
        return from;
    }
    let u: f64 = rng.random();
    let t = from + (end - from) * (1.0 - (1.0 - u).powf(1.0 / left as f64));
    t.min(end)
}

/// The rate over time as linear cells, walked forward by expected-arrival mass.
#[derive(Debug, Clone)]
struct RateCells {
    traffic: Traffic,
    capacity: f64,
    duration: f64,
    /// Instants where some shape starts or stops, sorted.
    breaks: Vec<f64>,
    next_break: usize,
    /// The current cell: from `t0` for `len` seconds, rate `a + b (t - t0)`.
    t0: f64,
    len: f64,
    a: f64,
    b: f64,
    /// Position within the cell, in seconds from `t0`.
    pos: f64,
}

impl RateCells {
    fn new(traffic: &Traffic, capacity: f64, duration: f64) -> Self {
        let mut breaks: Vec<f64> = Vec::new();
        for s in &traffic.shapes {
            match s {
                Shape::Steady { from, until, .. } => {
                    breaks.push(from.as_secs_f64());
                    breaks.extend(until.map(|u| u.as_secs_f64()));
                }
                Shape::Ramp {
                    at, length, until, ..
                } => {
                    breaks.push(at.as_secs_f64());
                    breaks.push(at.as_secs_f64() + length.as_secs_f64());
                    breaks.extend(until.map(|u| u.as_secs_f64()));
                }
                Shape::Spike { at, length, .. } => {
                    breaks.push(at.as_secs_f64());
                    breaks.push(at.as_secs_f64() + length.as_secs_f64());
                }
                Shape::Diurnal { .. } | Shape::Burst { .. } => {}
            }
        }
        breaks.retain(|&b| b > 0.0 && b < duration);
        breaks.sort_by(f64::total_cmp);
        breaks.dedup();
        let mut cells = RateCells {
            traffic: traffic.clone(),
            capacity,
            duration,
            breaks,
            next_break: 0,
            t0: 0.0,
            len: 0.0,
            a: 0.0,
            b: 0.0,
            pos: 0.0,
        };
        cells.enter(0.0);
        cells
    }

    /// Starts the cell that begins at `t0`.
    fn enter(&mut self, t0: f64) {
        while self.next_break < self.breaks.len() && self.breaks[self.next_break] <= t0 {
            self.next_break += 1;
        }
        let mut t1 = (t0 + CELL_S).min(self.duration);
        if let Some(&b) = self.breaks.get(self.next_break) {
            t1 = t1.min(b);
        }
        let len = t1 - t0;
        let a = self.traffic.rate_at(t0, self.capacity, self.duration);
        let mid = self
            .traffic
            .rate_at(t0 + len / 2.0, self.capacity, self.duration);
        self.t0 = t0;
        self.len = len;
        self.a = a;
        self.b = if len > 0.0 {
            2.0 * (mid - a) / len
        } else {
            0.0
        };
        self.pos = 0.0;
    }

    /// Moves forward by `mass` expected arrivals; returns the time reached, or None past the
    /// end of the run.
    #[inline]
    fn advance(&mut self, mut mass: f64) -> Option<f64> {
        loop {
            if self.len <= 0.0 {
                return None;
            }
            let rate_here = (self.a + self.b * self.pos).max(0.0);
            let rest = self.len - self.pos;
            let cell_mass = rate_here * rest + 0.5 * self.b * rest * rest;
            if mass < cell_mass {
                let tau = if self.b == 0.0 {
                    mass / rate_here
                } else {
                    // Solve b/2 tau^2 + r tau = mass, in the form that is stable for small b.
                    let disc = (rate_here * rate_here + 2.0 * self.b * mass).max(0.0);
                    2.0 * mass / (rate_here + disc.sqrt())
                };
                self.pos = (self.pos + tau).min(self.len);
                return Some(self.t0 + self.pos);
            }
            mass -= cell_mass.max(0.0);
            let next = self.t0 + self.len;
            if next >= self.duration {
                self.len = 0.0;
                return None;
            }
            self.enter(next);
        }
    }

    /// The integral of the rate over the whole run.
    fn total_mass(mut self) -> f64 {
        let mut total = 0.0;
        while self.len > 0.0 {
            total += self.a * self.len + 0.5 * self.b * self.len * self.len;
            let next = self.t0 + self.len;
            if next >= self.duration {
                break;
            }
            self.enter(next);
        }
        total
    }
}

#[cfg(test)]
mod tests;
