//! Large traces stream in bounded memory: 2,000,000 rows written to a temporary directory, read
//! lazily (sorted format) and through the external sort (unsorted format). The bound is checked
//! structurally: the sort never holds more than its chunk, the lazy path holds no rows at all.

mod common;

use std::io::{BufWriter, Write};

use common::{dir, spec};
use traces::Format;

const ROWS: u64 = 2_000_000;

#[test]
fn two_million_sorted_rows_stream_lazily() {
    let d = dir();
    let path = d.path().join("llm.csv");
    let mut out = BufWriter::new(std::fs::File::create(&path).expect("create"));
    writeln!(out, "TIMESTAMP,ContextTokens,GeneratedTokens").expect("write");
    for i in 0..ROWS {
        // One request every 1.5 ms from midnight.
        let ms = i * 3 / 2;
        let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        writeln!(
            out,
            "2024-05-10 {h:02}:{m:02}:{s:02}.{frac:03}000+00:00,{},{}",
            i % 4000,
            i % 500
        )
        .expect("write");
    }
    out.flush().expect("flush");
    drop(out);

    let s = spec(&path, Format::AzureLlm);
    let mut replay = traces::open(&s).expect("opens");
    let mut n = 0u64;
    let mut prev = 0;
    for r in replay.by_ref() {
        let r = r.expect("reads");
        assert!(r.t_ns >= prev);
        prev = r.t_ns;
        n += 1;
    }
    assert_eq!(n, ROWS);
    assert_eq!(prev, (ROWS - 1) * 3 / 2 * 1_000_000);
    assert_eq!(replay.rows_held_peak(), 0, "the lazy path holds no rows");
    assert_eq!(replay.sort_runs_spilled(), 0);
    let summary = traces::scan(&s).expect("scans");
    assert_eq!(summary.requests, ROWS);
}

#[test]
fn two_million_unsorted_rows_sort_in_bounded_chunks() {
    let d = dir();
    let path = d.path().join("functions.csv");
    let mut out = BufWriter::new(std::fs::File::create(&path).expect("create"));
    writeln!(out, "app,func,end_timestamp,duration").expect("write");
    for i in 0..ROWS {
        // A scrambled order: end times are a permutation of 0..ROWS ms, durations 0..=9 ms.
        let end_ms = (i * 1_234_567) % ROWS;
        let dur_ms = i % 10;
        writeln!(
            out,
            "a{},f,{}.{:03},0.{:03}",
            i % 7,
            end_ms / 1000,
            end_ms % 1000,
            dur_ms
        )
        .expect("write");
    }
    out.flush().expect("flush");
    drop(out);

    let mut s = spec(&path, Format::AzureFunctions2021);
    s.sort_chunk_rows = 50_000;
    let mut replay = traces::open(&s).expect("opens");
    assert_eq!(
        replay.rows_held_peak(),
        50_000,
        "never more than one chunk in memory"
    );
    assert_eq!(replay.sort_runs_spilled(), 40);
    let mut n = 0u64;
    let mut prev = 0;
    for r in replay.by_ref() {
        let r = r.expect("reads");
        assert!(r.t_ns >= prev, "row {n}");
        prev = r.t_ns;
        n += 1;
    }
    assert_eq!(n, ROWS);
    let summary = traces::scan(&s).expect("scans");
    assert_eq!(summary.requests, ROWS);
    // The earliest arrival is -9 ms at worst; the span covers the permutation.
    assert!(summary.span.as_millis() >= 1_999_990);
}
