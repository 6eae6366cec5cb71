//! End-to-end tests of the binary: scenario in, ranked table and report files out.

use std::path::PathBuf;
use std::process::{Command, Output};

use scalebench_core::report::Report;

mod common;
use common::{read_report, scalebench, scenario};

fn run(name: &str) -> (Output, Report, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = dir.path().join("out");
    let o = scalebench(&["run", &scenario(name), "--out", &out.to_string_lossy()]);
    assert!(
        o.status.success(),
        "run {name} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = read_report(&out);
    (o, report, out, dir)
}

#[test]
fn spike_5x_prints_the_ranked_table_and_writes_both_files() {
    let (o, report, out, _dir) = run("spike-5x.toml");
    let stdout = String::from_utf8_lossy(&o.stdout);
    for s in &report.setups {
        assert!(
            stdout.contains(&s.name),
            "table lacks {}:\n{stdout}",
            s.name
        );
    }
    assert_eq!(report.schema, "scalebench.report/v1");
    assert_eq!(report.driver, "sim");
    assert_eq!(report.setups.len(), 3);
    for (i, s) in report.setups.iter().enumerate() {
        assert_eq!(s.rank, i as u32 + 1);
        assert!(s.requests.identity_holds(), "{}: {:?}", s.name, s.requests);
        assert!(s.requests.scheduled > 100_000);
        assert_eq!(
            s.timeline.len(),
            1800,
            "one window per second of a 30 min run"
        );
        assert_eq!(s.slo.recoveries.len(), 1);
    }
    // The HPA sees the spike a scrape delay (15 s) late, acts at its next sync (15 s), and its
    // new pods start (1 s + 20 s) and load (40 s): the first is ready 61-92 s after the spike.
    let hpa = report.setups.iter().find(|s| s.name == "hpa-default");
    let reaction = hpa
        .and_then(|s| s.scaling.scale_up_reaction_s)
        .unwrap_or(0.0);
    assert!((61.0..=92.0).contains(&reaction), "hpa reaction {reaction}");
    let before = hpa
        .and_then(|s| s.timeline[599].replicas_desired)
        .unwrap_or(0);
    let during = hpa
        .and_then(|s| s.timeline[700].replicas_desired)
        .unwrap_or(0);
    assert!(
        during > before,
        "the HPA scaled up for the spike: {before} -> {during}"
    );
    check_cold_starts(&report);
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap_or_default();
    let mut lines = csv.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.starts_with("setup,t_s,"), "{header}");
    assert!(header.contains("nodes_gpu-on-demand"), "{header}");
    assert_eq!(lines.count(), 3 * 1800);
}

/// spike-5x's cold starts: one breakdown per replica that started after time zero, as many as
/// `scaling.cold_starts`, each within the scenario's fixed lifecycle (schedule 1 s + start 20 s,
/// load 40 s) and, for the wait for a node, within a scan (10 s) and a node's provisioning (3 m).
fn check_cold_starts(report: &Report) {
    let mut started = 0;
    for s in &report.setups {
        let Some(c) = &s.cold_start else {
            panic!("{}: the simulator observes its pods", s.name)
        };
        assert_eq!(Some(c.count), s.scaling.cold_starts, "{}", s.name);
        started += c.count;
        if c.count == 0 {
            assert_eq!(c.total_ms.p50, None, "{}: null, not 0", s.name);
            continue;
        }
        let all = |p: &scalebench_core::report::PhaseMs| [p.p50, p.p95, p.max];
        assert_eq!(all(&c.creating_ms), [Some(21_000.0); 3], "{}", s.name);
        assert_eq!(all(&c.loading_ms), [Some(40_000.0); 3], "{}", s.name);
        for v in all(&c.pending_ms).into_iter().flatten() {
            assert!((0.0..=190_000.0).contains(&v), "{}: pending {v}", s.name);
        }
        let p50 = c.total_ms.p50.unwrap_or(0.0);
        assert!(
            (61_000.0..=251_000.0).contains(&p50),
            "{}: p50 {p50}",
            s.name
        );
        let figure = s.figure(scalebench_core::figure::Figure::ColdStartP50);
        assert_eq!(figure, Some(p50));
    }
    assert!(started > 0, "the spike starts replicas");
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let (_, mut a, _, _d1) = run("burst-100.toml");
    let (_, mut b, _, _d2) = run("burst-100.toml");
    // When and where it ran (environment.started_at) is all that may differ: two runs
    // straddling a second apart were a flaky failure.
    a.environment = None;
    b.environment = None;
    assert_eq!(a, b);
}

/// CoreWeave's "Can It Scale?": 25 fixed pods cost 150P exactly; fast scaling from zero is
/// cheaper and answers the 100 requests sooner than slow scaling from zero.
#[test]
fn coreweave_100_reproduces_the_article() {
    let (_, report, _, _dir) = run("coreweave-100.toml");
    let get = |name: &str| match report.setups.iter().find(|s| s.name == name) {
        Some(s) => s.clone(),
        None => panic!("no setup {name}"),
    };
    let fixed = get("no-autoscaling-25");
    let slow = get("slow-from-zero");
    let fast = get("fast-from-zero");
    for s in [&fixed, &slow, &fast] {
        assert_eq!(s.requests.ok, 100, "{}: {:?}", s.name, s.requests);
    }
    assert_eq!(fixed.cost.total_usd, Some(150.0), "25 pods x 6 steps x P");
    assert!(
        fast.cost.total_usd < fixed.cost.total_usd,
        "fast {:?} vs fixed {:?}",
        fast.cost.total_usd,
        fixed.cost.total_usd
    );
    // Every request was sent at t = 0, so the largest latency is when the last one finished.
    assert!(
        fast.latency_ms.max < slow.latency_ms.max,
        "fast finished at {} ms, slow at {} ms",
        fast.latency_ms.max,
        slow.latency_ms.max
    );
    // 25 pods serve 4 waves of one step each.
    assert!(
        (fixed.latency_ms.max - 240_000.0).abs() < 500.0,
        "{}",
        fixed.latency_ms.max
    );
}

#[test]
fn bad_scenarios_exit_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "name = \"x\"\nduration = \"90\"\n").unwrap_or_else(|e| panic!("{e}"));
    let o = scalebench(&["validate", &path.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml:2:12"), "{err}");
    assert!(err.contains("expected a duration"), "{err}");

    std::fs::write(&path, "duration = \"1m\"\nbogus = 1\n").unwrap_or_else(|e| panic!("{e}"));
    let o = scalebench(&["run", &path.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml:2:1"), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn unknown_setup_and_missing_file_exit_2() {
    let o = scalebench(&["run", &scenario("steady-50.toml"), "--setup", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no setup is named \"nope\""));
    let o = scalebench(&["validate", "/nonexistent/scenario.toml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn every_shipped_scenario_validates() {
    for name in [
        "steady-50.toml",
        "spike-5x.toml",
        "burst-100.toml",
        "coreweave-100.toml",
    ] {
        let o = scalebench(&["validate", &scenario(name)]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn bench_sim_prints_its_figures() {
    let o = scalebench(&["bench", "sim", "--hours", "0.02", "--rps", "200"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("simulated req/s"), "{out}");
    assert!(out.contains("peak RSS"), "{out}");
}

/// Ctrl-C ends the run early: the report of what was measured is still written, the accounting
/// still holds, and the exit code is 130.
#[test]
fn an_interrupted_run_still_writes_what_it_measured() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let scenario = dir.path().join("long.toml");
    let src = common::DAY_SCENARIO;
    std::fs::write(&scenario, src).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let status = common::interrupt_after(
        &[
            "run",
            &scenario.to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
        ],
        std::time::Duration::from_millis(1500),
    );
    assert_eq!(status.code(), Some(130));
    let report = read_report(&out);
    assert!(report.interrupted);
    assert!(
        report.duration_s > 0.0 && report.duration_s < 86_400.0,
        "{}",
        report.duration_s
    );
    let s = &report.setups[0];
    assert!(s.requests.identity_holds(), "{:?}", s.requests);
    assert!(s.requests.scheduled > 0);
    let last = s.timeline.last().map(|w| w.t_s).unwrap_or_default();
    assert!(
        (last - report.duration_s).abs() < 1e-6,
        "the last window ends at the interruption"
    );
}

/// Faults show in the report and the timeline, and the accounting still holds.
#[test]
fn fault_scenarios_report_their_faults() {
    for (name, kind, setups) in [
        ("spot-fallback.toml", "pool-outage", 6),
        ("evictions.toml", "pod-eviction", 3),
    ] {
        let (o, report, out, _dir) = run(name);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("Injected faults"), "{stdout}");
        assert_eq!(report.setups.len(), setups);
        for s in &report.setups {
            assert!(
                s.requests.identity_holds(),
                "{name} {}: {:?}",
                s.name,
                s.requests
            );
            assert_eq!(s.faults.len(), 1);
            assert_eq!(s.faults[0].kind, kind);
            assert!(
                s.timeline.iter().any(|w| !w.faults.is_empty()),
                "a timeline marker"
            );
            assert!(s.slo.recoveries.iter().any(|r| r.event.starts_with(kind)));
        }
        let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap_or_default();
        assert!(csv.contains(kind), "{name}: the marker is in timeline.csv");
    }
}

/// Losing the spot pool costs the spot-only setup its SLO; falling back to on-demand recovers.
/// The cost-aware policy recovers as fast and then moves back to spot, so it pays less; hedged,
/// it loses far fewer requests; capped by a budget, it recovers more slowly and says so.
#[test]
fn spot_fallback_recovers_only_with_a_fallback_pool() {
    let (o, report, _, _dir) = run("spot-fallback.toml");
    let get = |n: &str| {
        report
            .setups
            .iter()
            .find(|s| s.name == n)
            .cloned()
            .unwrap_or_else(|| panic!("setup {n} missing"))
    };
    let (od, spot, fallback) = (
        get("on-demand-only"),
        get("spot-only"),
        get("spot-then-on-demand"),
    );
    let (aware, hedged, capped) = (
        get("cost-aware"),
        get("cost-aware-hedged"),
        get("cost-aware-capped"),
    );
    assert_eq!(od.faults[0].pods_lost, 0, "on-demand only is untouched");
    assert!(spot.faults[0].pods_lost > 0 && fallback.faults[0].pods_lost > 0);
    let recovery = |s: &scalebench_core::report::SetupReport| match s.slo.recoveries[0].recovery_s {
        Some(r) => r,
        None => panic!("{} never recovered", s.name),
    };
    assert!(recovery(&fallback) < recovery(&spot));
    assert!(fallback.cost.by_pool["gpu-on-demand"].usd > 0.0);
    assert!(spot.cost.total_usd < od.cost.total_usd);
    // Cost-aware: as fast back as the HPA's fallback (a decision is 10 s), cheaper because it
    // returns to spot; by the end it runs on spot nodes only.
    assert!(recovery(&aware) <= recovery(&fallback) + 10.0);
    assert!(aware.cost.total_usd < fallback.cost.total_usd);
    assert!(
        aware.cost.by_capacity_type["on-demand"].usd
            < fallback.cost.by_capacity_type["on-demand"].usd
    );
    let last = aware
        .timeline
        .last()
        .map(|w| w.nodes.clone())
        .unwrap_or_default();
    assert_eq!(last.get("gpu-on-demand"), Some(&0), "{last:?}");
    // Hedged: half on demand all along, so the outage fails far fewer requests.
    let errors = |s: &scalebench_core::report::SetupReport| s.requests.scheduled - s.requests.ok;
    assert!(errors(&hedged) * 3 < errors(&aware));
    // Capped: what the budget held back is reported, and shows in the recovery.
    let Some(b) = capped.scaling.budget else {
        panic!("no budget report")
    };
    assert!(b.limited_s > 0.0 && b.max_held_back > 0);
    assert!(recovery(&capped) > recovery(&aware));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Budget ceilings"));
    // Cost by capacity type adds up to the total.
    for s in &report.setups {
        let sum: f64 = s.cost.by_capacity_type.values().map(|c| c.usd).sum();
        let total = s.cost.total_usd.unwrap_or(f64::NAN);
        assert!((sum - total).abs() < 1e-9, "{}", s.name);
    }
}

#[test]
fn json_puts_the_report_alone_on_stdout_and_logs_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args([
            "run",
            &scenario("steady-50.toml"),
            "--json",
            "--out",
            &out.to_string_lossy(),
        ])
        .env("SCALEBENCH_LOG", "info")
        .output()
        .unwrap_or_else(|e| panic!("cannot start scalebench: {e}"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let printed = common::parse_report(&String::from_utf8_lossy(&o.stdout), "stdout of run --json");
    assert_eq!(printed, read_report(&out));
    // The human output moved to stderr: the ranked table, the files written, the gate.
    assert!(
        stderr.contains("Latency (from intended send time) and SLO"),
        "{stderr}"
    );
    assert!(stderr.contains("wrote "), "{stderr}");
    assert!(stderr.contains("gate: PASS"), "{stderr}");
    // stderr is not a terminal here: logs must not carry ANSI colour codes.
    assert!(stderr.contains("INFO"), "logs at info: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes on a pipe: {stderr}"
    );
}
