//! Gate evaluation and its renderings on synthetic reports.

use scalebench_core::repeat::repeat_report;
use scalebench_core::report::*;
use scalebench_core::threshold::{GateSpec, RegressionLimit, Threshold};

use super::*;
use crate::gate_render::gate_table;
use crate::junit::junit_xml;

fn setup(name: &str, p99: f64, cost: f64) -> SetupReport {
    SetupReport {
        name: name.into(),
        rank: 1,
        policy: "fixed".into(),
        requests: Requests {
            scheduled: 1000,
            sent: 1000,
            ok: 995,
            failed: 5,
            ..Default::default()
        },
        latency_ms: Latency {
            p99,
            ..Default::default()
        },
        slo: SloResult {
            attainment: 0.995,
            met: true,
            violation_s: 0.0,
            recoveries: vec![],
        },
        cost: Cost {
            total_usd: Some(cost),
            per_1k_requests_usd: Some(cost),
            gpu_hours: Some(1.0),
            by_pool: Default::default(),
            by_capacity_type: Default::default(),
            idle_fraction: Some(0.5),
        },
        scaling: Scaling {
            max_replicas: Some(4),
            cold_starts: Some(0),
            scale_up_reaction_s: None,
            max_nodes: Default::default(),
            budget: None,
        },
        classes: vec![],
        faults: vec![],
        load: None,
        timeline: vec![],
        cold_start: None,
        cluster: None,
        repeat: None,
        prometheus: None,
        tokens: None,
    }
}

fn report(setups: Vec<SetupReport>) -> Report {
    Report {
        schema: SCHEMA.into(),
        scenario: "s<&>".into(),
        description: None,
        driver: "sim".into(),
        seed: 1,
        duration_s: 60.0,
        interrupted: false,
        window_s: 1.0,
        slo: SloSpec {
            latency_ms: 500.0,
            percentile: 99.0,
            timeout_ms: 30_000.0,
            ttft_ms: None,
            tpot_ms: None,
        },
        setups,
        source: None,
        environment: None,
    }
}

/// A setup repeated with these p99 values (the first run's report is the setup itself).
fn repeated(name: &str, p99s: &[f64]) -> SetupReport {
    let runs: Vec<SetupReport> = p99s.iter().map(|p| setup(name, *p, 10.0)).collect();
    let refs: Vec<&SetupReport> = runs.iter().collect();
    let seeds: Vec<u64> = (1..=p99s.len() as u64).collect();
    let mut s = runs[0].clone();
    s.repeat = Some(repeat_report(&refs, &seeds, 0.95));
    s
}

fn spec(thresholds: &[&str], limits: &str) -> GateSpec {
    GateSpec {
        thresholds: thresholds
            .iter()
            .map(|t| Threshold::parse(t).unwrap_or_else(|e| panic!("{e}")))
            .collect(),
        max_regression: if limits.is_empty() {
            vec![]
        } else {
            RegressionLimit::parse_list(limits).unwrap_or_else(|e| panic!("{e}"))
        },
        ..GateSpec::default()
    }
}

#[test]
fn thresholds_pass_and_fail_per_setup_with_reasons() {
    let r = report(vec![setup("a", 800.0, 10.0), setup("b", 2500.0, 10.0)]);
    let g = evaluate(&r, None, &spec(&["p99<2s", "a:error_rate<=0.5%"], ""));
    assert_eq!(g.checks.len(), 3);
    assert!(!g.passed);
    assert_eq!(g.failed, 1);
    let b = &g.checks[1];
    assert_eq!((b.setup.as_str(), b.verdict), ("b", Verdict::Fail));
    assert_eq!(b.reason, "p99 2.50 s >= 2.00 s");
    assert_eq!(g.checks[0].reason, "p99 800 ms < 2.00 s");
    assert_eq!(g.checks[2].reason, "error_rate 0.5% <= 0.5%");
    assert_eq!(g.checks[2].verdict, Verdict::Pass);
}

#[test]
fn a_missing_setup_or_figure_is_a_failed_check() {
    let r = report(vec![setup("a", 800.0, 10.0)]);
    let g = evaluate(
        &r,
        None,
        &spec(&["nope:p99<2s", "scale_up_reaction_s<60"], ""),
    );
    assert_eq!(g.failed, 2);
    assert!(
        g.checks[0]
            .reason
            .contains("setup \"nope\" is not in the report (setups: a)")
    );
    assert!(
        g.checks[1].reason.contains("not available"),
        "{}",
        g.checks[1].reason
    );
    let base = report(vec![setup("a", 800.0, 10.0), setup("gone", 800.0, 10.0)]);
    let now = report(vec![setup("a", 800.0, 10.0), setup("new", 800.0, 10.0)]);
    let g = evaluate(&now, Some(&base), &spec(&[], "p99=10%"));
    let reasons: Vec<(&str, &str)> = g
        .checks
        .iter()
        .map(|c| (c.setup.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(g.failed, 2, "{reasons:?}");
    assert!(
        reasons[1].1.contains("\"new\" is not in the baseline"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].1.contains("\"gone\" is not in the report"),
        "{reasons:?}"
    );
}

#[test]
fn a_cold_start_figure_holds_like_any_other_and_fails_when_not_observed() {
    use scalebench_core::run::{ColdStartSample, ColdStarts};
    let mut observed = setup("a", 800.0, 10.0);
    let mut c = ColdStarts::new();
    for s in [60, 70, 80, 90] {
        c.push(ColdStartSample {
            pending_ns: s * 1_000_000_000,
            creating_ns: 21_000_000_000,
            loading_ns: 40_000_000_000,
        });
    }
    observed.cold_start = Some(c.report());
    // Nothing observed the pods, and pods observed but none started: both unavailable.
    let blind = setup("b", 800.0, 10.0);
    let mut none_started = setup("c", 800.0, 10.0);
    none_started.cold_start = Some(ColdStarts::new().report());
    let r = report(vec![observed, blind, none_started]);
    let g = evaluate(
        &r,
        None,
        &spec(&["cold_start_p95<=160s", "a:cold_start.total.p50<150s"], ""),
    );
    let got: Vec<(&str, Verdict, &str)> = g
        .checks
        .iter()
        .map(|c| (c.setup.as_str(), c.verdict, c.reason.as_str()))
        .collect();
    assert_eq!(got[0].1, Verdict::Pass, "{got:?}");
    assert_eq!(
        g.checks[0].actual,
        Some(151_000.0),
        "p95 of 121, 131, 141, 151 s"
    );
    assert!(got[0].2.starts_with("cold_start_p95 "), "{got:?}");
    for i in [1, 2] {
        assert_eq!(got[i].1, Verdict::Fail, "{got:?}");
        assert!(got[i].2.contains("not available"), "{got:?}");
    }
    assert_eq!(got[3].1, Verdict::Pass, "{got:?}");
    assert_eq!(g.checks[3].actual, Some(131_000.0));
}

#[test]
fn single_runs_compare_point_values_and_say_so() {
    let base = report(vec![setup("a", 1000.0, 10.0)]);
    let worse = report(vec![setup("a", 1150.0, 10.4)]);
    let g = evaluate(&worse, Some(&base), &spec(&[], "p99=10%,cost=5%"));
    let (p99, cost) = (&g.checks[0], &g.checks[1]);
    assert_eq!(p99.verdict, Verdict::Fail);
    assert_eq!(
        p99.reason,
        "p99 1.15 s > 1.10 s (baseline 1.00 s + 10%; change +15.0%); single runs on both sides: no significance test was possible"
    );
    assert_eq!(cost.verdict, Verdict::Pass, "{}", cost.reason);
    assert_eq!(p99.limit, Some(1100.0));
    assert_eq!(p99.baseline, Some(1000.0));
    assert_eq!(p99.p_value, None);
}

#[test]
fn a_regression_fails_only_when_significant() {
    let base = report(vec![repeated("a", &[1000.0, 1040.0, 960.0, 1010.0, 990.0])]);
    // Mean +15%, far beyond the spread: significant.
    let drift = report(vec![repeated(
        "a",
        &[1150.0, 1160.0, 1140.0, 1155.0, 1145.0],
    )]);
    let g = evaluate(&drift, Some(&base), &spec(&[], "p99=10%"));
    let c = &g.checks[0];
    assert_eq!(c.verdict, Verdict::Fail, "{}", c.reason);
    assert!(c.reason.contains("significant, p<0.001"), "{}", c.reason);
    assert!(c.ci.is_some());
    // Mean +12%, but one run is wild: within noise.
    let noisy = report(vec![repeated(
        "a",
        &[700.0, 1500.0, 1000.0, 1400.0, 1000.0],
    )]);
    let g = evaluate(&noisy, Some(&base), &spec(&[], "p99=10%"));
    let c = &g.checks[0];
    assert_eq!(c.verdict, Verdict::Pass, "{}", c.reason);
    assert!(
        c.reason.contains("within noise, not significant at 95%"),
        "{}",
        c.reason
    );
    assert!(c.p_value.is_some_and(|p| p > 0.05));
    // Thresholds on repeats judge the mean and show the interval.
    let g = evaluate(&noisy, None, &spec(&["p99<1.2s"], ""));
    assert!(
        g.checks[0].reason.contains("mean of 5 runs, CI"),
        "{}",
        g.checks[0].reason
    );
    assert_eq!(g.checks[0].actual, Some(1120.0));
}

#[test]
fn higher_is_better_regresses_downwards() {
    let base = report(vec![setup("a", 1.0, 1.0)]);
    let mut now = report(vec![setup("a", 1.0, 1.0)]);
    now.setups[0].slo.attainment = 0.90;
    let g = evaluate(&now, Some(&base), &spec(&[], "slo_attainment=1%"));
    let c = &g.checks[0];
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(
        c.reason
            .starts_with("slo_attainment 90% < 98.5% (baseline 99.5% - 1%"),
        "{}",
        c.reason
    );
}

#[test]
fn the_table_and_junit_render_every_check() {
    let r = report(vec![setup("a", 800.0, 10.0), setup("b\"<x>", 2500.0, 10.0)]);
    let g = evaluate(&r, None, &spec(&["p99<2s", "cost<$20"], ""));
    let table = gate_table(&g);
    for col in crate::GATE_COLUMNS {
        assert!(table.contains(col), "{col}: {table}");
    }
    assert!(
        table.contains("FAIL") && table.ends_with("gate: FAIL\n"),
        "{table}"
    );
    let xml = junit_xml(&g);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("4"));
    assert_eq!(root.attribute("failures"), Some("1"));
    assert_eq!(root.attribute("name"), Some("scalebench gate: s<&>"));
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 2);
    assert_eq!(suites[1].attribute("name"), Some("b\"<x>"));
    assert_eq!(suites[1].attribute("failures"), Some("1"));
    let failure = suites[1]
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap_or_else(|| panic!("no failure in {xml}"));
    assert_eq!(failure.attribute("message"), Some("p99 2.50 s >= 2.00 s"));
    assert_eq!(failure.text(), Some("p99 2.50 s >= 2.00 s"));
    let json = serde_json::to_value(&g).unwrap_or_default();
    assert_eq!(json["schema"], "scalebench.gate/v1");
    assert_eq!(json["checks"][1]["verdict"], "fail");
}
