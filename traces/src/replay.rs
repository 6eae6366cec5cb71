//! The replay: requests of an opened trace in time order, through the transforms in order:
//! window (trace time) -> speed -> rate scale -> loop.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::error::{ErrorKind, TraceError};
use crate::lines::Resume;
use crate::scale::{Scale, SortedUniforms, mix};
use crate::source::{Checked, Raw, Trace};
use crate::spec::{ReplaySpec, Window, describe_window, window_ns};

/// One request of a trace, after the replay's transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Intended send time, ns from the start of the replay. The replay starts at the window's
    /// start (the trace's first request without a window), so a request `d` after the window's
    /// start, in trace time, is at `d / speed`; pass `p` of a loop adds `p` periods.
    pub t_ns: u64,
    /// Prompt tokens, where the format has them.
    pub prompt_tokens: Option<u32>,
    /// Output tokens, where the format has them.
    pub output_tokens: Option<u32>,
    /// The service time the trace measured (Azure Functions 2021's `duration`), if any.
    pub duration_ns: Option<u64>,
    /// The line of the file it came from (1-based; a CSV header is line 1), for errors and
    /// debugging. 0 for Azure Functions 2019, whose requests come from per-minute sums over
    /// all rows.
    pub line: u64,
}

/// The in-window requests of the first pass, in trace ns after the trace's zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PassStats {
    pub(crate) rows: u64,
    pub(crate) first: u64,
    pub(crate) last: u64,
}

impl PassStats {
    pub(crate) fn add(&mut self, rel: u64) {
        if self.rows == 0 {
            self.first = rel;
        }
        self.rows += 1;
        self.first = self.first.min(rel);
        self.last = self.last.max(rel);
    }

    /// One pass's length in trace time: the window's length; or, without one, from the window's
    /// start to the trace's end (`end`, for Functions 2019's last busy minute) or to its last
    /// request plus the mean gap between requests (so a loop keeps the trace's mean rate).
    pub(crate) fn trace_period(
        &self,
        start: u64,
        window_end: Option<u64>,
        end: Option<u64>,
    ) -> u64 {
        if let Some(window_end) = window_end {
            return window_end - start;
        }
        if let Some(end) = end {
            return end.saturating_sub(start);
        }
        if self.rows == 0 {
            return 0;
        }
        let gap = match self.rows {
            0 | 1 => 0,
            n => (self.last - self.first) / (n - 1),
        };
        (self.last - start).saturating_add(gap)
    }
}

/// A request read, its time within its pass (after window and speed).
#[derive(Debug, Clone, Copy)]
struct Req {
    w: u64,
    raw: Raw,
}

/// Copies of a request being spread between it and the next one.
#[derive(Debug, Clone)]
struct Copies {
    raw: Raw,
    base: u64,
    gap: u64,
    draws: SortedUniforms,
}

/// The stream of the rate scale's random draws (other streams: Functions 2019's minutes).
const RATE_STREAM: u64 = 0x7261_7465; // "rate"

/// A trace being replayed: an iterator of [`Record`]s in time order (non-decreasing `t_ns`).
///
/// It reads the file lazily, one row at a time (unsorted formats were sorted at [`crate::open`]
/// with a bounded external sort). After an error it ends. With `loop` it never ends by itself:
/// the consumer stops reading at its run's end.
pub struct Replay {
    spec: ReplaySpec,
    trace: Trace,
    reader: Option<Checked>,
    pass: u64,
    origin: Option<i64>,
    start: u64,
    end: Option<u64>,
    scale: Scale,
    rng: Pcg64Mcg,
    offset: u64,
    period: Option<u64>,
    ahead: Option<Req>,
    stats: PassStats,
    /// Where the first pass found the window's first row.
    resume: Option<Resume>,
    rows_read: u64,
    copies: Option<Copies>,
    skipped_open: u64,
    skipped_pass0: u64,
    last_line: u64,
    done: bool,
}

impl Replay {
    pub(crate) fn open(spec: &ReplaySpec) -> Result<Self, TraceError> {
        let scale = spec.checked()?;
        let (trace, skipped_open) = Trace::open(spec)?;
        let (start, end) = window_ns(&spec.window);
        let reader = trace.pass(spec, 0, start, None)?;
        // Known now when it does not depend on the requests read.
        let period = (end.is_some() || trace.end().is_some())
            .then(|| scale.apply(PassStats::default().trace_period(start, end, trace.end())));
        Ok(Replay {
            spec: spec.clone(),
            last_line: trace.last_line(),
            trace,
            reader: Some(reader),
            pass: 0,
            origin: None,
            start,
            end,
            scale,
            rng: Pcg64Mcg::seed_from_u64(mix(spec.seed, RATE_STREAM, 0)),
            offset: 0,
            period,
            ahead: None,
            stats: PassStats::default(),
            resume: None,
            rows_read: 0,
            copies: None,
            skipped_open,
            skipped_pass0: 0,
            done: false,
        })
    }

    /// Malformed rows skipped (with `malformed = "skip"`), each counted once however many times
    /// a loop reads it.
    pub fn skipped(&self) -> u64 {
        self.skipped_open + self.skipped_pass0
    }

    /// The pass being read: 0, then 1, 2, ... as a loop repeats the window.
    pub fn pass(&self) -> u64 {
        self.pass
    }

    /// One pass's length in replay time (the loop's period), once known: from the start with a
    /// window length or for Functions 2019, after the first pass otherwise.
    pub fn period(&self) -> Option<Duration> {
        self.period.map(Duration::from_nanos)
    }

    /// The most trace rows held in memory at once: the external sort's chunk at most for
    /// unsorted formats (Azure Functions 2021, `csv` with `sorted = false`), 0 for the others,
    /// which hold one row and one request ahead.
    pub fn rows_held_peak(&self) -> usize {
        self.trace.peak_rows()
    }

    /// Sorted runs the external sort spilled to temporary files (all merge rounds counted); 0
    /// when it was not needed or the trace fitted in one chunk.
    pub fn sort_runs_spilled(&self) -> u64 {
        self.trace.sort_stats().map_or(0, |s| s.runs_spilled)
    }

    /// The next in-window request of the current pass, `None` at the pass's end.
    fn pull(&mut self) -> Result<Option<Req>, TraceError> {
        loop {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            let item = reader.next();
            let reader_resume = reader.resume_point();
            self.last_line = self.last_line.max(reader.line());
            if self.pass == 0 {
                self.skipped_pass0 = reader.skipped();
            }
            let raw = match item {
                None => {
                    self.reader = None;
                    return Ok(None);
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(raw)) => raw,
            };
            if self.pass == 0 {
                self.rows_read += 1;
            }
            let origin = *self
                .origin
                .get_or_insert_with(|| self.trace.origin().unwrap_or(raw.t));
            let Ok(rel) = u64::try_from(i128::from(raw.t) - i128::from(origin)) else {
                continue; // before the trace's zero (none is: sorted input, or 2019's minutes)
            };
            if rel < self.start {
                continue;
            }
            if self.end.is_some_and(|end| rel >= end) {
                self.reader = None; // sorted: the rest is past the window too
                return Ok(None);
            }
            if self.pass == 0 {
                if self.stats.rows == 0 {
                    self.resume = reader_resume;
                }
                self.stats.add(rel);
            }
            return Ok(Some(Req {
                w: self.scale.apply(rel - self.start),
                raw,
            }));
        }
    }

    /// The length of one pass in replay ns (known once the first pass is read).
    fn period_ns(&mut self) -> u64 {
        let trace_period = self
            .stats
            .trace_period(self.start, self.end, self.trace.end());
        *self
            .period
            .get_or_insert_with(|| self.scale.apply(trace_period))
    }

    /// Starts the next pass of a loop; `false` when the replay is over.
    fn next_pass(&mut self) -> Result<bool, TraceError> {
        if self.pass == 0 && self.stats.rows == 0 {
            let within = if self.rows_read > 0 {
                format!(" within the window {}", describe_window(&self.spec.window))
            } else {
                String::new()
            };
            return Err(TraceError::new(
                &self.spec.file,
                self.last_line.max(1),
                ErrorKind::Empty {
                    file: self.spec.file.display().to_string(),
                    within,
                },
            ));
        }
        let period = self.period_ns();
        if !self.spec.looping {
            return Ok(false);
        }
        if period == 0 {
            return Err(zero_period(&self.spec));
        }
        let Some(offset) = (self.pass + 1).checked_mul(period) else {
            return Ok(false); // past 584 years of replay
        };
        self.pass += 1;
        self.offset = offset;
        self.reader = Some(
            self.trace
                .pass(&self.spec, self.pass, self.start, self.resume)?,
        );
        Ok(true)
    }

    /// How many times the current request is sent: floor(k), plus one with probability frac(k).
    fn draw_count(&mut self) -> u64 {
        let k = self.spec.rate_scale;
        let whole = k.floor();
        let frac = k - whole;
        // k <= 1000 (validated): the cast is exact.
        let mut n = whole as u64;
        if frac > 0.0 && self.rng.random::<f64>() < frac {
            n += 1;
        }
        n
    }

    fn record(&self, w: u64, raw: Raw) -> Record {
        Record {
            t_ns: self.offset.saturating_add(w),
            prompt_tokens: raw.prompt,
            output_tokens: raw.output,
            duration_ns: raw.duration,
            line: raw.line,
        }
    }

    fn step(&mut self) -> Result<Option<Record>, TraceError> {
        loop {
            if let Some(copies) = &mut self.copies {
                if let Some(off) = copies.draws.next_offset(&mut self.rng, copies.gap) {
                    let (w, raw) = (copies.base + off, copies.raw);
                    return Ok(Some(self.record(w, raw)));
                }
                self.copies = None;
            }
            let current = match self.ahead.take() {
                Some(r) => r,
                None => match self.pull()? {
                    Some(r) => r,
                    None if self.next_pass()? => continue,
                    None => return Ok(None),
                },
            };
            let n = self.draw_count();
            if n == 0 {
                continue;
            }
            if n >= 2 {
                // Copies go between this request and the next one (or the pass's end).
                let next_w = match self.pull()? {
                    Some(next) => {
                        self.ahead = Some(next);
                        next.w
                    }
                    // The pass is over, so the period is known.
                    None => self.period_ns(),
                };
                self.copies = Some(Copies {
                    raw: current.raw,
                    base: current.w,
                    gap: next_w.saturating_sub(current.w),
                    draws: SortedUniforms::new(n - 1),
                });
            }
            return Ok(Some(self.record(current.w, current.raw)));
        }
    }
}

/// A loop whose pass lasts no time would repeat forever at one instant.
pub(crate) fn zero_period(spec: &ReplaySpec) -> TraceError {
    let window: &Window = &spec.window;
    let found = if window.length.is_some() {
        "true, but the window lasts under 1 ns at this speed".to_string()
    } else {
        "true, but one pass lasts 0 ns (one request, or all at one instant)".to_string()
    };
    TraceError::option(
        &spec.file,
        "loop",
        found,
        "a `window` with a length, or a trace whose requests span some time",
    )
}

impl Iterator for Replay {
    type Item = Result<Record, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("file", &self.spec.file)
            .field("format", &self.spec.format.name())
            .field("pass", &self.pass)
            .field("skipped", &self.skipped())
            .finish_non_exhaustive()
    }
}
