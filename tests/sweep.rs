//! End-to-end tests of `scalebench sweep`: the grid, its files, its determinism, its Pareto
//! front, and that each row is what `scalebench run` gives for that setting.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::scalebench;

use scalebench_core::sweep::Sweep;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workloads/scenarios")
        .join(name)
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// Runs a sweep of spike-5x into `out`; panics unless it succeeds.
fn sweep(out: &Path, extra: &[&str]) -> (Output, Sweep) {
    let spike = scenario("spike-5x.toml");
    let mut args = vec![
        "sweep",
        spike.to_str().unwrap_or_default(),
        "--out",
        out.to_str().unwrap_or_default(),
    ];
    args.extend_from_slice(extra);
    let o = scalebench(&args);
    assert!(
        o.status.success(),
        "sweep failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (o, read(&out.join("sweep.json")))
}

#[test]
fn a_grid_runs_every_setting_and_writes_the_table_csv_and_json() {
    let dir = tempdir();
    let out = dir.path().join("a");
    let (o, s) = sweep(
        &out,
        &[
            "--vary",
            "warm_pool=0,2",
            "--vary",
            "keda.target=2,3",
            "--setup",
            "keda-warm2",
            "--setup",
            "hpa-default",
            "--threads",
            "2",
        ],
    );
    assert_eq!(s.schema, "scalebench.sweep/v1");
    assert_eq!(s.keys, ["warm_pool", "keda.target"]);
    let values: Vec<Vec<&str>> = s
        .settings
        .iter()
        .map(|x| x.values.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        values,
        [["0", "2"], ["0", "3"], ["2", "2"], ["2", "3"]],
        "grid order: the last key varies fastest"
    );
    // hpa-default ignores keda.target: 2 variants; keda-warm2 has 4.
    assert_eq!(s.simulations, 6);
    for setting in &s.settings {
        assert_eq!(setting.setups.len(), 2);
        let ranks: Vec<u32> = setting.setups.iter().map(|r| r.rank).collect();
        assert_eq!(ranks, [1, 2]);
        assert!(setting.setups.iter().all(|r| r.timeline.is_empty()));
    }

    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("Pareto front"), "{stdout}");
    assert!(
        stdout.contains("cheapest setting that meets the SLO")
            || stdout.contains("no setting meets the SLO"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap_or_default();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "setting,warm_pool,keda.target,setup,policy,rank,pareto,p50_ms,p95_ms,p99_ms,p999_ms,\
             slo_attainment,slo_met,error_rate,cost_usd,cost_per_1k_usd,gpu_hours,idle_fraction,\
             max_replicas,cold_starts,scale_up_reaction_s,violation_s,simulation,eligible"
        )
    );
    assert_eq!(lines.count(), 8, "one row per setting and setup");
}

#[test]
fn rows_match_a_run_of_the_same_setting_and_the_front_is_undominated() {
    let dir = tempdir();
    let (_, s) = sweep(
        &dir.path().join("s"),
        &["--vary", "warm_pool=0,1,3", "--setup", "keda-warm2"],
    );
    // The same setting by hand: warm_pool = 3 written into the scenario.
    let text = std::fs::read_to_string(scenario("spike-5x.toml")).unwrap_or_default();
    let edited = text.replace("warm_pool = 2", "warm_pool = 3");
    assert_ne!(edited, text, "spike-5x.toml should set warm_pool = 2");
    let file = dir.path().join("warm3.toml");
    std::fs::write(&file, edited).unwrap_or_else(|e| panic!("{e}"));
    let run_out = dir.path().join("run");
    let o = scalebench(&[
        "run",
        file.to_str().unwrap_or_default(),
        "--setup",
        "keda-warm2",
        "--out",
        run_out.to_str().unwrap_or_default(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = common::read_report(&run_out.join("report.json"));
    let by_run = &report.setups[0];
    let by_sweep = &s.settings[2].setups[0];
    assert_eq!(s.settings[2].values, ["3"]);
    assert_eq!(by_sweep.name, by_run.name);
    assert_eq!(by_sweep.latency_ms, by_run.latency_ms);
    assert_eq!(by_sweep.requests, by_run.requests);
    assert_eq!(by_sweep.cost.total_usd, by_run.cost.total_usd);
    assert_eq!(by_sweep.scaling.max_replicas, by_run.scaling.max_replicas);

    // More warm replicas cost more here: the front holds every setting, the costs differ.
    let rows = s.rows();
    let budget = 1.0 - s.slo.percentile / 100.0;
    for r in &rows {
        assert_eq!(r.eligible, r.setup.requests.error_rate() <= budget + 1e-12);
        let (c, p) = (r.setup.cost.total_usd, r.setup.latency_ms.p99);
        let dominated = rows.iter().filter(|o| o.eligible).any(|o| {
            let (oc, op) = (o.setup.cost.total_usd, o.setup.latency_ms.p99);
            oc <= c && op <= p && (oc < c || op < p)
        });
        assert_eq!(
            r.pareto,
            r.eligible && !dominated,
            "row {} pareto flag",
            r.setting
        );
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let dir = tempdir();
    let args = ["--vary", "hpa.target=2,4", "--setup", "hpa-default"];
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--threads", "1"]);
    sweep(&one, &a);
    let mut b: Vec<&str> = args.to_vec();
    b.extend(["--threads", "2"]);
    sweep(&two, &b);
    let read_bytes = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(
        read_bytes(&one.join("sweep.json")),
        read_bytes(&two.join("sweep.json"))
    );
    assert_eq!(
        read_bytes(&one.join("sweep.csv")),
        read_bytes(&two.join("sweep.csv"))
    );
}

#[test]
fn json_goes_to_stdout_with_json() {
    let dir = tempdir();
    let (o, s) = sweep(
        &dir.path().join("j"),
        &[
            "--vary",
            "fixed.replicas=20,30",
            "--setup",
            "fixed-peak",
            "--json",
        ],
    );
    let printed: Sweep = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the sweep JSON: {e}"));
    assert_eq!(printed, s);
}

#[test]
fn bad_keys_and_values_are_input_errors_that_name_them() {
    let spike = scenario("spike-5x.toml");
    let spike = spike.to_str().unwrap_or_default();
    for (vary, expect) in [
        ("hpa.targt=1,2", "unknown field `targt`"),
        ("kpa.target=1", "no setup has a [setup.kpa] table"),
        ("nosuch:warm_pool=1", "no setup is named \"nosuch\""),
        ("warm_pool=-1", "warm_pool=-1"),
        ("warm_pool", "expected KEY=V1,V2"),
        ("warm_pool=3..1", "positive step"),
    ] {
        let o = scalebench(&[
            "sweep",
            spike,
            "--vary",
            vary,
            "--out",
            "/nonexistent/never",
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "--vary {vary}: {stderr}");
        assert!(stderr.contains(expect), "--vary {vary}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Ctrl-C keeps the settings that finished: a one-minute setting finishes, a ten-day one is
/// cut short and left out, and the exit code is 130. (A one-day setting could finish within
/// the two seconds on a fast machine.)
#[test]
fn an_interrupted_sweep_keeps_the_settings_that_finished() {
    let dir = tempdir();
    let out = dir.path().join("i");
    let spike = scenario("spike-5x.toml");
    let status = common::interrupt_after(
        &[
            "sweep",
            spike.to_str().unwrap_or_default(),
            "--vary",
            "duration=1m,240h",
            "--setup",
            "fixed-peak",
            "--threads",
            "2",
            "--out",
            out.to_str().unwrap_or_default(),
        ],
        std::time::Duration::from_millis(2000),
    );
    assert_eq!(status.code(), Some(130));
    let s: Sweep = read(&out.join("sweep.json"));
    assert!(s.interrupted);
    assert_eq!(s.settings.len(), 1, "only the one-minute setting finished");
    assert_eq!(s.settings[0].values, ["1m"]);
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap_or_default();
    assert_eq!(csv.lines().count(), 2, "header and the finished row");
}

/// A key that would be silently ignored is an error: it reaches none of the chosen setups, it
/// fights --seed, or its values give the same scenario.
#[test]
fn keys_that_would_change_nothing_are_input_errors() {
    let spike = scenario("spike-5x.toml");
    let spike = spike.to_str().unwrap_or_default();
    for (args, expect) in [
        (
            vec!["--setup", "fixed-peak", "--vary", "hpa.target=2,3"],
            "no setup has a [setup.hpa] table",
        ),
        (
            vec!["--vary", "seed=1,2", "--seed", "7"],
            "give one of them",
        ),
        (
            vec!["--vary", "cluster.scan_interval=10s,10000ms"],
            "changes nothing",
        ),
    ] {
        let mut all = vec!["sweep", spike, "--out", "/nonexistent/never"];
        all.extend(&args);
        let o = scalebench(&all);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}

/// A setup that sheds load shows a low p99 at a low cost: it is left off the front, and the
/// cheapest setting that meets the SLO is on it.
#[test]
fn setups_that_shed_load_are_left_off_the_front() {
    let dir = tempdir();
    let file = dir.path().join("shed.toml");
    let src = r#"
name = "shed"
duration = "5m"
[slo]
latency = "500ms"
[traffic]
capacity_replicas = 4
[[traffic.shape]]
kind = "steady"
rate = "90%"
[service]
concurrency = 4
queue = 1
time = "100ms"
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "fixed"
[setup.fixed]
replicas = 4
"#;
    std::fs::write(&file, src).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let o = scalebench(&[
        "sweep",
        file.to_str().unwrap_or_default(),
        "--vary",
        "fixed.replicas=1,2,3,6",
        "--out",
        out.to_str().unwrap_or_default(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: Sweep = read(&out.join("sweep.json"));
    let rows = s.rows();
    let shedding: Vec<_> = rows.iter().filter(|r| !r.eligible).collect();
    assert!(!shedding.is_empty(), "one replica of four should shed load");
    assert!(shedding.iter().all(|r| !r.pareto));
    let cheapest = s
        .cheapest_meeting_slo()
        .unwrap_or_else(|| panic!("six replicas meet the SLO"));
    assert!(
        cheapest.pareto,
        "the cheapest setting meeting the SLO is on the front"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("left off the front"), "{stdout}");
}
