//! The token figures of an LLM endpoint's answers through the Recorder into the Run, the score
//! and the report: goodput under each combination of SLO bounds, inter-token gaps counted in
//! bulk, the windows' figures (and `None` wherever nothing was observed), and the SLO's
//! `ttft`/`tpot` in the score.

use std::path::Path;

use scalebench_core::Plan;
use scalebench_core::figure::Figure;
use scalebench_core::record::Recorder;
use scalebench_core::report::{Report, TimelineSample};
use scalebench_core::run::TokenSample;
use scalebench_core::score::score;

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// A three-second scenario, one-second windows, `slo` the lines added to `[slo]`.
fn plan(slo: &str) -> Plan {
    Plan::parse(
        Path::new("llm.toml"),
        &format!(
            "duration = \"3s\"\nwindow = \"1s\"\n[slo]\nlatency = \"1s\"\n{slo}\n[traffic]\ntimeout = \"10s\"\n[[traffic.shape]]\nkind = \"steady\"\nrate = 1\n[service]\ntime = \"1ms\"\n[cluster]\nbilling = \"replica\"\nprice_per_replica_hour = 1\n[[setup]]\nname = \"llm\"\n[setup.fixed]\nreplicas = 1\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn sample(ttft_ms: Option<u64>, tpot_ms: Option<u64>, output_tokens: u32) -> TokenSample {
    TokenSample {
        ttft_ns: ttft_ms.map(|v| v * MS),
        tpot_ns: tpot_ms.map(|v| v * MS),
        output_tokens,
        prompt_tokens: None,
    }
}

fn scored(plan: &Plan, rec: Recorder) -> Report {
    score(
        plan,
        "sim",
        &[rec.into_run("llm", "fixed", plan.duration.as_secs_f64())],
    )
}

/// Eight requests: one failed, one answered without token figures, six LLM answers that
/// each break a different bound (or none).
fn eight_requests(plan: &Plan) -> Recorder {
    let mut rec = Recorder::new(plan);
    for _ in 0..8 {
        rec.arrived(0);
    }
    rec.ok_tokens(0, 900 * MS, &sample(Some(100), Some(20), 40)); // good everywhere
    rec.ok_tokens(0, 1200 * MS, &sample(Some(100), Some(20), 40)); // too slow end to end
    rec.ok_tokens(0, 800 * MS, &sample(Some(300), Some(20), 40)); // TTFT over 200 ms
    rec.ok_tokens(0, 800 * MS, &sample(Some(100), Some(60), 40)); // TPOT over 50 ms
    rec.ok_tokens(0, 800 * MS, &sample(Some(150), None, 1)); // one token: no TPOT
    rec.ok_tokens(0, 100 * MS, &sample(None, None, 0)); // no token, ended within 200 ms
    rec.ok(0, 500 * MS); // no token figures: judged end to end
    rec.failed(0);
    rec
}

#[test]
fn goodput_counts_the_requests_that_met_every_bound_of_the_slo() {
    for (slo, good) in [
        ("", 6),
        ("ttft = \"200ms\"", 5),
        ("tpot = \"50ms\"", 5),
        ("ttft = \"200ms\"\ntpot = \"50ms\"", 4),
    ] {
        let plan = plan(slo);
        let report = scored(&plan, eight_requests(&plan));
        let t = report.setups[0].tokens.as_ref();
        let goodput = t.map(|t| t.goodput).unwrap_or_default();
        assert_eq!(goodput.requests, good, "[slo] {slo}");
        assert_eq!(goodput.share, good as f64 / 8.0, "[slo] {slo}");
        assert_eq!(goodput.rps, good as f64 / 3.0, "[slo] {slo}");
        assert_eq!(
            report.setups[0].figure(Figure::Goodput),
            Some(good as f64 / 8.0)
        );
        // Every answer counts ok the same way, with token figures or without.
        assert_eq!(report.setups[0].requests.ok, 7);
        assert_eq!(report.setups[0].slo.attainment, 6.0 / 8.0);
    }
}

#[test]
fn token_totals_and_percentiles_of_the_ok_answers() {
    let plan = plan("");
    let mut rec = eight_requests(&plan);
    rec.ok_tokens(
        0,
        700 * MS,
        &TokenSample {
            prompt_tokens: Some(1000),
            ..sample(Some(100), Some(20), 40)
        },
    );
    rec.timed_out(0); // no token figures
    let report = scored(&plan, rec);
    let t = report.setups[0]
        .tokens
        .as_ref()
        .unwrap_or_else(|| panic!("no tokens"));
    assert_eq!(t.output_tokens, 5 * 40 + 1);
    assert_eq!(
        t.prompt_tokens,
        Some(1000),
        "the sum of the known prompt lengths"
    );
    assert_eq!(t.output_tokens_per_s, 201.0 / 3.0);
    let ttft = t.ttft_ms.unwrap_or_default();
    assert!((ttft.max - 300.0).abs() < 0.5, "{ttft:?}");
    assert!((ttft.p50 - 100.0).abs() < 0.5, "{ttft:?}");
    assert_eq!(t.itl_ms, None, "no gap was recorded");
    let tpot = t.tpot_ms.unwrap_or_default();
    assert!((tpot.max - 60.0).abs() < 0.1, "{tpot:?}");
    let ttft_p99 = report.setups[0].figure(Figure::TtftP99).unwrap_or(0.0);
    assert!((ttft_p99 - 300.0).abs() < 0.5, "{ttft_p99}");
    assert_eq!(report.setups[0].figure(Figure::ItlP99), None);
}

#[test]
fn inter_token_gaps_are_counted_in_bulk() {
    let plan = plan("");
    let mut rec = Recorder::new(&plan);
    rec.itl(5 * MS, 0);
    assert!(rec.tokens.is_none(), "no gap, no token figure");
    rec.itl(20 * MS, 3); // one decode step of three sequences
    rec.itl(40 * MS, 1);
    let itl = rec.tokens.as_ref().map(|t| t.itl.summary());
    assert_eq!(rec.tokens.as_ref().map(|t| t.itl.len()), Some(4));
    let itl = itl.unwrap_or_default();
    assert!(
        (itl.p50 - 20.0).abs() < 0.05 && (itl.max - 40.0).abs() < 0.05,
        "{itl:?}"
    );
    rec.close_window(0, S, TimelineSample::default(), false);
    let w = &rec.timeline[0];
    assert!(
        w.itl_p99_ms.is_some_and(|v| (v - 40.0).abs() < 0.4),
        "{w:?}"
    );
    assert_eq!((w.ttft_p50_ms, w.tpot_p99_ms), (None, None));
    assert_eq!(w.tokens_per_s, Some(0.0));
    assert_eq!(w.good_share, None, "nothing finished");
}

#[test]
fn windows_carry_the_token_figures_from_the_first_one_on() {
    let plan = plan("ttft = \"200ms\"");
    let mut rec = Recorder::new(&plan);
    // Window 1: no token figure yet; one answer within the SLO and one failure.
    rec.arrived(0);
    rec.arrived(0);
    rec.ok(0, 100 * MS);
    rec.failed(0);
    rec.close_window(0, S, TimelineSample::default(), false);
    assert_eq!(rec.timeline[0].goodput_rps, None, "not an LLM run, so far");
    // Window 2: an answer without and one with token figures, and their gaps.
    rec.arrived(0);
    rec.arrived(0);
    rec.ok(0, 300 * MS);
    rec.ok_tokens(0, 600 * MS, &sample(Some(80), Some(10), 50));
    rec.itl(10 * MS, 49);
    rec.close_window(S, 2 * S, TimelineSample::default(), false);
    // Window 3 (half a second): nothing finished.
    rec.close_window(2 * S, 2 * S + S / 2, TimelineSample::default(), false);

    let [w1, w2, w3] = [0, 1, 2].map(|i| rec.timeline[i].clone());
    // The window closed before the first token figure: no token, one good request of two.
    assert_eq!(
        (w1.tokens_per_s, w1.goodput_rps, w1.good_share),
        (Some(0.0), Some(1.0), Some(0.5))
    );
    assert_eq!(
        (w1.ttft_p50_ms, w1.itl_p99_ms, w1.tpot_p99_ms),
        (None, None, None)
    );
    let near = |v: Option<f64>, x: f64| v.is_some_and(|v| (v - x).abs() <= x * 0.01);
    assert!(
        near(w2.ttft_p50_ms, 80.0) && near(w2.ttft_p99_ms, 80.0),
        "{w2:?}"
    );
    assert!(
        near(w2.itl_p99_ms, 10.0) && near(w2.tpot_p99_ms, 10.0),
        "{w2:?}"
    );
    assert_eq!(
        (w2.tokens_per_s, w2.goodput_rps, w2.good_share),
        (Some(50.0), Some(2.0), Some(1.0))
    );
    assert_eq!(
        (w3.tokens_per_s, w3.goodput_rps, w3.good_share),
        (Some(0.0), Some(0.0), None)
    );
    assert_eq!((w3.ttft_p99_ms, w3.itl_p99_ms), (None, None));
    assert_eq!(rec.tokens.as_ref().map(|t| t.good), Some(3));
    assert_eq!(rec.tokens.as_ref().map(|t| t.itl.len()), Some(49));
}

#[test]
fn a_run_without_token_figures_reports_none_of_them() {
    let plan = plan("");
    let mut rec = Recorder::new(&plan);
    rec.arrived(0);
    rec.ok(0, 100 * MS);
    rec.close_window(0, S, TimelineSample::default(), false);
    let w = &rec.timeline[0];
    assert_eq!(
        [
            w.ttft_p50_ms,
            w.ttft_p99_ms,
            w.itl_p99_ms,
            w.tpot_p99_ms,
            w.tokens_per_s,
            w.goodput_rps,
            w.good_share
        ],
        [None; 7]
    );
    let report = scored(&plan, rec);
    assert!(report.setups[0].tokens.is_none() && !report.has_tokens());
    for f in [Figure::TtftP99, Figure::Goodput, Figure::TokensPerS] {
        assert_eq!(report.setups[0].figure(f), None, "{f}");
    }
    // report.json as it was before token figures existed: no new key anywhere.
    let json = serde_json::to_string(&report).unwrap_or_default();
    for key in ["tokens", "ttft", "tpot", "itl", "goodput", "good_share"] {
        assert!(!json.contains(key), "{key} in {json}");
    }
}

#[test]
fn the_slos_token_bounds_decide_whether_a_setup_meets_it() {
    let answers = |plan: &Plan, slow: usize| {
        let mut rec = Recorder::new(plan);
        for i in 0..100 {
            rec.arrived(0);
            let ttft = if i < slow { 300 } else { 100 };
            rec.ok_tokens(0, 500 * MS, &sample(Some(ttft), Some(30), 20));
        }
        scored(plan, rec)
    };
    let bounded = plan("ttft = \"200ms\"\ntpot = \"30ms\"");
    let r = answers(&bounded, 1);
    assert!(
        r.setups[0].slo.met,
        "99% of TTFTs within 200 ms, TPOTs at the bound"
    );
    assert_eq!(r.slo.ttft_ms, Some(200.0));
    assert_eq!(r.slo.tpot_ms, Some(30.0));
    let r = answers(&bounded, 2);
    assert_eq!(r.setups[0].slo.attainment, 1.0);
    assert!(!r.setups[0].slo.met, "2% of TTFTs over the bound at p99");
    let strict_tpot = plan("tpot = \"29ms\"");
    assert!(!answers(&strict_tpot, 0).setups[0].slo.met);
    // A bound on what nothing measured is not met; without bounds nothing changes.
    let mut rec = Recorder::new(&bounded);
    rec.arrived(0);
    rec.ok(0, 100 * MS);
    assert!(!scored(&bounded, rec).setups[0].slo.met);
    let unbounded = plan("");
    let mut rec = Recorder::new(&unbounded);
    rec.arrived(0);
    rec.ok(0, 100 * MS);
    let r = scored(&unbounded, rec);
    assert!(r.setups[0].slo.met);
    assert_eq!((r.slo.ttft_ms, r.slo.tpot_ms), (None, None));
}

#[test]
fn slo_token_bounds_parse_and_must_be_positive() {
    let p = plan("ttft = \"500ms\"\ntpot = \"40ms\"");
    assert_eq!(p.slo.ttft.map(|d| d.as_nanos()), Some(500 * MS));
    assert_eq!(p.slo.tpot.map(|d| d.as_nanos()), Some(40 * MS));
    assert_eq!((plan("").slo.ttft, plan("").slo.tpot), (None, None));
    for (line, needle) in [
        ("ttft = \"0s\"", "slo.ttft must be longer than zero"),
        ("tpot = \"0ms\"", "slo.tpot must be longer than zero"),
        ("ttfb = \"1s\"", "unknown field `ttfb`"),
    ] {
        let src = format!(
            "duration = \"3s\"\n[slo]\nlatency = \"1s\"\n{line}\n[traffic]\n[[traffic.shape]]\nkind = \"steady\"\nrate = 1\n[service]\ntime = \"1ms\"\n"
        );
        match Plan::parse(Path::new("llm.toml"), &src) {
            Ok(_) => panic!("{line} was accepted"),
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains(needle) && e.contains("llm.toml:"), "{line}: {e}");
            }
        }
    }
}

#[test]
fn repeats_carry_the_token_figures_of_runs_that_have_them() {
    use scalebench_core::repeat::repeat_report;
    let plan = plan("");
    let llm = [
        scored(&plan, eight_requests(&plan)),
        scored(&plan, eight_requests(&plan)),
    ];
    let setups: Vec<_> = llm.iter().map(|r| &r.setups[0]).collect();
    let r = repeat_report(&setups, &[1, 2], 0.95);
    for f in [
        "ttft_p50",
        "ttft_p99",
        "tpot_p99",
        "goodput",
        "goodput_rps",
        "tokens_per_s",
    ] {
        assert_eq!(r.figures.get(f).map(|s| s.values.len()), Some(2), "{f}");
    }
    assert!(!r.figures.contains_key("itl_p99"), "no gap was recorded");
    let mut rec = Recorder::new(&plan);
    rec.arrived(0);
    rec.ok(0, 100 * MS);
    let plain = scored(&plan, rec);
    let r = repeat_report(&[&plain.setups[0], &plain.setups[0]], &[1, 2], 0.95);
    assert!(!r.figures.contains_key("ttft_p99") && !r.figures.contains_key("goodput"));
}
