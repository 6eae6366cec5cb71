//! `scalebench run --driver testbed`: a scenario over real HTTP against in-process testbeds,
//! with its faults through the admin API and its timeline from `/metrics`, compared with the
//! simulator on the same scenario. About 15 s of real time.

use std::path::Path;
use std::process::Command;

use harness::report::{Report, SetupReport};

mod common;

/// A minute of Poisson traffic at 20 rps of 200 ms requests on two fixed replicas of
/// concurrency 4 (utilisation 50%), one pod evicted at 20 s.
const SMALL: &str = r#"
name = "small"
duration = "60s"
window = "2s"
seed = 3
[slo]
latency = "1s"
[traffic]
arrival = "poisson"
timeout = "10s"
[[traffic.shape]]
kind = "steady"
rate = 20
[service]
concurrency = 4
time = "200ms"
lifecycle = { schedule = "0s", start = "4s", load = "4s", grace_period = "2s" }
[[cluster.pool]]
name = "od"
gpus_per_node = 2
price_per_hour = 36
provision = "10s"
max_nodes = 4
[[setup]]
name = "fixed"
[setup.fixed]
replicas = 2
[[faults]]
kind = "pod-eviction"
at = "25s"
pods = 1
"#;

fn run(scenario: &Path, out: &Path, extra: &[&str]) -> Report {
    let o = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot start scalebench: {e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    common::read_report(out)
}

fn within(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * b.abs()
}

#[test]
fn the_testbed_driver_agrees_with_the_simulator_on_a_small_scenario() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scenario = dir.path().join("small.toml");
    std::fs::write(&scenario, SMALL).unwrap_or_else(|e| panic!("{e}"));
    let sim = run(&scenario, &dir.path().join("sim"), &[]);
    let bed = run(
        &scenario,
        &dir.path().join("bed"),
        &["--driver", "testbed", "--time-scale", "4"],
    );
    assert_eq!(bed.driver, "testbed");
    let (s, b): (&SetupReport, &SetupReport) = (&sim.setups[0], &bed.setups[0]);
    assert!(b.requests.identity_holds(), "{:?}", b.requests);
    // Same seed, same arrivals.
    assert_eq!(b.requests.scheduled, s.requests.scheduled);
    assert_eq!(b.requests.ok, b.requests.scheduled);
    // Tolerances: the testbed adds real HTTP and timer overhead (a few ms of real time, times
    // the time scale of 4, against 200 ms of service), and its service times are its own draws,
    // so a p99 from ~1200 requests moves by its sampling error (a dozen requests above it).
    assert!(
        within(b.latency_ms.p50, s.latency_ms.p50, 0.10),
        "p50 {} vs {}",
        b.latency_ms.p50,
        s.latency_ms.p50
    );
    assert!(
        within(b.latency_ms.p99, s.latency_ms.p99, 0.35),
        "p99 {} vs {}",
        b.latency_ms.p99,
        s.latency_ms.p99
    );
    // One node of 2 GPUs at $36/h for a minute, in both.
    assert!(
        within(b.cost.total_usd, s.cost.total_usd, 0.05),
        "cost {} vs {}",
        b.cost.total_usd,
        s.cost.total_usd
    );
    assert_eq!(b.cost.by_pool.keys().collect::<Vec<_>>(), vec!["od"]);
    // The eviction went through the admin API and shows like the simulator's.
    assert_eq!(b.faults.len(), 1);
    assert_eq!(
        (
            b.faults[0].kind.as_str(),
            b.faults[0].t_s,
            b.faults[0].pods_lost
        ),
        ("pod-eviction", 25.0, 1)
    );
    assert!(
        b.timeline
            .iter()
            .any(|w| w.faults.iter().any(|f| f.starts_with("pod-eviction")))
    );
    // The timeline's service side came from /metrics: two replicas, one node; one fewer ready
    // for the cold start after the eviction.
    assert!(
        b.timeline.iter().all(|w| w.nodes.get("od") == Some(&1)),
        "{:?}",
        b.timeline
    );
    assert_eq!(b.timeline[5].replicas_ready, 2);
    assert!(b.timeline.iter().any(|w| w.replicas_ready == 1));
    // The replacement loaded its model: one cold start, as in the simulator.
    assert_eq!(b.scaling.cold_starts, s.scaling.cold_starts);
    assert_eq!(b.scaling.cold_starts, 1);
    // Half the paid capacity serves at 50% utilisation; the two agree on the idle share.
    assert!(
        (b.cost.idle_fraction - s.cost.idle_fraction).abs() < 0.05,
        "testbed {} sim {}",
        b.cost.idle_fraction,
        s.cost.idle_fraction
    );
}

/// Two classes with their own requests: the testbed driver sends their bodies to /predict
/// (paths are for real endpoints), and the testbed serves each class by its service time.
const CLASSES: &str = r#"
name = "classes"
duration = "8s"
seed = 3
[slo]
latency = "2s"
[traffic]
arrival = "constant"
timeout = "10s"
[[traffic.shape]]
kind = "steady"
rate = 10
[[traffic.class]]
name = "fast"
service = "50ms"
[traffic.class.request]
path = "/v1/fast"
body = '{"class": "fast", "id": {{seq}}}'
[[traffic.class]]
name = "slow"
service = "400ms"
[traffic.class.request]
path = "/v1/slow"
method = "PUT"
body = '{"class": "slow", "prompt": "{{words 3 9}}"}'
[service]
concurrency = 8
time = "100ms"
[cluster]
billing = "replica"
price_per_replica_hour = 1
[[setup]]
name = "fixed"
[setup.fixed]
replicas = 2
"#;

#[test]
fn each_class_body_reaches_the_testbed_and_gets_its_service_time() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scenario = dir.path().join("classes.toml");
    std::fs::write(&scenario, CLASSES).unwrap_or_else(|e| panic!("{e}"));
    let r = run(
        &scenario,
        &dir.path().join("out"),
        &["--driver", "testbed", "--time-scale", "2"],
    );
    let s = &r.setups[0];
    assert_eq!(s.requests.ok, s.requests.scheduled, "{:?}", s.requests);
    let class = |n: &str| {
        s.classes
            .iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("no class {n}"))
    };
    let (fast, slow) = (class("fast"), class("slow"));
    assert!(
        fast.latency_ms.p50 < 150.0 && slow.latency_ms.p50 > 300.0,
        "fast {:?} slow {:?}",
        fast.latency_ms,
        slow.latency_ms
    );
}
