//! End-to-end tests of gating: `run` with the scenario's thresholds, `run --repeat`, and
//! `gate` against a baseline, through the real binary. Each scenario is two minutes of one HPA
//! setup on the simulator (about 0.1 s a run).

use std::path::{Path, PathBuf};

mod common;
use common::{read_report, scalebench};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// 90 rps of ~94 ms requests (about 8.5 busy slots) against an HPA of at most `max` replicas
/// of 4 slots each: at most 2 replicas is overloaded, at most 6 is not.
fn scenario(dir: &Path, file: &str, max: u32, thresholds: &str) -> String {
    let initial = max.min(4);
    let src = format!(
        r#"name = "gate-test"
thresholds = [{thresholds}]
duration = "2m"
seed = 1
[slo]
latency = "500ms"
[traffic]
capacity = 100
timeout = "10s"
[[traffic.shape]]
kind = "steady"
rate = 90
[service]
concurrency = 4
queue = 100
time = {{ dist = "lognormal", median = "80ms", p99 = "300ms" }}
lifecycle = {{ start = "2s", load = "2s" }}
[cluster]
billing = "replica"
price_per_replica_hour = 1.2
[[setup]]
name = "hpa"
initial_replicas = {initial}
[setup.hpa]
min_replicas = 1
max_replicas = {max}
metric = "concurrency"
target = 2
"#
    );
    let path = dir.join(file);
    std::fs::write(&path, src).unwrap_or_else(|e| panic!("{e}"));
    path.to_string_lossy().into_owned()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn path(p: PathBuf) -> String {
    p.to_string_lossy().into_owned()
}

fn junit_failures(file: &Path) -> usize {
    let xml = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(doc.root_element().tag_name().name(), "testsuites");
    doc.descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count()
}

#[test]
fn run_gates_itself_on_the_scenario_thresholds() {
    let dir = tempdir();
    let good = scenario(dir.path(), "good.toml", 6, r#""p99<1s", "error_rate<1%""#);
    let out = dir.path().join("good");
    let o = scalebench(&["run", &good, "--out", &path(out.clone())]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("gate: PASS"), "{stdout}");
    assert_eq!(junit_failures(&out.join("gate.xml")), 0);
    read_report(&out);

    let bad = scenario(
        dir.path(),
        "bad.toml",
        2,
        r#""p99<1s", "hpa:error_rate<1%""#,
    );
    let out = dir.path().join("bad");
    let o = scalebench(&["run", &bad, "--out", &path(out.clone())]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("FAIL") && stdout.contains("p99 1."),
        "{stdout}"
    );
    assert!(
        text(&o.stderr).contains("gate failed"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        out.join("report.json").exists(),
        "the report is written first"
    );
    read_report(&out);
    assert!(junit_failures(&out.join("gate.xml")) >= 1);

    // --threshold replaces the scenario's; --junit moves the XML.
    let xml = dir.path().join("mine.xml");
    let o = scalebench(&[
        "run",
        &bad,
        "--out",
        &path(out.clone()),
        "--threshold",
        "p99<1min",
        "--junit",
        &path(xml.clone()),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert_eq!(junit_failures(&xml), 0);
}

#[test]
fn gate_against_a_baseline_tells_drift_from_noise() {
    let dir = tempdir();
    let base = scenario(dir.path(), "base.toml", 6, "");
    let worse = scenario(dir.path(), "worse.toml", 2, "");
    let (b, c, w) = (
        path(dir.path().join("b")),
        path(dir.path().join("c")),
        path(dir.path().join("w")),
    );
    for (file, seed, out) in [(&base, "1", &b), (&base, "7", &c), (&worse, "7", &w)] {
        let o = scalebench(&["run", file, "--repeat", "3", "--seed", seed, "--out", out]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        read_report(Path::new(out));
    }
    let report = read_report(Path::new(&c));
    let repeat = report.setups[0]
        .repeat
        .clone()
        .unwrap_or_else(|| panic!("no repeats"));
    assert_eq!(repeat.seeds, vec![7, 8, 9]);
    let p99 = &repeat.figures["p99"];
    assert_eq!(p99.values.len(), 3);
    assert_eq!(
        p99.values[0], report.setups[0].latency_ms.p99,
        "the first run is the report"
    );
    assert!(p99.ci_low <= p99.mean && p99.mean <= p99.ci_high);

    // Another seed of the same scenario: within noise.
    let limits = "p99=10%,cost=20%";
    let o = scalebench(&["gate", &c, "--baseline", &b, "--max-regression", limits]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    // A limit the seeds' noise exceeds (+1.1% against 0.1%): not significant, so it passes.
    let o = scalebench(&["gate", &c, "--baseline", &b, "--max-regression", "p99=0.1%"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).contains("within noise, not significant at 95%"),
        "{}",
        text(&o.stdout)
    );
    // Fewer replicas: a real, significant regression.
    let xml = dir.path().join("gate.xml");
    let o = scalebench(&[
        "gate",
        &format!("{w}/report.json"),
        "--baseline",
        &b,
        "--max-regression",
        limits,
        "--junit",
        &path(xml.clone()),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("significant, p<0.001"), "{stdout}");
    for col in [
        "setup", "check", "actual", "limit", "baseline", "CI", "verdict", "reason",
    ] {
        assert!(stdout.contains(col), "{col}: {stdout}");
    }
    assert!(junit_failures(&xml) >= 1);

    // --json: the same result for machines, on stdout.
    let o = scalebench(&[
        "gate",
        &w,
        "--baseline",
        &b,
        "--max-regression",
        "p99=10%",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)));
    assert_eq!(json["schema"], "scalebench.gate/v1");
    assert_eq!(json["passed"], false);
    assert_eq!(json["checks"][0]["verdict"], "fail");
    assert!(
        json["checks"][0]["p_value"]
            .as_f64()
            .is_some_and(|p| p < 0.05)
    );

    // Thresholds on the command line, per setup.
    let o = scalebench(&[
        "gate",
        &c,
        "--threshold",
        "hpa:p99<=800ms",
        "--threshold",
        "cost<1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
}

#[test]
fn bad_gate_input_exits_2_with_a_clear_message() {
    let dir = tempdir();
    let file = scenario(dir.path(), "s.toml", 6, "");
    let out = path(dir.path().join("out"));
    let o = scalebench(&["run", &file, "--out", &out]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    read_report(Path::new(&out));
    for (args, needle) in [
        (
            vec!["gate", &out, "--threshold", "p99<<2"],
            "--threshold \"p99<<2\", column 5",
        ),
        (
            vec!["gate", &out, "--threshold", "p98<2"],
            "unknown figure \"p98\"",
        ),
        (vec!["gate", &out], "no checks"),
        (
            vec!["gate", &out, "--max-regression", "p99=10%"],
            "give --baseline",
        ),
        (
            vec!["gate", &out, "--baseline", &out],
            "needs regression limits",
        ),
        (
            vec![
                "gate",
                &out,
                "--baseline",
                &out,
                "--max-regression",
                "p99=10",
            ],
            "percentage",
        ),
        (
            vec!["gate", "/nonexistent/report.json", "--threshold", "p99<1"],
            "failed to read report",
        ),
        (
            vec!["run", &file, "--repeat", "1"],
            "--repeat needs 2 or more",
        ),
        (
            vec!["run", &file, "--threshold", "p99<"],
            "expected a value",
        ),
        (vec!["run", &file, "--junit", "x.xml"], "has none"),
    ] {
        let o = scalebench(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stdout));
        let err = text(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A bad threshold in the scenario file names its file, line and column.
    let bad = scenario(dir.path(), "bad.toml", 6, r#""p99<1s", "kpa:p99<1s""#);
    let o = scalebench(&["validate", &bad]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("bad.toml:2:26"), "{err}");
    assert!(
        err.contains("names setup \"kpa\", which is not in this scenario"),
        "{err}"
    );
    let good = scenario(dir.path(), "good.toml", 6, r#""p99<1s""#);
    let o = scalebench(&["validate", &good]);
    assert!(text(&o.stdout).contains("threshold p99<1s (every setup)"));
}

/// The CI workflow of docs/reports.md, step by step: the baseline run, the run of the change (both with
/// `--repeat 5`, gating on steady-50's own thresholds), then the gate against the baseline.
#[test]
fn the_readme_ci_workflow_commands_pass_on_an_unchanged_build() {
    let dir = tempdir();
    let steady =
        path(Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/scenarios/steady-50.toml"));
    let base = path(dir.path().join("out/base"));
    let change = path(dir.path().join("out/steady-50"));
    for out in [&base, &change] {
        let o = scalebench(&["run", &steady, "--repeat", "5", "--out", out]);
        assert!(o.status.success(), "run: {}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains("gate: PASS"),
            "{}",
            text(&o.stdout)
        );
        read_report(Path::new(out));
    }
    assert_eq!(
        junit_failures(&dir.path().join("out/steady-50/gate.xml")),
        0
    );
    let junit = dir.path().join("out/steady-50/gate-baseline.xml");
    let o = scalebench(&[
        "gate",
        &change,
        "--baseline",
        &base,
        "--max-regression",
        "p99=10%,cost_per_1k=5%",
        "--junit",
        &path(junit.clone()),
    ]);
    assert!(
        o.status.success(),
        "gate: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert_eq!(junit_failures(&junit), 0);
    assert!(dir.path().join("out/steady-50/report.html").is_file());
}

/// Ctrl-C during `run --repeat` exits 130 with a report marked interrupted; the runs it cut
/// short are not counted as repeats, and the gate does not judge a partial report.
#[test]
fn an_interrupted_repeat_is_reported_as_interrupted_and_not_gated() {
    let dir = tempdir();
    let file = dir.path().join("day.toml");
    let src = format!(
        "name = \"day\"\nthresholds = [\"p99<500ms\"]\n{}",
        common::DAY_SCENARIO
    );
    std::fs::write(&file, src).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let status = common::interrupt_after(
        &[
            "run",
            &path(file),
            "--repeat",
            "3",
            "--out",
            &path(out.clone()),
        ],
        std::time::Duration::from_millis(1500),
    );
    assert_eq!(status.code(), Some(130));
    let report = read_report(&out);
    assert!(report.interrupted);
    let repeat = report.setups[0]
        .repeat
        .as_ref()
        .unwrap_or_else(|| panic!("no repeat section"));
    assert_eq!(
        repeat.seeds.len(),
        1,
        "cut-short runs are not repeats: {:?}",
        repeat.seeds
    );
    assert!(!out.join("gate.xml").exists(), "a partial report was gated");
}

/// `run --setup` judges only the thresholds of the setups it ran, and `gate` with its own
/// flags does not read the thresholds recorded in the report (a build that cannot read them
/// must still gate).
#[test]
fn thresholds_of_other_setups_and_unread_recorded_ones_do_not_fail_a_gate() {
    let dir = tempdir();
    let spike =
        path(Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/scenarios/spike-5x.toml"));
    let original = std::fs::read_to_string(&spike).unwrap_or_default();
    let with = original.replacen(
        "seed = 42\n",
        "seed = 42\nthresholds = [\"fixed-peak:p99<1s\", \"hpa-default:p99<1s\"]\n",
        1,
    );
    let file = dir.path().join("spike.toml");
    std::fs::write(&file, with).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let o = scalebench(&[
        "run",
        &path(file),
        "--setup",
        "fixed-peak",
        "--out",
        &path(out.clone()),
    ]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stderr).contains("hpa-default:p99<1s"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(junit_failures(&out.join("gate.xml")), 0);

    // A report whose recorded scenario names a figure this build does not know.
    read_report(&out);
    let report = std::fs::read_to_string(out.join("report.json")).unwrap_or_default();
    let odd = report.replace("fixed-peak:p99<1s", "fixed-peak:p97<1s");
    assert_ne!(odd, report);
    let odd_file = dir.path().join("odd.json");
    std::fs::write(&odd_file, odd).unwrap_or_else(|e| panic!("{e}"));
    read_report(&odd_file);
    let o = scalebench(&[
        "gate",
        &path(odd_file.clone()),
        "--threshold",
        "p99<1s",
        "--confidence",
        "0.95",
    ]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    // Without flags it needs the recorded thresholds, and says what is wrong with them.
    let o = scalebench(&["gate", &path(odd_file)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("p97"), "{}", text(&o.stderr));
}
