//! One streaming pass over a trace that checks every row and sums it up, so a scenario can be
//! validated when it is loaded and the expected request count is known before the run.

use std::time::Duration;

use crate::error::{ErrorKind, TraceError};
use crate::jsonl::JsonlReader;
use crate::minutes::{MINUTE_NS, MinuteSums};
use crate::replay::{PassStats, zero_period};
use crate::rows::RowReader;
use crate::source::{Checked, Layout, Raw, Reader};
use crate::spec::{ReplaySpec, describe_window, window_ns};

/// What a scan found.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Well-formed data rows read (for Azure Functions 2019: functions, after the trigger
    /// filter).
    pub rows: u64,
    /// Requests in the whole trace: the rows, or for Azure Functions 2019 the sum of the counts.
    pub requests: u64,
    /// Malformed rows skipped (with `malformed = "skip"`).
    pub skipped: u64,
    /// The first request's time on the file's clock, in ns: since 1970-01-01 UTC for
    /// date-times (Azure LLM, `csv` with `rfc3339`), since the file's zero otherwise. For Azure
    /// Functions 2019, the start of the first minute with an invocation, since midnight.
    pub first_ns: i64,
    /// The last request's time, likewise (Azure Functions 2019: the end of the last busy
    /// minute).
    pub last_ns: i64,
    /// `last_ns - first_ns`.
    pub span: Duration,
    /// Whether requests carry prompt tokens.
    pub prompt_tokens: bool,
    /// Whether requests carry output tokens.
    pub output_tokens: bool,
    /// Whether requests carry a measured duration (Azure Functions 2021).
    pub duration: bool,
    /// The trace's mean rate in requests per second over one loop period of the whole trace
    /// (`(requests - 1) / span` for point traces), `None` when the span is 0.
    pub mean_rate: Option<f64>,
    /// Requests in the window (all without one; for Azure Functions 2019, pro rata in minutes
    /// the window covers in part, rounded up).
    pub window_requests: u64,
    /// One pass's length in replay time (after speed): the loop's period.
    pub pass_length: Duration,
    /// Requests one pass sends on average: `window_requests * rate_scale`.
    pub expected_per_pass: f64,
}

/// Reads the whole trace once, checking every row (the first malformed one is an error unless
/// `malformed = "skip"`), without sorting or holding rows. For an unsorted format with a window
/// it reads the file twice (the window is measured from the earliest request).
pub(crate) fn scan(spec: &ReplaySpec) -> Result<Summary, TraceError> {
    let scale = spec.checked()?;
    let layout = Layout::of(&spec.format);
    let (prompt_tokens, output_tokens, duration) = layout.fields();
    let (start, end) = window_ns(&spec.window);
    let path = &spec.file;
    let whole_trace = start == 0 && end.is_none();

    let found = match &layout {
        Layout::Minutes { triggers, .. } => minutes(
            &MinuteSums::read(path, triggers, spec.malformed)?,
            start,
            end,
        )
        .ok_or_else(|| empty(spec, 1, false))?,
        Layout::Rows { .. } | Layout::Jsonl => {
            let sorted = layout.sorted();
            let mut pass = open_pass(spec, &layout)?;
            let mut all = Points::default();
            let mut window = PassStats::default();
            while let Some(raw) = pass.next().transpose()? {
                all.add(&raw);
                // Sorted: the first row is the earliest, so the window is known as we go.
                if sorted {
                    window_add(&mut window, all.min, raw.t, start, end);
                }
            }
            if all.rows == 0 {
                return Err(empty(spec, pass.line(), false));
            }
            if whole_trace {
                window = PassStats {
                    rows: all.rows,
                    first: 0,
                    last: all.max.abs_diff(all.min),
                };
            } else if !sorted {
                let mut again = open_pass(spec, &layout)?;
                while let Some(raw) = again.next().transpose()? {
                    window_add(&mut window, all.min, raw.t, start, end);
                }
            }
            Found {
                rows: all.rows,
                requests: all.rows,
                skipped: pass.skipped(),
                first_ns: all.min,
                last_ns: all.max,
                window,
                window_requests: window.rows,
                end: None,
                last_line: pass.line(),
            }
        }
    };
    if found.window_requests == 0 {
        return Err(empty(spec, found.last_line, true));
    }
    let span_ns = found.last_ns.abs_diff(found.first_ns);
    let secs = |ns: u64| Duration::from_nanos(ns).as_secs_f64();
    let mean_rate = match found.end {
        Some(end) if end > 0 => Some(found.requests as f64 / secs(end)),
        None if span_ns > 0 && found.requests >= 2 => {
            Some((found.requests - 1) as f64 / secs(span_ns))
        }
        _ => None,
    };
    let pass_length = scale.apply(found.window.trace_period(start, end, found.end));
    if spec.looping && pass_length == 0 {
        return Err(zero_period(spec));
    }
    Ok(Summary {
        rows: found.rows,
        requests: found.requests,
        skipped: found.skipped,
        first_ns: found.first_ns,
        last_ns: found.last_ns,
        span: Duration::from_nanos(span_ns),
        prompt_tokens,
        output_tokens,
        duration,
        mean_rate,
        window_requests: found.window_requests,
        pass_length: Duration::from_nanos(pass_length),
        expected_per_pass: found.window_requests as f64 * spec.rate_scale,
    })
}

/// What the pass over the file found.
struct Found {
    rows: u64,
    requests: u64,
    skipped: u64,
    first_ns: i64,
    last_ns: i64,
    window: PassStats,
    window_requests: u64,
    /// The trace's end after its zero, when it is not its last request (Functions 2019).
    end: Option<u64>,
    last_line: u64,
}

/// Earliest and latest request, and the count.
#[derive(Default)]
struct Points {
    rows: u64,
    min: i64,
    max: i64,
}

impl Points {
    fn add(&mut self, raw: &Raw) {
        if self.rows == 0 {
            (self.min, self.max) = (raw.t, raw.t);
        }
        self.rows += 1;
        self.min = self.min.min(raw.t);
        self.max = self.max.max(raw.t);
    }
}

fn window_add(window: &mut PassStats, origin: i64, t: i64, start: u64, end: Option<u64>) {
    if let Ok(rel) = u64::try_from(i128::from(t) - i128::from(origin))
        && rel >= start
        && end.is_none_or(|end| rel < end)
    {
        window.add(rel);
    }
}

/// A pass over the file as written (no sort), with the order check for sorted formats.
fn open_pass(spec: &ReplaySpec, layout: &Layout) -> Result<Checked, TraceError> {
    let path = &spec.file;
    let reader = match layout {
        Layout::Rows { schema, .. } => Reader::Rows(Box::new(RowReader::open(path, schema)?)),
        _ => Reader::Jsonl(JsonlReader::open(path)?),
    };
    let order = layout.sorted().then_some("the format is sorted by time");
    Ok(Checked::new(reader, path, spec.malformed, order))
}

/// Functions 2019's figures from its per-minute sums.
fn minutes(sums: &MinuteSums, start: u64, end: Option<u64>) -> Option<Found> {
    let (first, last) = sums.busy_minutes()?;
    let mut window_requests = 0.0;
    for (i, &count) in sums.sums.iter().enumerate().skip(first).take(last - first) {
        let m0 = (i - first) as u64 * MINUTE_NS;
        let m1 = m0 + MINUTE_NS;
        let lo = m0.max(start);
        let hi = end.map_or(m1, |e| m1.min(e));
        if hi > lo {
            window_requests += count as f64 * (hi - lo) as f64 / MINUTE_NS as f64;
        }
    }
    let to_ns = |m: usize| i64::try_from(m as u64 * MINUTE_NS).unwrap_or(i64::MAX);
    let trace_end = (last - first) as u64 * MINUTE_NS;
    Some(Found {
        rows: sums.rows,
        requests: sums.total(),
        skipped: sums.skipped,
        first_ns: to_ns(first),
        last_ns: to_ns(last),
        window: PassStats::default(),
        window_requests: window_requests.ceil() as u64,
        end: Some(trace_end),
        last_line: sums.last_line,
    })
}

fn empty(spec: &ReplaySpec, line: u64, window: bool) -> TraceError {
    let within = if window {
        format!(" within the window {}", describe_window(&spec.window))
    } else {
        String::new()
    };
    TraceError::new(
        &spec.file,
        line.max(1),
        ErrorKind::Empty {
            file: spec.file.display().to_string(),
            within,
        },
    )
}
