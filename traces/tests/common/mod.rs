//! Helpers shared by the trace tests: files in a temporary directory, replays collected.

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use traces::{Format, Record, ReplaySpec};

/// A temporary directory for trace files.
pub fn dir() -> TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Writes `content` to `name` in `dir`.
pub fn file(dir: &TempDir, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write the trace");
    path
}

/// A spec for `path` in `format`, everything else default.
pub fn spec(path: &Path, format: Format) -> ReplaySpec {
    ReplaySpec::new(path, format)
}

/// Every record of a replay; panics on an error.
pub fn records(spec: &ReplaySpec) -> Vec<Record> {
    traces::open(spec)
        .unwrap_or_else(|e| panic!("open: {e}"))
        .map(|r| r.unwrap_or_else(|e| panic!("read: {e}")))
        .collect()
}

/// The first `n` records of a (looping) replay; panics on an error.
pub fn first(spec: &ReplaySpec, n: usize) -> Vec<Record> {
    traces::open(spec)
        .unwrap_or_else(|e| panic!("open: {e}"))
        .take(n)
        .map(|r| r.unwrap_or_else(|e| panic!("read: {e}")))
        .collect()
}

/// The send times of every record.
pub fn times(spec: &ReplaySpec) -> Vec<u64> {
    records(spec).iter().map(|r| r.t_ns).collect()
}

/// The error a replay ends with (at open or while reading), as displayed; panics if none.
pub fn error(spec: &ReplaySpec) -> String {
    match traces::open(spec) {
        Err(e) => e.to_string(),
        Ok(replay) => {
            for r in replay {
                if let Err(e) = r {
                    return e.to_string();
                }
            }
            panic!("{} replayed without an error", spec.file.display())
        }
    }
}

/// The error `scan` returns, as displayed; panics if none.
pub fn scan_error(spec: &ReplaySpec) -> String {
    match traces::scan(spec) {
        Err(e) => e.to_string(),
        Ok(s) => panic!("{} scanned without an error: {s:?}", spec.file.display()),
    }
}

/// Seconds as nanoseconds.
pub const S: u64 = 1_000_000_000;
