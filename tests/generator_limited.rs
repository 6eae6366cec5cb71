//! `scalebench gate` on a report whose live load engine, not the target, limited a setup: its own
//! failing check (table, JSON and JUnit), `--allow-generator-limited` turning it into a warning,
//! and thresholds on the `generator_limited` figure. The report is a two-minute simulated run
//! (about 0.1 s) made into a live one by hand, since the engine's limits cannot be provoked on
//! demand.

use std::path::Path;

use serde_json::{Value, json};

mod common;
use common::{parse_report, scalebench};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SCENARIO: &str = r#"name = "limited"
duration = "2m"
seed = 1
[slo]
latency = "500ms"
[traffic]
[[traffic.shape]]
kind = "steady"
rate = 20
[service]
concurrency = 4
time = "50ms"
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "fixed"
[setup.fixed]
replicas = 2
"#;

/// The load section of a live setup: limited by `reasons` (none: it kept up).
fn load(reasons: Value) -> Value {
    let lat = json!({"p50": 0.1, "p90": 0.2, "p95": 0.3, "p99": 12.3, "p999": 13.0, "max": 14.0, "mean": 0.5});
    let limited = if reasons.as_array().is_some_and(|r| r.is_empty()) {
        Value::Null
    } else {
        json!({ "reasons": reasons })
    };
    json!({
        "schedule_lag_ms": lat,
        "pacing_lag_ms": lat,
        "connection_wait_ms": {"p50": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0, "mean": 0.0},
        "outcomes": {"http_200": 2400},
        "shards": 1,
        "max_connections": 8,
        "peak_busy": null,
        "generator_limited": limited,
    })
}

/// A simulated report turned into a live one of two setups: `limited`, whose engine lagged
/// and left requests unsent, and `kept-up`. Written to `dir/report.json`; returns its path.
fn limited_report(dir: &Path) -> String {
    let scenario = dir.join("limited.toml");
    std::fs::write(&scenario, SCENARIO).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join("sim");
    let o = scalebench(&[
        "run",
        &scenario.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let json = std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|e| panic!("{e}"));
    let mut r: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    r["driver"] = json!("load");
    if let Some(r) = r.as_object_mut() {
        r.remove("source");
    }
    let mut limited = r["setups"][0].clone();
    limited["name"] = json!("limited");
    limited["load"] = load(json!([
        {"reason": "pacing_lag", "value": 12.3, "bound": 1.0, "unit": "ms", "advice": "raise --shards"},
        {"reason": "not_sent", "value": 40.0, "bound": 0.0, "unit": "count", "advice": "raise --max-in-flight"},
    ]));
    let mut kept_up = r["setups"][0].clone();
    kept_up["name"] = json!("kept-up");
    kept_up["rank"] = json!(2);
    kept_up["load"] = load(json!([]));
    r["setups"] = json!([limited, kept_up]);
    let path = dir.join("report.json");
    let text = serde_json::to_string_pretty(&r).unwrap_or_else(|e| panic!("{e}"));
    // The hand-made report is a valid one.
    parse_report(&text, "the hand-made report");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path.to_string_lossy().into_owned()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

#[test]
fn a_generator_limited_report_fails_the_gate_with_its_own_check() {
    let dir = tempdir();
    let report = limited_report(dir.path());
    let junit = dir.path().join("gate.xml");
    let o = scalebench(&[
        "gate",
        &report,
        "--threshold",
        "p99<10s",
        "--junit",
        &junit.to_string_lossy(),
    ]);
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "the load engine limited setup \"limited\": pacing lag p99 12.3 ms > 1 ms bound \u{2014} raise --shards; requests not sent 40 > 0 bound \u{2014} raise --max-in-flight; the numbers are not the target's; fix the load engine settings or pass --allow-generator-limited"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("the load engine kept up: the figures are the target's"),
        "the other setup's check passes: {stdout}"
    );
    assert!(
        stderr.contains("the load engine limited setup limited")
            && stderr.contains("--allow-generator-limited"),
        "{stderr}"
    );
    // JUnit: the engine's check is a test case of its own, failing for `limited` only.
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("{e}"));
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1, "{xml}");
    assert_eq!(failures[0].attribute("type"), Some("generator_limited"));
    let case = failures[0].parent().unwrap_or_else(|| panic!("{xml}"));
    assert_eq!(case.attribute("name"), Some("load engine kept up"));
    assert_eq!(
        case.attribute("classname"),
        Some("scalebench.limited.limited")
    );
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, 4, "two engine checks and two thresholds: {xml}");

    // --json: the check's kind is `generator`.
    let o = scalebench(&["gate", &report, "--threshold", "p99<10s", "--json"]);
    let g: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    let first = &g["checks"][0];
    assert_eq!(
        (first["kind"].as_str(), first["figure"].as_str()),
        (Some("generator"), Some("generator_limited"))
    );
    assert_eq!(
        (first["actual"].as_f64(), first["limit"].as_f64()),
        (Some(2.0), Some(0.0))
    );
}

#[test]
fn allow_generator_limited_turns_the_failure_into_a_warning() {
    let dir = tempdir();
    let report = limited_report(dir.path());
    let o = scalebench(&[
        "gate",
        &report,
        "--threshold",
        "p99<10s",
        "--allow-generator-limited",
    ]);
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("gate: PASS"), "{stdout}");
    assert!(
        stdout.contains("warning: the load engine limited setup \"limited\""),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "warning: the load engine, not the target, limited setup 'limited': pacing lag p99 12.3 ms > 1 ms bound \u{2014} raise --shards"
        ),
        "{stderr}"
    );
}

#[test]
fn thresholds_on_the_generator_limited_figure() {
    let dir = tempdir();
    let report = limited_report(dir.path());
    let o = scalebench(&[
        "gate",
        &report,
        "--threshold",
        "generator_limited<1",
        "--allow-generator-limited",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let g: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    let thresholds: Vec<(&str, &str)> = g["checks"]
        .as_array()
        .map(|c| c.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|c| c["kind"] == "threshold")
        .map(|c| {
            (
                c["setup"].as_str().unwrap_or_default(),
                c["verdict"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(thresholds, [("limited", "fail"), ("kept-up", "pass")]);

    // A simulated report has no load engine: the figure is missing and the threshold says why.
    let sim = dir.path().join("sim");
    let o = scalebench(&[
        "gate",
        &sim.to_string_lossy(),
        "--threshold",
        "generator_limited<1",
    ]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("only live runs have a load engine"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("load engine kept up"),
        "no engine check on the simulator: {stdout}"
    );
}
