//! The external sort of unsorted traces (Azure Functions 2021, a generic CSV with
//! `sorted = false`): rows are read in chunks of at most `chunk` rows, each chunk is sorted in
//! memory and spilled to a temporary file as a run, and the runs are merged k ways (at most
//! [`FAN_IN`] at once, in rounds when there are more). Memory: one chunk, then [`FAN_IN`] read
//! buffers, whatever the file's size. A trace that fits in one chunk stays in memory.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::NamedTempFile;

use crate::error::TraceError;
use crate::source::Raw;

/// The most runs merged at once.
pub(crate) const FAN_IN: usize = 64;

/// Bytes of one row in a run: t, line, flags, prompt, output, duration.
const ROW_BYTES: usize = 8 + 8 + 1 + 4 + 4 + 8;

/// A run: a byte range of a spill file.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    file: Arc<NamedTempFile>,
    start: u64,
    rows: u64,
}

/// A sorted trace: one in-memory chunk, or runs on disk to merge.
#[derive(Debug)]
pub(crate) enum Sorted {
    /// Everything fitted in one chunk.
    Memory(Arc<[Raw]>),
    /// At most [`FAN_IN`] sorted runs.
    Runs(Vec<Run>),
}

/// What the sort did, to show its memory stayed bounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SortStats {
    /// The most rows held in memory at once.
    pub(crate) peak_rows: usize,
    /// Runs spilled to disk, all rounds counted.
    pub(crate) runs_spilled: u64,
    /// Merge rounds before the final merge.
    pub(crate) rounds: u64,
}

/// The sort key: time, then line (lines are unique, so the order is total and deterministic).
fn key(r: &Raw) -> (i64, u64) {
    (r.t, r.line)
}

/// Sorts `rows` (stopping at the first error) with chunks of at most `chunk` rows.
pub(crate) fn sort(
    path: &Path,
    chunk: usize,
    mut rows: impl FnMut() -> Option<Result<Raw, TraceError>>,
) -> Result<(Sorted, SortStats), TraceError> {
    let chunk = chunk.max(1);
    let mut stats = SortStats::default();
    let mut buf: Vec<Raw> = Vec::with_capacity(chunk.min(1 << 16));
    let mut runs: Vec<Run> = Vec::new();
    let mut spill: Option<Spill> = None;
    loop {
        let row = rows().transpose()?;
        if let Some(row) = row {
            buf.push(row);
            stats.peak_rows = stats.peak_rows.max(buf.len());
            if buf.len() < chunk {
                continue;
            }
        }
        if buf.is_empty() && row.is_none() {
            break;
        }
        buf.sort_unstable_by_key(key);
        if row.is_none() && runs.is_empty() {
            return Ok((Sorted::Memory(Arc::from(buf)), stats));
        }
        let out = match &mut spill {
            Some(s) => s,
            None => spill.insert(Spill::new(path)?),
        };
        runs.push(out.write_run(buf.drain(..))?);
        stats.runs_spilled += 1;
        if row.is_none() {
            break;
        }
    }
    if let Some(s) = spill {
        s.finish()?;
    }
    drop(buf);
    while runs.len() > FAN_IN {
        stats.rounds += 1;
        let mut next = Vec::new();
        let mut out = Spill::new(path)?;
        for group in runs.chunks(FAN_IN) {
            let mut merge = Merge::new(path, group)?;
            next.push(out.write_run_from(|| merge.next())?);
            stats.runs_spilled += 1;
        }
        out.finish()?;
        runs = next;
    }
    Ok((Sorted::Runs(runs), stats))
}

/// A spill file being written.
struct Spill {
    path: PathBuf,
    file: Arc<NamedTempFile>,
    out: BufWriter<File>,
    at: u64,
}

impl Spill {
    fn new(path: &Path) -> Result<Self, TraceError> {
        let io = |e| TraceError::io(path, 0, "create the external sort's temporary file", e);
        let file = NamedTempFile::new().map_err(io)?;
        let handle = file.reopen().map_err(io)?;
        Ok(Spill {
            path: path.to_path_buf(),
            file: Arc::new(file),
            out: BufWriter::new(handle),
            at: 0,
        })
    }

    fn write_run(&mut self, rows: impl Iterator<Item = Raw>) -> Result<Run, TraceError> {
        let mut rows = rows.map(Ok);
        self.write_run_from(|| rows.next())
    }

    fn write_run_from(
        &mut self,
        mut rows: impl FnMut() -> Option<Result<Raw, TraceError>>,
    ) -> Result<Run, TraceError> {
        let start = self.at;
        let mut n = 0u64;
        while let Some(row) = rows() {
            self.out.write_all(&encode(&row?)).map_err(|e| {
                TraceError::io(&self.path, 0, "write the external sort's temporary file", e)
            })?;
            n += 1;
        }
        self.at += n * ROW_BYTES as u64;
        Ok(Run {
            file: Arc::clone(&self.file),
            start,
            rows: n,
        })
    }

    fn finish(mut self) -> Result<(), TraceError> {
        self.out.flush().map_err(|e| {
            TraceError::io(&self.path, 0, "write the external sort's temporary file", e)
        })
    }
}

fn encode(r: &Raw) -> [u8; ROW_BYTES] {
    let mut b = [0u8; ROW_BYTES];
    let flags = u8::from(r.prompt.is_some())
        | (u8::from(r.output.is_some()) << 1)
        | (u8::from(r.duration.is_some()) << 2);
    let parts: [&[u8]; 6] = [
        &r.t.to_le_bytes(),
        &r.line.to_le_bytes(),
        &[flags],
        &r.prompt.unwrap_or(0).to_le_bytes(),
        &r.output.unwrap_or(0).to_le_bytes(),
        &r.duration.unwrap_or(0).to_le_bytes(),
    ];
    let mut at = 0;
    for p in parts {
        if let Some(dst) = b.get_mut(at..at + p.len()) {
            dst.copy_from_slice(p);
        }
        at += p.len();
    }
    b
}

fn decode(b: &[u8; ROW_BYTES]) -> Raw {
    let take = |at: usize, out: &mut [u8]| {
        if let Some(src) = b.get(at..at + out.len()) {
            out.copy_from_slice(src);
        }
    };
    let (mut t, mut line, mut p, mut o, mut d) = ([0u8; 8], [0u8; 8], [0u8; 4], [0u8; 4], [0u8; 8]);
    take(0, &mut t);
    take(8, &mut line);
    let flags = b.get(16).copied().unwrap_or(0);
    take(17, &mut p);
    take(21, &mut o);
    take(25, &mut d);
    Raw {
        t: i64::from_le_bytes(t),
        line: u64::from_le_bytes(line),
        prompt: (flags & 1 != 0).then(|| u32::from_le_bytes(p)),
        output: (flags & 2 != 0).then(|| u32::from_le_bytes(o)),
        duration: (flags & 4 != 0).then(|| u64::from_le_bytes(d)),
    }
}

/// A reader of one run.
struct RunReader {
    rdr: BufReader<File>,
    left: u64,
}

impl RunReader {
    fn open(path: &Path, run: &Run) -> Result<Self, TraceError> {
        let io = |e| TraceError::io(path, 0, "read the external sort's temporary file", e);
        let mut file = run.file.reopen().map_err(io)?;
        file.seek(SeekFrom::Start(run.start)).map_err(io)?;
        Ok(RunReader {
            rdr: BufReader::new(file),
            left: run.rows,
        })
    }

    fn next(&mut self, path: &Path) -> Result<Option<Raw>, TraceError> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; ROW_BYTES];
        self.rdr
            .read_exact(&mut b)
            .map_err(|e| TraceError::io(path, 0, "read the external sort's temporary file", e))?;
        self.left -= 1;
        Ok(Some(decode(&b)))
    }
}

/// A k-way merge of sorted runs, or a walk over the in-memory chunk.
pub(crate) struct Merge {
    path: PathBuf,
    readers: Vec<RunReader>,
    heads: BinaryHeap<Reverse<((i64, u64), usize)>>,
    current: Vec<Option<Raw>>,
    memory: Option<(Arc<[Raw]>, usize)>,
    failed: bool,
}

impl Merge {
    fn new(path: &Path, runs: &[Run]) -> Result<Self, TraceError> {
        let mut merge = Merge {
            path: path.to_path_buf(),
            readers: Vec::with_capacity(runs.len()),
            heads: BinaryHeap::with_capacity(runs.len()),
            current: Vec::with_capacity(runs.len()),
            memory: None,
            failed: false,
        };
        for (i, run) in runs.iter().enumerate() {
            let mut rdr = RunReader::open(path, run)?;
            let head = rdr.next(path)?;
            if let Some(h) = &head {
                merge.heads.push(Reverse((key(h), i)));
            }
            merge.current.push(head);
            merge.readers.push(rdr);
        }
        Ok(merge)
    }

    /// A pass over a sorted trace.
    pub(crate) fn over(path: &Path, sorted: &Sorted) -> Result<Self, TraceError> {
        match sorted {
            Sorted::Memory(rows) => Ok(Merge {
                path: path.to_path_buf(),
                readers: Vec::new(),
                heads: BinaryHeap::new(),
                current: Vec::new(),
                memory: Some((Arc::clone(rows), 0)),
                failed: false,
            }),
            Sorted::Runs(runs) => Merge::new(path, runs),
        }
    }

    /// The next row in time order.
    pub(crate) fn next(&mut self) -> Option<Result<Raw, TraceError>> {
        if let Some((rows, at)) = &mut self.memory {
            let row = rows.get(*at).copied();
            *at += 1;
            return row.map(Ok);
        }
        if self.failed {
            return None;
        }
        let Reverse((_, i)) = self.heads.pop()?;
        let row = self.current.get_mut(i).and_then(Option::take)?;
        let next = match self.readers.get_mut(i) {
            Some(rdr) => rdr.next(&self.path),
            None => Ok(None),
        };
        match next {
            Ok(Some(n)) => {
                self.heads.push(Reverse((key(&n), i)));
                if let Some(slot) = self.current.get_mut(i) {
                    *slot = Some(n);
                }
            }
            Ok(None) => {}
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        }
        Some(Ok(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(t: i64, line: u64) -> Raw {
        Raw {
            t,
            prompt: line.is_multiple_of(2).then_some(line as u32),
            output: None,
            duration: line.is_multiple_of(3).then_some(line * 7),
            line,
        }
    }

    fn sorted_lines(n: u64, chunk: usize) -> (Vec<Raw>, SortStats) {
        // A scrambled but deterministic order of times, with ties.
        let mut rows = (0..n).map(|i| raw(((i * 7919) % 1000) as i64 - 500, i + 2));
        let (sorted, stats) = sort(Path::new("t.csv"), chunk, || rows.next().map(Ok))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut merge = Merge::over(Path::new("t.csv"), &sorted).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        while let Some(r) = merge.next() {
            out.push(r.unwrap_or_else(|e| panic!("{e}")));
        }
        (out, stats)
    }

    #[test]
    fn encode_round_trips() {
        for r in [raw(-5, 2), raw(i64::MAX, 3), raw(i64::MIN, 6)] {
            assert_eq!(decode(&encode(&r)), r);
        }
    }

    #[test]
    fn sorts_in_memory_spilled_and_in_rounds_alike() {
        let (expected, stats) = sorted_lines(5_000, 10_000);
        assert_eq!(stats.runs_spilled, 0);
        assert_eq!(expected.len(), 5_000);
        assert!(expected.windows(2).all(|w| key(&w[0]) < key(&w[1])));
        for chunk in [1_000, 37, 1] {
            let (got, stats) = sorted_lines(5_000, chunk);
            assert_eq!(got, expected, "chunk {chunk}");
            assert!(stats.peak_rows <= chunk);
            assert!(stats.runs_spilled >= (5_000 / chunk) as u64);
        }
        let (_, stats) = sorted_lines(5_000, 1);
        assert_eq!(stats.rounds, 2); // 5000 runs -> 79 -> 2
    }

    #[test]
    fn an_error_stops_the_sort() {
        let mut n = 0;
        let result = sort(Path::new("t.csv"), 2, || {
            n += 1;
            Some(if n < 5 {
                Ok(raw(n, n as u64))
            } else {
                Err(TraceError::invalid(Path::new("t.csv"), 9, "x", "y"))
            })
        });
        assert!(matches!(result, Err(e) if e.line() == Some(9)));
    }
}
