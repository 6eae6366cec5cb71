//! Mooncake traces: JSON lines `{"timestamp": 27482, "input_length": 6955, "output_length": 52,
//! "hash_ids": [...]}`, the timestamp in milliseconds. One reusable line buffer.

use std::path::Path;

use serde::Deserialize;
use serde_json::Number;

use crate::error::{TraceError, quote};
use crate::lines::{LineReader, Resume};
use crate::parse::{decimal_ns, tokens};
use crate::source::{Fault, Raw, Step};

const EXPECTED: &str =
    "a JSON object with `timestamp` (ms), `input_length` and `output_length` (tokens)";

/// The fields used; others (`hash_ids`) are ignored.
#[derive(Deserialize)]
struct Line {
    timestamp: Number,
    input_length: Number,
    output_length: Number,
}

/// One pass over a Mooncake trace.
pub(crate) struct JsonlReader {
    lines: LineReader,
}

impl JsonlReader {
    pub(crate) fn open(path: &Path) -> Result<Self, TraceError> {
        Ok(JsonlReader {
            lines: LineReader::open(path)?,
        })
    }

    /// The last line read.
    pub(crate) fn line(&self) -> u64 {
        self.lines.line()
    }

    /// Where the row last read starts.
    pub(crate) fn resume_point(&self) -> Resume {
        self.lines.resume_point()
    }

    /// Reads on from `at`, a point of this file.
    pub(crate) fn resume(&mut self, at: Resume) -> Result<(), TraceError> {
        self.lines.resume(at)
    }

    /// The next request (blank lines are passed over).
    pub(crate) fn next_row(&mut self) -> Step {
        if let Err(fault) = self.lines.advance_past_blank()? {
            return Some(Err(fault));
        }
        Some(self.parse().map_err(Fault::Row))
    }

    fn parse(&self) -> Result<Raw, TraceError> {
        let text = self.lines.text().trim_ascii();
        let (path, line) = (self.lines.path(), self.lines.line());
        let row: Line = serde_json::from_slice(text).map_err(|e| {
            let msg = e.to_string();
            // serde_json ends its message with " at line 1 column N": keep the column only.
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m);
            TraceError::invalid(
                path,
                line,
                format!("{} ({msg} at column {})", quote(text), e.column()),
                EXPECTED,
            )
        })?;
        let bad = |name: &str, n: &Number, what: &str, expected: &str| {
            TraceError::invalid(path, line, format!("`{name}` {n} ({what})"), expected)
        };
        let ts = row.timestamp.to_string();
        let t = decimal_ns(ts.as_bytes(), 1_000_000).map_err(|e| {
            bad(
                "timestamp",
                &row.timestamp,
                e.phrase(),
                "a time in milliseconds",
            )
        })?;
        let count = |name: &str, n: &Number| {
            tokens(n.to_string().as_bytes())
                .map_err(|e| bad(name, n, e.phrase(), "a token count, a whole number >= 0"))
        };
        Ok(Raw {
            t,
            prompt: Some(count("input_length", &row.input_length)?),
            output: Some(count("output_length", &row.output_length)?),
            duration: None,
            line,
        })
    }
}
