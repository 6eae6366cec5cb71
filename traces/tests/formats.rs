//! Each trace format's edge cases: what it tolerates (no final newline, CRLF, a byte-order mark,
//! trailing blank lines, quoted fields) and what it rejects, with the file and line.

mod common;

use common::{S, dir, error, file, records, scan_error, spec, times};
use traces::{CsvColumns, Format, Malformed, Record, Spread, TimeUnit};

const LLM_2023: &str = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
2023-11-16 18:15:46.6805900,374,44\n\
2023-11-16 18:15:50.9951690,396,109\n\
2023-11-16 18:15:50.9951690,879,55\n";

fn rec(t_ns: u64, prompt: u32, output: u32, line: u64) -> Record {
    Record {
        t_ns,
        prompt_tokens: Some(prompt),
        output_tokens: Some(output),
        duration_ns: None,
        line,
    }
}

#[test]
fn azure_llm_2023_seven_fraction_digits_no_zone() {
    let d = dir();
    let path = file(&d, "t.csv", LLM_2023);
    assert_eq!(
        records(&spec(&path, Format::AzureLlm)),
        [
            rec(0, 374, 44, 2),
            rec(4_314_579_000, 396, 109, 3),
            rec(4_314_579_000, 879, 55, 4), // equal times are in order
        ]
    );
}

#[test]
fn azure_llm_2024_zone_and_optional_fraction() {
    let d = dir();
    let path = file(
        &d,
        "t.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n\
         2024-05-10 00:00:00.004000+00:00,4808,10\n\
         2024-05-10 00:00:01+00:00,3180,8\n\
         2024-05-10 00:00:01.250000+00:00,110,27\n",
    );
    assert_eq!(
        records(&spec(&path, Format::AzureLlm)),
        [
            rec(0, 4808, 10, 2),
            rec(996_000_000, 3180, 8, 3),
            rec(1_246_000_000, 110, 27, 4)
        ]
    );
}

#[test]
fn tolerates_crlf_bom_no_final_newline_blank_lines_and_quotes() {
    let d = dir();
    let expected = records(&spec(&file(&d, "plain.csv", LLM_2023), Format::AzureLlm));
    let crlf = LLM_2023.replace('\n', "\r\n");
    let variants = [
        LLM_2023.trim_end().to_string(),
        crlf.clone(),
        crlf.trim_end().to_string(),
        format!("\u{feff}{LLM_2023}"),
        format!("{LLM_2023}\n\n\r\n"),
        LLM_2023
            .replace(",374,", ",\"374\",")
            .replace("TIMESTAMP", "\"TIMESTAMP\""),
        LLM_2023.replace(',', " , "),
    ];
    for (i, text) in variants.iter().enumerate() {
        let path = file(&d, &format!("v{i}.csv"), text);
        assert_eq!(
            records(&spec(&path, Format::AzureLlm)),
            expected,
            "variant {i}: {text:?}"
        );
    }
}

#[test]
fn blank_lines_inside_keep_line_numbers() {
    let d = dir();
    let path = file(
        &d,
        "t.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n\n2023-11-16 18:15:46,1,2\n\n\nx,1,2\n",
    );
    assert_eq!(
        error(&spec(&path, Format::AzureLlm)),
        format!(
            "{}:6: `x` in column TIMESTAMP (not a valid date-time); expected a date-time such as \
             `2023-11-16 18:15:46.6805900` or `2024-05-10 00:00:00.004000+00:00`",
            path.display()
        )
    );
}

#[test]
fn wrong_or_missing_header_says_the_expected_one() {
    let d = dir();
    let wrong = file(&d, "wrong.csv", "time,in,out\n2023-11-16 18:15:46,1,2\n");
    let e = error(&spec(&wrong, Format::AzureLlm));
    assert_eq!(
        e,
        format!(
            "{}:1: the header `time,in,out`; expected a header `TIMESTAMP,ContextTokens,GeneratedTokens`",
            wrong.display()
        )
    );
    let missing = file(&d, "missing.csv", "2023-11-16 18:15:46,1,2\n");
    let e = error(&spec(&missing, Format::AzureLlm));
    assert!(
        e.starts_with(&format!("{}:1: the header `2023-11-16", missing.display())),
        "{e}"
    );
    assert!(
        e.ends_with("expected a header `TIMESTAMP,ContextTokens,GeneratedTokens`"),
        "{e}"
    );
    // A wrong header is fatal even when malformed rows are skipped.
    let mut s = spec(&wrong, Format::AzureLlm);
    s.malformed = Malformed::Skip;
    assert!(error(&s).contains(":1: the header"));
}

#[test]
fn rejects_non_numeric_negative_and_short_rows() {
    let d = dir();
    let cases = [
        (
            "2023-11-16 18:15:46,abc,2",
            "`abc` in column ContextTokens (not a number); expected a token count, a whole number >= 0",
        ),
        (
            "2023-11-16 18:15:46,5,-3",
            "`-3` in column GeneratedTokens (negative); expected a token count, a whole number >= 0",
        ),
        (
            "2023-11-16 18:15:46,5.5,3",
            "`5.5` in column ContextTokens (not a whole number); expected a token count, a whole number >= 0",
        ),
        (
            "2023-11-16 18:15:46,5",
            "2 fields in `2023-11-16 18:15:46,5`; expected 3 fields as in the header \
             `TIMESTAMP,ContextTokens,GeneratedTokens`",
        ),
        (
            "2023-02-30 18:15:46,5,3",
            "`2023-02-30 18:15:46` in column TIMESTAMP (not a valid date-time); expected a date-time",
        ),
    ];
    for (row, message) in cases {
        let path = file(
            &d,
            "t.csv",
            format!("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:45,1,1\n{row}\n"),
        );
        let e = error(&spec(&path, Format::AzureLlm));
        let want = format!("{}:3: {message}", path.display());
        assert!(e.starts_with(&want), "{e}\nwanted {want}");
        assert!(scan_error(&spec(&path, Format::AzureLlm)).starts_with(&want));
    }
}

#[test]
fn a_row_earlier_than_the_previous_is_an_error_naming_both_lines() {
    let d = dir();
    let path = file(
        &d,
        "t.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n\
         2023-11-16 18:15:46,1,1\n\
         2023-11-16 18:15:47,1,1\n\
         2023-11-16 18:15:45.5,1,1\n",
    );
    assert_eq!(
        error(&spec(&path, Format::AzureLlm)),
        format!(
            "{}:4: a request 1.5 s earlier than the one on line 3; expected rows in time order \
             (azure-llm traces are sorted by TIMESTAMP)",
            path.display()
        )
    );
    // Skipped and counted when asked.
    let mut s = spec(&path, Format::AzureLlm);
    s.malformed = Malformed::Skip;
    let mut replay = traces::open(&s).expect("opens");
    assert_eq!(replay.by_ref().count(), 2);
    assert_eq!(replay.skipped(), 1);
}

#[test]
fn an_empty_trace_says_no_requests() {
    let d = dir();
    for (name, text) in [
        ("header.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"),
        (
            "header-no-newline.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens",
        ),
        ("empty.csv", ""),
        ("blank.csv", "\n\r\n\n"),
    ] {
        let path = file(&d, name, text);
        let e = error(&spec(&path, Format::AzureLlm));
        let want = format!(
            "no requests in {}; expected at least one request",
            path.display()
        );
        assert!(e.starts_with(&format!("{}:", path.display())), "{e}");
        assert!(e.ends_with(&want), "{e}");
        assert!(scan_error(&spec(&path, Format::AzureLlm)).ends_with(&want));
    }
}

#[test]
fn every_row_malformed_and_skipped_is_still_empty() {
    let d = dir();
    let path = file(
        &d,
        "t.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\nx,1,1\ny,1,1\n",
    );
    let mut s = spec(&path, Format::AzureLlm);
    s.malformed = Malformed::Skip;
    assert!(error(&s).contains("no requests in"));
}

#[test]
fn skip_counts_malformed_rows_once_and_scan_agrees() {
    let d = dir();
    let path = file(
        &d,
        "t.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n\
         2023-11-16 18:15:46,1,1\n\
         bad,1,1\n\
         2023-11-16 18:15:47,-1,1\n\
         2023-11-16 18:15:48,1\n\
         2023-11-16 18:15:49,2,2\n",
    );
    let mut s = spec(&path, Format::AzureLlm);
    s.malformed = Malformed::Skip;
    let mut replay = traces::open(&s).expect("opens");
    let got: Vec<_> = replay.by_ref().map(|r| r.expect("skipped")).collect();
    assert_eq!(got, [rec(0, 1, 1, 2), rec(3 * S, 2, 2, 6)]);
    assert_eq!(replay.skipped(), 3);
    let summary = traces::scan(&s).expect("scans");
    assert_eq!((summary.rows, summary.skipped), (2, 3));
    // A loop reads the file again; the count stays.
    s.looping = true;
    let mut replay = traces::open(&s).expect("opens");
    assert_eq!(replay.by_ref().take(7).count(), 7);
    assert_eq!(replay.skipped(), 3);
}

/// A Functions 2019 file: the header, then one row per (trigger, [(minute, count)]).
fn functions_2019(rows: &[(&str, &[(usize, u64)])]) -> String {
    let mut out = String::from("HashOwner,HashApp,HashFunction,Trigger");
    for m in 1..=1440 {
        out.push_str(&format!(",{m}"));
    }
    out.push('\n');
    for (i, (trigger, counts)) in rows.iter().enumerate() {
        let mut minutes = vec![0u64; 1440];
        for &(m, n) in *counts {
            minutes[m - 1] = n;
        }
        out.push_str(&format!("o{i},a{i},f{i},{trigger}"));
        for n in minutes {
            out.push_str(&format!(",{n}"));
        }
        out.push('\n');
    }
    out
}

fn functions(spread: Spread, triggers: &[&str]) -> Format {
    Format::AzureFunctions2019 {
        spread,
        triggers: triggers.iter().map(|t| t.to_string()).collect(),
    }
}

#[test]
fn azure_functions_2019_sums_minutes_and_spreads_them() {
    let d = dir();
    let path = file(
        &d,
        "f.csv",
        functions_2019(&[("http", &[(3, 2), (5, 1)]), ("timer", &[(3, 2), (6, 4)])]),
    );
    const M: u64 = 60 * S;
    // Minute 3 is the first busy one: the replay's zero.
    let uniform = times(&spec(&path, functions(Spread::Uniform, &[])));
    assert_eq!(
        uniform,
        [
            M / 8,
            3 * M / 8,
            5 * M / 8,
            7 * M / 8,
            2 * M + M / 2,
            3 * M + M / 8,
            3 * M + 3 * M / 8,
            3 * M + 5 * M / 8,
            3 * M + 7 * M / 8,
        ]
    );
    let constant = times(&spec(&path, functions(Spread::Constant, &[])));
    assert_eq!(constant, [0, 0, 0, 0, 2 * M, 3 * M, 3 * M, 3 * M, 3 * M]);
    let http = times(&spec(&path, functions(Spread::Uniform, &["HTTP"])));
    assert_eq!(http, [M / 4, 3 * M / 4, 2 * M + M / 2]);
    let records = records(&spec(&path, functions(Spread::Poisson, &[])));
    assert!(
        records
            .iter()
            .all(|r| r.line == 0 && r.prompt_tokens.is_none())
    );

    let poisson = |seed| {
        let mut s = spec(&path, functions(Spread::Poisson, &[]));
        s.seed = seed;
        times(&s)
    };
    let a = poisson(1);
    assert_eq!(a, poisson(1), "deterministic for a seed");
    assert_ne!(a, poisson(2));
    assert!(a.is_sorted());
    let per_minute = |m: u64| a.iter().filter(|&&t| t / M == m).count();
    assert_eq!(
        [per_minute(0), per_minute(1), per_minute(2), per_minute(3)],
        [4, 0, 1, 4]
    );

    let summary = traces::scan(&spec(&path, functions(Spread::Poisson, &[]))).expect("scans");
    assert_eq!((summary.rows, summary.requests), (2, 9));
    assert_eq!(
        (summary.first_ns, summary.last_ns),
        (2 * M as i64, 6 * M as i64)
    );
    assert_eq!(summary.span.as_secs(), 4 * 60);
    assert_eq!(summary.pass_length.as_secs(), 4 * 60);
    assert_eq!(summary.mean_rate, Some(9.0 / 240.0));
}

#[test]
fn azure_functions_2019_rejects_bad_headers_and_counts() {
    let d = dir();
    let good = functions_2019(&[("http", &[(1, 1)])]);
    let header_end = good.find('\n').expect("a header");
    let f = functions(Spread::Poisson, &[]);
    let bad_header = file(&d, "h.csv", good.replacen("HashApp", "App", 1));
    assert!(
        error(&spec(&bad_header, f.clone()))
            .contains(":1: the header `HashOwner,App,HashFunction,Trigger,1,2,3,")
    );
    assert!(
        error(&spec(&bad_header, f.clone()))
            .ends_with("expected a header `HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440`")
    );
    let negative = file(
        &d,
        "n.csv",
        format!("{}o,a,f,http,-4{}", &good[..=header_end], ",0".repeat(1439)),
    );
    assert_eq!(
        error(&spec(&negative, f.clone())),
        format!(
            "{}:2: `-4` in column 1 (negative); expected an invocation count, a whole number >= 0",
            negative.display()
        )
    );
    let short = file(
        &d,
        "s.csv",
        format!("{}o,a,f,http,1,2\n", &good[..=header_end]),
    );
    assert!(
        error(&spec(&short, f.clone()))
            .contains(":2: 6 fields in `o,a,f,http,1,2`; expected 1444 fields")
    );
    let empty = file(&d, "e.csv", &good[..=header_end]);
    assert!(error(&spec(&empty, f.clone())).contains("no requests in"));
    let zeros = file(&d, "z.csv", functions_2019(&[("http", &[])]));
    assert!(error(&spec(&zeros, f)).contains("no requests in"));
}

#[test]
fn azure_functions_2021_unsorted_arrival_is_end_minus_duration() {
    let d = dir();
    let path = file(
        &d,
        "f.csv",
        "app,func,end_timestamp,duration\n\
         a,f,5.5,0.5\n\
         a,g,1.0,0.9\n\
         b,f,3.25,0.25\n\
         b,g,2.0,1.0\n",
    );
    let expected = [
        (0, 900_000_000, 3),
        (900_000_000, S, 5),
        (2_900_000_000, 250_000_000, 4),
        (4_900_000_000, 500_000_000, 2),
    ]
    .map(|(t_ns, d, line)| Record {
        t_ns,
        prompt_tokens: None,
        output_tokens: None,
        duration_ns: Some(d),
        line,
    });
    let s = spec(&path, Format::AzureFunctions2021);
    assert_eq!(records(&s), expected);
    // The same through the spill-to-disk path.
    let mut small = s.clone();
    small.sort_chunk_rows = 1;
    let replay = traces::open(&small).expect("opens");
    assert_eq!(replay.sort_runs_spilled(), 4);
    assert_eq!(replay.rows_held_peak(), 1);
    assert_eq!(
        replay.map(|r| r.expect("reads")).collect::<Vec<_>>(),
        expected
    );
    let summary = traces::scan(&s).expect("scans");
    assert_eq!(
        (summary.first_ns, summary.last_ns),
        (100_000_000, 5_000_000_000)
    );
    assert!(summary.duration && !summary.prompt_tokens);
}

#[test]
fn azure_functions_2021_rejects_negative_durations_and_bad_numbers() {
    let d = dir();
    for (row, message) in [
        (
            "a,f,1.0,-0.5",
            "`-0.5` in column duration (negative); expected a number of seconds >= 0",
        ),
        (
            "a,f,x,0.5",
            "`x` in column end_timestamp (not a number); expected a number of seconds",
        ),
        (
            "a,f,1e400,0.5",
            "`1e400` in column end_timestamp (out of range)",
        ),
    ] {
        let path = file(
            &d,
            "f.csv",
            format!("app,func,end_timestamp,duration\na,f,1,0\n{row}\n"),
        );
        let e = error(&spec(&path, Format::AzureFunctions2021));
        assert!(
            e.starts_with(&format!("{}:3: {message}", path.display())),
            "{e}"
        );
    }
}

#[test]
fn burstgpt_seconds_quoted_models_and_zero_responses() {
    let d = dir();
    let path = file(
        &d,
        "b.csv",
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\r\n\
         5,ChatGPT,472,18,490,Conversation log\r\n\
         5.5,\"GPT-4, 32k\",1087,0,1087,API log\r\n\
         45,ChatGPT,\"\"\"q\"\"\",1,1,API log",
    );
    let s = spec(&path, Format::BurstGpt);
    let e = error(&s);
    assert!(
        e.starts_with(&format!(
            "{}:4: `\"q\"` in column Request tokens (not a number)",
            path.display()
        )),
        "{e}"
    );
    let mut skip = s.clone();
    skip.malformed = Malformed::Skip;
    assert_eq!(
        traces::open(&skip)
            .expect("opens")
            .map(|r| r.expect("reads"))
            .collect::<Vec<_>>(),
        [rec(0, 472, 18, 2), rec(S / 2, 1087, 0, 3)]
    );
    let unsorted = file(
        &d,
        "u.csv",
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
         5,m,1,1,2,x\n4,m,1,1,2,x\n",
    );
    assert!(error(&spec(&unsorted, Format::BurstGpt)).contains(
        ":3: a request 1 s earlier than the one on line 2; expected rows in time order \
         (burstgpt traces are sorted by Timestamp)"
    ));
}

#[test]
fn mooncake_jsonl() {
    let d = dir();
    let text = "\u{feff}{\"timestamp\": 27482, \"input_length\": 6955, \"output_length\": 52, \"hash_ids\": [46, 47, 48]}\r\n\
                \r\n\
                {\"timestamp\": 30535, \"input_length\": 6472, \"output_length\": 26, \"hash_ids\": []}\n\
                {\"hash_ids\": [1], \"output_length\": 1.0, \"input_length\": 2, \"timestamp\": 30535.5}";
    let path = file(&d, "m.jsonl", text);
    assert_eq!(
        records(&spec(&path, Format::Mooncake)),
        [
            rec(0, 6955, 52, 1),
            rec(3_053_000_000, 6472, 26, 3),
            rec(3_053_500_000, 2, 1, 4)
        ]
    );
    for (line, message) in [
        (
            "{\"timestamp\": 1, \"input_length\": 2}",
            "(missing field `output_length` at column 35); expected a JSON object with `timestamp` (ms)",
        ),
        (
            "{\"timestamp\": 1, \"input_length\": -2, \"output_length\": 3}",
            "`input_length` -2 (negative); expected a token count, a whole number >= 0",
        ),
        ("not json", "`not json` (expected ident at column 2)"),
        (
            "{\"timestamp\": \"1\", \"input_length\": 2, \"output_length\": 3}",
            "(invalid type: string \"1\", expected a JSON number at column 17)",
        ),
        (
            "{\"timestamp\": 27481, \"input_length\": 2, \"output_length\": 3}",
            "a request 0.001 s earlier than the one on line 1; expected rows in time order \
             (mooncake traces are sorted by timestamp)",
        ),
    ] {
        let path = file(
            &d,
            "bad.jsonl",
            format!(
                "{{\"timestamp\": 27482, \"input_length\": 1, \"output_length\": 1}}\n{line}\n"
            ),
        );
        let e = error(&spec(&path, Format::Mooncake));
        assert!(e.starts_with(&format!("{}:2: ", path.display())), "{e}");
        assert!(e.contains(message), "{e}\nwanted {message}");
    }
}

fn csv(
    time: &str,
    unit: TimeUnit,
    prompt: Option<&str>,
    output: Option<&str>,
    sorted: bool,
) -> Format {
    Format::Csv(CsvColumns {
        time_column: time.into(),
        time_unit: unit,
        prompt_column: prompt.map(Into::into),
        output_column: output.map(Into::into),
        sorted,
    })
}

#[test]
fn generic_csv_units_columns_and_order() {
    let d = dir();
    let path = file(
        &d,
        "c.csv",
        "id,out,ts,in\n1,10,1000.5,100\n2,20,1250,200\n",
    );
    let f = csv("ts", TimeUnit::Ms, Some("in"), Some("out"), true);
    assert_eq!(
        records(&spec(&path, f)),
        [rec(0, 100, 10, 2), rec(249_500_000, 200, 20, 3)]
    );
    // No token columns: no tokens.
    let bare = records(&spec(&path, csv("ts", TimeUnit::Us, None, None, true)));
    assert_eq!(bare[1].t_ns, 249_500);
    assert_eq!((bare[1].prompt_tokens, bare[1].output_tokens), (None, None));
    // RFC 3339.
    let dated = file(
        &d,
        "r.csv",
        "when\n2024-05-10T00:00:00Z\n2024-05-10T02:00:00.5+02:00\n",
    );
    assert_eq!(
        times(&spec(
            &dated,
            csv("when", TimeUnit::Rfc3339, None, None, true)
        )),
        [0, S / 2]
    );
    // Missing column: says what it expected.
    let e = error(&spec(
        &path,
        csv("time", TimeUnit::S, Some("in"), None, true),
    ));
    assert!(
        e.ends_with("the header `id,out,ts,in`; expected a header `time,in (in any order, other columns allowed)`"),
        "{e}"
    );
    // Unsorted: an error suggesting `sorted = false`, which sorts it.
    let unsorted = file(&d, "u.csv", "t\n3\n1\n2\n");
    let e = error(&spec(&unsorted, csv("t", TimeUnit::S, None, None, true)));
    assert!(e.ends_with("expected rows in time order (sort the file by its time column, or set `sorted = false`)"), "{e}");
    assert_eq!(
        records(&spec(&unsorted, csv("t", TimeUnit::S, None, None, false)))
            .iter()
            .map(|r| (r.t_ns, r.line))
            .collect::<Vec<_>>(),
        [(0, 3), (S, 4), (2 * S, 2)]
    );
}

#[test]
fn a_missing_file_names_it() {
    let d = dir();
    let path = d.path().join("nope.csv");
    let e = traces::open(&spec(&path, Format::AzureLlm)).expect_err("no file");
    assert_eq!(
        e.to_string(),
        format!("{}: cannot open the trace file", path.display())
    );
    assert!(std::error::Error::source(&e).is_some());
}
