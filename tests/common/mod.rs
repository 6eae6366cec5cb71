//! Helpers shared by the end-to-end tests of the binary. Each test file uses some of them.
#![allow(dead_code)]

mod procs;
mod report_schema;
#[allow(unused_imports)] // each test file uses some
pub use procs::*;
pub use report_schema::*;

use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use scalebench_core::report::Report;
use serde_json::Value;

/// A day at 2000 rps against 20 fixed replicas: far longer than any test waits, for tests
/// that interrupt a run. Top-level keys may be put before it.
pub const DAY_SCENARIO: &str = r#"
duration = "24h"
[slo]
latency = "500ms"
[traffic]
[[traffic.shape]]
kind = "steady"
rate = 2000
[service]
concurrency = 4
time = "20ms"
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "fixed"
[setup.fixed]
replicas = 20
"#;

/// Runs the binary to completion.
pub fn scalebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start scalebench: {e}"))
}

/// The path of a shipped scenario.
pub fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workloads/scenarios")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Starts the binary, sends it SIGINT after `after`, and waits (at most a minute) for it to
/// stop; panics if it does not.
pub fn interrupt_after(args: &[&str], after: Duration) -> ExitStatus {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    std::thread::sleep(after);
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = child.try_wait().unwrap_or_else(|e| panic!("wait: {e}")) {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("scalebench {args:?} did not stop within a minute of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Parses report JSON (`what` names it in messages), validates it against the schema and
/// deserializes it.
pub fn parse_report(text: &str, what: &str) -> Report {
    let value: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON: {e}"));
    validate_report(&value, what);
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{what} does not parse: {e}"))
}

/// Reads a report.json back: `path` is the file or a run's output directory holding it. The
/// file is validated against docs/report.schema.json, then deserialized.
pub fn read_report(path: &Path) -> Report {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    parse_report(&text, &file.display().to_string())
}

/// `scalebench run SCENARIO --out OUT EXTRA...` to completion (it must succeed): its report,
/// validated against the schema.
pub fn run_report(scenario: &Path, out: &Path, extra: &[&str]) -> Report {
    let o = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot start scalebench: {e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    read_report(out)
}

/// The same scenario run on the simulator and on the testbed (`--time-scale time_scale`),
/// into `dir`/sim and `dir`/bed: the two reports, in that order.
pub fn sim_and_testbed(scenario: &Path, dir: &Path, time_scale: f64) -> (Report, Report) {
    let sim = run_report(scenario, &dir.join("sim"), &[]);
    let scale = time_scale.to_string();
    let bed = run_report(
        scenario,
        &dir.join("bed"),
        &["--driver", "testbed", "--time-scale", &scale],
    );
    (sim, bed)
}
