//! `scalebench compare`: two real reports side by side, the JSON's deltas against the numbers
//! in the reports, a self-contained HTML page, and bad input as exit 2 naming the file.

use std::path::{Path, PathBuf};

use scalebench_core::report::Report;
use serde_json::Value;

mod common;
use common::{read_report, scalebench, scenario};

/// Runs spike-5x with `seed` into `dir/<seed>` and returns the report's path and the report.
fn run(dir: &Path, seed: &str) -> (PathBuf, Report) {
    let out = dir.join(seed);
    let o = scalebench(&[
        "run",
        &scenario("spike-5x.toml"),
        "--seed",
        seed,
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(
        o.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let path = out.join("report.json");
    let report = read_report(&path);
    (path, report)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn two_seeds_of_spike_5x_compare_side_by_side() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (a_path, a) = run(dir.path(), "42");
    let (b_path, b) = run(dir.path(), "7");
    // A third report with one setup left out and one renamed: matched by name, shown as "-".
    let mut c_json: Value =
        serde_json::from_str(&std::fs::read_to_string(&b_path).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    if let Some(setups) = c_json["setups"].as_array_mut() {
        setups.retain(|s| s["name"] != "keda-warm2");
        setups[0]["name"] = Value::from("only-in-c");
    }
    common::validate_report(&c_json, "the edited report c.json");
    let c_path = dir.path().join("c.json");
    let _ = std::fs::write(&c_path, c_json.to_string());
    let html = dir.path().join("cmp.html");

    let args = [
        "compare".to_owned(),
        s(&a_path),
        s(&b_path),
        s(&c_path),
        "--label".to_owned(),
        "seed42".to_owned(),
        "--label".to_owned(),
        "seed7".to_owned(),
        "--html".to_owned(),
        s(&html),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = scalebench(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    for want in [
        "[1] seed42: ",
        "[2] seed7: ",
        "driver sim",
        "seed 42",
        "seed 7",
        "baseline",
        "setup hpa-default",
        "setup only-in-c (not in [1] [2])",
        "p99",
        "SLO attainment",
        "$/1k requests",
        "[2] vs [1]",
    ] {
        assert!(table.contains(want), "table lacks {want:?}:\n{table}");
    }
    // The live engine's own figures: nothing measured them on the simulator.
    for row in ["schedule lag p99", "engine limits"] {
        let line = table.lines().find(|l| l.trim_start().starts_with(row));
        let cells: Vec<&str> = line.map_or(Vec::new(), |l| l.split('|').map(str::trim).collect());
        assert_eq!(cells.get(2..4), Some(&["-", "-"][..]), "{row}:\n{table}");
    }
    // The third report's label defaults to its path.
    assert!(
        table.contains(&format!("[3] {}", c_path.display())),
        "{table}"
    );
    // The p99 change of hpa-default, as the table prints it.
    let p99 = |r: &Report| {
        r.setups
            .iter()
            .find(|s| s.name == "hpa-default")
            .map_or(f64::NAN, |s| s.latency_ms.p99)
    };
    let pct = 100.0 * (p99(&b) - p99(&a)) / p99(&a);
    let shown = if pct.abs() >= 0.05 {
        format!("({pct:+.1}%)")
    } else {
        format!("({pct:+.2}%)")
    };
    assert!(table.contains(&shown), "table lacks {shown}:\n{table}");

    // JSON: the deltas are the reports' numbers.
    let o = scalebench(&["compare", &s(&a_path), &s(&b_path), &s(&c_path), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["schema"], "scalebench.compare/v1");
    assert_eq!(json["baseline"], s(&a_path));
    assert_eq!(json["reports"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["reports"][1]["seed"], 7);
    assert_eq!(json["reports"][0]["driver"], "sim");
    let figures = json["figures"].as_array().cloned().unwrap_or_default();
    let better = |key: &str| {
        figures
            .iter()
            .find(|f| f["key"] == key)
            .map(|f| f["better"].clone())
    };
    assert_eq!(better("p99"), Some(Value::from("lower")));
    assert_eq!(better("slo_attainment"), Some(Value::from("higher")));
    assert_eq!(better("cost"), Some(Value::from("lower")));
    let setups = json["setups"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = setups.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(
        names,
        ["fixed-peak", "keda-warm2", "hpa-default", "only-in-c"]
    );
    for setup in &setups {
        let name = setup["name"].as_str().unwrap_or("");
        let find = |r: &Report| r.setups.iter().find(|s| s.name == name).cloned();
        let (sa, sb) = (find(&a), find(&b));
        let cell = |key: &str, i: usize| {
            setup["figures"]
                .as_array()
                .and_then(|f| f.iter().find(|f| f["key"] == key))
                .map(|f| f["cells"][i].clone())
                .unwrap_or(Value::Null)
        };
        if let (Some(sa), Some(sb)) = (&sa, &sb) {
            for (key, va, vb) in [
                ("p99", sa.latency_ms.p99, sb.latency_ms.p99),
                ("p50", sa.latency_ms.p50, sb.latency_ms.p50),
                (
                    "cost",
                    sa.cost.total_usd.unwrap_or(f64::NAN),
                    sb.cost.total_usd.unwrap_or(f64::NAN),
                ),
                ("slo_attainment", sa.slo.attainment, sb.slo.attainment),
                (
                    "error_rate",
                    sa.requests.error_rate(),
                    sb.requests.error_rate(),
                ),
            ] {
                let base = cell(key, 0);
                let other = cell(key, 1);
                assert_eq!(base["value"].as_f64(), Some(va), "{name} {key}");
                assert!(
                    base["delta"].is_null(),
                    "{name} {key}: the baseline has no delta"
                );
                assert_eq!(other["value"].as_f64(), Some(vb), "{name} {key}");
                let delta = other["delta"].as_f64().unwrap_or(f64::NAN);
                assert!((delta - (vb - va)).abs() < 1e-9, "{name} {key}: {delta}");
                if va != 0.0 {
                    let p = other["delta_pct"].as_f64().unwrap_or(f64::NAN);
                    assert!(
                        (p - 100.0 * (vb - va) / va).abs() < 1e-9,
                        "{name} {key}: {p}%"
                    );
                }
                let lower_better = key != "slo_attainment";
                let want = if vb == va {
                    "same"
                } else if (vb < va) == lower_better {
                    "better"
                } else {
                    "worse"
                };
                assert_eq!(other["verdict"], want, "{name} {key}");
            }
        }
        // Absent from a report: a null cell and present = false.
        let present = setup["present"].as_array().cloned().unwrap_or_default();
        assert_eq!(present[0], Value::from(sa.is_some()), "{name}");
        if sa.is_none() {
            assert!(cell("p99", 0).is_null(), "{name}");
        }
    }
    let keda = setups.iter().find(|s| s["name"] == "keda-warm2");
    assert_eq!(
        keda.map(|s| s["present"].clone()),
        Some(serde_json::json!([true, true, false]))
    );

    // The page: written, self-contained.
    let page = std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("{}: {e}", html.display()));
    assert!(page.contains("<svg") && page.contains("hpa-default"));
    for banned in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(http",
        "@import",
        "<link rel=\"stylesheet\"",
    ] {
        assert!(
            !page.contains(banned),
            "the page fetches something: {banned}"
        );
    }
}

#[test]
fn bad_reports_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let missing = dir.path().join("missing.json");
    let not_json = dir.path().join("timeline.csv");
    let not_report = dir.path().join("other.json");
    let wrong_schema = dir.path().join("future.json");
    let _ = std::fs::write(&not_json, "setup,t_s\n");
    let _ = std::fs::write(&not_report, "{\"hello\": 1}");
    let _ = std::fs::write(&wrong_schema, "{\"schema\": \"scalebench.report/v9\"}");
    let valid = dir.path().join("valid.json");
    let _ = std::fs::write(
        &valid,
        r#"{"schema":"scalebench.report/v1","scenario":"x","driver":"sim","seed":1,"duration_s":1,
            "window_s":1,"slo":{"latency_ms":500,"percentile":99,"timeout_ms":30000},"setups":[]}"#,
    );
    read_report(&valid);
    let o = scalebench(&["compare", &s(&valid), &s(&valid)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for bad in [&missing, &not_json, &not_report, &wrong_schema] {
        for args in [[s(&valid), s(bad)], [s(bad), s(&valid)]] {
            let o = scalebench(&["compare", &args[0], &args[1]]);
            assert_eq!(o.status.code(), Some(2), "{}", bad.display());
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains(&s(bad)),
                "the message names {}: {err}",
                bad.display()
            );
            assert!(
                o.stdout.is_empty(),
                "{}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
    }
    let o = scalebench(&[
        "compare",
        &s(&valid),
        &s(&valid),
        "--label",
        "a",
        "--label",
        "b",
        "--label",
        "c",
    ]);
    assert_eq!(o.status.code(), Some(2), "more labels than reports");
    let o = scalebench(&["compare", &s(&missing)]);
    assert_eq!(o.status.code(), Some(2), "one report is not a comparison");
}

/// Reports of `run --repeat` compare by the means of their runs, as the gate judges them.
#[test]
fn repeated_reports_compare_by_their_means() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut paths = Vec::new();
    for seed in ["3", "30"] {
        let out = dir.path().join(seed);
        let o = scalebench(&[
            "run",
            &scenario("spike-5x.toml"),
            "--setup",
            "hpa-default",
            "--repeat",
            "3",
            "--seed",
            seed,
            "--out",
            &s(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        paths.push(out.join("report.json"));
    }
    let o = scalebench(&["compare", &s(&paths[0]), &s(&paths[1]), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("means of 3 runs"));
    for (i, path) in paths.iter().enumerate() {
        let report = read_report(path);
        let mean = report.setups[0]
            .repeat
            .as_ref()
            .map(|r| r.figures["p99"].mean)
            .unwrap_or(f64::NAN);
        let cell = &json["setups"][0]["figures"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["key"] == "p99").cloned())
            .unwrap_or_default()["cells"][i];
        assert_eq!(cell["value"].as_f64(), Some(mean), "report {i}");
    }
}
