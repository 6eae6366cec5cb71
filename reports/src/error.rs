//! The one error type of the crate: every variant names the file and what was being done with
//! it, so a failed run says which output it could not write and why.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why writing or reading a report failed.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The output directory could not be created.
    #[error("failed to create output directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An output file could not be created.
    #[error("failed to create {what} file {}", path.display())]
    Create {
        /// What the file was to hold, e.g. `report JSON`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An output could not be rendered into its file.
    #[error("failed to write {what} to {}", path.display())]
    Write {
        /// What was being written, e.g. `timeline CSV`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: WriteError,
    },
    /// A report file could not be read.
    #[error("failed to read report {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A report file is not valid JSON or does not match the report model.
    #[error("failed to parse report {}:{line}:{column}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A report file carries a schema this version does not read.
    #[error(
        "report {} has schema {found:?}, but this version of scalebench reads only {expected:?}",
        path.display()
    )]
    Schema {
        /// The file.
        path: PathBuf,
        /// The schema it declares.
        found: String,
        /// The schema this version reads.
        expected: &'static str,
    },
    /// A JSON file without a `schema` field: not a scalebench report.
    #[error(
        "{} is not a scalebench report: it has no \"schema\" field (expected {expected:?})",
        path.display()
    )]
    MissingSchema {
        /// The file.
        path: PathBuf,
        /// The schema this version reads.
        expected: &'static str,
    },
}

/// What went wrong while rendering one output into a writer; [`ReportError::Write`] adds the
/// file.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The writer failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// JSON serialization failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// CSV encoding failed.
    #[error(transparent)]
    Csv(#[from] csv::Error),
}
