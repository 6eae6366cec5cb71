//! The real Azure LLM inference trace 2023 (conversation): the first 300 requests shipped in
//! tests/data, and the whole file when `shared/traces/` is beside the repository.
//!
//! Data: CC-BY 4.0, Patel et al., "Splitwise: Efficient generative LLM inference using phase
//! splitting", ISCA 2024.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{S, first, records, spec};
use traces::{Format, Window};

/// 2023-11-16 18:15:46.6805900 UTC in ns since 1970-01-01.
const FIRST_NS: i64 = 1_700_158_546_680_590_000;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn the_shipped_head_of_the_conversation_trace() {
    let s = spec(&data("azure-llm-2023-conv-head.csv"), Format::AzureLlm);
    let all = records(&s);
    assert_eq!(all.len(), 300);
    assert_eq!(
        (
            all[0].t_ns,
            all[0].prompt_tokens,
            all[0].output_tokens,
            all[0].line
        ),
        (0, Some(374), Some(44), 2)
    );
    // 2023-11-16 18:15:50.9951690, 396, 109.
    assert_eq!(
        (all[1].t_ns, all[1].prompt_tokens),
        (4_314_579_000, Some(396))
    );
    // The last row, 18:17:10.7096920,212,183 with no line end after it.
    let last = all[299];
    assert_eq!(
        (last.t_ns, last.prompt_tokens, last.output_tokens, last.line),
        (84_029_102_000, Some(212), Some(183), 301)
    );

    let summary = traces::scan(&s).expect("scans");
    assert_eq!(
        (summary.rows, summary.requests, summary.skipped),
        (300, 300, 0)
    );
    assert_eq!(summary.first_ns, FIRST_NS);
    assert_eq!(summary.span, Duration::from_nanos(84_029_102_000));
    assert!(summary.prompt_tokens && summary.output_tokens && !summary.duration);
    assert_eq!(summary.mean_rate, Some(299.0 / 84.029_102));

    // Twice as fast, the second half only, looped: the second pass starts 21 s in.
    let mut fast = s.clone();
    fast.speed = 2.0;
    fast.window = Window {
        start: Duration::from_secs(42),
        length: Some(Duration::from_secs(42)),
    };
    fast.looping = true;
    let window: Vec<_> = all
        .iter()
        .filter(|r| (42 * S..84 * S).contains(&r.t_ns))
        .map(|r| (r.t_ns - 42 * S) / 2)
        .collect();
    let got: Vec<_> = first(&fast, 2 * window.len())
        .iter()
        .map(|r| r.t_ns)
        .collect();
    let expected: Vec<_> = window
        .iter()
        .copied()
        .chain(window.iter().map(|t| t + 21 * S))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn the_whole_conversation_trace_when_it_is_there() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/traces/azure-llm-2023-conv.csv");
    if !path.exists() {
        eprintln!(
            "{} is not there: only the shipped head is tested",
            path.display()
        );
        return;
    }
    let s = spec(&path, Format::AzureLlm);
    let summary = traces::scan(&s).expect("scans");
    assert_eq!(
        (summary.rows, summary.requests, summary.skipped),
        (19_366, 19_366, 0)
    );
    assert_eq!(summary.first_ns, FIRST_NS);
    // 18:15:46.6805900 to 19:14:08.4025270.
    assert_eq!(summary.span, Duration::from_nanos(3_501_721_937_000));
    let all = records(&s);
    assert_eq!(all.len(), 19_366);
    assert_eq!(
        all.last()
            .map(|r| (r.t_ns, r.prompt_tokens, r.output_tokens, r.line)),
        Some((3_501_721_937_000, Some(197), Some(183), 19_367))
    );
    // A window past its end: nothing in it, said with the last line read.
    let mut late = s.clone();
    late.window = Window {
        start: Duration::from_secs(7200),
        length: Some(Duration::from_secs(3600)),
    };
    assert_eq!(
        common::error(&late),
        format!(
            "{0}:19367: no requests in {0} within the window [2h, 3h); expected at least one request",
            path.display()
        )
    );
    // The shipped head is its first 300 rows.
    let head = records(&spec(
        &data("azure-llm-2023-conv-head.csv"),
        Format::AzureLlm,
    ));
    assert_eq!(&all[..300], &head[..]);
}

/// The worked example of docs/traces.md ("The transforms, worked").
#[test]
fn the_worked_example_of_the_docs() {
    let mut s = spec(&data("azure-llm-2023-conv-head.csv"), Format::AzureLlm);
    s.window = Window {
        start: Duration::from_secs(4),
        length: Some(Duration::from_secs(2)),
    };
    s.speed = 2.0;
    s.looping = true;
    let got: Vec<_> = first(&s, 8)
        .iter()
        .map(|r| (r.t_ns, r.line, r.prompt_tokens))
        .collect();
    assert_eq!(
        got,
        [
            (157_289_500, 3, Some(396)),
            (270_938_500, 4, Some(879)),
            (355_213_500, 5, Some(91)),
            (946_327_500, 6, Some(91)),
            (1_157_289_500, 3, Some(396)),
            (1_270_938_500, 4, Some(879)),
            (1_355_213_500, 5, Some(91)),
            (1_946_327_500, 6, Some(91)),
        ]
    );
    // Rate scale 1.5: each is sent once, and a copy with probability 0.5 lands between it and
    // the next request (the last one's before the pass ends at 1 s).
    s.rate_scale = 1.5;
    s.looping = false;
    let scaled = records(&s);
    let originals = [
        157_289_500,
        270_938_500,
        355_213_500,
        946_327_500,
        1_000_000_000,
    ];
    for r in &scaled {
        let i = originals
            .iter()
            .rposition(|&t| t <= r.t_ns)
            .expect("after the first");
        assert_eq!(r.line, i as u64 + 3);
        assert!(r.t_ns < originals[i + 1]);
    }
    for (i, t) in originals[..4].iter().enumerate() {
        assert!(
            scaled
                .iter()
                .any(|r| r.t_ns == *t && r.line == i as u64 + 3)
        );
    }
}
