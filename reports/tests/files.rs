//! report.json, timeline.csv and write_all, always inside a temporary directory.

mod common;

use std::error::Error;
use std::fs;

use reports::{ReportError, read_json, write_all, write_json, write_timeline_csv};
use scalebench_core::report::SCHEMA;

type TestResult = Result<(), Box<dyn Error>>;

#[test]
fn json_round_trip() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("report.json");
    let report = common::report();
    write_json(&report, &path)?;
    let text = fs::read_to_string(&path)?;
    assert!(
        text.starts_with("{\n  \"schema\": \"scalebench.report/v1\""),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    assert_eq!(common::read_report(&path), report);
    Ok(())
}

#[test]
fn wrong_schema_is_named_in_the_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("old.json");
    let mut report = common::report();
    report.schema = "scalebench.report/v0".to_owned();
    write_json(&report, &path)?;
    let err = read_json(&path).err().ok_or("a v0 report was accepted")?;
    assert!(matches!(err, ReportError::Schema { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("old.json"), "{message}");
    assert!(message.contains("\"scalebench.report/v0\""), "{message}");
    assert!(message.contains(SCHEMA), "{message}");
    Ok(())
}

#[test]
fn schema_is_checked_before_the_fields() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("v2.json");
    fs::write(&path, r#"{"schema": "scalebench.report/v2", "runs": []}"#)?;
    let err = read_json(&path).err().ok_or("a v2 report was accepted")?;
    assert!(matches!(err, ReportError::Schema { .. }), "{err:?}");

    fs::write(&path, r#"{"name": "something else"}"#)?;
    let err = read_json(&path)
        .err()
        .ok_or("a file without schema was accepted")?;
    assert!(err.to_string().contains("no \"schema\" field"), "{err}");
    Ok(())
}

#[test]
fn parse_errors_carry_file_line_and_column() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("broken.json");
    fs::write(
        &path,
        "{\n  \"schema\": \"scalebench.report/v1\",\n  \"seed\": oops\n}\n",
    )?;
    let err = read_json(&path).err().ok_or("broken JSON was accepted")?;
    let message = err.to_string();
    assert!(message.contains("broken.json:3:"), "{message}");

    let missing = dir.path().join("missing.json");
    let err = read_json(&missing).err().ok_or("a missing file was read")?;
    assert!(matches!(err, ReportError::Read { .. }) && err.to_string().contains("missing.json"));
    Ok(())
}

#[test]
fn timeline_csv_long_format() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("timeline.csv");
    write_timeline_csv(&common::report(), &path)?;
    let mut reader = csv::Reader::from_path(&path)?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let expected = "setup,t_s,rps,ok,p50_ms,p95_ms,p99_ms,errors,replicas_desired,replicas_ready,\
        pods_pending,nodes_gpu-od,nodes_gpu-spot,gpus_allocated,gpu_util,queue_depth,cost_usd,faults,\
        budget_held_back,running,kv_cache_usage";
    assert_eq!(header.join(","), expected);
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), 3 + 2 + 2);
    let od = header
        .iter()
        .position(|c| c == "nodes_gpu-od")
        .ok_or("no nodes_gpu-od")?;
    let spot = od + 1;
    // kpa-panic has no on-demand pool: 0 there; fixed-10 has no spot pool.
    assert_eq!(
        (&rows[0][0], &rows[0][od], &rows[0][spot]),
        ("kpa-panic", "0", "1")
    );
    assert_eq!(
        (&rows[3][0], &rows[3][od], &rows[3][spot]),
        ("hpa-default", "1", "1")
    );
    assert_eq!(
        (&rows[6][0], &rows[6][od], &rows[6][spot]),
        ("fixed-10", "3", "0")
    );
    assert_eq!(&rows[2][1], "3");
    let col = |name: &str| header.iter().position(|c| c == name).unwrap_or(usize::MAX);
    assert_eq!(&rows[2][col("cost_usd")], "0.035");
    assert_eq!(&rows[1][col("faults")], "pod-eviction@2s", "fault markers");
    assert_eq!(&rows[2][col("faults")], "");
    let held = col("budget_held_back");
    assert_eq!(
        (&rows[4][held], &rows[3][held]),
        ("3", "0"),
        "replicas held back by the budget"
    );
    // Not observed: empty cells, never 0.
    assert_eq!(
        (&rows[0][col("running")], &rows[0][col("kv_cache_usage")]),
        ("", "")
    );
    Ok(())
}

#[test]
fn timeline_csv_leaves_what_nothing_measured_empty() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("timeline.csv");
    let mut report = common::report();
    let w = &mut report.setups[0].timeline[0];
    (w.p50_ms, w.p95_ms, w.p99_ms) = (None, None, None);
    (w.replicas_desired, w.replicas_ready, w.pods_pending) = (None, None, None);
    (w.gpus_allocated, w.gpu_util, w.queue_depth, w.cost_usd) = (None, None, None, None);
    w.queue_depth = Some(0);
    write_timeline_csv(&report, &path)?;
    let mut reader = csv::Reader::from_path(&path)?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    let at = |name: &str| header.iter().position(|c| c == name).unwrap_or(usize::MAX);
    for column in [
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "replicas_desired",
        "replicas_ready",
        "pods_pending",
        "gpus_allocated",
        "gpu_util",
        "cost_usd",
    ] {
        assert_eq!(
            &rows[0][at(column)],
            "",
            "{column}: unknown is empty, not 0"
        );
        assert_ne!(&rows[1][at(column)], "", "{column} of a measured window");
    }
    assert_eq!(&rows[0][at("queue_depth")], "0", "a measured 0 stays 0");
    Ok(())
}

#[test]
fn timeline_csv_header_without_setups() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("timeline.csv");
    let mut report = common::report();
    report.setups.clear();
    write_timeline_csv(&report, &path)?;
    let text = fs::read_to_string(&path)?;
    assert_eq!(text.lines().count(), 1);
    assert!(text.starts_with("setup,t_s,"), "{text}");
    Ok(())
}

#[test]
fn write_all_creates_the_directory_and_every_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("runs").join("spike-demo");
    let report = common::report();
    let paths = write_all(&report, &out)?;
    assert_eq!(
        paths,
        vec![
            out.join("report.json"),
            out.join("timeline.csv"),
            out.join("report.html")
        ]
    );
    assert!(paths.iter().all(|p| p.is_file()));
    assert_eq!(common::read_report(&paths[0]), report);
    Ok(())
}

#[test]
fn write_all_names_the_directory_it_could_not_create() -> TestResult {
    let dir = tempfile::tempdir()?;
    let blocker = dir.path().join("file");
    fs::write(&blocker, "")?;
    let err = write_all(&common::report(), &blocker.join("out"))
        .err()
        .ok_or("wrote under a file")?;
    assert!(matches!(err, ReportError::CreateDir { .. }), "{err:?}");
    assert!(err.to_string().contains("file/out") || err.to_string().contains("file\\out"));
    Ok(())
}
