//! `scalebench load --prometheus` against a real Prometheus (Debian's, installed by
//! scripts/test-deps) scraping a real testbed every second: the report's timeline takes its
//! replicas, queue depth and GPU utilisation from `query_range`, and they are what the
//! testbed's own `/metrics` said around each window's end.

mod common;

use common::{get, post, prometheus, testbed};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Two replicas of concurrency 2 serving 300 ms on average: 12 rps keeps a queue coming and
/// going; an eviction during the run takes one replica away for the 3 s its replacement takes.
const SCENARIO: &str = r#"
name = "promql"
duration = "1h"
window = "1s"
[slo]
latency = "2s"
[traffic]
[[traffic.shape]]
kind = "steady"
rate = 12
[service]
concurrency = 2
time = { dist = "exponential", mean = "300ms" }
lifecycle = { schedule = "0s", start = "1s", load = "2s", grace_period = "1s" }
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "fixed"
[setup.fixed]
replicas = 2
"#;

/// What the testbed's own `/metrics` said, and when (Unix seconds).
type Seen = Vec<(f64, live::Observed)>;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[test]
fn load_fills_its_timeline_from_a_real_prometheus() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scenario = dir.path().join("promql.toml");
    std::fs::write(&scenario, SCENARIO).unwrap_or_else(|e| panic!("{e}"));
    let (_bed, bed) = testbed(&scenario);
    let (_prom, prom) = prometheus(dir.path(), bed);

    // The testbed's own view every 100 ms while the load runs; an eviction 5 s in.
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut evicted = false;
            while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(90) {
                if let Some((200, body)) = get(bed, "/metrics") {
                    let o = live::observe::parse(&body);
                    if let Ok(mut s) = seen.lock() {
                        s.push((unix_now(), o));
                    }
                }
                if !evicted && start.elapsed() > Duration::from_secs(5) {
                    let status = post(
                        bed,
                        "/admin/faults",
                        r#"{"kind": "pod-eviction", "pods": 1}"#,
                    );
                    assert_eq!(status, Some(200), "the eviction");
                    evicted = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let out = dir.path().join("out");
    let o = common::scalebench(&[
        "load",
        &format!("http://{bed}/predict"),
        "--rate",
        "12",
        "--duration",
        "12s",
        "--body",
        "{}",
        "--prometheus",
        &format!("http://{prom}"),
        "--query",
        "replicas_ready=scalebench_replicas_ready",
        "--query",
        "queue_depth=scalebench_queue_depth",
        "--query",
        "gpu_util=scalebench_gpu_utilization",
        "--query",
        "pods_pending=sum(scalebench_pods_pending)",
        "--prometheus-scrape-interval",
        "1s",
        "--out",
        &out.to_string_lossy(),
    ]);
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let report = common::read_report(&out);
    let setup = &report.setups[0];
    let p = setup
        .prometheus
        .as_ref()
        .unwrap_or_else(|| panic!("no prometheus section: {stderr}"));
    assert_eq!(p.step_s, 1.0);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let n = setup.timeline.len();
    assert!(n >= 12, "{n} windows");
    for q in &p.queries {
        assert_eq!(q.error, None, "{}", q.field);
        assert_eq!(q.windows, n as u64, "{}: every window filled", q.field);
    }
    // Each window's value is a scrape from the second before its end: one of the testbed's
    // own readings between a little more than a scrape interval before and just after.
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut ready_seen = std::collections::BTreeSet::new();
    for (i, w) in setup.timeline.iter().enumerate() {
        let end = p.start_unix_s + (i + 1) as f64 * p.step_s;
        let around: Vec<&live::Observed> = seen
            .iter()
            .filter(|(t, _)| *t > end - 1.4 && *t < end + 0.2)
            .map(|(_, o)| o)
            .collect();
        assert!(!around.is_empty(), "no reading of the testbed around {end}");
        let ready = w
            .replicas_ready
            .unwrap_or_else(|| panic!("window {i}: no replicas"));
        ready_seen.insert(ready);
        assert!(
            around.iter().any(|o| o.replicas_ready == Some(ready)),
            "window {i}: replicas_ready {ready}, the testbed said {:?}",
            around.iter().map(|o| o.replicas_ready).collect::<Vec<_>>()
        );
        let queue = w
            .queue_depth
            .unwrap_or_else(|| panic!("window {i}: no queue"));
        let (lo, hi) = around
            .iter()
            .filter_map(|o| o.queue_depth)
            .fold((u32::MAX, 0), |(lo, hi), q| (lo.min(q), hi.max(q)));
        assert!(
            lo <= queue && queue <= hi,
            "window {i}: queue {queue}, the testbed said {lo} to {hi}"
        );
        let util = w
            .gpu_util
            .unwrap_or_else(|| panic!("window {i}: no gpu_util"));
        let (lo, hi) = around
            .iter()
            .filter_map(|o| o.gpu_util)
            .fold((f64::MAX, f64::MIN), |(lo, hi), u| (lo.min(u), hi.max(u)));
        assert!(
            lo - 1e-9 <= util && util <= hi + 1e-9,
            "window {i}: gpu_util {util}, the testbed said {lo} to {hi}"
        );
        assert!(w.pods_pending.is_some(), "window {i}");
        // Not queried: not observed, never 0.
        assert_eq!(
            (w.replicas_desired, w.running, w.kv_cache_usage),
            (None, None, None)
        );
    }
    // The eviction shows: one replica for a while, then two again.
    assert!(
        ready_seen.contains(&1) && ready_seen.contains(&2),
        "{ready_seen:?}"
    );
    assert_eq!(setup.scaling.max_replicas, Some(2));
}

#[test]
fn a_failing_query_is_recorded_and_not_fatal() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scenario = dir.path().join("promql.toml");
    std::fs::write(&scenario, SCENARIO).unwrap_or_else(|e| panic!("{e}"));
    let (_bed, bed) = testbed(&scenario);
    let (_prom, prom) = prometheus(dir.path(), bed);
    let out = dir.path().join("out");
    let o = common::scalebench(&[
        "load",
        &format!("http://{bed}/predict"),
        "--rate",
        "5",
        "--duration",
        "3s",
        "--body",
        "{}",
        "--prometheus",
        &format!("http://{prom}"),
        "--query",
        "replicas_ready=scalebench_replicas_ready",
        "--query",
        "queue_depth=sum(",
        "--query",
        "pods_pending=scalebench_requests_total",
        "--query",
        "running=absent_metric_of_nobody",
        "--prometheus-scrape-interval",
        "1s",
        "--prometheus-settle",
        "2s",
        "--out",
        &out.to_string_lossy(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let report = common::read_report(&out);
    let setup = &report.setups[0];
    let p = setup
        .prometheus
        .as_ref()
        .unwrap_or_else(|| panic!("{stderr}"));
    let q = |f: &str| {
        p.queries
            .iter()
            .find(|q| q.field == f)
            .unwrap_or_else(|| panic!("no {f}"))
    };
    assert_eq!(q("replicas_ready").error, None);
    let parse = q("queue_depth").error.clone().unwrap_or_default();
    assert!(
        parse.contains("\"sum(\"") && parse.contains("bad_data"),
        "{parse}"
    );
    let series = q("pods_pending").error.clone().unwrap_or_default();
    assert!(
        series.contains("series") && series.contains("sum() or avg()"),
        "{series}"
    );
    // A metric nobody exports: no value, null in every window, and a warning.
    assert_eq!(
        (q("running").error.clone(), q("running").windows),
        (None, 0)
    );
    assert!(
        p.warnings.iter().any(|w| w.starts_with("running:")),
        "{:?}",
        p.warnings
    );
    assert!(
        setup
            .timeline
            .iter()
            .all(|w| w.running.is_none() && w.queue_depth.is_none())
    );
    assert!(setup.timeline.iter().all(|w| w.replicas_ready == Some(2)));
}

#[test]
fn bad_prometheus_flags_are_input_errors() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--prometheus", "prom:9090", "--query", "queue_depth=x"],
            "http://",
        ),
        (
            &["--prometheus", "http://p", "--query", "replicas=x"],
            "unknown timeline field",
        ),
        (
            &["--prometheus", "http://p", "--query", "queue_depth"],
            "FIELD=PROMQL",
        ),
        (
            &["--prometheus", "http://p", "--prometheus-preset", "nvidia"],
            "dcgm, vllm",
        ),
        (&["--prometheus", "http://p"], "no query"),
    ];
    for (flags, want) in cases {
        let mut args = vec![
            "load",
            "http://127.0.0.1:9/",
            "--rate",
            "1",
            "--duration",
            "1s",
        ];
        args.extend_from_slice(flags);
        let o = common::scalebench(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(want), "{flags:?}: {stderr}");
    }
}

#[test]
fn a_testbed_run_with_a_prometheus_table_reads_each_setup_from_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scenario = dir.path().join("promql.toml");
    std::fs::write(&scenario, SCENARIO).unwrap_or_else(|e| panic!("{e}"));
    let (_bed, bed) = testbed(&scenario);
    let (_prom, prom) = prometheus(dir.path(), bed);
    // The run's own testbeds listen on ports Prometheus does not know: the queries read the
    // standalone testbed's two replicas, which the run's setups also have.
    let run = SCENARIO.replace("duration = \"1h\"", "duration = \"6s\"")
        + "[[setup]]\nname = \"fixed-too\"\n[setup.fixed]\nreplicas = 2\n"
        + &format!(
            "[prometheus]\nurl = \"http://{prom}\"\nscrape_interval = \"1s\"\n\
             [prometheus.queries]\nreplicas_ready = \"scalebench_replicas_ready\"\n\
             running = \"scalebench_in_flight\"\n"
        );
    let path = dir.path().join("run.toml");
    std::fs::write(&path, run).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let o = common::scalebench(&[
        "run",
        &path.to_string_lossy(),
        "--driver",
        "testbed",
        "--time-scale",
        "2",
        "--out",
        &out.to_string_lossy(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let report = common::read_report(&out);
    assert_eq!(report.setups.len(), 2);
    for s in &report.setups {
        let p = s
            .prometheus
            .as_ref()
            .unwrap_or_else(|| panic!("{}: none", s.name));
        assert_eq!(p.step_s, 0.5, "{}", s.name);
        let n = s.timeline.len() as u64;
        assert!(n >= 6, "{n}");
        assert!(
            p.queries
                .iter()
                .all(|q| q.error.is_none() && q.windows == n),
            "{}: {:?}",
            s.name,
            p.queries
        );
        assert!(
            s.timeline.iter().all(|w| w.replicas_ready == Some(2)),
            "{}",
            s.name
        );
        assert!(s.timeline.iter().all(|w| w.running.is_some()), "{}", s.name);
        // Not queried: as the run's own observer saw it.
        assert!(
            s.timeline.iter().all(|w| w.replicas_desired == Some(2)),
            "{}",
            s.name
        );
    }
}
