//! CSV traces with a header, read one row at a time: Azure LLM, Azure Functions 2021, BurstGPT
//! and the generic CSV. One reusable line and field buffer; memory does not grow with the file.

use std::path::Path;

use crate::error::{ErrorKind, TraceError, quote};
use crate::lines::{Fields, LineReader, Resume};
use crate::parse::{NumError, datetime_ns, decimal_ns, tokens};
use crate::source::{Fault, Raw, Step};
use crate::spec::{CsvColumns, TimeUnit};

/// How a time field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeKind {
    /// A decimal in units of this many nanoseconds.
    Decimal(i128),
    /// A civil date-time.
    DateTime,
}

impl TimeKind {
    fn parse(self, field: &[u8]) -> Result<i64, NumError> {
        match self {
            TimeKind::Decimal(unit) => decimal_ns(field, unit),
            TimeKind::DateTime => datetime_ns(field).ok_or(NumError::NotADateTime),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            TimeKind::Decimal(1_000_000_000) => "a number of seconds such as `12.5`",
            TimeKind::Decimal(1_000_000) => "a number of milliseconds such as `27482`",
            TimeKind::Decimal(1_000) => "a number of microseconds",
            TimeKind::Decimal(_) => "a number of nanoseconds",
            TimeKind::DateTime => {
                "a date-time such as `2023-11-16 18:15:46.6805900` or `2024-05-10 00:00:00.004000+00:00`"
            }
        }
    }
}

/// Which columns of a CSV format mean what, by header name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schema {
    /// The header as shown when it is wrong.
    pub(crate) header: String,
    /// The time column (for Functions 2021, the end of the request).
    pub(crate) time: String,
    pub(crate) time_kind: TimeKind,
    pub(crate) prompt: Option<String>,
    pub(crate) output: Option<String>,
    /// A duration in seconds, subtracted from the time to get the arrival (Functions 2021).
    pub(crate) duration: Option<String>,
}

impl Schema {
    pub(crate) fn azure_llm() -> Self {
        Schema {
            header: "TIMESTAMP,ContextTokens,GeneratedTokens".into(),
            time: "TIMESTAMP".into(),
            time_kind: TimeKind::DateTime,
            prompt: Some("ContextTokens".into()),
            output: Some("GeneratedTokens".into()),
            duration: None,
        }
    }

    pub(crate) fn azure_functions_2021() -> Self {
        Schema {
            header: "app,func,end_timestamp,duration".into(),
            time: "end_timestamp".into(),
            time_kind: TimeKind::Decimal(1_000_000_000),
            prompt: None,
            output: None,
            duration: Some("duration".into()),
        }
    }

    pub(crate) fn burstgpt() -> Self {
        Schema {
            header: "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type".into(),
            time: "Timestamp".into(),
            time_kind: TimeKind::Decimal(1_000_000_000),
            prompt: Some("Request tokens".into()),
            output: Some("Response tokens".into()),
            duration: None,
        }
    }

    pub(crate) fn csv(cols: &CsvColumns) -> Self {
        let time_kind = match cols.time_unit {
            TimeUnit::S => TimeKind::Decimal(1_000_000_000),
            TimeUnit::Ms => TimeKind::Decimal(1_000_000),
            TimeUnit::Us => TimeKind::Decimal(1_000),
            TimeUnit::Ns => TimeKind::Decimal(1),
            TimeUnit::Rfc3339 => TimeKind::DateTime,
        };
        let header = [
            Some(cols.time_column.as_str()),
            cols.prompt_column.as_deref(),
            cols.output_column.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(",");
        Schema {
            header: format!("{header} (in any order, other columns allowed)"),
            time: cols.time_column.clone(),
            time_kind,
            prompt: cols.prompt_column.clone(),
            output: cols.output_column.clone(),
            duration: None,
        }
    }
}

/// Column indices resolved from the header.
#[derive(Debug, Clone, Copy)]
struct Columns {
    time: usize,
    prompt: Option<usize>,
    output: Option<usize>,
    duration: Option<usize>,
    width: usize,
}

/// One pass over a CSV trace.
pub(crate) struct RowReader {
    lines: LineReader,
    fields: Fields,
    schema: Schema,
    cols: Columns,
}

/// Opens `path` and reads its first non-blank line into `fields`: the header (which a format
/// needs, so errors there are fatal, whatever `malformed` says).
pub(crate) fn read_header(path: &Path, fields: &mut Fields) -> Result<LineReader, TraceError> {
    let mut lines = LineReader::open(path)?;
    match lines.advance_past_blank() {
        None => return Err(empty(path, lines.line().max(1))),
        Some(Err(Fault::Row(e) | Fault::Fatal(e))) => return Err(e),
        Some(Ok(())) => {}
    }
    fields.split(lines.text()).map_err(|what| {
        TraceError::invalid(
            path,
            lines.line(),
            format!("{what} in the header {}", quote(lines.text())),
            "a CSV header",
        )
    })?;
    Ok(lines)
}

impl RowReader {
    /// Opens `path` and reads its header (errors there are fatal, whatever `malformed` says).
    pub(crate) fn open(path: &Path, schema: &Schema) -> Result<Self, TraceError> {
        let mut fields = Fields::default();
        let lines = read_header(path, &mut fields)?;
        let line = lines.line();
        let find = |name: &str| {
            fields
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name.as_bytes()))
        };
        let missing = || {
            TraceError::invalid(
                path,
                line,
                format!("the header {}", quote(lines.text())),
                format!("a header `{}`", schema.header),
            )
        };
        let time = find(&schema.time).ok_or_else(missing)?;
        let optional = |name: &Option<String>| -> Result<Option<usize>, TraceError> {
            name.as_deref()
                .map(|n| find(n).ok_or_else(missing))
                .transpose()
        };
        let cols = Columns {
            time,
            prompt: optional(&schema.prompt)?,
            output: optional(&schema.output)?,
            duration: optional(&schema.duration)?,
            width: fields.len(),
        };
        Ok(RowReader {
            lines,
            fields,
            schema: schema.clone(),
            cols,
        })
    }

    /// The last line read (the header's before any row).
    pub(crate) fn line(&self) -> u64 {
        self.lines.line()
    }

    /// Where the row last read starts.
    pub(crate) fn resume_point(&self) -> Resume {
        self.lines.resume_point()
    }

    /// Reads on from `at`, a point of this file past its header.
    pub(crate) fn resume(&mut self, at: Resume) -> Result<(), TraceError> {
        self.lines.resume(at)
    }

    /// The next row.
    pub(crate) fn next_row(&mut self) -> Step {
        if let Err(fault) = self.lines.advance_past_blank()? {
            return Some(Err(fault));
        }
        let line = self.lines.line();
        if let Err(what) = self.fields.split(self.lines.text()) {
            return Some(Err(Fault::Row(TraceError::invalid(
                self.lines.path(),
                line,
                format!("{what} in {}", quote(self.lines.text())),
                "CSV fields (quoted fields may not span lines)",
            ))));
        }
        Some(self.parse(line).map_err(Fault::Row))
    }

    fn parse(&self, line: u64) -> Result<Raw, TraceError> {
        let rec = &self.fields;
        let path = self.lines.path();
        if rec.len() != self.cols.width {
            return Err(TraceError::invalid(
                path,
                line,
                format!("{} fields in {}", rec.len(), quote(self.lines.text())),
                format!(
                    "{} fields as in the header `{}`",
                    self.cols.width, self.schema.header
                ),
            ));
        }
        let field = |i: usize| rec.get(i);
        let bad = |name: &str, value: &[u8], what: &str, expected: &str| {
            TraceError::invalid(
                path,
                line,
                format!("{} in column {name} ({what})", quote(value)),
                expected,
            )
        };
        let time_field = field(self.cols.time);
        let mut t = self.schema.time_kind.parse(time_field).map_err(|e| {
            bad(
                &self.schema.time,
                time_field,
                e.phrase(),
                self.schema.time_kind.expected(),
            )
        })?;
        let mut duration = None;
        if let (Some(i), Some(name)) = (self.cols.duration, &self.schema.duration) {
            let value = field(i);
            let d = decimal_ns(value, 1_000_000_000)
                .map_err(|e| bad(name, value, e.phrase(), "a number of seconds >= 0"))?;
            let d = u64::try_from(d)
                .map_err(|_| bad(name, value, "negative", "a number of seconds >= 0"))?;
            t = i64::try_from(i128::from(t) - i128::from(d)).map_err(|_| {
                bad(
                    name,
                    value,
                    "out of range",
                    "a duration no longer than the end time allows",
                )
            })?;
            duration = Some(d);
        }
        let count =
            |col: Option<usize>, name: &Option<String>| -> Result<Option<u32>, TraceError> {
                match (col, name) {
                    (Some(i), Some(name)) => {
                        let value = field(i);
                        tokens(value).map(Some).map_err(|e| {
                            bad(
                                name,
                                value,
                                e.phrase(),
                                "a token count, a whole number >= 0",
                            )
                        })
                    }
                    _ => Ok(None),
                }
            };
        Ok(Raw {
            t,
            prompt: count(self.cols.prompt, &self.schema.prompt)?,
            output: count(self.cols.output, &self.schema.output)?,
            duration,
            line,
        })
    }
}

/// "No requests in <file>" at `line`.
pub(crate) fn empty(path: &Path, line: u64) -> TraceError {
    TraceError::new(
        path,
        line,
        ErrorKind::Empty {
            file: path.display().to_string(),
            within: String::new(),
        },
    )
}
