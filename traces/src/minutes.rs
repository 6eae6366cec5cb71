//! Azure Functions 2019: per-minute invocation counts per function for one day
//! (`HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440`). One streaming pass sums the counts
//! over functions per minute (memory: one sum per minute, whatever the row count); each replay
//! pass then places each minute's invocations within it by the chosen [`Spread`].

use std::path::Path;
use std::sync::Arc;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::error::{TraceError, quote};
use crate::lines::Fields;
use crate::parse::NumError;
use crate::rows::read_header;
use crate::scale::{SortedUniforms, mix};
use crate::source::{Fault, Raw};
use crate::spec::{Malformed, Spread};

/// A minute in nanoseconds.
pub(crate) const MINUTE_NS: u64 = 60_000_000_000;

const HEADER: &str = "HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440";

/// The per-minute sums of a Functions 2019 file.
#[derive(Debug, Clone)]
pub(crate) struct MinuteSums {
    /// Invocations per minute, minute 0 first.
    pub(crate) sums: Arc<[u64]>,
    /// Data rows (functions) counted.
    pub(crate) rows: u64,
    /// Rows skipped as malformed.
    pub(crate) skipped: u64,
    /// Rows left out by the trigger filter.
    pub(crate) filtered: u64,
    /// The last line read.
    pub(crate) last_line: u64,
}

impl MinuteSums {
    /// Reads `path` once, summing each minute's counts over the rows whose trigger is in
    /// `triggers` (all when empty).
    pub(crate) fn read(
        path: &Path,
        triggers: &[String],
        malformed: Malformed,
    ) -> Result<Self, TraceError> {
        let mut rec = Fields::default();
        let mut lines = read_header(path, &mut rec)?;
        let minutes = header_minutes(&rec).ok_or_else(|| {
            TraceError::invalid(
                path,
                lines.line(),
                format!("the header {}", quote(lines.text())),
                format!("a header `{HEADER}`"),
            )
        })?;
        let mut sums = vec![0u64; minutes];
        let mut counts = vec![0u64; minutes];
        let mut out = MinuteSums {
            sums: Arc::from(Vec::new()),
            rows: 0,
            skipped: 0,
            filtered: 0,
            last_line: lines.line(),
        };
        while let Some(step) = lines.advance_past_blank() {
            let line = lines.line();
            out.last_line = line;
            let parsed = match step {
                Err(Fault::Fatal(e)) => return Err(e),
                Err(Fault::Row(e)) => Err(e),
                Ok(()) => rec
                    .split(lines.text())
                    .map_err(|what| {
                        TraceError::invalid(
                            path,
                            line,
                            format!("{what} in {}", quote(lines.text())),
                            "CSV fields (quoted fields may not span lines)",
                        )
                    })
                    .and_then(|()| parse_row(path, line, lines.text(), &rec, &mut counts)),
            };
            match parsed {
                Ok(trigger) => {
                    let keep = triggers.is_empty()
                        || triggers
                            .iter()
                            .any(|t| t.as_bytes().eq_ignore_ascii_case(trigger));
                    if keep {
                        for (sum, n) in sums.iter_mut().zip(&counts) {
                            *sum = sum.saturating_add(*n);
                        }
                        out.rows += 1;
                    } else {
                        out.filtered += 1;
                    }
                }
                Err(e) => match malformed {
                    Malformed::Fail => return Err(e),
                    Malformed::Skip => out.skipped += 1,
                },
            }
        }
        out.sums = Arc::from(sums);
        Ok(out)
    }

    /// The first and one past the last minute with any invocation, if any.
    pub(crate) fn busy_minutes(&self) -> Option<(usize, usize)> {
        let first = self.sums.iter().position(|&n| n > 0)?;
        let last = self.sums.iter().rposition(|&n| n > 0)?;
        Some((first, last + 1))
    }

    /// All invocations.
    pub(crate) fn total(&self) -> u64 {
        self.sums.iter().fold(0u64, |a, &n| a.saturating_add(n))
    }
}

/// The number of minute columns if the header is `HashOwner,HashApp,HashFunction,Trigger,1..=N`.
fn header_minutes(rec: &Fields) -> Option<usize> {
    let names = ["HashOwner", "HashApp", "HashFunction", "Trigger"];
    for (i, name) in names.iter().enumerate() {
        if !rec.get(i).eq_ignore_ascii_case(name.as_bytes()) {
            return None;
        }
    }
    let minutes = rec.len().checked_sub(names.len()).filter(|&n| n > 0)?;
    for m in 0..minutes {
        if rec.get(names.len() + m) != (m + 1).to_string().as_bytes() {
            return None;
        }
    }
    Some(minutes)
}

/// Parses one function's row into `counts`, returning its trigger.
fn parse_row<'r>(
    path: &Path,
    line: u64,
    text: &[u8],
    rec: &'r Fields,
    counts: &mut [u64],
) -> Result<&'r [u8], TraceError> {
    if rec.len() != counts.len() + 4 {
        return Err(TraceError::invalid(
            path,
            line,
            format!("{} fields in {}", rec.len(), quote(text)),
            format!("{} fields as in the header `{HEADER}`", counts.len() + 4),
        ));
    }
    for (m, count) in counts.iter_mut().enumerate() {
        let field = rec.get(m + 4);
        *count = whole(field).map_err(|e| {
            TraceError::invalid(
                path,
                line,
                format!("{} in column {} ({})", quote(field), m + 1, e.phrase()),
                "an invocation count, a whole number >= 0",
            )
        })?;
    }
    Ok(rec.get(3))
}

/// A whole number >= 0 (digits only).
fn whole(field: &[u8]) -> Result<u64, NumError> {
    match field.first() {
        None => return Err(NumError::NotANumber),
        Some(b'-') if field.len() > 1 => return Err(NumError::Negative),
        _ => {}
    }
    field.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return Err(NumError::NotANumber);
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(NumError::OutOfRange)
    })
}

/// One replay pass: each minute's invocations, placed by the spread, in time order.
pub(crate) struct MinuteGen {
    sums: Arc<[u64]>,
    spread: Spread,
    seed: u64,
    pass: u64,
    minute: usize,
    end: usize,
    /// Place in the current minute.
    index: u64,
    count: u64,
    draws: SortedUniforms,
    rng: Pcg64Mcg,
}

impl MinuteGen {
    /// Pass number `pass` over the minutes `from..end`. Each minute draws from its own seeded
    /// stream, so starting later (a window) does not change what a minute holds.
    pub(crate) fn new(
        sums: &MinuteSums,
        spread: Spread,
        seed: u64,
        pass: u64,
        from: usize,
    ) -> Self {
        let end = sums.busy_minutes().map_or(0, |(_, end)| end);
        let mut generator = MinuteGen {
            sums: Arc::clone(&sums.sums),
            spread,
            seed,
            pass,
            minute: from,
            end,
            index: 0,
            count: 0,
            draws: SortedUniforms::new(0),
            rng: Pcg64Mcg::seed_from_u64(0),
        };
        generator.enter_minute();
        generator
    }

    fn enter_minute(&mut self) {
        self.index = 0;
        self.count = self.sums.get(self.minute).copied().unwrap_or(0);
        self.draws = SortedUniforms::new(self.count);
        let minute = u64::try_from(self.minute).unwrap_or(u64::MAX);
        self.rng = Pcg64Mcg::seed_from_u64(mix(self.seed, self.pass, minute));
    }

    /// The next invocation, as nanoseconds since the day's start.
    pub(crate) fn next_row(&mut self) -> Option<Result<Raw, Fault>> {
        while self.index >= self.count {
            if self.minute + 1 >= self.end {
                return None;
            }
            self.minute += 1;
            self.enter_minute();
        }
        let offset = match self.spread {
            Spread::Poisson => self
                .draws
                .next_offset(&mut self.rng, MINUTE_NS)
                .unwrap_or(0),
            // (2i + 1) / 2n of the minute: i < n, so below a minute.
            Spread::Uniform => {
                let v = (2 * u128::from(self.index) + 1) * u128::from(MINUTE_NS)
                    / (2 * u128::from(self.count));
                u64::try_from(v).unwrap_or(0)
            }
            Spread::Constant => 0,
        };
        self.index += 1;
        let start = u64::try_from(self.minute)
            .unwrap_or(u64::MAX)
            .saturating_mul(MINUTE_NS);
        let t = i64::try_from(start.saturating_add(offset)).unwrap_or(i64::MAX);
        Some(Ok(Raw {
            t,
            prompt: None,
            output: None,
            duration: None,
            line: 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers() {
        assert_eq!(whole(b"0"), Ok(0));
        assert_eq!(whole(b"1440"), Ok(1440));
        assert_eq!(whole(b"-1"), Err(NumError::Negative));
        assert_eq!(whole(b"-"), Err(NumError::NotANumber));
        assert_eq!(whole(b"1.5"), Err(NumError::NotANumber));
        assert_eq!(whole(b""), Err(NumError::NotANumber));
        assert_eq!(whole(b"99999999999999999999999"), Err(NumError::OutOfRange));
    }
}
