//! `report.json`: the report as pretty JSON, the contract gates and other tools read, and
//! reading it back with a schema check.

use std::fs;
use std::io::Write;
use std::path::Path;

use scalebench_core::report::{Report, SCHEMA};
use serde::Deserialize;

use crate::{FileOutput, ReportError, WriteError};

/// `report.json`: the whole report, pretty-printed, with a trailing newline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl FileOutput for Json {
    fn file_name(&self) -> &'static str {
        "report.json"
    }

    fn what(&self) -> &'static str {
        "report JSON"
    }

    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), WriteError> {
        serde_json::to_writer_pretty(&mut *out, report)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

/// Writes `report` to `path` as pretty JSON with a trailing newline.
pub fn write_json(report: &Report, path: &Path) -> Result<(), ReportError> {
    Json.write_file(report, path)
}

/// Just the schema, read before the rest so a report of another version fails with a schema
/// error rather than with whichever field changed first.
#[derive(Deserialize)]
struct SchemaProbe {
    schema: Option<String>,
}

/// Reads a report written by [`write_json`], checking that its schema is
/// [`SCHEMA`](scalebench_core::report::SCHEMA).
pub fn read_json(path: &Path) -> Result<Report, ReportError> {
    let text = fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_error = |source: serde_json::Error| ReportError::Parse {
        path: path.to_path_buf(),
        line: source.line(),
        column: source.column(),
        source,
    };
    let probe: SchemaProbe = serde_json::from_str(&text).map_err(parse_error)?;
    match probe.schema {
        None => {
            return Err(ReportError::MissingSchema {
                path: path.to_path_buf(),
                expected: SCHEMA,
            });
        }
        Some(found) if found != SCHEMA => {
            return Err(ReportError::Schema {
                path: path.to_path_buf(),
                found,
                expected: SCHEMA,
            });
        }
        Some(_) => {}
    }
    serde_json::from_str(&text).map_err(parse_error)
}
