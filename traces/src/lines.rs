//! Lines and CSV fields, read with exact line numbers and bounded memory: one reusable line
//! buffer (a line longer than [`MAX_LINE_BYTES`] is a malformed row, passed over without being
//! held), LF or CRLF line ends, a UTF-8 byte-order mark before the first line, no final newline
//! needed. Quoted CSV fields may hold commas and doubled quotes but not line breaks, so one bad
//! quote cannot swallow the rest of the file into one row.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{TraceError, quote};
use crate::source::Fault;

/// The longest line read (Azure Functions 2019 rows are about 3 KiB; Mooncake rows with long
/// `hash_ids` tens of KiB).
pub(crate) const MAX_LINE_BYTES: usize = 16 << 20;

/// A place in a file to read on from: the byte offset of a line's start and the number of the
/// line before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resume {
    offset: u64,
    line: u64,
}

/// A file read line by line.
pub(crate) struct LineReader {
    path: PathBuf,
    rdr: BufReader<File>,
    buf: Vec<u8>,
    line: u64,
    /// Bytes read so far, and where the line last read starts.
    pos: u64,
    line_start: u64,
}

impl LineReader {
    pub(crate) fn open(path: &Path) -> Result<Self, TraceError> {
        let file =
            File::open(path).map_err(|e| TraceError::io(path, 0, "open the trace file", e))?;
        Ok(LineReader {
            path: path.to_path_buf(),
            rdr: BufReader::with_capacity(64 << 10, file),
            buf: Vec::new(),
            line: 0,
            pos: 0,
            line_start: 0,
        })
    }

    /// Where the line last read starts, to read it again from there.
    pub(crate) fn resume_point(&self) -> Resume {
        Resume {
            offset: self.line_start,
            line: self.line.saturating_sub(1),
        }
    }

    /// Goes to `at` (a point this reader's file gave), so the next line read is the one there.
    pub(crate) fn resume(&mut self, at: Resume) -> Result<(), TraceError> {
        self.rdr
            .seek(SeekFrom::Start(at.offset))
            .map_err(|e| TraceError::io(&self.path, at.line + 1, "read the trace file", e))?;
        self.pos = at.offset;
        self.line = at.line;
        Ok(())
    }

    /// The path being read.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The number of the line last read (1-based; 0 before the first).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The text of the line last read, without its line end.
    pub(crate) fn text(&self) -> &[u8] {
        &self.buf
    }

    /// Reads the next line; `None` at the end of the file.
    pub(crate) fn advance(&mut self) -> Option<Result<(), Fault>> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = (&mut self.rdr).take(limit).read_until(b'\n', &mut self.buf);
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                return Some(Err(Fault::Fatal(TraceError::io(
                    &self.path,
                    self.line + 1,
                    "read the trace file",
                    e,
                ))));
            }
        };
        if n == 0 {
            return None;
        }
        self.line_start = self.pos;
        self.pos += n as u64;
        self.line += 1;
        if self.buf.last() != Some(&b'\n') && self.buf.len() > MAX_LINE_BYTES {
            let head = quote(self.buf.get(..40).unwrap_or_default());
            self.buf.clear();
            if let Err(e) = self.skip_rest_of_line() {
                return Some(Err(Fault::Fatal(TraceError::io(
                    &self.path,
                    self.line,
                    "read the trace file",
                    e,
                ))));
            }
            return Some(Err(Fault::Row(TraceError::invalid(
                &self.path,
                self.line,
                format!(
                    "a line longer than {} MiB starting {head}",
                    MAX_LINE_BYTES >> 20
                ),
                "one request per line",
            ))));
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        if self.line == 1 && self.buf.starts_with(b"\xef\xbb\xbf") {
            self.buf.drain(..3);
        }
        Some(Ok(()))
    }

    /// Reads the next line that is not blank.
    pub(crate) fn advance_past_blank(&mut self) -> Option<Result<(), Fault>> {
        loop {
            match self.advance()? {
                Ok(()) if self.buf.iter().all(u8::is_ascii_whitespace) => continue,
                other => return Some(other),
            }
        }
    }

    fn skip_rest_of_line(&mut self) -> std::io::Result<()> {
        loop {
            let avail = self.rdr.fill_buf()?;
            if avail.is_empty() {
                return Ok(());
            }
            match avail.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.rdr.consume(i + 1);
                    self.pos += i as u64 + 1;
                    return Ok(());
                }
                None => {
                    let n = avail.len();
                    self.rdr.consume(n);
                    self.pos += n as u64;
                }
            }
        }
    }
}

/// The fields of one CSV row, trimmed and unquoted, in one reusable buffer.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Fields {
    /// Splits `line` (without its line end) at commas outside quotes.
    pub(crate) fn split(&mut self, line: &[u8]) -> Result<(), &'static str> {
        self.buf.clear();
        self.ends.clear();
        let is_space = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
        let mut i = 0;
        loop {
            while is_space(line.get(i)) {
                i += 1;
            }
            if line.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    match line.get(i) {
                        None => return Err("a quoted field without its closing quote"),
                        Some(b'"') if line.get(i + 1) == Some(&b'"') => {
                            self.buf.push(b'"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&b) => {
                            self.buf.push(b);
                            i += 1;
                        }
                    }
                }
                while is_space(line.get(i)) {
                    i += 1;
                }
                self.ends.push(self.buf.len());
                match line.get(i) {
                    None => return Ok(()),
                    Some(b',') => i += 1,
                    Some(_) => return Err("text after a closing quote"),
                }
            } else {
                let rest = line.get(i..).unwrap_or_default();
                let len = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
                let field = rest.get(..len).unwrap_or_default().trim_ascii_end();
                self.buf.extend_from_slice(field);
                self.ends.push(self.buf.len());
                i += len;
                if i >= line.len() {
                    return Ok(());
                }
                i += 1; // the comma
            }
        }
    }

    /// How many fields.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i` (empty if there is none).
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).copied().unwrap_or(0),
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.buf.get(start..end).unwrap_or_default()
    }

    /// The fields in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Result<Vec<String>, &'static str> {
        let mut f = Fields::default();
        f.split(line.as_bytes())?;
        Ok(f.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect())
    }

    #[test]
    fn splits_trims_and_unquotes() {
        assert_eq!(split("a,b,c"), Ok(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(
            split(" a , b ,c "),
            Ok(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(split("a,,"), Ok(vec!["a".into(), "".into(), "".into()]));
        assert_eq!(split(""), Ok(vec!["".into()]));
        assert_eq!(
            split("\"GPT-4, 32k\", \"say \"\"hi\"\"\" ,x"),
            Ok(vec!["GPT-4, 32k".into(), "say \"hi\"".into(), "x".into()])
        );
        assert_eq!(split("\"\""), Ok(vec!["".into()]));
        assert_eq!(split("a\"b,c"), Ok(vec!["a\"b".into(), "c".into()]));
    }

    #[test]
    fn bad_quotes_are_errors() {
        assert_eq!(
            split("\"abc"),
            Err("a quoted field without its closing quote")
        );
        assert_eq!(split("\"a\"b,c"), Err("text after a closing quote"));
        assert_eq!(
            split("x,\""),
            Err("a quoted field without its closing quote")
        );
    }

    #[test]
    fn lines_count_exactly_with_crlf_bom_and_no_final_newline() {
        let d = tempfile::tempdir().expect("tempdir");
        let path = d.path().join("t.txt");
        std::fs::write(&path, b"\xef\xbb\xbfa\r\n\r\nb\n\nc").expect("write");
        let mut r = LineReader::open(&path).expect("open");
        let mut got = Vec::new();
        while let Some(step) = r.advance_past_blank() {
            assert!(step.is_ok());
            got.push((r.line(), String::from_utf8_lossy(r.text()).into_owned()));
        }
        assert_eq!(got, [(1, "a".into()), (3, "b".into()), (5, "c".into())]);
    }

    #[test]
    fn reading_resumes_at_a_line() {
        let d = tempfile::tempdir().expect("tempdir");
        let path = d.path().join("t.txt");
        std::fs::write(&path, b"\xef\xbb\xbfh\r\nx\r\n\r\ny\nz").expect("write");
        let mut r = LineReader::open(&path).expect("open");
        let mut at = None;
        while let Some(step) = r.advance_past_blank() {
            assert!(step.is_ok());
            if r.text() == b"y" {
                at = Some(r.resume_point());
            }
        }
        let mut again = LineReader::open(&path).expect("open");
        again.resume(at.expect("y was read")).expect("seeks");
        assert!(matches!(again.advance_past_blank(), Some(Ok(()))));
        assert_eq!((again.line(), again.text()), (4, &b"y"[..]));
        assert!(matches!(again.advance_past_blank(), Some(Ok(()))));
        assert_eq!((again.line(), again.text()), (5, &b"z"[..]));
    }

    #[test]
    fn an_overlong_line_is_a_row_error_and_reading_goes_on() {
        let d = tempfile::tempdir().expect("tempdir");
        let path = d.path().join("t.txt");
        let mut text = vec![b'x'; MAX_LINE_BYTES + 10];
        text.extend_from_slice(b"\nnext\n");
        std::fs::write(&path, &text).expect("write");
        let mut r = LineReader::open(&path).expect("open");
        assert!(matches!(r.advance(), Some(Err(Fault::Row(e))) if e.line() == Some(1)));
        assert!(matches!(r.advance(), Some(Ok(()))));
        assert_eq!((r.line(), r.text()), (2, &b"next"[..]));
        assert!(r.advance().is_none());
    }
}
