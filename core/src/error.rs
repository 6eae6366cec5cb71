//! Errors for scenario files: every one names the file, the line and column, and what was
//! expected there, so a user can fix the input without reading our code.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with a scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read at all.
    #[error("{path}: cannot read the scenario file")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid scenario.
    #[error(transparent)]
    Invalid(#[from] Located),
}

/// A message pinned to a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Located {
    /// The file the message is about.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
    /// The offending source line, for display.
    pub source_line: String,
}

impl Located {
    /// Locates byte offset `offset` of `src` (the text of `path`).
    pub fn at(path: &Path, src: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = floor_char_boundary(src, offset);
        let before = &src[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = src[line_start..offset].chars().count() + 1;
        let source_line = src[line_start..]
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        Located {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            source_line,
        }
    }
}

/// The largest char boundary of `s` at or below `offset` (and at most its length).
pub(crate) fn floor_char_boundary(s: &str, offset: usize) -> usize {
    let mut i = offset.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        if !self.source_line.is_empty() {
            let gutter = self.line.to_string().len();
            write!(
                f,
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {:>col$}",
                "",
                self.line,
                self.source_line,
                "",
                "^",
                col = self.column
            )?;
        }
        Ok(())
    }
}
