//! Where requests come from before the transforms: each format's reader behind one type, the
//! malformed-row policy and the time-order check, and an opened trace that can start passes
//! (a loop reads the file again; nothing is kept from one pass to the next but the sort's runs
//! or the per-minute sums).

use std::path::{Path, PathBuf};

use crate::error::TraceError;
use crate::extsort::{Merge, SortStats, Sorted, sort};
use crate::jsonl::JsonlReader;
use crate::lines::Resume;
use crate::minutes::{MINUTE_NS, MinuteGen, MinuteSums};
use crate::rows::{RowReader, Schema};
use crate::spec::{Format, Malformed, ReplaySpec, Spread};

/// A request as the file has it: its time on the file's clock (ns since 1970-01-01 UTC for
/// date-times, since the file's zero otherwise), its tokens and duration, and its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Raw {
    pub(crate) t: i64,
    pub(crate) prompt: Option<u32>,
    pub(crate) output: Option<u32>,
    pub(crate) duration: Option<u64>,
    pub(crate) line: u64,
}

/// Why a reader did not give a request.
#[derive(Debug)]
pub(crate) enum Fault {
    /// A malformed row: skipped or fatal as the replay's `malformed` says.
    Row(TraceError),
    /// Always fatal (I/O).
    Fatal(TraceError),
}

/// What a reader gives next: a request, a fault, or `None` at the end.
pub(crate) type Step = Option<Result<Raw, Fault>>;

/// How a format is laid out on disk.
#[derive(Debug, Clone)]
pub(crate) enum Layout {
    /// CSV rows with a header.
    Rows { schema: Schema, sorted: bool },
    /// JSON lines (Mooncake).
    Jsonl,
    /// Per-minute counts (Azure Functions 2019).
    Minutes {
        spread: Spread,
        triggers: Vec<String>,
    },
}

impl Layout {
    pub(crate) fn of(format: &Format) -> Self {
        match format {
            Format::AzureLlm => Layout::Rows {
                schema: Schema::azure_llm(),
                sorted: true,
            },
            Format::AzureFunctions2019 { spread, triggers } => Layout::Minutes {
                spread: *spread,
                triggers: triggers.clone(),
            },
            Format::AzureFunctions2021 => Layout::Rows {
                schema: Schema::azure_functions_2021(),
                sorted: false,
            },
            Format::BurstGpt => Layout::Rows {
                schema: Schema::burstgpt(),
                sorted: true,
            },
            Format::Mooncake => Layout::Jsonl,
            Format::Csv(cols) => Layout::Rows {
                schema: Schema::csv(cols),
                sorted: cols.sorted,
            },
        }
    }

    /// Whether the file must already be in time order.
    pub(crate) fn sorted(&self) -> bool {
        match self {
            Layout::Rows { sorted, .. } => *sorted,
            Layout::Jsonl | Layout::Minutes { .. } => true,
        }
    }

    /// Whether requests carry prompt tokens, output tokens, a duration.
    pub(crate) fn fields(&self) -> (bool, bool, bool) {
        match self {
            Layout::Rows { schema, .. } => (
                schema.prompt.is_some(),
                schema.output.is_some(),
                schema.duration.is_some(),
            ),
            Layout::Jsonl => (true, true, false),
            Layout::Minutes { .. } => (false, false, false),
        }
    }
}

/// A format's reader.
pub(crate) enum Reader {
    Rows(Box<RowReader>),
    Jsonl(JsonlReader),
    Merge(Merge),
    Minutes(MinuteGen),
}

impl Reader {
    fn next_row(&mut self) -> Step {
        match self {
            Reader::Rows(r) => r.next_row(),
            Reader::Jsonl(r) => r.next_row(),
            Reader::Merge(m) => m.next().map(|r| r.map_err(Fault::Fatal)),
            Reader::Minutes(m) => m.next_row(),
        }
    }

    fn line(&self) -> u64 {
        match self {
            Reader::Rows(r) => r.line(),
            Reader::Jsonl(r) => r.line(),
            Reader::Merge(_) | Reader::Minutes(_) => 0,
        }
    }

    fn resume_point(&self) -> Option<Resume> {
        match self {
            Reader::Rows(r) => Some(r.resume_point()),
            Reader::Jsonl(r) => Some(r.resume_point()),
            Reader::Merge(_) | Reader::Minutes(_) => None,
        }
    }
}

/// A pass with the malformed-row policy and, for sorted formats, the time-order check.
pub(crate) struct Checked {
    reader: Reader,
    path: PathBuf,
    malformed: Malformed,
    /// For sorted formats: what to say when a row is out of order.
    order: Option<&'static str>,
    prev: Option<(i64, u64)>,
    skipped: u64,
    ended: bool,
}

impl Checked {
    pub(crate) fn new(
        reader: Reader,
        path: &Path,
        malformed: Malformed,
        order: Option<&'static str>,
    ) -> Self {
        Checked {
            reader,
            path: path.to_path_buf(),
            malformed,
            order,
            prev: None,
            skipped: 0,
            ended: false,
        }
    }

    /// Malformed rows skipped so far in this pass.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The last line read.
    pub(crate) fn line(&self) -> u64 {
        self.reader.line()
    }

    /// Where the row last returned starts in the file, for a later pass to read on from there
    /// (files read line by line only).
    pub(crate) fn resume_point(&self) -> Option<Resume> {
        self.reader.resume_point()
    }

    /// The next well-formed request, in file order; `None` after the end or an error.
    pub(crate) fn next(&mut self) -> Option<Result<Raw, TraceError>> {
        if self.ended {
            return None;
        }
        loop {
            let fault = match self.reader.next_row() {
                None => {
                    self.ended = true;
                    return None;
                }
                Some(Ok(raw)) => match (self.order, self.prev) {
                    (Some(hint), Some((t, line))) if raw.t < t => Fault::Row(TraceError::invalid(
                        &self.path,
                        raw.line,
                        format!(
                            "a request {} earlier than the one on line {line}",
                            describe_ns(t.abs_diff(raw.t))
                        ),
                        format!("rows in time order ({hint})"),
                    )),
                    _ => {
                        self.prev = Some((raw.t, raw.line));
                        return Some(Ok(raw));
                    }
                },
                Some(Err(fault)) => fault,
            };
            match (fault, self.malformed) {
                (Fault::Row(_), Malformed::Skip) => self.skipped += 1,
                (Fault::Row(e) | Fault::Fatal(e), _) => {
                    self.ended = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Nanoseconds as seconds for messages: `1.5 s`, `0.000000001 s`.
pub(crate) fn describe_ns(ns: u64) -> String {
    let whole = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    if frac == 0 {
        return format!("{whole} s");
    }
    let frac = format!("{frac:09}");
    format!("{whole}.{} s", frac.trim_end_matches('0'))
}

/// What the time-order error suggests, per format.
fn order_hint(format: &Format) -> &'static str {
    match format {
        Format::Csv(_) => "sort the file by its time column, or set `sorted = false`",
        Format::AzureLlm => "azure-llm traces are sorted by TIMESTAMP",
        Format::BurstGpt => "burstgpt traces are sorted by Timestamp",
        Format::Mooncake => "mooncake traces are sorted by timestamp",
        Format::AzureFunctions2019 { .. } | Format::AzureFunctions2021 => "sorted",
    }
}

/// An opened trace, ready for passes.
pub(crate) enum Trace {
    /// A sorted CSV file, read again each pass.
    Rows { schema: Schema },
    /// A Mooncake file, read again each pass.
    Jsonl,
    /// An unsorted file, sorted once at open.
    Sorted {
        sorted: Sorted,
        stats: SortStats,
        last_line: u64,
    },
    /// Functions 2019's per-minute sums.
    Minutes { sums: MinuteSums, spread: Spread },
}

impl Trace {
    /// Opens the trace of `spec`: reads the header, or (unsorted formats) sorts the whole file,
    /// or (Functions 2019) sums it. Returns the trace and the rows skipped while opening.
    pub(crate) fn open(spec: &ReplaySpec) -> Result<(Trace, u64), TraceError> {
        let path = &spec.file;
        match Layout::of(&spec.format) {
            Layout::Rows {
                schema,
                sorted: true,
            } => {
                RowReader::open(path, &schema)?; // the header, checked now
                Ok((Trace::Rows { schema }, 0))
            }
            Layout::Rows {
                schema,
                sorted: false,
            } => {
                let rows = RowReader::open(path, &schema)?;
                let mut checked =
                    Checked::new(Reader::Rows(Box::new(rows)), path, spec.malformed, None);
                let (sorted, stats) = sort(path, spec.sort_chunk_rows, || checked.next())?;
                let trace = Trace::Sorted {
                    sorted,
                    stats,
                    last_line: checked.line(),
                };
                Ok((trace, checked.skipped()))
            }
            Layout::Jsonl => {
                JsonlReader::open(path)?;
                Ok((Trace::Jsonl, 0))
            }
            Layout::Minutes { spread, triggers } => {
                let sums = MinuteSums::read(path, &triggers, spec.malformed)?;
                let skipped = sums.skipped;
                Ok((Trace::Minutes { sums, spread }, skipped))
            }
        }
    }

    /// Pass number `pass`. `from_ns` is the window's start in trace time: Functions 2019 starts
    /// generating at its minute, and a file read line by line starts at `resume` when a first
    /// pass found where the window's first row is (so a loop does not read the file's head again).
    pub(crate) fn pass(
        &self,
        spec: &ReplaySpec,
        pass: u64,
        from_ns: u64,
        resume: Option<Resume>,
    ) -> Result<Checked, TraceError> {
        let path = &spec.file;
        let order = Some(order_hint(&spec.format));
        let reader = match self {
            Trace::Rows { schema } => {
                let mut rows = RowReader::open(path, schema)?;
                if let Some(at) = resume {
                    rows.resume(at)?;
                }
                Reader::Rows(Box::new(rows))
            }
            Trace::Jsonl => {
                let mut lines = JsonlReader::open(path)?;
                if let Some(at) = resume {
                    lines.resume(at)?;
                }
                Reader::Jsonl(lines)
            }
            Trace::Sorted { sorted, .. } => Reader::Merge(Merge::over(path, sorted)?),
            Trace::Minutes { sums, spread } => {
                let first = sums.busy_minutes().map_or(0, |(first, _)| first);
                let skip = usize::try_from(from_ns / MINUTE_NS).unwrap_or(usize::MAX);
                let from = first.saturating_add(skip);
                Reader::Minutes(MinuteGen::new(sums, *spread, spec.seed, pass, from))
            }
        };
        let order = match self {
            Trace::Sorted { .. } | Trace::Minutes { .. } => None, // in order by construction
            Trace::Rows { .. } | Trace::Jsonl => order,
        };
        Ok(Checked::new(reader, path, spec.malformed, order))
    }

    /// The trace's zero on the file's clock when it is not its first request: Functions 2019
    /// starts at its first busy minute.
    pub(crate) fn origin(&self) -> Option<i64> {
        match self {
            Trace::Minutes { sums, .. } => sums
                .busy_minutes()
                .map(|(first, _)| i64::try_from(first as u64 * MINUTE_NS).unwrap_or(i64::MAX)),
            _ => None,
        }
    }

    /// Where the trace ends after its zero when that is not its last request plus a mean gap:
    /// Functions 2019 ends with its last busy minute.
    pub(crate) fn end(&self) -> Option<u64> {
        match self {
            Trace::Minutes { sums, .. } => sums
                .busy_minutes()
                .map(|(first, end)| (end - first) as u64 * MINUTE_NS),
            _ => None,
        }
    }

    /// The last line read while opening (for messages about an empty trace).
    pub(crate) fn last_line(&self) -> u64 {
        match self {
            Trace::Sorted { last_line, .. } => *last_line,
            Trace::Minutes { sums, .. } => sums.last_line,
            Trace::Rows { .. } | Trace::Jsonl => 0,
        }
    }

    /// The most rows held in memory at once (the sort's chunk; 0 for streamed formats).
    pub(crate) fn peak_rows(&self) -> usize {
        match self {
            Trace::Sorted { stats, .. } => stats.peak_rows,
            _ => 0,
        }
    }

    /// The external sort's statistics, if the trace was sorted.
    pub(crate) fn sort_stats(&self) -> Option<SortStats> {
        match self {
            Trace::Sorted { stats, .. } => Some(*stats),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_messages() {
        assert_eq!(describe_ns(1_500_000_000), "1.5 s");
        assert_eq!(describe_ns(1), "0.000000001 s");
        assert_eq!(describe_ns(3_000_000_000), "3 s");
    }
}
