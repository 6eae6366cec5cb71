//! Streams in each framing and the ways to cut them, shared by the stream tests.

#![allow(dead_code)]

use std::ops::Range;

/// How lines end.
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    Lf,
    CrLf,
    Cr,
}

pub const FRAMINGS: [Framing; 3] = [Framing::Lf, Framing::CrLf, Framing::Cr];

impl Framing {
    pub fn line_end(self) -> &'static str {
        match self {
            Framing::Lf => "\n",
            Framing::CrLf => "\r\n",
            Framing::Cr => "\r",
        }
    }
}

/// A framed stream: its bytes and, per event, the offset of the byte that dispatches it (the
/// first byte of its blank line's line end).
pub struct Stream {
    pub bytes: Vec<u8>,
    pub dispatch: Vec<usize>,
}

/// `events` (each its lines joined by `\n`), each followed by a blank line, then `tail` (an
/// unfinished event, lines joined by `\n`), all with `framing`'s line ends.
pub fn frame(events: &[&str], tail: &str, framing: Framing) -> Stream {
    let le = framing.line_end();
    let mut out = String::new();
    let mut dispatch = Vec::new();
    for event in events {
        for line in event.split('\n') {
            out.push_str(line);
            out.push_str(le);
        }
        dispatch.push(out.len());
        out.push_str(le);
    }
    out.push_str(&tail.replace('\n', le));
    Stream {
        bytes: out.into_bytes(),
        dispatch,
    }
}

/// Every way of cutting `n` bytes the tests use: whole, in two at every byte boundary, and
/// into single bytes.
pub fn splits(n: usize) -> Vec<Vec<Range<usize>>> {
    let mut all = vec![vec![0..n]];
    for i in 1..n {
        all.push(vec![0..i, i..n]);
    }
    all.push((0..n).map(|i| i..i + 1).collect());
    all
}

/// The index of the piece of `split` that holds byte `offset`.
pub fn piece_of(split: &[Range<usize>], offset: usize) -> u64 {
    split
        .iter()
        .position(|r| r.contains(&offset))
        .map_or(u64::MAX, |i| i as u64)
}
