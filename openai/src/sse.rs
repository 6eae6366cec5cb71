//! Server-sent events: bytes in, in any split, events out, by the WHATWG event-stream rules
//! (HTML Living Standard, "Server-sent events", 9.2.5-9.2.6), with a bound on an event's size.

use thiserror::Error;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or `message` when there was none.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// A stream that breaks the parser's bound.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SseError {
    /// An event's fields (or a single line) grew past the limit before its blank line.
    #[error(
        "server-sent event larger than {limit} bytes: expected a blank line ending the event within {limit} bytes"
    )]
    EventTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// The default bound on an event's size: 1 MiB.
pub const DEFAULT_MAX_EVENT: usize = 1 << 20;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// An incremental event-stream parser (sans-IO): feed it the bytes as they arrive, take the
/// events it completed.
///
/// - Lines end in LF, CRLF or CR (a CRLF split between two feeds is one line end).
/// - A blank line dispatches the event; an event without `data` is not dispatched.
/// - `data:` lines are joined with `\n`; `event:` names the event; `id:`, `retry:` and unknown
///   fields are accepted and ignored; one space after the colon is dropped; a line without a
///   colon is a field with an empty value; lines that start with `:` are comments
///   (keep-alives) and ignored.
/// - A byte order mark at the very start is skipped; invalid UTF-8 becomes U+FFFD.
/// - An event (its data, its event name and the line being read) larger than the limit is an
///   [`SseError::EventTooLarge`]; the parser then skips to the event's blank line and goes on,
///   so memory stays bounded by the limit whatever the server sends.
/// - An event not ended by a blank line when the stream ends is never dispatched.
#[derive(Debug)]
pub struct SseParser {
    max_event: usize,
    /// Bytes of a possible BOM seen at the start; `None` once the start is past.
    bom: Option<usize>,
    line: Vec<u8>,
    /// The last byte fed was a CR: an LF right after it is the same line end.
    after_cr: bool,
    data: String,
    /// At least one `data` field in this event (the data buffer of the standard is then not
    /// empty even when `data` is).
    has_data: bool,
    event: String,
    /// Discarding an oversized event until its blank line.
    skipping: bool,
    out: Vec<Result<SseEvent, SseError>>,
}

impl Default for SseParser {
    fn default() -> SseParser {
        SseParser::new()
    }
}

impl SseParser {
    /// A parser with the default bound ([`DEFAULT_MAX_EVENT`]).
    pub fn new() -> SseParser {
        SseParser::with_limit(DEFAULT_MAX_EVENT)
    }

    /// A parser whose events may be at most `max_event` bytes.
    pub fn with_limit(max_event: usize) -> SseParser {
        SseParser {
            max_event,
            bom: Some(0),
            line: Vec::new(),
            after_cr: false,
            data: String::new(),
            has_data: false,
            event: String::new(),
            skipping: false,
            out: Vec::new(),
        }
    }

    /// Parses `bytes`, the next bytes of the stream, and returns the events (or errors) they
    /// completed, in order. Events not taken from the iterator are dropped.
    pub fn feed(&mut self, bytes: &[u8]) -> std::vec::Drain<'_, Result<SseEvent, SseError>> {
        let mut rest = bytes;
        if let Some(seen) = self.bom {
            rest = self.skip_bom(seen, rest);
        }
        while !rest.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    rest = &rest[1..];
                    continue;
                }
            }
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.take(&rest[..end]);
                    self.after_cr = rest[end] == b'\r';
                    self.end_line();
                    rest = &rest[end + 1..];
                }
                None => {
                    self.take(rest);
                    rest = &[];
                }
            }
        }
        self.out.drain(..)
    }

    /// Consumes the start of the stream while it may be a BOM; returns the rest.
    fn skip_bom<'a>(&mut self, seen: usize, bytes: &'a [u8]) -> &'a [u8] {
        let mut seen = seen;
        let mut used = 0;
        while seen < BOM.len() && used < bytes.len() {
            if bytes[used] != BOM[seen] {
                // Not a BOM: what looked like one is the line's first bytes.
                self.bom = None;
                self.take(&BOM[..seen]);
                return &bytes[used..];
            }
            seen += 1;
            used += 1;
        }
        self.bom = (seen < BOM.len()).then_some(seen);
        &bytes[used..]
    }

    /// Appends a piece of the current line, within the bound.
    fn take(&mut self, piece: &[u8]) {
        if self.skipping {
            // Only whether the line is blank matters now.
            if !piece.is_empty() && self.line.is_empty() {
                self.line.push(b'x');
            }
            return;
        }
        let size = self.line.len() + piece.len() + self.data.len() + self.event.len();
        if size > self.max_event {
            self.out.push(Err(SseError::EventTooLarge {
                limit: self.max_event,
            }));
            self.reset_event();
            self.skipping = true;
            self.line.clear();
            if !piece.is_empty() {
                self.line.push(b'x');
            }
            return;
        }
        self.line.extend_from_slice(piece);
    }

    /// A line ended: process it.
    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        if self.skipping {
            if line.is_empty() {
                self.skipping = false;
            }
            return;
        }
        if line.is_empty() {
            self.dispatch();
        } else if line[0] != b':' {
            let (name, value) = match line.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let value = &line[colon + 1..];
                    (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
                }
                None => (&line[..], &[][..]),
            };
            match name {
                b"data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(&String::from_utf8_lossy(value));
                    self.has_data = true;
                }
                b"event" => {
                    self.event.clear();
                    self.event.push_str(&String::from_utf8_lossy(value));
                }
                // `id`, `retry` and anything else: accepted, ignored.
                _ => {}
            }
        }
        // Keep the line's allocation for the next one.
        self.line = line;
        self.line.clear();
    }

    fn dispatch(&mut self) {
        if self.has_data {
            let event = if self.event.is_empty() {
                "message".to_string()
            } else {
                std::mem::take(&mut self.event)
            };
            self.out.push(Ok(SseEvent {
                event,
                data: std::mem::take(&mut self.data),
            }));
        }
        self.reset_event();
    }

    fn reset_event(&mut self) {
        self.data.clear();
        self.event.clear();
        self.has_data = false;
    }

    /// Whether bytes of an event not yet dispatched are held (the stream stopped mid-event, if
    /// it ends now).
    pub fn pending(&self) -> bool {
        self.has_data || !self.line.is_empty() || !self.event.is_empty()
    }
}
