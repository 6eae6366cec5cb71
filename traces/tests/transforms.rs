//! The transforms' arithmetic, to the nanosecond: window (trace time) -> speed -> rate scale ->
//! loop; and the spec as a scenario writes it.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{S, dir, error, file, first, records, scan_error, spec, times};
use tempfile::TempDir;
use traces::{CsvColumns, Format, ReplaySpec, Spread, TimeUnit, Window};

fn seconds() -> Format {
    Format::Csv(CsvColumns {
        time_column: "t".into(),
        time_unit: TimeUnit::S,
        prompt_column: Some("p".into()),
        output_column: None,
        sorted: true,
    })
}

/// A trace with requests at these seconds (prompt tokens = index).
fn trace(d: &TempDir, secs: &[f64]) -> PathBuf {
    let mut text = String::from("t,p\n");
    for (i, s) in secs.iter().enumerate() {
        text.push_str(&format!("{s:.9},{i}\n"));
    }
    file(d, "t.csv", text)
}

fn window(start: u64, length: Option<u64>) -> Window {
    Window {
        start: Duration::from_millis(start),
        length: length.map(Duration::from_millis),
    }
}

const TEN: [f64; 10] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];

#[test]
fn the_replay_starts_at_the_first_request_or_the_window_start() {
    let d = dir();
    let path = trace(&d, &[100.0, 101.5, 103.0]);
    let mut s = spec(&path, seconds());
    assert_eq!(times(&s), [0, 1_500_000_000, 3 * S]);
    s.window = window(1_000, None);
    assert_eq!(times(&s), [500_000_000, 2 * S]);
    s.window = window(1_000, Some(1_000));
    assert_eq!(times(&s), [500_000_000]);
    s.window = window(1_500, Some(1_500)); // half-open: [1.5 s, 3 s)
    assert_eq!(times(&s), [0]);
    assert_eq!(records(&s)[0].prompt_tokens, Some(1));
}

#[test]
fn speed_divides_trace_time_exactly() {
    let d = dir();
    let path = trace(&d, &[0.0, 1.0, 2.000000001, 10.0]);
    let mut s = spec(&path, seconds());
    s.speed = 2.0;
    assert_eq!(times(&s), [0, 500_000_000, 1_000_000_000, 5 * S]);
    s.speed = 3.0;
    assert_eq!(times(&s), [0, 333_333_333, 666_666_667, 3_333_333_333]);
    s.speed = 0.1;
    assert_eq!(times(&s), [0, 10 * S, 20_000_000_010, 100 * S]);
    // The window is in trace time, before speed.
    s.speed = 2.0;
    s.window = window(1_000, Some(9_000));
    assert_eq!(times(&s), [0, 500_000_000]);
}

#[test]
fn a_window_loop_repeats_with_the_window_length() {
    let d = dir();
    let path = trace(&d, &TEN);
    let mut s = spec(&path, seconds());
    s.window = window(2_000, Some(3_000));
    s.looping = true;
    let got: Vec<_> = first(&s, 9).iter().map(|r| (r.t_ns, r.line)).collect();
    assert_eq!(got, [0, 1, 2, 3, 4, 5, 6, 7, 8].map(|i| (i * S, 4 + i % 3)),);
    // With speed, the period is the window length divided by it.
    s.speed = 4.0;
    assert_eq!(
        first(&s, 6).iter().map(|r| r.t_ns).collect::<Vec<_>>(),
        [0, 250, 500, 750, 1000, 1250].map(|ms| ms * 1_000_000)
    );
    let mut replay = traces::open(&s).expect("opens");
    assert_eq!(replay.period(), Some(Duration::from_millis(750)));
    assert_eq!(
        replay.by_ref().take(100_000).count(),
        100_000,
        "a loop does not end"
    );
    assert_eq!(replay.pass(), 33_333);
}

#[test]
fn a_window_past_the_trace_end_keeps_its_length_as_the_period() {
    let d = dir();
    let path = trace(&d, &[0.0, 1.0]);
    let mut s = spec(&path, seconds());
    s.window = window(0, Some(5_000));
    s.looping = true;
    assert_eq!(
        first(&s, 6).iter().map(|r| r.t_ns).collect::<Vec<_>>(),
        [0, 1, 5, 6, 10, 11].map(|x| x * S)
    );
}

#[test]
fn a_loop_without_a_window_adds_the_mean_gap() {
    let d = dir();
    // Span 3 s over 2 gaps: mean gap 1.5 s, so the period is 4.5 s.
    let path = trace(&d, &[10.0, 11.0, 13.0]);
    let mut s = spec(&path, seconds());
    s.looping = true;
    assert_eq!(
        first(&s, 7).iter().map(|r| r.t_ns).collect::<Vec<_>>(),
        [0, 1_000, 3_000, 4_500, 5_500, 7_500, 9_000].map(|ms| ms * 1_000_000)
    );
    let summary = traces::scan(&s).expect("scans");
    assert_eq!(summary.pass_length, Duration::from_millis(4_500));
    assert_eq!(summary.mean_rate, Some(2.0 / 3.0));
    // From a window start without a length: from the start to the last request, plus the
    // mean gap of the requests in the window (1 s and 3 s: 2 s), so 4.5 s again.
    s.window = window(500, None);
    assert_eq!(
        first(&s, 4).iter().map(|r| r.t_ns).collect::<Vec<_>>(),
        [500, 2_500, 5_000, 7_000].map(|ms| ms * 1_000_000)
    );
    assert_eq!(
        traces::scan(&s).expect("scans").pass_length,
        Duration::from_millis(4_500)
    );
}

#[test]
fn a_loop_that_would_not_advance_is_refused() {
    let d = dir();
    let path = trace(&d, &[5.0]);
    let mut s = spec(&path, seconds());
    s.looping = true;
    let want = "option `loop` is true, but one pass lasts 0 ns (one request, or all at one \
                instant); expected a `window` with a length, or a trace whose requests span some time";
    assert!(error(&s).ends_with(want), "{}", error(&s));
    assert!(scan_error(&s).ends_with(want));
    let same = trace(&d, &[5.0, 5.0]);
    let mut s = spec(&same, seconds());
    s.looping = true;
    assert!(error(&s).contains("option `loop`"));
    s.window = window(0, Some(1_000));
    assert_eq!(
        first(&s, 4).iter().map(|r| r.t_ns).collect::<Vec<_>>(),
        [0, 0, S, S]
    );
}

#[test]
fn an_empty_window_says_so() {
    let d = dir();
    let path = trace(&d, &TEN);
    let mut s = spec(&path, seconds());
    s.window = window(20_000, Some(10_000));
    let want = format!(
        "no requests in {} within the window [20s, 30s); expected at least one request",
        path.display()
    );
    assert!(error(&s).ends_with(&want), "{}", error(&s));
    assert!(scan_error(&s).ends_with(&want));
}

#[test]
fn rate_scale_below_one_thins_and_keeps_times() {
    let d = dir();
    let secs: Vec<f64> = (0..10_000).map(|i| i as f64 * 0.01).collect();
    let path = trace(&d, &secs);
    let mut s = spec(&path, seconds());
    s.rate_scale = 0.25;
    s.seed = 7;
    let kept = records(&s);
    // Binomial(10000, 0.25): mean 2500, sd 43.3; 5 sd.
    assert!((2_284..=2_716).contains(&kept.len()), "{}", kept.len());
    // Each kept request is an original one, at its own time.
    for r in &kept {
        let i = u64::from(r.prompt_tokens.expect("tokens"));
        assert_eq!(r.t_ns, i * 10_000_000);
        assert_eq!(r.line, i + 2);
    }
    assert_eq!(records(&s), kept, "deterministic for a seed");
    s.seed = 8;
    assert_ne!(records(&s), kept);
}

#[test]
fn rate_scale_above_one_copies_between_a_request_and_the_next() {
    let d = dir();
    let path = trace(&d, &[0.0, 1.0, 3.0, 3.0, 7.0]);
    let mut s = spec(&path, seconds());
    s.rate_scale = 3.0;
    let got = records(&s);
    assert_eq!(got.len(), 15);
    assert!(got.windows(2).all(|w| w[0].t_ns <= w[1].t_ns));
    // Request i and its two copies lie in [t_i, t_next); the last one's before the pass's end
    // (7 s + mean gap 1.75 s).
    let bounds = [
        (0, S),
        (S, 3 * S),
        (3 * S, 3 * S),
        (3 * S, 7 * S),
        (7 * S, 8_750_000_000),
    ];
    for (i, (lo, hi)) in bounds.iter().enumerate() {
        let copies: Vec<_> = got
            .iter()
            .filter(|r| r.prompt_tokens == Some(i as u32))
            .collect();
        assert_eq!(copies.len(), 3, "request {i}");
        assert_eq!(copies[0].t_ns, *lo, "the original keeps its time");
        for c in &copies {
            assert!(
                c.t_ns >= *lo && (c.t_ns < *hi || lo == hi),
                "request {i}: {}",
                c.t_ns
            );
            assert_eq!(c.line, i as u64 + 2);
        }
    }
}

#[test]
fn a_fractional_rate_scale_keeps_the_mean_and_the_order() {
    let d = dir();
    let secs: Vec<f64> = (0..4_000).map(|i| i as f64 * 0.5).collect();
    let path = trace(&d, &secs);
    let mut s = spec(&path, seconds());
    s.rate_scale = 1.5;
    s.seed = 3;
    let got = records(&s);
    // 4000 + Binomial(4000, 0.5): mean 6000, sd 31.6; 5 sd.
    assert!((5_842..=6_158).contains(&got.len()), "{}", got.len());
    assert!(got.windows(2).all(|w| w[0].t_ns <= w[1].t_ns));
    // The shape over time holds: each 100 s bucket has about 1.5x its 200 requests.
    for bucket in 0..20 {
        let n = got.iter().filter(|r| r.t_ns / (100 * S) == bucket).count();
        assert!((240..=360).contains(&n), "bucket {bucket}: {n}");
    }
    let expected = traces::scan(&s).expect("scans").expected_per_pass;
    assert_eq!(expected, 6_000.0);
}

#[test]
fn rate_scale_with_speed_and_loop_stays_in_order_across_passes() {
    let d = dir();
    let path = trace(&d, &[0.0, 0.4, 1.0, 2.5]);
    let mut s = spec(&path, seconds());
    s.rate_scale = 2.5;
    s.speed = 2.0;
    s.looping = true;
    s.window = window(0, Some(3_000));
    let got = first(&s, 1_000);
    assert!(got.windows(2).all(|w| w[0].t_ns <= w[1].t_ns));
    // Every record lies in its pass: [p * 1.5 s, (p + 1) * 1.5 s].
    let passes = got.last().map_or(0, |r| r.t_ns / 1_500_000_000);
    assert!(passes >= 90, "{passes}");
    assert_eq!(first(&s, 1_000), got);
}

#[test]
fn functions_2019_windows_skip_minutes_without_changing_them() {
    let d = dir();
    let mut text = String::from("HashOwner,HashApp,HashFunction,Trigger");
    for m in 1..=1440 {
        text.push_str(&format!(",{m}"));
    }
    text.push_str("\no,a,f,http");
    for m in 1..=1440 {
        text.push_str(if m <= 10 { ",50" } else { ",0" });
    }
    text.push('\n');
    let path = file(&d, "f.csv", text);
    let format = Format::AzureFunctions2019 {
        spread: Spread::Poisson,
        triggers: vec![],
    };
    let mut s = spec(&path, format);
    s.seed = 11;
    let whole = times(&s);
    assert_eq!(whole.len(), 500);
    s.window = window(3 * 60_000, Some(2 * 60_000));
    let part = times(&s);
    let from_whole: Vec<u64> = whole
        .iter()
        .filter(|&&t| (180 * S..300 * S).contains(&t))
        .map(|t| t - 180 * S)
        .collect();
    assert_eq!(part, from_whole);
    assert_eq!(part.len(), 100);
    let summary = traces::scan(&s).expect("scans");
    assert_eq!(summary.window_requests, 100);
    assert_eq!(summary.pass_length, Duration::from_secs(120));
}

#[test]
fn options_out_of_range_are_refused() {
    let d = dir();
    let path = trace(&d, &TEN);
    type Change = fn(&mut ReplaySpec);
    let cases: [(Change, &str); 5] = [
        (
            |s| s.speed = 0.0,
            "option `speed` is 0; expected a time scale from 0.001 to 1000000",
        ),
        (|s| s.speed = f64::NAN, "option `speed` is NaN"),
        (
            |s| s.rate_scale = 0.0,
            "option `rate_scale` is 0; expected a rate scale from 0.000001 to 1000",
        ),
        (
            |s| s.window.length = Some(Duration::ZERO),
            "option `window.length` is 0",
        ),
        (|s| s.sort_chunk_rows = 0, "option `sort_chunk_rows` is 0"),
    ];
    for (change, want) in cases {
        let mut s = spec(&path, seconds());
        change(&mut s);
        let e = traces::open(&s).expect_err("refused");
        assert!(
            e.to_string()
                .starts_with(&format!("{}: {want}", path.display())),
            "{e}"
        );
        assert!(traces::scan(&s).is_err());
    }
}

#[test]
fn the_spec_reads_as_a_scenario_writes_it() {
    let toml_text = r#"
        file = "../../shared/traces/azure-llm-2023-conv.csv"
        format = "azure-llm"
        speed = 2.0
        rate_scale = 1.5
        window = { start = "10m", length = "30m" }
        loop = true
        malformed = "skip"
    "#;
    let s: ReplaySpec = toml::from_str(toml_text).expect("parses");
    assert_eq!(s.format, Format::AzureLlm);
    assert_eq!((s.speed, s.rate_scale, s.looping), (2.0, 1.5, true));
    assert_eq!(s.window, window(600_000, Some(1_800_000)));
    assert_eq!(s.malformed, traces::Malformed::Skip);
    // Round trip through its serialized form.
    let back: ReplaySpec =
        toml::from_str(&toml::to_string(&s).expect("serializes")).expect("reads");
    assert_eq!(back, s);

    let csv: ReplaySpec = toml::from_str(
        r#"file = "x.csv"
           format = "csv"
           time_column = "timestamp"
           time_unit = "ms"
           prompt_column = "prompt_tokens"
           sorted = false"#,
    )
    .expect("parses");
    assert_eq!(
        csv.format,
        Format::Csv(CsvColumns {
            time_column: "timestamp".into(),
            time_unit: TimeUnit::Ms,
            prompt_column: Some("prompt_tokens".into()),
            output_column: None,
            sorted: false,
        })
    );
    let back: ReplaySpec =
        toml::from_str(&toml::to_string(&csv).expect("serializes")).expect("reads");
    assert_eq!(back, csv);

    let f: ReplaySpec = toml::from_str(
        "file = \"f.csv\"\nformat = \"azure-functions-2019\"\nspread = \"uniform\"\ntriggers = [\"http\"]",
    )
    .expect("parses");
    assert_eq!(
        f.format,
        Format::AzureFunctions2019 {
            spread: Spread::Uniform,
            triggers: vec!["http".into()]
        }
    );
    assert_eq!(
        toml::from_str::<ReplaySpec>(&toml::to_string(&f).expect("ser")).expect("de"),
        f
    );

    for (text, want) in [
        (
            "file = \"a\"\nformat = \"azure-llm\"\nspeeed = 2.0",
            "unknown field `speeed`",
        ),
        (
            "file = \"a\"\nformat = \"azure-llm\"\nspread = \"uniform\"",
            "`spread` is only for format = \"azure-functions-2019\"",
        ),
        (
            "file = \"a\"\nformat = \"mooncake\"\ntime_column = \"t\"",
            "`time_column` is only for format = \"csv\"",
        ),
        ("file = \"a\"\nformat = \"csv\"", "needs `time_column`"),
        (
            "file = \"a\"\nformat = \"parquet\"",
            "unknown variant `parquet`",
        ),
        (
            "file = \"a\"\nformat = \"azure-llm\"\nwindow = { start = \"10 minutes\" }",
            "expected a number and a unit",
        ),
        (
            "file = \"a\"\nformat = \"azure-llm\"\nwindow = { begin = \"10m\" }",
            "unknown field `begin`",
        ),
        (
            "file = \"a\"\nformat = \"azure-llm\"\nspeed = -1.0",
            "`speed` is -1; expected a time scale",
        ),
        (
            "file = \"a\"\nformat = \"burstgpt\"\nmalformed = \"ignore\"",
            "unknown variant `ignore`",
        ),
    ] {
        let e = toml::from_str::<ReplaySpec>(text)
            .expect_err(text)
            .to_string();
        assert!(e.contains(want), "{text}: {e}");
    }

    // Format alone, as an internally tagged table.
    let f: Format = toml::from_str("format = \"csv\"\ntime_column = \"t\"").expect("parses");
    assert!(matches!(f, Format::Csv(c) if c.time_column == "t" && c.sorted));
    assert!(toml::from_str::<Format>("format = \"csv\"\ntime_column = \"t\"\nx = 1").is_err());
}

#[test]
fn a_loop_reads_on_from_the_window_not_the_file_head() {
    let d = dir();
    let path = trace(&d, &TEN);
    let mut s = spec(&path, seconds());
    s.window = window(5_000, Some(3_000));
    s.looping = true;
    let mut replay = traces::open(&s).expect("opens");
    let pass0: Vec<_> = replay
        .by_ref()
        .take(3)
        .map(|r| r.expect("reads").line)
        .collect();
    assert_eq!(pass0, [7, 8, 9]);
    // Spoil a row before the window, keeping the file's length: later passes never read it.
    let text = std::fs::read_to_string(&path).expect("reads");
    std::fs::write(&path, text.replacen("1.000000000,1", "x.000000000,1", 1)).expect("writes");
    let later: Vec<_> = replay.take(6).map(|r| r.expect("reads")).collect();
    assert_eq!(
        later.iter().map(|r| r.line).collect::<Vec<_>>(),
        [7, 8, 9, 7, 8, 9]
    );
    assert_eq!(later[0].t_ns, 3 * S);
    // The same for Mooncake lines after a byte-order mark, CRLF and blank lines.
    let moon = file(
        &d,
        "m.jsonl",
        "\u{feff}{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\r\n\r\n\
         {\"timestamp\": 1000, \"input_length\": 2, \"output_length\": 2}\r\n\
         {\"timestamp\": 2000, \"input_length\": 3, \"output_length\": 3}\r\n",
    );
    let mut m = spec(&moon, Format::Mooncake);
    m.window = window(1_000, Some(2_000));
    m.looping = true;
    let got: Vec<_> = first(&m, 4)
        .iter()
        .map(|r| (r.t_ns, r.line, r.prompt_tokens))
        .collect();
    assert_eq!(
        got,
        [
            (0, 3, Some(2)),
            (S, 4, Some(3)),
            (2 * S, 3, Some(2)),
            (3 * S, 4, Some(3))
        ]
    );
    m.window = window(0, Some(3_000));
    let got: Vec<_> = first(&m, 4).iter().map(|r| (r.t_ns, r.line)).collect();
    assert_eq!(got, [(0, 1), (S, 3), (2 * S, 4), (3 * S, 1)]);
}

#[test]
fn a_replay_can_move_to_another_thread() {
    fn send<T: Send>() {}
    send::<traces::Replay>();
    send::<traces::TraceError>();
}
