//! docs/report.schema.json against the Rust types: a report with every optional part filled in,
//! written by write_all, conforms to the schema, and the schema names no field the types lack.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;

use reports::write_all;
use scalebench_core::report::{
    Environment, FigureSamples, GeneratorLimited, Latency, LimitReason, LoadReport,
    PrometheusReport, QueryReport, RepeatReport, Report, ScenarioSource,
};
use serde_json::Value;

type TestResult = Result<(), Box<dyn Error>>;

/// The shared report with every optional field set and every list non-empty.
fn full_report() -> Report {
    let mut report = common::report();
    report.interrupted = true;
    report.source = Some(ScenarioSource {
        path: "spike-demo.toml".to_owned(),
        toml: "name = \"spike-demo\"\n".to_owned(),
    });
    report.environment = Some(Environment {
        scalebench: "0.1.0".to_owned(),
        os: "linux".to_owned(),
        arch: "x86_64".to_owned(),
        cpus: 2,
        started_at: "2026-12-01T17:02:00Z".to_owned(),
    });
    let kpa = &mut report.setups[0];
    kpa.faults[0].blocked = 1;
    kpa.faults[0].retried = Some(4);
    kpa.timeline[1].budget_held_back = 2;
    kpa.load = Some(LoadReport {
        schedule_lag_ms: Latency {
            p50: 0.1,
            p90: 0.2,
            p95: 0.3,
            p99: 0.9,
            p999: 2.0,
            max: 3.5,
            mean: 0.15,
        },
        pacing_lag_ms: Latency {
            p99: 0.5,
            ..Latency::default()
        },
        connection_wait_ms: Latency {
            p99: 0.4,
            ..Latency::default()
        },
        outcomes: BTreeMap::from([("http_200".to_owned(), 119_400), ("timeout".to_owned(), 83)]),
        shards: Some(2),
        max_connections: Some(96),
        peak_busy: Some(0.97),
        generator_limited: Some(GeneratorLimited {
            reasons: vec![LimitReason {
                reason: "saturated".to_owned(),
                value: 0.97,
                bound: 0.9,
                unit: "fraction".to_owned(),
                advice: "give the load engine more cores".to_owned(),
            }],
        }),
    });
    kpa.repeat = Some(RepeatReport {
        seeds: vec![42, 43, 44],
        confidence: 0.95,
        figures: BTreeMap::from([(
            "p99".to_owned(),
            FigureSamples {
                values: vec![420.5, 415.0, 431.25],
                mean: 422.25,
                ci_low: 401.9,
                ci_high: 442.6,
            },
        )]),
    });
    kpa.timeline[1].running = Some(7);
    kpa.timeline[1].kv_cache_usage = Some(0.42);
    kpa.prometheus = Some(PrometheusReport {
        url: "http://prometheus:9090".to_owned(),
        start_unix_s: 1_764_608_520.25,
        step_s: 1.0,
        queries: vec![
            QueryReport {
                field: "running".to_owned(),
                query: "sum(vllm:num_requests_running)".to_owned(),
                windows: 3,
                error: None,
            },
            QueryReport {
                field: "queue_depth".to_owned(),
                query: "vllm:num_requests_waiting".to_owned(),
                windows: 0,
                error: Some("query returned 2 series".to_owned()),
            },
        ],
        warnings: vec!["running: no sample for the last window".to_owned()],
    });
    // A window nothing measured: its service side and latency are null.
    let unmeasured = &mut report.setups[1].timeline[0];
    unmeasured.p50_ms = None;
    unmeasured.p95_ms = None;
    unmeasured.p99_ms = None;
    unmeasured.replicas_ready = None;
    unmeasured.cost_usd = None;
    unmeasured.gpu_util = None;
    // A setup nothing billed.
    report.setups[2].cost = scalebench_core::report::Cost::default();
    report.setups[2].scaling.max_replicas = None;
    report.setups[2].scaling.cold_starts = None;
    report.setups[2].cold_start = None;
    // A setup whose only started replicas never became ready: counted, percentiles null.
    report.setups[1].scaling.cold_starts = Some(0);
    report.setups[1].cold_start = Some(common::cold_starts(&[], 2));
    // What a real cluster did (the other setups' sections stay null).
    report.setups[0].cluster = Some(common::cluster_run());
    // An LLM endpoint's token figures, bounded by the SLO, with a window that measured them
    // all (the fixed fleet's ITL and TPOT are null: single tokens).
    report.slo.ttft_ms = Some(500.0);
    report.slo.tpot_ms = Some(50.0);
    report.setups[0].tokens = Some(common::tokens(412.5, 0.9871, true));
    report.setups[2].tokens = Some(common::tokens(180.0, 1.0, false));
    let w = &mut report.setups[0].timeline[1];
    w.ttft_p50_ms = Some(101.5);
    w.ttft_p99_ms = Some(402.0);
    w.itl_p99_ms = Some(45.5);
    w.tpot_p99_ms = Some(40.0);
    w.tokens_per_s = Some(2002.0);
    w.goodput_rps = Some(190.0);
    w.good_share = Some(0.975);
    report
}

/// The key sets of every JSON object in `v` (map-like objects included).
fn key_sets(v: &Value, out: &mut Vec<BTreeSet<String>>) {
    match v {
        Value::Object(m) => {
            out.push(m.keys().cloned().collect());
            m.values().for_each(|c| key_sets(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| key_sets(c, out)),
        _ => {}
    }
}

#[test]
fn a_report_with_every_part_written_by_write_all_conforms() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("full");
    let report = full_report();
    let paths = write_all(&report, &out)?;
    assert_eq!(common::read_report(&paths[0]), report);

    // And so does the shared report, whose optional parts are left out, and the LLM run.
    write_all(&common::report(), &dir.path().join("plain"))?;
    common::read_report(&dir.path().join("plain/report.json"));
    let llm = common::llm_report();
    let paths = write_all(&llm, &dir.path().join("llm"))?;
    assert_eq!(common::read_report(&paths[0]), llm);
    Ok(())
}

/// Token figures are additions only: a report without them is written as before (no new key),
/// null token figures are read as absent, and the schema refuses a negative or misspelt one.
#[test]
fn token_figures_are_absent_without_tokens_and_checked_with_them() -> TestResult {
    let plain = serde_json::to_string(&common::report())?;
    for key in ["tokens", "ttft", "tpot", "itl", "goodput", "good_share"] {
        assert!(
            !plain.contains(key),
            "{key} in a report without token figures"
        );
    }
    let mut llm = serde_json::to_value(common::llm_report())?;
    assert_eq!(common::schema_errors(&llm), Vec::<String>::new());
    // Written absent, read the same when null.
    llm["setups"][1]["tokens"] = Value::Null;
    llm["setups"][0]["timeline"][1]["ttft_p99_ms"] = Value::Null;
    assert_eq!(common::schema_errors(&llm), Vec::<String>::new());
    let back: scalebench_core::report::Report = serde_json::from_value(llm.clone())?;
    assert_eq!(back.setups[1].tokens, None);
    let mut bad = llm.clone();
    bad["setups"][0]["tokens"]["goodput"]["share"] = 1.5.into();
    bad["setups"][0]["timeline"][0]["tokens_per_s"] = (-1).into();
    let errors = common::schema_errors(&bad);
    assert!(
        errors.iter().any(|e| e.starts_with("/setups/0/tokens")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/setups/0/timeline/0/tokens_per_s")),
        "{errors:#?}"
    );
    let mut typo = llm;
    let t = typo["setups"][0]["tokens"]
        .as_object_mut()
        .ok_or("no tokens")?;
    let v = t.remove("ttft_ms").ok_or("no ttft_ms")?;
    t.insert("ttfb_ms".to_owned(), v);
    let errors = common::schema_errors(&typo);
    assert!(errors.iter().any(|e| e.contains("ttfb_ms")), "{errors:#?}");
    Ok(())
}

/// Every object the schema defines is, field for field, an object of the full report: the
/// schema has no field the types do not write (and `additionalProperties: false` has already
/// shown that the types write no field the schema lacks).
#[test]
fn the_schema_defines_exactly_the_fields_the_types_write() -> TestResult {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(common::report_schema_path())?)?;
    let written = serde_json::to_value(full_report())?;
    let mut objects = Vec::new();
    key_sets(&written, &mut objects);
    let defs = schema["$defs"].as_object().ok_or("no $defs")?;
    let mut checked = 0;
    for (name, def) in
        std::iter::once(("(root)", &schema)).chain(defs.iter().map(|(k, v)| (k.as_str(), v)))
    {
        let Some(properties) = def["properties"].as_object() else {
            continue;
        };
        let fields: BTreeSet<String> = properties.keys().cloned().collect();
        assert!(
            objects.contains(&fields),
            "no object of the full report has exactly the fields of {name}: {fields:?}"
        );
        checked += 1;
    }
    // Report, ScenarioSource, Environment, SloSpec, SetupReport, RepeatReport, FigureSamples,
    // LoadReport, GeneratorLimited, LimitReason, Requests, Latency, SloResult, Recovery, Cost,
    // PoolCost, CapacityCost, BudgetReport, Scaling, ColdStartReport, PhaseMs, ClusterRun,
    // WatchErrorRecord, RefusalRecord, UndoRecord, ClassReport, FaultEvent, TimelineSample,
    // PrometheusReport, QueryReport, TokenReport, TokenLatency, Goodput.
    assert_eq!(checked, 33);
    Ok(())
}
