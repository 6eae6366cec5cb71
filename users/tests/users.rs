//! Closed-loop users over real HTTP on 127.0.0.1: the accounting of the Run they produce, the
//! closed-loop bound on how much they send, the timeline, errors by class, the time scale, a
//! user-provided Goose attack, the testbed's service side, and interruption. Goose runs one
//! attack at a time per process, so these run one after another (about 20 s in all).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use live::observe::NoObserver;
use scalebench_core::run::SetupRun;
use users::goose::config::GooseConfiguration;
use users::goose::prelude::*;
use users::{UsersConfig, run_attack, run_users, run_users_with};

fn checked(run: &SetupRun) -> scalebench_core::report::Requests {
    let r = run.requests();
    assert!(r.identity_holds(), "{r:?}");
    r
}

/// The closed-loop bound: a user sends at most one request per think time, plus the one it
/// may have sent last (`users` x `duration` / `think` + `users`).
fn bound(users: u64, duration_s: f64, think_s: f64) -> u64 {
    (users as f64 * duration_s / think_s).floor() as u64 + users
}

#[test]
fn closed_loop_users_are_recorded_with_their_think_time_and_one_window_per_second() {
    let server = common::server();
    let plan = common::plan("3s", "count = 4\nthink = \"100ms\"", "");
    let cancel = AtomicBool::new(false);
    let run = run_users(&plan, &server.url("/ok"), "users", &cancel, &NoObserver)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = checked(&run);
    assert!(r.ok > 0, "{r:?}");
    assert_eq!(r.ok, r.scheduled, "every request answered: {r:?}");
    assert!(
        r.scheduled <= bound(4, 3.0, 0.1),
        "a closed loop of 4 users thinking 100 ms sent {} requests in 3 s",
        r.scheduled
    );
    // Far from the bound's open-loop opposite: a fast server, so about one request per think.
    assert!(r.scheduled >= 40, "{r:?}");
    // The server saw each request the Run counted.
    assert_eq!(server.served.load(Ordering::Relaxed), r.sent);
    assert_eq!(run.timeline.len(), 3, "{:?}", run.timeline);
    let t: Vec<f64> = run.timeline.iter().map(|w| w.t_s).collect();
    assert_eq!(t, vec![1.0, 2.0, 3.0]);
    assert!(run.timeline.iter().all(|w| w.ok > 0), "{:?}", run.timeline);
    assert!(!run.interrupted);
    assert_eq!(run.duration_s, 3.0);
    let load = run.load.as_ref().unwrap_or_else(|| panic!("no load stats"));
    assert_eq!(load.outcomes.get("http_200"), Some(&r.ok));
    // Closed loop: every request goes out when it is intended.
    assert!(load.schedule_lag.quantile_ms(1.0) <= 0.001);
}

#[test]
fn errors_are_counted_by_class() {
    let server = common::server();
    let classes = "[[traffic.class]]\nname = \"good\"\nweight = 2\n\
                   [[traffic.class]]\nname = \"flaky\"\n\
                   [[traffic.class]]\nname = \"broken\"\n";
    let plan = common::plan("2s", "count = 3\nthink = \"20ms\"", classes);
    let cancel = AtomicBool::new(false);
    let run = run_users(
        &plan,
        &server.url("/classes"),
        "classes",
        &cancel,
        &NoObserver,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = checked(&run);
    assert!(r.scheduled <= bound(3, 2.0, 0.02), "{r:?}");
    let by_name = |n: &str| {
        run.classes
            .iter()
            .find(|c| c.name == n)
            .map(|c| c.requests)
            .unwrap_or_else(|| panic!("no class {n}"))
    };
    let (good, flaky, broken) = (by_name("good"), by_name("flaky"), by_name("broken"));
    assert!(good.ok > 0 && good.ok == good.scheduled, "{good:?}");
    assert!(
        flaky.scheduled > 0 && flaky.rejected == flaky.scheduled,
        "{flaky:?}"
    );
    assert!(
        broken.scheduled > 0 && broken.failed == broken.scheduled,
        "{broken:?}"
    );
    // Drawn by weight: about half the requests are `good`.
    let share = good.scheduled as f64 / r.scheduled as f64;
    assert!((0.3..0.7).contains(&share), "good share {share}: {r:?}");
    let outcomes = &run
        .load
        .as_ref()
        .unwrap_or_else(|| panic!("no load"))
        .outcomes;
    assert_eq!(outcomes.get("http_503"), Some(&flaky.scheduled));
    assert_eq!(outcomes.get("http_500"), Some(&broken.scheduled));
    let errors: u64 = run.timeline.iter().map(|w| w.errors).sum();
    assert!(errors > 0 && errors <= flaky.scheduled + broken.scheduled);
}

#[test]
fn a_class_sends_its_own_path_and_templated_body() {
    let server = common::server();
    // Without their requests both classes would POST to /ok and get 200.
    let classes = "[[traffic.class]]\nname = \"a\"\n[traffic.class.request]\npath = \"/status/503\"\n\
                   [[traffic.class]]\nname = \"b\"\n[traffic.class.request]\npath = \"/classes\"\n\
                   body = '{\"class\": \"broken\", \"id\": {{seq}}}'\n";
    let plan = common::plan("1s", "count = 2\nthink = \"20ms\"", classes);
    let run = run_users(
        &plan,
        &server.url("/ok"),
        "requests",
        &AtomicBool::new(false),
        &NoObserver,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    checked(&run);
    let (a, b) = (run.classes[0].requests, run.classes[1].requests);
    assert!(a.scheduled > 0 && a.rejected == a.scheduled, "{a:?}");
    assert!(b.scheduled > 0 && b.failed == b.scheduled, "{b:?}");
}

#[test]
fn a_time_scale_shrinks_think_time_ramp_and_run_and_reports_in_scenario_time() {
    let server = common::server();
    // 8 scenario seconds at 4x: 2 s of real time; 400 ms of thinking is 100 ms real; the 4
    // users start at 0, 1, 2 and 3 s of scenario time.
    let plan = common::plan("8s", "count = 4\nthink = \"400ms\"\nramp = \"4s\"", "");
    let config = UsersConfig::new(&server.url("/ok")).time_scale(4.0);
    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let run = run_users_with(&plan, &config, "scaled", &cancel, &NoObserver)
        .unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    let r = checked(&run);
    assert!(r.ok > 0 && r.scheduled <= bound(4, 8.0, 0.4), "{r:?}");
    assert_eq!(run.timeline.len(), 8);
    // The ramp: one user in the first second, four once all have started.
    let rps: Vec<f64> = run.timeline.iter().map(|w| w.rps).collect();
    assert!(rps[0] > 0.0 && rps[0] * 2.0 < rps[6], "{rps:?}");
    assert_eq!(run.duration_s, 8.0);
    assert!(took < Duration::from_secs(6), "took {took:?}");
}

async fn predict(user: &mut GooseUser) -> TransactionResult {
    let goose = user.post("/classes", "{\"class\":\"good\"}").await?;
    users::record(user, &goose);
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

async fn predict_flaky(user: &mut GooseUser) -> TransactionResult {
    let goose = user.post("/classes", "{\"class\":\"flaky\"}").await?;
    users::record_as(user, &goose, "flaky");
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

#[test]
fn a_user_provided_attack_records_every_request_its_transactions_pass_on() {
    let server = common::server();
    let classes = "[[traffic.class]]\nname = \"/classes\"\n[[traffic.class]]\nname = \"flaky\"\n";
    let plan = common::plan("2s", "count = 2", classes);
    let attack = GooseAttack::initialize_with_config(GooseConfiguration::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .register_scenario(
            scenario!("mine")
                .register_transaction(transaction!(predict))
                .register_transaction(transaction!(predict_flaky)),
        );
    let config = UsersConfig::new(&format!("http://{}", server.addr));
    let cancel = AtomicBool::new(false);
    let run = run_attack(attack, &plan, &config, "mine", &cancel, &NoObserver)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = checked(&run);
    // Named by the request (its path) and by record_as.
    let mine = &run.classes[0];
    let flaky = &run.classes[1];
    assert!(mine.requests.ok > 0, "{:?}", run.classes);
    assert!(flaky.requests.rejected > 0 && flaky.requests.ok == 0);
    // Two users alternating two transactions with 20 ms after each request.
    assert!(r.scheduled <= bound(2, 2.0, 0.02), "{r:?}");
    // Every request recorded was served. Goose's users go on until Goose notices the stop
    // (within half a second); what they start after the scenario's end is not part of it.
    let served = server.served.load(Ordering::Relaxed);
    assert!(served >= r.sent, "{served} vs {r:?}");
    assert_eq!(run.timeline.len(), 2);
    // Outside an attack, record() has nowhere to write.
    let user = GooseUser::single(
        format!("http://{}", server.addr)
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
        &GooseConfiguration::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let mut user = user;
    let goose = rt
        .block_on(user.get("/ok"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!users::record(&user, &goose));
}

#[test]
fn users_against_the_testbed_see_its_service_side() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let listen = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
    let bed = rt
        .block_on(testbed::start(
            testbed::TestbedConfig::default_demo(),
            listen,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = common::plan("2s", "count = 3\nthink = \"50ms\"", "");
    let observer = live::PrometheusObserver::new(&format!("http://{}/metrics", bed.addr()))
        .unwrap_or_else(|e| panic!("{e}"));
    let cancel = AtomicBool::new(false);
    let url = format!("http://{}/predict", bed.addr());
    let run = run_users(&plan, &url, "testbed", &cancel, &observer);
    rt.block_on(bed.shutdown());
    let run = run.unwrap_or_else(|e| panic!("{e}"));
    let r = checked(&run);
    assert!(r.ok > 0, "{r:?}");
    assert!(r.scheduled <= bound(3, 2.0, 0.05), "{r:?}");
    assert_eq!(run.timeline.len(), 2);
    assert!(
        run.timeline
            .iter()
            .all(|w| w.replicas_ready.is_some_and(|r| r >= 1)),
        "{:?}",
        run.timeline
    );
}

#[test]
fn an_interrupted_run_stops_soon_and_keeps_what_it_measured() {
    let server = common::server();
    // Each request takes 10 s: at the interruption every user has one in flight.
    let plan = common::plan("60s", "count = 3", "");
    let cancel = AtomicBool::new(false);
    let mut cancelled_at = None;
    let run = std::thread::scope(|s| {
        let interrupt = s.spawn(|| {
            // Once every user's first request has arrived (the run may wait for another
            // test's attack to end first), and half a second more.
            let waiting = Instant::now();
            while server.received.load(Ordering::Relaxed) < 3 {
                assert!(
                    waiting.elapsed() < Duration::from_secs(60),
                    "no request arrived"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(500));
            cancel.store(true, Ordering::Relaxed);
            Instant::now()
        });
        let run = run_users(
            &plan,
            &server.url("/slow"),
            "interrupted",
            &cancel,
            &NoObserver,
        );
        cancelled_at = interrupt.join().ok();
        run
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let took = cancelled_at.map(|t| t.elapsed()).unwrap_or_default();
    assert!(run.interrupted);
    // Stopped at the interruption, after the grace for what was in flight.
    assert!(
        took < users::GRACE + Duration::from_secs(3),
        "took {took:?} after the interruption"
    );
    assert!(
        (0.5..2.0).contains(&run.duration_s),
        "duration {}",
        run.duration_s
    );
    let r = checked(&run);
    assert_eq!(r.scheduled, 3, "one request per user: {r:?}");
    assert_eq!(r.failed, 3, "given up after the grace: {r:?}");
    let load = run.load.as_ref().unwrap_or_else(|| panic!("no load stats"));
    assert_eq!(load.outcomes.get("cancelled"), Some(&3));
    // The windows stop at the interruption.
    assert!(run.timeline.len() <= 2, "{:?}", run.timeline);
    let last = run.timeline.last().map_or(0.0, |w| w.t_s);
    assert_eq!(last, run.duration_s);
}
