//! docs/report.schema.json against what the binary writes: every shipped scenario's report (and
//! a repeated run's) conforms to it, and the schema refuses what it should, so that the
//! validation of every report the other tests read back is proven to bite.

use std::path::{Path, PathBuf};

use scalebench_core::figure::Figure;
use scalebench_core::report::{
    ClusterRun, Goodput, SCHEMA, TokenLatency, TokenReport, UndoRecord, WatchErrorRecord,
};
use serde_json::Value;

mod common;
use common::{read_report, report_validator, scalebench, schema_errors};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

/// Runs `scenario` with `extra` flags into `out`; panics unless it succeeds.
fn run(scenario: &Path, out: &Path, extra: &[&str]) {
    let (scenario_s, out_s) = (scenario.to_string_lossy(), out.to_string_lossy());
    let mut args = vec!["run", &scenario_s, "--out", &out_s];
    args.extend_from_slice(extra);
    let o = scalebench(&args);
    assert!(
        o.status.success(),
        "run {}: {}",
        scenario.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// workloads/scenarios/*.toml, in name order.
fn shipped_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// A valid report as JSON: steady-50 (one setup, a second of simulation).
fn valid_report(dir: &Path) -> Value {
    let out = dir.join("valid");
    run(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/scenarios/steady-50.toml"),
        &out,
        &[],
    );
    let text = std::fs::read_to_string(out.join("report.json")).unwrap_or_default();
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(schema_errors(&report), Vec::<String>::new());
    report
}

/// Mutates a copy of `report` and returns the schema's complaints about it.
fn errors_after(report: &Value, change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut v = report.clone();
    change(&mut v);
    schema_errors(&v)
}

/// Renames key `from` to `to` in the object at `pointer`.
fn rename(v: &mut Value, pointer: &str, from: &str, to: &str) {
    let object = v
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {pointer}"));
    let value = object
        .remove(from)
        .unwrap_or_else(|| panic!("no {from} at {pointer}"));
    object.insert(to.to_owned(), value);
}

/// Asserts that some error is at `pointer` and mentions `needle`.
fn assert_error(errors: &[String], pointer: &str, needle: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&format!("{pointer}: ")) && e.contains(needle)),
        "no error at {pointer} mentioning {needle:?}: {errors:#?}"
    );
}

#[test]
fn every_shipped_scenario_writes_a_report_the_schema_accepts() {
    let dir = tempdir();
    let scenarios = shipped_scenarios();
    assert!(scenarios.len() >= 6, "{scenarios:?}");
    let mut seen = Vec::new();
    for file in &scenarios {
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
        let out = dir.path().join(stem.unwrap_or_default());
        run(file, &out, &[]);
        let report = read_report(&out);
        assert!(!report.setups.is_empty(), "{}", file.display());
        seen.push(report);
    }
    // Between them, the shipped scenarios fill in the optional parts and the nulls the schema
    // describes, so they are checked against what the code really writes.
    let setups = || seen.iter().flat_map(|r| &r.setups);
    assert!(setups().any(|s| s.scaling.budget.is_some()), "a budget");
    assert!(setups().any(|s| !s.faults.is_empty()), "a fault");
    assert!(
        setups().any(|s| s.timeline.iter().any(|w| !w.faults.is_empty())),
        "a fault marker"
    );
    assert!(
        setups().any(|s| s.timeline.iter().any(|w| w.budget_held_back > 0)),
        "replicas held back"
    );
    assert!(
        setups().any(|s| s.scaling.scale_up_reaction_s.is_none()),
        "a null reaction"
    );
    assert!(
        setups().any(|s| s.cost.by_capacity_type.contains_key("spot")),
        "spot capacity"
    );
    assert!(
        seen.iter()
            .all(|r| r.environment.is_some() && r.source.is_some())
    );
    assert!(
        setups().all(|s| s.cluster.is_none()),
        "the simulator has no cluster section"
    );
}

#[test]
fn a_repeated_run_writes_a_report_the_schema_accepts() {
    let dir = tempdir();
    let out = dir.path().join("out");
    let spike = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/scenarios/spike-5x.toml");
    run(
        &spike,
        &out,
        &["--repeat", "2", "--setup", "hpa-default", "--seed", "5"],
    );
    let report = read_report(&out);
    let repeat = report.setups[0]
        .repeat
        .as_ref()
        .unwrap_or_else(|| panic!("no repeat section"));
    assert_eq!(repeat.seeds, vec![5, 6]);
    assert!(repeat.figures.contains_key("scale_up_reaction_s"));
}

/// The schema is draft 2020-12, its id and `schema` constant are the code's, and its
/// description of `figures` names every figure.
#[test]
fn the_schema_is_draft_2020_12_and_matches_the_code() {
    let path = common::report_schema_path();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
        panic!(
            "{} is not a valid draft 2020-12 schema: {e}",
            path.display()
        );
    }
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["$id"], SCHEMA);
    assert_eq!(schema["properties"]["schema"]["const"], SCHEMA);
    let figures = schema["$defs"]["RepeatReport"]["properties"]["figures"]["description"]
        .as_str()
        .unwrap_or_default();
    for f in Figure::ALL {
        assert!(
            figures.contains(&format!("`{}`", f.name())),
            "the description of `figures` lacks {}",
            f.name()
        );
    }
    // Compiles.
    let _ = report_validator();
}

#[test]
fn the_schema_rejects_typos_missing_fields_other_versions_and_nulls() {
    let dir = tempdir();
    let report = valid_report(dir.path());

    // A misspelt field: required fields are missed and the stranger is named.
    let errors = errors_after(&report, |v| {
        rename(v, "/setups/0/slo", "attainment", "attainmnet");
    });
    assert_error(&errors, "/setups/0/slo", "attainmnet");
    assert_error(&errors, "/setups/0/slo", "attainment");
    // A misspelt optional field: only the closed objects catch it.
    let errors = errors_after(&report, |v| rename(v, "", "environment", "enviroment"));
    assert_error(&errors, "(root)", "enviroment");
    let errors = errors_after(&report, |v| {
        rename(v, "/setups/0/timeline/0", "queue_depth", "queue_len");
    });
    assert_error(&errors, "/setups/0/timeline/0", "queue_len");

    // A missing required field.
    let errors = errors_after(&report, |v| {
        let requests = v
            .pointer_mut("/setups/0/requests")
            .and_then(Value::as_object_mut);
        requests.map(|r| r.remove("timed_out"));
    });
    assert_error(&errors, "/setups/0/requests", "timed_out");
    let errors = errors_after(&report, |v| {
        v.as_object_mut().map(|r| r.remove("window_s"));
    });
    assert_error(&errors, "(root)", "window_s");

    // Another version, another driver.
    let errors = errors_after(&report, |v| v["schema"] = "scalebench.report/v2".into());
    assert_error(&errors, "/schema", "scalebench.report/v1");
    let errors = errors_after(&report, |v| v["driver"] = "nomad".into());
    assert_error(&errors, "/driver", "nomad");

    // Integers stay integers; a number that was NaN (written as null) is refused where the
    // type does not allow null, and null is fine where it does.
    let errors = errors_after(&report, |v| v["setups"][0]["requests"]["ok"] = 1.5.into());
    assert_error(&errors, "/setups/0/requests/ok", "integer");
    let errors = errors_after(&report, |v| {
        v["setups"][0]["latency_ms"]["p99"] = Value::Null;
    });
    assert_error(&errors, "/setups/0/latency_ms/p99", "null");
    let errors = errors_after(&report, |v| {
        v["setups"][0]["scaling"]["scale_up_reaction_s"] = Value::Null;
    });
    assert_eq!(errors, Vec::<String>::new());
    // What nothing measured is null: a cost nothing billed, a window nothing observed.
    let errors = errors_after(&report, |v| {
        v["setups"][0]["cost"]["per_1k_requests_usd"] = Value::Null;
        v["setups"][0]["scaling"]["max_replicas"] = Value::Null;
        v["setups"][0]["timeline"][0]["queue_depth"] = Value::Null;
        v["setups"][0]["timeline"][0]["p99_ms"] = Value::Null;
    });
    assert_eq!(errors, Vec::<String>::new());
    // ... but never a negative or fractional count.
    let errors = errors_after(&report, |v| {
        v["setups"][0]["scaling"]["max_replicas"] = 1.5.into();
    });
    assert_error(&errors, "/setups/0/scaling/max_replicas", "integer");

    // The cluster section: null for the simulator (written, not left out); a real cluster's
    // is checked field by field: a watch error may come before the run's start, but a count is
    // never negative and a misspelt field is named.
    assert_eq!(report["setups"][0].get("cluster"), Some(&Value::Null));
    let cluster = serde_json::to_value(ClusterRun {
        namespace: "bench".to_owned(),
        deployment: "llm".to_owned(),
        relists: 1,
        watch_errors: vec![WatchErrorRecord {
            t_s: -2.5,
            resource: "nodes".to_owned(),
            kind: "initial-list-failed".to_owned(),
            message: "connection refused".to_owned(),
        }],
        stale_s: Some(3.0),
        undo: Some(UndoRecord {
            undone: 1,
            failed: vec![],
        }),
        ..ClusterRun::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let errors = errors_after(&report, |v| v["setups"][0]["cluster"] = cluster.clone());
    assert_eq!(errors, Vec::<String>::new());
    let errors = errors_after(&report, |v| {
        v["setups"][0]["cluster"] = cluster.clone();
        v["setups"][0]["cluster"]["relists"] = (-1).into();
    });
    assert_error(&errors, "/setups/0/cluster", "-1");
    let errors = errors_after(&report, |v| {
        v["setups"][0]["cluster"] = cluster.clone();
        rename(v, "/setups/0/cluster/undo", "undone", "undid");
    });
    assert_error(&errors, "/setups/0/cluster", "undid");

    // The helper every test reads reports with fails naming the pointers.
    let mut typo = report.clone();
    rename(&mut typo, "/setups/0/slo", "attainment", "attainmnet");
    let file = dir.path().join("typo.json");
    std::fs::write(&file, typo.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let panic = std::panic::catch_unwind(|| read_report(&file))
        .err()
        .unwrap_or_else(|| panic!("read_report accepted a misspelt field"));
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("typo.json"), "{message}");
    assert!(message.contains("report.schema.json"), "{message}");
    assert!(message.contains("/setups/0/slo: "), "{message}");
}

/// A run without token figures (every shipped scenario on the simulator, so far) writes none of
/// their fields; with them (an LLM endpoint's) the schema accepts them, `null` where nothing
/// measured a figure, and refuses a negative count or a share above 1.
#[test]
fn token_figures_are_left_out_without_tokens_and_checked_with_them() {
    let dir = tempdir();
    let report = valid_report(dir.path());
    assert_eq!(report["setups"][0].get("tokens"), None);
    assert_eq!(report["slo"].get("ttft_ms"), None);
    assert_eq!(report["setups"][0]["timeline"][0].get("ttft_p99_ms"), None);
    let p = |p99: f64| TokenLatency {
        p50: p99 / 2.0,
        p90: p99 * 0.8,
        p95: p99 * 0.9,
        p99,
        max: p99 * 2.0,
        mean: p99 / 2.0,
    };
    let tokens = serde_json::to_value(TokenReport {
        ttft_ms: Some(p(412.0)),
        itl_ms: Some(p(48.0)),
        tpot_ms: None,
        output_tokens: 1_234_567,
        prompt_tokens: None,
        output_tokens_per_s: 2057.6,
        goodput: Goodput {
            requests: 118_000,
            share: 0.983,
            rps: 196.7,
        },
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let with_tokens = |v: &mut Value| {
        v["slo"]["ttft_ms"] = 500.0.into();
        v["slo"]["tpot_ms"] = 50.0.into();
        v["setups"][0]["tokens"] = tokens.clone();
        let w = &mut v["setups"][0]["timeline"][0];
        w["ttft_p50_ms"] = 200.5.into();
        w["ttft_p99_ms"] = 412.0.into();
        w["itl_p99_ms"] = Value::Null;
        w["tpot_p99_ms"] = Value::Null;
        w["tokens_per_s"] = 0.0.into();
        w["goodput_rps"] = 0.0.into();
        w["good_share"] = Value::Null;
    };
    assert_eq!(errors_after(&report, with_tokens), Vec::<String>::new());
    let errors = errors_after(&report, |v| {
        with_tokens(v);
        v["setups"][0]["tokens"]["output_tokens"] = (-3).into();
    });
    assert_error(&errors, "/setups/0/tokens", "-3");
    let errors = errors_after(&report, |v| {
        with_tokens(v);
        v["setups"][0]["timeline"][0]["good_share"] = 1.5.into();
    });
    assert_error(&errors, "/setups/0/timeline/0/good_share", "1.5");
}
