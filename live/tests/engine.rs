//! The live engine against real servers on 127.0.0.1: the schedule, coordinated omission, error
//! classes, the in-flight bound and interruption. Every run is bounded (a few seconds).

mod common;

use std::time::Duration;

use common::{load, plan, refused, resetting_server, server};

fn outcome(run: &scalebench_core::run::SetupRun, class: &str) -> u64 {
    run.load
        .as_ref()
        .and_then(|l| l.outcomes.get(class).copied())
        .unwrap_or(0)
}

#[test]
fn every_request_goes_out_on_schedule_and_is_counted_once() {
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
