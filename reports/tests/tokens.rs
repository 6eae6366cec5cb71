//! The token figures of an LLM endpoint in every output: a recorded run through the score and
//! report.json (validated by the schema), the terminal tables, timeline.csv, report.html,
//! `compare`, the sweep's CSV and the gate; and none of it in a report without token figures.

mod common;

use std::error::Error;
use std::path::Path;

use reports::compare::{FIGURES, TOKEN_FIGURES, compare, compare_table};
use reports::sweep::render_sweep_csv;
use reports::{evaluate, ranked_table, render_html, token_table, write_all};
use scalebench_core::Plan;
use scalebench_core::record::Recorder;
use scalebench_core::report::{Report, TimelineSample};
use scalebench_core::run::TokenSample;
use scalebench_core::score::score;
use scalebench_core::sweep::{Setting, Sweep};
use scalebench_core::threshold::{GateSpec, Threshold};

type TestResult = Result<(), Box<dyn Error>>;

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// A two-window run of an LLM endpoint through the Recorder and the score.
fn recorded() -> Report {
    let plan = Plan::parse(
        Path::new("llm.toml"),
        "name = \"llm\"\nduration = \"2s\"\nwindow = \"1s\"\n[slo]\nlatency = \"2s\"\nttft = \"300ms\"\ntpot = \"40ms\"\n[traffic]\ntimeout = \"10s\"\n[[traffic.shape]]\nkind = \"steady\"\nrate = 1\n[service]\ntime = \"1ms\"\n[cluster]\nbilling = \"replica\"\nprice_per_replica_hour = 1\n[[setup]]\nname = \"vllm\"\n[setup.fixed]\nreplicas = 1\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut rec = Recorder::new(&plan);
    for w in 0..2u64 {
        for i in 0..20u64 {
            rec.arrived(0);
            let ttft = 100 + 10 * i + 200 * w;
            rec.ok_tokens(
                0,
                (ttft + 31 * 25) * MS,
                &TokenSample {
                    ttft_ns: Some(ttft * MS),
                    tpot_ns: Some(25 * MS),
                    output_tokens: 32,
                    prompt_tokens: Some(512),
                },
            );
            rec.itl(25 * MS, 31);
        }
        rec.arrived(0);
        rec.timed_out(0);
        rec.close_window(w * S, (w + 1) * S, TimelineSample::default(), false);
    }
    let run = rec.into_run("vllm", "fixed", 2.0);
    score(&plan, "sim", &[run])
}

#[test]
fn a_recorded_llm_run_round_trips_through_the_schema() -> TestResult {
    let report = recorded();
    let dir = tempfile::tempdir()?;
    let paths = write_all(&report, dir.path())?;
    let back = common::read_report(&paths[0]);
    assert_eq!(back, report);
    let s = &back.setups[0];
    let t = s.tokens.as_ref().ok_or("no tokens")?;
    assert_eq!(
        (t.output_tokens, t.prompt_tokens),
        (40 * 32, Some(40 * 512))
    );
    assert_eq!(t.output_tokens_per_s, 640.0);
    // Window 2's TTFTs are 300-490 ms: only the one at 300 ms meets the 300 ms bound.
    assert_eq!(t.goodput.requests, 20 + 1);
    assert_eq!(t.goodput.share, 21.0 / 42.0);
    assert!(!s.slo.met, "TTFT p99 is over its bound");
    assert_eq!(back.slo.ttft_ms, Some(300.0));
    let [w1, w2] = [&s.timeline[0], &s.timeline[1]];
    assert_eq!(
        (w1.goodput_rps, w1.good_share),
        (Some(20.0), Some(20.0 / 21.0))
    );
    assert_eq!((w2.goodput_rps, w2.tokens_per_s), (Some(1.0), Some(640.0)));
    assert!(
        w2.ttft_p99_ms.is_some_and(|v| (v - 490.0).abs() < 5.0),
        "{w2:?}"
    );
    assert!(
        w2.itl_p99_ms.is_some_and(|v| (v - 25.0).abs() < 0.3),
        "{w2:?}"
    );
    let csv = std::fs::read_to_string(&paths[1])?;
    assert!(csv.lines().next().unwrap_or_default().ends_with(
        ",ttft_p50_ms,ttft_p99_ms,itl_p99_ms,tpot_p99_ms,tokens_per_s,goodput_rps,good_share"
    ));
    let html = std::fs::read_to_string(&paths[2])?;
    assert!(
        html.contains("TTFT \u{2264} 300 ms, TPOT \u{2264} 40.0 ms"),
        "the SLO's bounds"
    );
    Ok(())
}

#[test]
fn the_terminal_shows_token_columns_only_when_a_setup_has_tokens() {
    let plain = ranked_table(&common::report());
    for needle in ["TTFT", "goodput", "Tokens"] {
        assert!(!plain.contains(needle), "{needle} in\n{plain}");
    }
    assert_eq!(token_table(&common::report()), None);

    let text = ranked_table(&common::llm_report());
    assert!(
        text.lines()
            .next()
            .unwrap_or_default()
            .contains("SLO p99 <= 500 ms, TTFT <= 500 ms, TPOT <= 50.0 ms (timeout 30.0 s)"),
        "{text}"
    );
    let latency = text.split("Cost and scaling").next().unwrap_or_default();
    let head = latency
        .lines()
        .find(|l| l.contains("setup"))
        .unwrap_or_default();
    assert!(head.contains("| TTFT p99 | goodput | recovery"), "{head}");
    let row = |name: &str| {
        latency
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        row("kpa-panic").contains("|   412 ms |  98.71% |"),
        "{latency}"
    );
    assert!(
        row("hpa-default").contains("|        - |       - |"),
        "{latency}"
    );
    assert!(
        row("fixed-10").contains("|   180 ms | 100.00% |"),
        "{latency}"
    );
    assert_eq!(text.matches("\nTokens (").count(), 1, "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 160), "{text}");
    assert_eq!(token_table(&common::llm_report()), Some(TOKENS.to_owned()));
}

/// The token table of the LLM report; update deliberately when the layout changes.
const TOKENS: &str = " setup       | TTFT p50 | TTFT p99 | ITL p99 | TPOT p99 | tokens/s | output tok | prompt tok | goodput | good share
-------------+----------+----------+---------+----------+----------+------------+------------+---------+------------
 kpa-panic   |   103 ms |   412 ms | 48.0 ms |  41.2 ms |   2058/s |    1234567 |    7654321 |   197/s |     98.71%
 hpa-default |        - |        - |       - |        - |        - |          - |          - |       - |          -
 fixed-10    |  45.0 ms |   180 ms |       - |        - |   2058/s |    1234567 |          - |   200/s |    100.00%
";

#[test]
fn timeline_csv_adds_the_token_columns_only_with_tokens() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (report, tokens) in [(common::report(), false), (common::llm_report(), true)] {
        let out = dir.path().join(if tokens { "llm" } else { "plain" });
        let paths = write_all(&report, &out)?;
        let mut reader = csv::Reader::from_path(&paths[1])?;
        let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
        assert_eq!(
            header.iter().any(|c| c == "ttft_p99_ms"),
            tokens,
            "{header:?}"
        );
        if !tokens {
            assert_eq!(header.last().map(String::as_str), Some("kv_cache_usage"));
            continue;
        }
        let at = |name: &str| header.iter().position(|c| c == name).unwrap_or(usize::MAX);
        // kpa-panic's second window had no first token; hpa-default has no token figure.
        assert_eq!(&rows[0][at("ttft_p99_ms")], "401");
        assert_eq!(&rows[1][at("ttft_p99_ms")], "");
        assert_eq!(&rows[1][at("itl_p99_ms")], "45.5");
        assert_eq!(&rows[0][at("good_share")], "0.975");
        for column in ["ttft_p50_ms", "tokens_per_s", "goodput_rps", "good_share"] {
            assert_eq!(&rows[3][0], "hpa-default");
            assert_eq!(&rows[3][at(column)], "", "{column}: not observed, not 0");
        }
        assert_eq!(&rows[5][at("tpot_p99_ms")], "", "fixed-10's single tokens");
        assert_eq!(&rows[5][at("tokens_per_s")], "200");
    }
    Ok(())
}

#[test]
fn report_html_shows_the_token_table_and_charts_only_with_tokens() {
    let plain = render_html(&common::report());
    for needle in [
        "<h2>Tokens</h2>",
        "data-chart=\"tokens\"",
        "data-chart=\"throughput\"",
        "cmp-ttft",
    ] {
        assert!(
            !plain.contains(needle),
            "{needle} in a report without tokens"
        );
    }
    let html = render_html(&common::llm_report());
    assert!(html.contains("<h2>Tokens</h2>"));
    assert!(html.contains(
        "<tr data-tokens=\"kpa-panic\"><td class=\"l\">kpa-panic</td><td>103 ms</td><td>412 ms</td>"
    ));
    assert!(html.contains(
        "<tr data-tokens=\"hpa-default\"><td class=\"l\">hpa-default</td><td>-</td><td>-</td>"
    ));
    for id in ["tokens", "throughput"] {
        for setup in ["kpa-panic", "fixed-10"] {
            assert!(
                html.contains(&format!("data-chart=\"{id}\" data-x0"))
                    && html.contains(&format!("data-setup=\"{setup}\"")),
                "{id} of {setup}"
            );
        }
        assert!(
            html.contains(&format!(
                "<div class=\"not-observed\" data-chart=\"{id}\" data-setup=\"hpa-default\">"
            )),
            "{id}: hpa-default recorded no token"
        );
    }
    assert!(html.contains("data-series=\"ttft_p99\""));
    assert!(
        html.contains("TTFT SLO 500 ms"),
        "the TTFT bound on the chart"
    );
    assert!(
        html.contains("data-chart=\"cmp-ttft\""),
        "TTFT p99 of every setup"
    );
    // The token chart sits beside the latency chart, before the replicas.
    let kpa = &html[html.find("data-setup=\"kpa-panic\"><h3>").unwrap_or(0)..];
    let order: Vec<usize> = [
        "data-chart=\"latency\"",
        "data-chart=\"tokens\"",
        "data-chart=\"replicas\"",
    ]
    .iter()
    .map(|n| kpa.find(n).unwrap_or(usize::MAX))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}

#[test]
fn compare_puts_the_token_figures_side_by_side() {
    let runs = |reports: [Report; 2]| -> Vec<(String, String, Report)> {
        reports
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("r{i}"), format!("r{i}.json"), r))
            .collect()
    };
    let plain = compare(&runs([common::report(), common::report()]));
    assert_eq!(
        plain.figures.len(),
        FIGURES.len(),
        "no token rows without tokens"
    );
    assert!(!compare_table(&plain).contains("TTFT"));

    let mut faster = common::llm_report();
    if let Some(t) = &mut faster.setups[0].tokens {
        t.ttft_ms = t
            .ttft_ms
            .map(|l| scalebench_core::report::TokenLatency { p99: 330.0, ..l });
    }
    let c = compare(&runs([common::report(), faster]));
    assert_eq!(c.figures.len(), FIGURES.len() + TOKEN_FIGURES.len());
    assert!(c.setups.iter().all(|s| s.figures.len() == c.figures.len()));
    let text = compare_table(&c);
    let line = |setup: &str, label: &str| {
        let part = &text[text.find(&format!("setup {setup}")).unwrap_or(0)..];
        part.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_default()
            .to_owned()
    };
    let ttft = line("kpa-panic", "TTFT p99");
    assert!(ttft.contains("| lower  |        - |   330 ms |"), "{text}");
    assert!(
        line("kpa-panic", "goodput share").contains("| higher |"),
        "{text}"
    );
    assert!(line("kpa-panic", "tokens/s").contains("2058/s"), "{text}");
    let json = serde_json::to_value(&c).unwrap_or_default();
    let keys: Vec<&str> = json["figures"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["key"].as_str()).collect())
        .unwrap_or_default();
    for key in [
        "ttft_p99",
        "itl_p99",
        "tpot_p99",
        "goodput",
        "goodput_rps",
        "tokens_per_s",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
}

#[test]
fn a_threshold_on_ttft_p99_goes_through_the_gate() {
    let spec = |text: &[&str]| GateSpec {
        thresholds: text
            .iter()
            .map(|t| Threshold::parse(t).unwrap_or_else(|e| panic!("{e}")))
            .collect(),
        ..GateSpec::default()
    };
    let report = common::llm_report();
    let r = evaluate(&report, None, &spec(&["ttft_p99<500ms"]));
    let verdicts: Vec<(&str, bool)> = r
        .checks
        .iter()
        .map(|c| (c.setup.as_str(), c.verdict == reports::gate::Verdict::Pass))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("kpa-panic", true),
            ("hpa-default", false),
            ("fixed-10", true)
        ]
    );
    let hpa = &r.checks[1];
    assert!(
        hpa.actual.is_none() && hpa.reason.contains("no token was recorded"),
        "{hpa:?}"
    );
    let r = evaluate(&report, None, &spec(&["kpa-panic:ttft_p99<0.4s"]));
    assert!(!r.passed);
    assert!(
        r.checks[0].reason.contains("ttft_p99 412 ms >= 400 ms"),
        "{:?}",
        r.checks[0]
    );
    let r = evaluate(
        &report,
        None,
        &spec(&["fixed-10:goodput>=99%", "fixed-10:tokens_per_s>2000/s"]),
    );
    assert!(r.passed, "{:#?}", r.checks);
    assert!(
        r.checks[1].reason.contains("2058/s > 2000/s"),
        "{:?}",
        r.checks[1]
    );
}

#[test]
fn the_sweep_csv_carries_the_token_figures_when_some_setup_has_them() -> TestResult {
    let sweep = |report: Report| Sweep {
        schema: scalebench_core::sweep::SCHEMA.to_owned(),
        scenario: "s".to_owned(),
        seed: 1,
        slo: report.slo.clone(),
        keys: vec!["warm_pool".to_owned()],
        settings: vec![Setting {
            values: vec!["0".to_owned()],
            simulations: (0..report.setups.len()).collect(),
            setups: report.setups,
        }],
        simulations: 3,
        interrupted: false,
    };
    let csv = |s: &Sweep| -> Result<String, Box<dyn Error>> {
        let mut out = Vec::new();
        render_sweep_csv(s, &mut out)?;
        Ok(String::from_utf8(out)?)
    };
    let plain = csv(&sweep(common::report()))?;
    assert!(
        plain
            .lines()
            .next()
            .unwrap_or_default()
            .ends_with(",simulation,eligible")
    );
    let llm_sweep = sweep(common::llm_report());
    let llm = csv(&llm_sweep)?;
    let mut reader = csv::Reader::from_reader(llm.as_bytes());
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    assert!(
        header.join(",").ends_with(
            ",eligible,ttft_p50_ms,ttft_p99_ms,itl_p99_ms,tpot_p99_ms,tokens_per_s,output_tokens,goodput,goodput_rps"
        ),
        "{header:?}"
    );
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    let at = |name: &str| header.iter().position(|c| c == name).unwrap_or(usize::MAX);
    let row = |name: &str| rows.iter().find(|r| &r[at("setup")] == name);
    assert_eq!(
        row("kpa-panic").map(|r| r[at("ttft_p99_ms")].to_owned()),
        Some("412.5".into())
    );
    assert_eq!(
        row("hpa-default").map(|r| r[at("goodput")].to_owned()),
        Some(String::new())
    );
    assert_eq!(
        row("fixed-10").map(|r| r[at("itl_p99_ms")].to_owned()),
        Some(String::new())
    );
    // sweep.json keeps each setup's whole token report.
    let json = serde_json::to_value(&llm_sweep)?;
    assert_eq!(
        json["settings"][0]["setups"][0]["tokens"]["goodput"]["share"],
        0.9871
    );
    Ok(())
}
