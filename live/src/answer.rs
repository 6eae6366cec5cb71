//! Reading an OpenAI-compatible answer as it comes: the clients (`h1`'s own, hyper's HTTP/1.1
//! and HTTP/2) hand each read's body bytes to a [`Sink`], which for an OpenAI request is a
//! [`Reading`]: a streamed answer (`text/event-stream`) is kept with the instant of every read
//! on the engine's clock (the clock of the intended, sent and done times), and fed read by
//! read, each with its instant, to `openai`'s `StreamDecoder` at its end, on the collector's
//! thread: the sans-IO decoder gives the same result as if fed at each read, and the sending
//! thread only copies bytes and reads the clock. Any other 2xx body is kept whole and decoded
//! at its end. A plain request reads through [`Skip`], which the compiler folds away: its body
//! is skipped as before, with no allocation or clock read added.

use openai::{Api, Completion, Encoding, StreamDecoder, decode_body};

use crate::engine::Clock;

/// The largest answer kept for decoding; a larger one is cut there and fails (a stream cut
/// before its `[DONE]`, a body that is not JSON).
const MAX_WHOLE: usize = 16 * 1024 * 1024;

/// What a client does with an answer's body.
pub(crate) trait Sink {
    /// Whether the body goes through [`Sink::data`]; false: it is skipped unseen.
    const READS: bool;
    /// The final answer's head: its status and whether its body is an event stream.
    fn head(&mut self, status: u16, event_stream: bool);
    /// A read from the connection just completed: later [`Sink::data`] came in it.
    fn read(&mut self);
    /// Body bytes (de-chunked), in order.
    fn data(&mut self, bytes: &[u8]);
}

/// The plain path: the body is skipped.
pub(crate) struct Skip;

impl Sink for Skip {
    const READS: bool = false;

    #[inline(always)]
    fn head(&mut self, _status: u16, _event_stream: bool) {}

    #[inline(always)]
    fn read(&mut self) {}

    #[inline(always)]
    fn data(&mut self, _bytes: &[u8]) {}
}

/// Whether a `Content-Type` value is `text/event-stream` (parameters aside, any case).
pub(crate) fn is_event_stream(content_type: &[u8]) -> bool {
    const ES: &[u8] = b"text/event-stream";
    let value = content_type.trim_ascii_start();
    value.len() >= ES.len()
        && value[..ES.len()].eq_ignore_ascii_case(ES)
        && value[ES.len()..]
            .first()
            .is_none_or(|&b| b == b';' || b.is_ascii_whitespace())
}

/// An OpenAI request's answer being read.
#[derive(Debug)]
pub struct Reading {
    api: Api,
    encoding: Encoding,
    clock: Clock,
    /// The instant of the last read, scenario ns.
    at_ns: u64,
    /// The prompt's length as sent, in the scenario's encoding.
    prompt_tokens: u32,
    body: Body,
}

#[derive(Debug)]
enum Body {
    /// No head yet.
    Unread,
    /// A 2xx event stream: its bytes, and the end (in `bytes`) and instant of each read.
    Stream {
        bytes: Vec<u8>,
        reads: Vec<(usize, u64)>,
    },
    /// A 2xx body of another type, kept whole.
    Whole(Vec<u8>),
    /// Not a 2xx answer: its body is not the completion.
    Ignored,
}

impl Reading {
    /// A reading of an `api` answer on `clock`, for a prompt of `prompt_tokens` tokens.
    pub(crate) fn new(api: Api, encoding: Encoding, clock: Clock, prompt_tokens: u32) -> Reading {
        Reading {
            api,
            encoding,
            clock,
            at_ns: 0,
            prompt_tokens,
            body: Body::Unread,
        }
    }

    /// The prompt's length as sent.
    pub(crate) fn prompt_tokens(&self) -> u32 {
        self.prompt_tokens
    }

    /// Whether the answer is an event stream (a whole body has no first token of its own).
    pub(crate) fn streamed(&self) -> bool {
        matches!(self.body, Body::Stream { .. })
    }

    /// The answer, which ended at `end_ns`; `None` when it was not a 2xx answer.
    pub(crate) fn finish(self, end_ns: u64) -> Option<Completion> {
        match self.body {
            Body::Stream { bytes, reads } => {
                let mut d = StreamDecoder::new(self.api, Some(self.encoding));
                let mut start = 0;
                for (end, at_ns) in reads {
                    d.feed(&bytes[start..end], at_ns);
                    start = end;
                }
                Some(d.finish(end_ns))
            }
            Body::Whole(b) => Some(decode_body(self.api, Some(self.encoding), &b, end_ns)),
            Body::Unread | Body::Ignored => None,
        }
    }
}

impl Sink for Reading {
    const READS: bool = true;

    fn head(&mut self, status: u16, event_stream: bool) {
        self.body = match (status, event_stream) {
            (200..=299, true) => Body::Stream {
                bytes: Vec::with_capacity(4096),
                reads: Vec::with_capacity(64),
            },
            (200..=299, false) => Body::Whole(Vec::new()),
            _ => Body::Ignored,
        };
    }

    fn read(&mut self) {
        self.at_ns = self.clock.now_ns();
    }

    fn data(&mut self, bytes: &[u8]) {
        let keep = |b: &mut Vec<u8>| {
            let room = MAX_WHOLE.saturating_sub(b.len());
            b.extend_from_slice(&bytes[..bytes.len().min(room)]);
        };
        match &mut self.body {
            Body::Stream { bytes, reads } => {
                keep(bytes);
                match reads.last_mut() {
                    // More bytes of the same read.
                    Some((end, at)) if *at == self.at_ns => *end = bytes.len(),
                    _ => reads.push((bytes.len(), self.at_ns)),
                }
            }
            Body::Whole(b) => keep(b),
            Body::Unread | Body::Ignored => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_streams_are_known_by_their_content_type() {
        for yes in [
            &b"text/event-stream"[..],
            b"Text/Event-Stream; charset=utf-8",
            b" text/event-stream",
        ] {
            assert!(is_event_stream(yes), "{yes:?}");
        }
        for no in [&b"application/json"[..], b"text/event-streams", b""] {
            assert!(!is_event_stream(no), "{no:?}");
        }
    }
}
