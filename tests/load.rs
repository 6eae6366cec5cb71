//! `scalebench load` end to end: the binary against a real HTTP server on 127.0.0.1, its
//! report, a target that refuses connections, and Ctrl-C. Every run lasts a few seconds.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

mod common;
use common::read_report;

/// An HTTP server answering `{"ok":true}` to everything, and the runtime it runs on.
struct Server {
    addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

/// The tests that send load in real time and judge how well it kept its schedule run one at
/// a time: two at once on a 2-core machine would make each other late.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn server() -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"{\"ok\":true}",
                    ))))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server { addr, _rt: rt }
}

fn load(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .arg("load")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start scalebench: {e}"))
}

#[test]
fn load_writes_the_report_with_its_schedule_lag() {
    let _serial = serial();
    let s = server();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let url = format!("http://{}/predict", s.addr);
    let o = load(&[
        &url,
        "--rate",
        "100",
        "--duration",
        "2s",
        "--body",
        "{\"prompt\":\"hi\"}",
        "-H",
        "Authorization: Bearer ${SCALEBENCH_TEST_KEY}",
        "--out",
        &out.to_string_lossy(),
    ]);
    // The variable is not set: a clear input error, nothing sent.
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("SCALEBENCH_TEST_KEY"));
    let o = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .env("SCALEBENCH_TEST_KEY", "s3cret-value")
        .args(["load", &url, "--rate", "100", "--duration", "2s"])
        .args(["--body", "{\"prompt\":\"hi\"}", "-H"])
        .args(["Authorization: Bearer ${SCALEBENCH_TEST_KEY}", "--out"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("Load engine"), "{stdout}");
    let r = read_report(&out);
    assert_eq!((r.driver.as_str(), r.setups.len()), ("load", 1));
    let s = &r.setups[0];
    assert_eq!(s.name, "load");
    assert_eq!((s.requests.scheduled, s.requests.ok), (200, 200));
    assert!(s.requests.identity_holds());
    let l = s.load.as_ref().unwrap_or_else(|| panic!("no load section"));
    assert_eq!(l.outcomes.get("http_200"), Some(&200));
    assert!(l.schedule_lag_ms.max < 1000.0, "{:?}", l.schedule_lag_ms);
    // Nothing observed or billed the service: unknown everywhere, never 0.
    assert_eq!(
        (
            s.cost.total_usd,
            s.cost.per_1k_requests_usd,
            s.cost.gpu_hours
        ),
        (None, None, None)
    );
    assert_eq!(s.cost.idle_fraction, None);
    assert_eq!(
        (s.scaling.max_replicas, s.scaling.cold_starts),
        (None, None)
    );
    assert!(s.cold_start.is_none(), "{:?}", s.cold_start);
    assert!(
        s.timeline
            .iter()
            .all(|w| w.replicas_ready.is_none() && w.cost_usd.is_none() && w.queue_depth.is_none()),
        "{:?}",
        s.timeline
    );
    let json = std::fs::read_to_string(out.join("report.json")).unwrap_or_default();
    assert!(json.contains("\"total_usd\": null"), "{json}");
    assert!(json.contains("\"cold_start\": null"), "{json}");
    let cost_row = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Cost and scaling"))
        .find(|l| l.contains(" load "))
        .unwrap_or_default();
    assert!(
        !cost_row.contains("$0") && cost_row.matches(" - ").count() >= 7,
        "unknown cost and scaling show as -: {cost_row:?}\n{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap_or_default();
    let first = csv.lines().nth(1).unwrap_or_default();
    let cells: Vec<&str> = first.split(',').collect();
    // replicas_desired to cost_usd (no pool columns: no pool was observed).
    assert_eq!(cells.get(8..15), Some(&[""; 7][..]), "{csv}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap_or_default();
    assert!(html.contains("not observed"), "report.html");
    // The key reached the server but not the report.
    for file in ["report.json", "timeline.csv", "report.html"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap_or_default();
        assert!(!text.contains("s3cret-value"), "{file} leaks the key");
    }
}

#[test]
fn a_target_that_refuses_every_connection_exits_3_with_its_report() {
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let o = load(&[
        &format!("http://{nobody}/"),
        "--rate",
        "20",
        "--duration",
        "1s",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused every connection"));
    let s = &read_report(&out).setups[0];
    assert_eq!((s.requests.scheduled, s.requests.failed), (20, 20));
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        vec!["http://127.0.0.1:1/", "--rate", "0", "--duration", "1s"],
        vec!["http://127.0.0.1:1/", "--rate", "10", "--duration", "soon"],
        vec!["ftp://127.0.0.1:1/", "--rate", "10", "--duration", "1s"],
        vec![
            "http://127.0.0.1:1/",
            "--rate",
            "10",
            "--duration",
            "1s",
            "--body",
            "{{nope}}",
        ],
        vec![
            "https://127.0.0.1:1/",
            "--rate",
            "10",
            "--duration",
            "1s",
            "--cacert",
            "/nonexistent/ca.pem",
        ],
        vec![
            "http://127.0.0.1:1/",
            "--rate",
            "10",
            "--duration",
            "1s",
            "--fixed-connections",
        ],
    ] {
        let o = load(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn ctrl_c_stops_the_load_and_still_writes_the_report() {
    let _serial = serial();
    let s = server();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let child = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(["load", &format!("http://{}/", s.addr)])
        .args(["--rate", "50", "--duration", "60s", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    std::thread::sleep(Duration::from_millis(1500));
    // Bounded: it must end within the grace period plus a margin.
    let status = interrupt(child);
    assert_eq!(status.code(), Some(130));
    let r = read_report(&out);
    assert!(r.interrupted);
    let s = &r.setups[0];
    assert!(s.requests.identity_holds(), "{:?}", s.requests);
    assert!(s.requests.scheduled > 30 && s.requests.scheduled < 200);
}

/// Starts `scalebench testbed` on a free port and returns it with its address.
fn testbed(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(["testbed", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("the testbed did not say where it listens"));
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr)
}

/// Sends SIGINT and waits (bounded) for the exit status.
fn interrupt(mut child: std::process::Child) -> std::process::ExitStatus {
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(killed.success());
    for _ in 0..150 {
        if let Some(st) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            return st;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the process did not stop after SIGINT");
}

#[test]
fn load_against_the_testbed_and_stop_it_with_ctrl_c() {
    let _serial = serial();
    let (bed, addr) = testbed(&["--time-scale", "20"]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let o = load(&[
        &format!("{addr}/predict"),
        "--rate",
        "50",
        "--duration",
        "2s",
        "--body",
        "{}",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = &read_report(&out).setups[0];
    assert_eq!((s.requests.scheduled, s.requests.ok), (100, 100));
    // The demo's service time is a lognormal with median 80 ms, 20 times faster.
    assert!(
        s.latency_ms.p50 > 1.0 && s.latency_ms.p50 < 50.0,
        "{:?}",
        s.latency_ms
    );
    let status = interrupt(bed);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn calibrate_finds_the_sustainable_rate_of_one_testbed_replica() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("cal");
    let o = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(["calibrate", "--driver", "testbed", "--time-scale", "20"])
        .args(["--start", "5", "--factor", "1.5", "--step", "10s", "--out"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("calibration.json")).unwrap_or_default();
    let c: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    // The demo's replica serves 4 at once for ~100 ms on average: 40 rps at full use; its p99
    // breaks 1 s before that. The ramp stops at the first step that is not sustained.
    let rps = c["sustainable_rps"].as_f64().unwrap_or(0.0);
    assert!((15.0..40.0).contains(&rps), "{text}");
    let steps = c["steps"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        steps.last().map(|s| s["sustained"].as_bool()),
        Some(Some(false))
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("sustainable:"));
}

#[test]
fn a_load_the_engine_limited_is_reported_as_such_from_the_terminal_to_the_gate() {
    let _serial = serial();
    let s = server();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let url = format!("http://{}/predict", s.addr);
    // 100,000 rps for a second with at most 8 in flight: whatever the target does, most
    // requests are not sent, and the engine says that it, not the target, held them back.
    let o = load(&[
        &url,
        "--rate",
        "100000",
        "--duration",
        "1s",
        "--max-in-flight",
        "8",
        "--out",
        &out.to_string_lossy(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let terminal = format!("{stdout}{stderr}");
    assert!(
        terminal.contains("warning: the load engine, not the target, limited setup 'load'")
            && terminal.contains("--max-in-flight"),
        "{terminal}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let reasons = &report["setups"][0]["load"]["generator_limited"]["reasons"];
    assert!(
        reasons
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["reason"] == "not_sent")),
        "{reasons}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap_or_default();
    assert!(
        html.contains("not the target"),
        "the HTML shows the verdict"
    );
    let gate = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .arg("gate")
        .arg(out.join("report.json"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&gate.stdout),
        String::from_utf8_lossy(&gate.stderr)
    );
    assert_eq!(gate.status.code(), Some(1), "the gate fails it: {said}");
    assert!(said.contains("--allow-generator-limited"), "{said}");
}
