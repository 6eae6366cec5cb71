//! The live engine against real servers on 127.0.0.1: the schedule, coordinated omission, error
//! classes, the in-flight bound and interruption. Every run is bounded (a few seconds).

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{load, outcome, plan, refused, resetting_server, serial, server};
use live::{LoadConfig, Target};
use scalebench_core::run::LimitKind;

#[test]
fn every_request_goes_out_on_schedule_and_is_counted_once() {
    let _serial = serial();
    let s = server();
    let p = plan(200.0, "2s", "5s");
    let run = load(&p, &format!("http://{}/ok", s.addr), 10_000, None);
    let r = run.requests();
    assert_eq!((r.scheduled, r.sent, r.ok), (400, 400, 400), "{r:?}");
    assert_eq!(outcome(&run, "http_200"), 400);
    assert_eq!(run.timeline.len(), 2);
    assert_eq!(run.timeline[0].rps, 200.0);
    // The schedule lag is reported; its precision is the benchmark's business, but it stays
    // far below the gap between requests on any machine.
    let lag = run.load.as_ref().map(|l| l.schedule_lag.summary());
    assert!(lag.is_some_and(|l| l.p50 < 5.0), "{lag:?}");
}

#[test]
fn a_one_second_stall_shows_in_the_tail_measured_from_the_intended_time() {
    let _serial = serial();
    let s = server();
    // 100 rps for 3 s; requests arriving between 1 s and 2 s wait until 2 s. Measured from the
    // intended send time they take up to a second: a third of all requests, so p99 is near 1 s.
    // A closed-loop client would have sent one request during the stall and reported one slow
    // request out of ~200.
    let p = plan(100.0, "3s", "5s");
    let run = load(&p, &format!("http://{}/stall", s.addr), 10_000, None);
    assert_eq!(run.requests().ok, 300);
    let l = run.latency.summary();
    assert!(l.p99 > 900.0 && l.p99 < 1100.0, "{l:?}");
    assert!(l.p50 < 100.0, "{l:?}");
    // Nothing finishes during the stall while requests older than the SLO wait: a violated
    // window. They all finish at its end, and the window they finish in has the slow tail.
    assert!(run.window_slo.iter().any(|w| w.violated(99.0)));
    assert!(
        run.timeline
            .iter()
            .any(|w| w.p99_ms.is_some_and(|p| p > 900.0)),
        "{:?}",
        run.timeline
    );
    assert!(
        run.timeline[0].p99_ms.is_some_and(|p| p < 100.0),
        "{:?}",
        run.timeline[0]
    );
}

#[test]
fn errors_are_counted_by_class() {
    let _serial = serial();
    let s = server();
    let p = plan(50.0, "1s", "300ms");
    let rejected = load(&p, &format!("http://{}/status/503", s.addr), 10_000, None);
    assert_eq!(rejected.requests().rejected, 50);
    assert_eq!(outcome(&rejected, "http_503"), 50);
    let failed = load(&p, &format!("http://{}/status/500", s.addr), 10_000, None);
    assert_eq!(failed.requests().failed, 50);
    assert_eq!(outcome(&failed, "http_500"), 50);
    let slow = load(&p, &format!("http://{}/slow", s.addr), 10_000, None);
    assert_eq!(slow.requests().timed_out, 50);
    assert_eq!(outcome(&slow, "timeout"), 50);
    assert!(
        (slow.latency.summary().max - 300.0).abs() < 1.0,
        "the timeout is the latency"
    );
    let down = load(&p, &format!("http://{}/ok", refused()), 10_000, None);
    assert_eq!(down.requests().failed, 50);
    assert_eq!(
        outcome(&down, "connect"),
        50,
        "{:?}",
        down.load.map(|l| l.outcomes)
    );
    let r = resetting_server();
    let reset = load(&p, &format!("http://{}/ok", r.addr), 10_000, None);
    assert_eq!(reset.requests().failed, 50, "{:?}", reset.requests());
    assert_eq!(
        outcome(&reset, "reset"),
        50,
        "{:?}",
        reset.load.map(|l| l.outcomes)
    );
}

#[test]
fn the_in_flight_bound_counts_requests_as_not_sent_never_delays_them() {
    let _serial = serial();
    let s = server();
    // Everything stalls for 2 s; at most 5 may be in flight.
    let p = plan(100.0, "1s", "5s");
    let run = load(&p, &format!("http://{}/slow", s.addr), 5, None);
    let r = run.requests();
    assert_eq!((r.scheduled, r.sent, r.not_sent), (100, 5, 95), "{r:?}");
    assert_eq!(outcome(&run, "not_sent"), 95);
}

#[test]
fn an_interrupted_run_stops_sending_and_still_counts_everything() {
    let _serial = serial();
    let s = server();
    let p = plan(100.0, "10s", "5s");
    let run = load(
        &p,
        &format!("http://{}/ok", s.addr),
        10_000,
        Some(Duration::from_millis(500)),
    );
    assert!(run.interrupted);
    assert!(
        run.duration_s > 0.4 && run.duration_s < 1.5,
        "{}",
        run.duration_s
    );
    let r = run.requests();
    assert!(r.scheduled >= 40 && r.scheduled <= 150, "{r:?}");
    assert_eq!(r.ok, r.scheduled);
}

/// The engine's verdict on itself, by kind.
fn limits(run: &scalebench_core::run::SetupRun) -> Vec<LimitKind> {
    run.load
        .as_ref()
        .map(|l| l.limits.iter().map(|g| g.kind).collect())
        .unwrap_or_default()
}

#[test]
fn the_engine_says_when_it_not_the_target_limited_the_run() {
    let _serial = serial();
    let s = server();
    let url = format!("http://{}/ok", s.addr);
    // A target that answers in 200 ms, at a modest rate: the engine keeps up and says nothing.
    // (Its own delay is judged against the tail it reports: a millisecond or two of a busy
    // test machine is no distortion of 200 ms.)
    let kept_up = load(
        &plan(100.0, "2s", "5s"),
        &format!("http://{}/delay/200", s.addr),
        10_000,
        None,
    );
    assert_eq!(kept_up.requests().ok, 200);
    let verdict = kept_up.load.as_ref().map(|l| &l.limits);
    assert!(verdict.is_some_and(Vec::is_empty), "{verdict:?}");
    let l = kept_up.load.as_ref().map(|l| (l.shards, l.max_connections));
    // Little's law: 100 rps x 200 ms = 20 in flight, and a quarter more.
    assert!(
        l.is_some_and(|(s, c)| s == Some(1) && c.is_some_and(|c| (20..=64).contains(&c))),
        "one thread and 20 to 64 connections for 100 rps of 200 ms: {l:?}"
    );
    // The same target, a rate no single sending thread reaches, and requests that cost the
    // engine far more than the target (a body of 2000 random words rendered for each, which
    // the target does not read): the engine, not the target, is the limit, and says how and
    // what to change.
    let body = Some(bytes::Bytes::from_static(
        br#"{"prompt": "{{words 2000 2000}}"}"#,
    ));
    let heavy = Target::new(&url, None, &[], body, |_| None).unwrap_or_else(|e| panic!("{e}"));
    let mut one = LoadConfig::new(heavy);
    one.workers = Some(1);
    one.max_in_flight = 1_000_000;
    let run = run_for(&one, 200_000.0);
    let kinds = limits(&run);
    assert!(
        kinds.contains(&LimitKind::PacingLag) || kinds.contains(&LimitKind::Saturated),
        "{kinds:?} {}",
        figures(&run)
    );
    assert!(
        advice(&run)
            .iter()
            .any(|a| a.contains("--workers") || a.contains("cores")),
        "{:?}",
        advice(&run)
    );
    let mut one = config(&url);
    one.workers = Some(1);
    // With a small in-flight bound the requests it cannot send are counted, and it says so.
    one.max_in_flight = 64;
    let run = run_for(&one, 1_000_000.0);
    assert!(
        limits(&run).contains(&LimitKind::NotSent),
        "{:?}",
        limits(&run)
    );
    assert!(
        advice(&run).iter().any(|a| a.contains("--max-in-flight")),
        "{:?}",
        advice(&run)
    );
}

/// One second of `rate` with `config`.
fn run_for(config: &LoadConfig, rate: f64) -> scalebench_core::run::SetupRun {
    common::run_config(&plan(rate, "1s", "5s"), config, None)
}

/// The engine's figures, for a failure's message.
fn figures(run: &scalebench_core::run::SetupRun) -> String {
    run.load.as_ref().map_or_else(String::new, |l| {
        format!(
            "{:?}: busy {:?}, pacing p99 {} ms, connection wait p99 {} ms, {:?} connections, \
             {:?} threads, latency p99 {} ms",
            run.requests(),
            l.peak_busy,
            l.pacing_lag.quantile_ms(0.99),
            l.connection_wait.quantile_ms(0.99),
            l.max_connections,
            l.shards,
            run.latency.quantile_ms(0.99)
        )
    })
}

fn advice(run: &scalebench_core::run::SetupRun) -> Vec<String> {
    run.load
        .iter()
        .flat_map(|l| l.limits.iter().map(|g| g.advice.clone()))
        .collect()
}

#[test]
fn a_burst_the_schedule_knows_of_finds_its_connections_open() {
    let _serial = serial();
    let s = server();
    // 20 rps with 50 requests at once at 1.5 s: the pool is grown before the burst comes (the
    // engine reads the schedule a second ahead), so its requests find their connections open.
    let p = scalebench_core::Plan::parse(
        std::path::Path::new("burst.toml"),
        r#"
        name = "burst"
        duration = "3s"
        [slo]
        latency = "500ms"
        [traffic]
        arrival = "constant"
        timeout = "5s"
        [[traffic.shape]]
        kind = "steady"
        rate = 20
        [[traffic.shape]]
        kind = "burst"
        requests = 50
        at = "1500ms"
        [service]
        time = "1ms"
        [cluster]
        billing = "replica"
        price_per_replica_hour = 0
        [[setup]]
        name = "load"
        [setup.fixed]
        replicas = 1
        "#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // Read the server's count of connections just before the burst is due.
    let (run, before_burst) = std::thread::scope(|scope| {
        let counted = scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(1400));
            s.accepted.load(Ordering::Relaxed)
        });
        let run = common::run_config(&p, &config(&format!("http://{}/ok", s.addr)), None);
        (run, counted.join().unwrap_or(0))
    });
    assert_eq!(run.requests().ok, 110, "{:?}", run.requests());
    assert!(
        before_burst >= 50,
        "only {before_burst} connections open before the burst of 50"
    );
    let most = run.load.as_ref().and_then(|l| l.max_connections);
    assert!(most.is_some_and(|m| m >= 50), "{most:?}");
}

fn config(url: &str) -> LoadConfig {
    LoadConfig::new(common::target(url))
}
