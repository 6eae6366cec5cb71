//! Renders a [`Report`]: the ranked table printed to the terminal, and the files every run leaves
//! in its output directory (`report.json`, `timeline.csv`, `report.html`); [`compare`] puts
//! reports side by side.
//!
//! Each file format is one implementation of [`FileOutput`] (like ripgrep's printers behind one
//! `Sink`), so adding a format (HTML, JUnit) is one new module and one entry in [`OUTPUTS`].

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use scalebench_core::report::Report;

mod cluster;
pub mod compare;
mod error;
mod format;
pub mod gate;
mod gate_render;
mod html;
mod json;
pub mod junit;
mod markup;
pub mod svg;
pub mod sweep;
mod table;
mod timeline;
mod tokens;

pub use cluster::troubles as cluster_troubles;
pub use error::{ReportError, WriteError};
pub use gate::{GateResult, evaluate, evaluate_with};
pub use gate_render::{GATE_COLUMNS, gate_table, value_text, write_gate_json};
pub use html::{Html, render_html};
pub use json::{Json, read_json, write_json};
pub use table::{
    budget_table, cluster_warnings, fault_table, generator_warnings, limit_lines, load_table,
    ranked_table,
};
pub use timeline::{TimelineCsv, write_timeline_csv};
pub use tokens::token_table;

/// One file format a report can be written in.
pub trait FileOutput {
    /// The file's name inside an output directory, e.g. `report.json`.
    fn file_name(&self) -> &'static str;

    /// What the file holds, for error messages, e.g. `report JSON`.
    fn what(&self) -> &'static str;

    /// Renders `report` into `out`.
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), WriteError>;

    /// Creates (or truncates) `path` and renders `report` into it.
    fn write_file(&self, report: &Report, path: &Path) -> Result<(), ReportError> {
        write_file(path, self.what(), |out| self.render(report, out))
    }
}

/// Creates (or truncates) `path` and lets `render` write into it, buffered; errors name the
/// file and `what` it holds (e.g. `sweep CSV`).
pub fn write_file(
    path: &Path,
    what: &'static str,
    render: impl FnOnce(&mut dyn Write) -> Result<(), WriteError>,
) -> Result<(), ReportError> {
    let file = File::create(path).map_err(|source| ReportError::Create {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = BufWriter::new(file);
    render(&mut out)
        .and_then(|()| out.flush().map_err(WriteError::from))
        .map_err(|source| ReportError::Write {
            what,
            path: path.to_path_buf(),
            source,
        })
}

/// The files [`write_all`] writes, in order.
pub const OUTPUTS: [&dyn FileOutput; 3] = [&Json, &TimelineCsv, &Html];

/// Creates `dir` (and its parents) and writes every file in [`OUTPUTS`] into it; returns the
/// paths written, in the order of [`OUTPUTS`].
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    OUTPUTS
        .iter()
        .map(|output| {
            let path = dir.join(output.file_name());
            output.write_file(report, &path)?;
            Ok(path)
        })
        .collect()
}
