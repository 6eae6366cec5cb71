//! `scalebench run` with closed-loop users (`executor = "users"`): through Goose against the
//! in-process testbed, with the same faults, timeline, score and report as open-loop
//! arrivals; refused by the simulator; and interrupted with Ctrl-C while Goose runs. About
//! 10 s of real time.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::read_report;

/// Four users thinking 100 ms for 6 s against two fixed replicas (2 slots of 50 ms each), a
/// pod evicted at 3 s; two request classes. `{duration}` and `{setups}` are filled in.
const USERS: &str = r#"
name = "closed-loop"
duration = "{duration}"
seed = 5
[slo]
latency = "1s"
[traffic]
executor = "users"
timeout = "10s"
[traffic.users]
count = 4
think = "100ms"
ramp = "1s"
[[traffic.class]]
name = "chat"
weight = 3
[[traffic.class]]
name = "embed"
weight = 1
service = "20ms"
[service]
concurrency = 2
time = "50ms"
lifecycle = { schedule = "0s", start = "1s", load = "1s", grace_period = "1s" }
[cluster]
billing = "replica"
price_per_replica_hour = 36.0
[[faults]]
kind = "pod-eviction"
at = "3s"
pods = 1
{setups}
"#;

const ONE_SETUP: &str = "[[setup]]\nname = \"fixed\"\n[setup.fixed]\nreplicas = 2\n";

fn scenario(dir: &Path, duration: &str, setups: &str) -> std::path::PathBuf {
    let path = dir.join("users.toml");
    let src = USERS
        .replace("{duration}", duration)
        .replace("{setups}", setups);
    std::fs::write(&path, src).unwrap_or_else(|e| panic!("{e}"));
    path
}

#[test]
fn users_run_against_the_testbed_into_the_same_report() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = scenario(dir.path(), "6s", ONE_SETUP);
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .arg("run")
        .arg(&path)
        .args(["--driver", "testbed", "--time-scale", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot start scalebench: {e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("fixed"), "{stdout}");
    let report = read_report(&out);
    assert_eq!(report.driver, "testbed");
    assert!(!report.interrupted);
    assert_eq!(report.duration_s, 6.0);
    let s = &report.setups[0];
    let r = &s.requests;
    assert!(r.identity_holds(), "{r:?}");
    assert!(r.ok > 0, "{r:?}");
    // Closed loop: 4 users thinking 100 ms send at most 4 x 6 / 0.1 + 4 in 6 s.
    assert!(r.scheduled <= 4 * 60 + 4, "{r:?}");
    let t: Vec<f64> = s.timeline.iter().map(|w| w.t_s).collect();
    assert_eq!(t, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert!(
        s.timeline
            .iter()
            .all(|w| w.replicas_ready.is_some_and(|r| r >= 1))
    );
    // Both classes were drawn, and the fault struck at its time.
    assert_eq!(s.classes.len(), 2);
    assert!(
        s.classes.iter().all(|c| c.requests.scheduled > 0),
        "{:?}",
        s.classes
    );
    assert_eq!(s.faults.len(), 1, "{:?}", s.faults);
    assert_eq!(s.faults[0].t_s, 3.0);
    assert!(s.cost.total_usd.is_some_and(|c| c > 0.0));
    let load = s.load.as_ref().unwrap_or_else(|| panic!("no load section"));
    assert!(
        load.outcomes.contains_key("http_200"),
        "{:?}",
        load.outcomes
    );
}

#[test]
fn the_simulator_refuses_closed_loop_users() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = scenario(dir.path(), "6s", ONE_SETUP);
    let o = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap_or_else(|e| panic!("cannot start scalebench: {e}"));
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("use --driver testbed"), "{stderr}");
    assert!(!dir.path().join("out").exists());
}

/// Goose installs its own Ctrl-C handler as its attack starts, replacing the process's; the
/// CLI claims it first, so Ctrl-C still stops the run (exit 130, the partial report written)
/// and the setups after it do not start.
#[test]
fn ctrl_c_while_goose_runs_interrupts_the_whole_run() {
    interrupt_goose_run(Command::new(env!("CARGO_BIN_EXE_scalebench")));
}

/// The same when scalebench inherits SIGINT as ignored, as everything started with `&` by a
/// non-interactive shell does (a CI script): the CLI still takes the handler before Goose can.
#[test]
fn ctrl_c_stops_goose_when_sigint_was_inherited_ignored() {
    let mut sh = Command::new("sh");
    sh.args(["-c", "trap '' INT; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_scalebench"));
    interrupt_goose_run(sh);
}

/// Starts a two-setup users run with `command` (scalebench, or something that execs it in the
/// same process), sends SIGINT while Goose runs the first setup, and checks the interruption.
fn interrupt_goose_run(mut command: Command) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let two = format!("{ONE_SETUP}[[setup]]\nname = \"second\"\n[setup.fixed]\nreplicas = 3\n");
    let path = scenario(dir.path(), "60s", &two);
    let out = dir.path().join("out");
    let mut child = command
        .arg("run")
        .arg(&path)
        .args(["--driver", "testbed", "--out"])
        .arg(&out)
        .env("SCALEBENCH_LOG", "users=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    // Wait (bounded) until the users have started, so Goose's attack is running.
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tx, started) = std::sync::mpsc::channel();
    // Reads stderr to its end, so the process never writes into a closed pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("starting closed-loop users") {
                let _ = tx.send(());
            }
        }
    });
    assert!(
        started.recv_timeout(Duration::from_secs(30)).is_ok(),
        "the users did not start (see SCALEBENCH_LOG)"
    );
    // Past Goose's start, where it tries to install its handler.
    std::thread::sleep(Duration::from_millis(700));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap_or_else(|e| panic!("wait: {e}")) {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let report = read_report(&out);
    assert!(report.interrupted);
    assert_eq!(report.setups.len(), 1, "the second setup must not run");
    let s = &report.setups[0];
    assert!(s.requests.identity_holds(), "{:?}", s.requests);
    assert!(s.requests.ok > 0, "{:?}", s.requests);
    assert!(report.duration_s < 10.0, "{}", report.duration_s);
}
