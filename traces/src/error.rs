//! Errors: each names the trace file and, when it is about a row, the line, and says what was
//! found and what was expected there, so a user can fix the file without reading our code.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with a trace file or with the replay's options.
///
/// Its `Display` is `<path>:<line>: <what was found>; expected <what>` for a problem in a row or
/// the header (lines are 1-based; a CSV header is line 1), and `<path>: ...` when no line is
/// involved (the file cannot be opened, an option is out of range).
#[derive(Debug)]
pub struct TraceError {
    path: PathBuf,
    line: u64,
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file (or the external sort's temporary file) could not be opened, read or written.
    #[error("cannot {doing}")]
    Io {
        /// What was being done, e.g. "open the trace".
        doing: &'static str,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A row, a field or the header is not what the format expects.
    #[error("{found}; expected {expected}")]
    Invalid {
        /// What was found, e.g. "`abc` in column ContextTokens".
        found: String,
        /// What the format expects there.
        expected: String,
    },
    /// The trace (or its window) holds no request.
    #[error("no requests in {file}{within}; expected at least one request")]
    Empty {
        /// The file's path, as displayed.
        file: String,
        /// Empty, or " within the window ..." when a window left nothing.
        within: String,
    },
    /// A replay option is out of range or does not fit the format.
    #[error("option `{option}` is {found}; expected {expected}")]
    Option {
        /// The option's name as written in a scenario, e.g. "speed".
        option: &'static str,
        /// Its value, or what about it is wrong.
        found: String,
        /// What it may be.
        expected: String,
    },
}

impl TraceError {
    /// An error at `line` of `path` (0 for "no line").
    pub(crate) fn new(path: &Path, line: u64, kind: ErrorKind) -> Self {
        TraceError {
            path: path.to_path_buf(),
            line,
            kind,
        }
    }

    /// A row or header problem at `line`.
    pub(crate) fn invalid(
        path: &Path,
        line: u64,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self::new(
            path,
            line,
            ErrorKind::Invalid {
                found: found.into(),
                expected: expected.into(),
            },
        )
    }

    /// An I/O failure while doing `doing`, at `line` (0 when not reading rows).
    pub(crate) fn io(path: &Path, line: u64, doing: &'static str, source: std::io::Error) -> Self {
        Self::new(path, line, ErrorKind::Io { doing, source })
    }

    /// An option out of range.
    pub(crate) fn option(
        path: &Path,
        option: &'static str,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self::new(
            path,
            0,
            ErrorKind::Option {
                option,
                found: found.into(),
                expected: expected.into(),
            },
        )
    }

    /// The trace file the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The 1-based line the error is about, if it is about one.
    pub fn line(&self) -> Option<u64> {
        (self.line > 0).then_some(self.line)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for TraceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

/// At most this many characters of a field or a line are quoted in an error.
const QUOTE_CHARS: usize = 60;

/// `bytes` as text for an error message: lossy UTF-8, cut to a readable length, in backticks.
pub(crate) fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::from("`");
    let mut chars = text.chars();
    for c in chars.by_ref().take(QUOTE_CHARS) {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if chars.next().is_some() {
        out.push_str("...");
    }
    out.push('`');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_path_line_found_and_expected() {
        let e = TraceError::invalid(Path::new("t.csv"), 7, "`x` in column A", "a number");
        assert_eq!(e.to_string(), "t.csv:7: `x` in column A; expected a number");
        assert_eq!(e.line(), Some(7));
        let e = TraceError::option(Path::new("t.csv"), "speed", "0", "a number > 0");
        assert_eq!(
            e.to_string(),
            "t.csv: option `speed` is 0; expected a number > 0"
        );
        assert_eq!(e.line(), None);
    }

    #[test]
    fn quote_cuts_long_fields_and_escapes() {
        assert_eq!(quote(b"a\tb\"c\""), "`a\\tb\"c\"`");
        let long = vec![b'x'; 100];
        assert_eq!(quote(&long), format!("`{}...`", "x".repeat(60)));
        assert_eq!(quote(&[0xff]), "`\u{fffd}`");
    }
}
