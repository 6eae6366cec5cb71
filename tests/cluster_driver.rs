//! `scalebench run --driver cluster` end to end, with real processes on 127.0.0.1: a
//! `scalebench testbed --kube-api` serves the model over HTTP and mirrors its pods, nodes and
//! Deployment into a Kubernetes API; the cluster driver reads them with kube-runtime watchers,
//! plays a spot interruption through the API, and puts everything back; `kubectl` (a client
//! nobody here wrote) checks the cluster afterwards. A second test sends SIGTERM in the middle
//! of the interruption's notice: the taint is gone all the same.

mod common;

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Killed, prometheus, testbed_with};
use serde_json::Value;

/// The service and its cluster, as the testbed runs them: two spot nodes and an on-demand pool
/// to fall back on, short cold starts, a fixed 2 replicas.
const BED: &str = r#"
name = "cluster-e2e"
duration = "DURATION"
window = "1s"
[slo]
latency = "500ms"
[traffic]
capacity_replicas = 2
[[traffic.shape]]
kind = "steady"
rate = "30%"
[[traffic.class]]
name = "default"
[traffic.class.request]
method = "POST"
path = "/predict"
body = '{"class": "{{class}}", "service_ms": {{service_ms}}}'
[service]
concurrency = 4
time = "20ms"
gpus = 1
lifecycle = { schedule = "200ms", start = "500ms", load = "1s", grace_period = "2s" }
[cluster]
scan_interval = "1s"
[[cluster.pool]]
name = "spot"
capacity_type = "spot"
gpus_per_node = 1
price_per_hour = 1.0
provision = "1s"
min_nodes = 2
max_nodes = 4
[[cluster.pool]]
name = "ondemand"
capacity_type = "on-demand"
gpus_per_node = 1
price_per_hour = 3.0
provision = "1s"
max_nodes = 4
[[setup]]
name = "fixed-2"
[setup.fixed]
replicas = 2
[[faults]]
kind = "spot-interruption"
pool = "spot"
at = "FAULT_AT"
nodes = 1
notice = "NOTICE"
"#;

/// Every wait of these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(120);

struct Bed {
    _child: Killed,
    addr: SocketAddr,
    url: String,
    kubeconfig: PathBuf,
}

/// Starts `scalebench testbed --kube-api` on `scenario`; it prints where it listens, where
/// its Kubernetes API is, and the kubeconfig it wrote.
fn start_bed(dir: &Path, scenario: &Path) -> Bed {
    let kubeconfig = dir.join("kubeconfig");
    let (child, addr, lines) = testbed_with(
        scenario,
        &[
            OsStr::new("--kube-api"),
            OsStr::new("--kubeconfig-out"),
            kubeconfig.as_os_str(),
        ],
        3,
    );
    assert!(lines[2].starts_with("wrote "), "{lines:?}");
    Bed {
        _child: child,
        addr,
        url: format!("http://{addr}/predict"),
        kubeconfig,
    }
}

/// In `dir`: the testbed of `scenario(duration, fault_at, notice)` with its Kubernetes API,
/// and the setup's manifests (`hpa.yaml`); the scenario's text.
fn arrange(dir: &Path, duration: &str, fault_at: &str, notice: &str) -> (Bed, String) {
    let bed_file = dir.join("bed.toml");
    let bed_text = scenario(duration, fault_at, notice);
    std::fs::write(&bed_file, &bed_text).expect("write");
    std::fs::write(dir.join("hpa.yaml"), HPA).expect("write");
    (start_bed(dir, &bed_file), bed_text)
}

fn scenario(duration: &str, fault_at: &str, notice: &str) -> String {
    BED.replace("DURATION", duration)
        .replace("FAULT_AT", fault_at)
        .replace("NOTICE", notice)
}

/// The setup's own object: an autoscaling/v2 HPA that does not exist before the run, so the
/// restore deletes it.
const HPA: &str = r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: model-extra
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: model
  minReplicas: 2
  maxReplicas: 4
"#;

fn with_kubernetes(bed_scenario: &str, bed: &Bed, prometheus: Option<SocketAddr>) -> String {
    let prometheus = prometheus.map_or(String::new(), |p| {
        format!(
            "[prometheus]\nurl = \"http://{p}\"\nscrape_interval = \"1s\"\n\
             [prometheus.queries]\nqueue_depth = \"scalebench_queue_depth\"\n\
             gpu_util = \"scalebench_gpu_utilization\"\n"
        )
    });
    format!(
        r#"{bed_scenario}
{prometheus}
[kubernetes]
url = "{url}"
kubeconfig = "{kubeconfig}"
namespace = "default"
selector = "app=model"
deployment = "model"
settle = "1s"
settle_timeout = "60s"
manifests = "hpa.yaml"
prices = [
    {{ instance_type = "spot", capacity_type = "spot", usd_per_hour = 1.0 }},
    {{ instance_type = "ondemand", capacity_type = "on-demand", usd_per_hour = 3.0 }},
]
"#,
        url = bed.url,
        kubeconfig = bed.kubeconfig.display(),
    )
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Value {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("kubectl prints JSON")
}

/// Nodes with a `scalebench.io/interruption` taint or cordoned, by name.
fn disturbed_nodes(kubeconfig: &Path) -> Vec<String> {
    let nodes = kubectl(kubeconfig, &["get", "nodes"]);
    nodes["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| {
            let tainted = n["spec"]["taints"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["key"] == "scalebench.io/interruption"));
            tainted || n["spec"]["unschedulable"] == Value::Bool(true)
        })
        .map(|n| n["metadata"]["name"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The HPAs in `default`, by name.
fn hpas(kubeconfig: &Path) -> Vec<String> {
    kubectl(kubeconfig, &["get", "hpa"])["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|h| h["metadata"]["name"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// Waits for `child`, at most [`WAIT`], killing it past that.
fn wait_bounded(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > WAIT {
            let _ = child.kill();
            panic!("{what} did not end within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run_cluster(scenario: &Path, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(["run", "--driver", "cluster", "--out"])
        .arg(out)
        .arg(scenario)
        .env("HOME", "/nonexistent")
        .env_remove("KUBECONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("scalebench run starts")
}

#[test]
fn a_run_on_the_cluster_measures_what_the_testbed_did_and_puts_the_nodes_back() {
    let dir = tempfile::tempdir().expect("dir");
    let (bed, bed_text) = arrange(dir.path(), "20s", "6s", "3s");
    let (_prom, prom) = prometheus(dir.path(), bed.addr);
    let run_file = dir.path().join("run.toml");
    // A second setup after the first, on the same cluster, from the same start.
    let two_setups = format!(
        "{}\n[[setup]]\nname = \"again\"\n[setup.fixed]\nreplicas = 2\n",
        with_kubernetes(&bed_text, &bed, Some(prom))
    );
    std::fs::write(&run_file, two_setups).expect("write");
    let out = dir.path().join("out");
    let mut run = run_cluster(&run_file, &out);
    let status = wait_bounded(&mut run, "scalebench run --driver cluster");
    assert!(status.success(), "exit {status:?}");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("JSON");
    common::validate_report(&report, "the cluster run's report");
    let named = |name: &str| {
        report["setups"]
            .as_array()
            .expect("setups")
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("setup {name}"))
    };
    let setup = named("fixed-2");
    assert_eq!(report["driver"], "cluster", "{report:#}");
    // The second setup started where the first did: two ready replicas, the interruption's
    // taint gone, and it went through its own interruption.
    let again = named("again");
    let again_ready: Vec<Option<u64>> = again["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|w| w["replicas_ready"].as_u64())
        .collect();
    assert_eq!(again_ready[1..6], [Some(2); 5], "{again_ready:?}");
    assert!(
        again["faults"][0]["pods_lost"].as_u64().unwrap_or(0) >= 1,
        "{}",
        again["faults"]
    );
    assert_eq!(
        again["cluster"]["undo"]["undone"], 1,
        "{}",
        again["cluster"]
    );
    let timeline = setup["timeline"].as_array().expect("a timeline");
    assert!(timeline.len() >= 15, "{} windows", timeline.len());
    // The testbed's 2 replicas, seen through the watchers, in every window after the first.
    let ready: Vec<Option<u64>> = timeline
        .iter()
        .map(|w| w["replicas_ready"].as_u64())
        .collect();
    assert!(
        ready[1..].iter().all(|r| r.is_some()),
        "observed in every window: {ready:?}"
    );
    assert_eq!(ready[3], Some(2), "{ready:?}");
    assert_eq!(ready.last().copied().flatten(), Some(2), "{ready:?}");
    // The nodes hosting them, per pool, and their cost.
    let nodes = &timeline[3]["nodes"];
    assert_eq!(nodes["spot"], 2, "{nodes}");
    let cost = setup["cost"]["total_usd"].as_f64().expect("a cost");
    // Two spot nodes at $1/h for about 20 s, give or take the interruption's fallback.
    assert!(cost > 0.005 && cost < 0.05, "cost {cost}");
    // The interruption: one node noticed at 6 s, its pods evicted at 9 s and replaced cold.
    let faults = setup["faults"].as_array().expect("faults");
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0]["kind"], "spot-interruption");
    assert!(
        faults[0]["pods_lost"].as_u64().expect("pods_lost") >= 1,
        "{faults:?}"
    );
    let cold = &setup["cold_start"];
    assert!(
        cold["count"].as_u64().unwrap_or(0) >= 1,
        "cold starts: {cold}"
    );

    // The service side Prometheus scraped from the testbed, read with query_range.
    let queries = setup["prometheus"]["queries"].as_array().expect("queries");
    assert_eq!(queries.len(), 2, "{queries:?}");
    for q in queries {
        assert_eq!(q["error"], Value::Null, "{q}");
        assert!(q["windows"].as_u64().unwrap_or(0) >= 15, "{q}");
    }
    assert!(
        timeline[5..].iter().all(|w| w["gpu_util"].is_number()),
        "gpu_util from Prometheus"
    );

    // What the watchers saw is what the testbed itself said: every window's ready replicas and
    // GPUs are among the values Prometheus scraped from the testbed's /metrics around the
    // window's end (scrapes are a second apart, so within 2 s before it to 1 s after).
    let start = setup["prometheus"]["start_unix_s"].as_f64().expect("start");
    let series = |metric: &str| -> Vec<(f64, f64)> {
        let path = format!(
            "/api/v1/query_range?query={metric}&start={:.3}&end={:.3}&step=0.25",
            start - 2.0,
            start + timeline.len() as f64 + 2.0
        );
        let (status, body) = common::get(prom, &path).expect("Prometheus answers");
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("JSON");
        v["data"]["result"][0]["values"]
            .as_array()
            .expect("one series")
            .iter()
            .map(|p| {
                let t = p[0].as_f64().expect("time");
                let x: f64 = p[1].as_str().expect("value").parse().expect("number");
                (t, x)
            })
            .collect()
    };
    for (field, metric) in [
        ("replicas_ready", "scalebench_replicas_ready"),
        ("gpus_allocated", "scalebench_gpus_allocated"),
    ] {
        let truth = series(metric);
        for (i, w) in timeline.iter().enumerate().skip(1) {
            let end = start + (i + 1) as f64;
            let seen = w[field].as_f64().expect("observed");
            let around: Vec<f64> = truth
                .iter()
                .filter(|(t, _)| (end - 2.0..=end + 1.0).contains(t))
                .map(|(_, x)| *x)
                .collect();
            assert!(
                around.contains(&seen),
                "window {i}: {field} {seen}, the testbed said {around:?}"
            );
        }
    }
    // The cost: the testbed's own bill over the run, within what the run's edges explain (the
    // observer bills the nodes hosting the service; the testbed every node it has).
    let at = |t: f64| -> f64 {
        let (_, body) = common::get(
            prom,
            &format!("/api/v1/query?query=scalebench_cost_usd_total&time={t:.3}"),
        )
        .expect("Prometheus answers");
        let v: Value = serde_json::from_str(&body).expect("JSON");
        v["data"]["result"][0]["value"][1]
            .as_str()
            .expect("a value")
            .parse()
            .expect("number")
    };
    let billed = at(start + timeline.len() as f64) - at(start);
    assert!(
        (cost - billed).abs() <= 0.25 * billed,
        "the report says ${cost:.5}, the testbed billed ${billed:.5}"
    );

    // Every taint and cordon undone; the calls listed.
    assert_eq!(disturbed_nodes(&bed.kubeconfig), Vec::<String>::new());
    let calls = std::fs::read_to_string(out.join("cluster-calls.jsonl")).expect("calls");
    assert!(calls.contains("scalebench.io/interruption"), "{calls}");
    assert!(calls.contains("/eviction"), "{calls}");
    let journal = std::fs::read_to_string(out.join("cluster-journal.jsonl")).expect("journal");
    assert!(journal.contains("\"op\":\"undone\""), "{journal}");
    // The setup's HPA was server-side applied before the run and deleted after it.
    assert!(
        calls.contains("horizontalpodautoscalers/model-extra"),
        "{calls}"
    );
    assert_eq!(hpas(&bed.kubeconfig), Vec::<String>::new());
}

#[test]
fn sigterm_in_the_middle_of_a_notice_still_removes_the_taint() {
    let dir = tempfile::tempdir().expect("dir");
    let (bed, bed_text) = arrange(dir.path(), "60s", "3s", "50s");
    let run_file = dir.path().join("run.toml");
    std::fs::write(&run_file, with_kubernetes(&bed_text, &bed, None)).expect("write");
    let out = dir.path().join("out");
    let mut run = run_cluster(&run_file, &out);
    // Wait until the notice's taint is on a node, as kubectl sees it.
    let start = Instant::now();
    while disturbed_nodes(&bed.kubeconfig).is_empty() {
        assert!(start.elapsed() < WAIT, "no node was ever tainted");
        assert!(
            run.try_wait().expect("wait").is_none(),
            "the run ended before its fault"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        hpas(&bed.kubeconfig),
        ["model-extra"],
        "the setup's HPA is applied while it runs"
    );
    let pid = run.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = wait_bounded(&mut run, "the interrupted run");
    assert_eq!(status.code(), Some(130), "an interrupted run exits 130");
    assert_eq!(disturbed_nodes(&bed.kubeconfig), Vec::<String>::new());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("JSON");
    assert_eq!(report["interrupted"], true);
    // The setup's HPA is gone again, and the Deployment is back at its replicas.
    assert_eq!(hpas(&bed.kubeconfig), Vec::<String>::new());
    let d = kubectl(&bed.kubeconfig, &["get", "deployment", "model"]);
    assert_eq!(d["spec"]["replicas"], 2, "{d}");
}

#[test]
fn a_dry_run_measures_but_leaves_the_cluster_alone_and_prints_each_write() {
    let dir = tempfile::tempdir().expect("dir");
    let (bed, bed_text) = arrange(dir.path(), "8s", "2s", "2s");
    let run_file = dir.path().join("run.toml");
    std::fs::write(&run_file, with_kubernetes(&bed_text, &bed, None)).expect("write");
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(["run", "--driver", "cluster", "--dry-run", "--out"])
        .arg(&out)
        .arg(&run_file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scalebench run starts");
    // Meanwhile nothing is ever tainted or cordoned.
    while child.try_wait().expect("wait").is_none() {
        assert_eq!(disturbed_nodes(&bed.kubeconfig), Vec::<String>::new());
        assert_eq!(hpas(&bed.kubeconfig), Vec::<String>::new());
        std::thread::sleep(Duration::from_millis(300));
    }
    let output = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("dry run: would PATCH /apis/apps/v1/namespaces/default/deployments/model/scale (scale to 2)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("/horizontalpodautoscalers/model-extra"),
        "the apply it would have made: {stderr}"
    );
    assert!(
        stderr.contains("(taint scalebench.io/interruption="),
        "the notice it would have given: {stderr}"
    );
    assert!(
        stderr.contains("/eviction (evict)"),
        "the evictions at the reclaim: {stderr}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("JSON");
    let setup = &report["setups"][0];
    assert_eq!(setup["cluster"]["dry_run"], true);
    assert_eq!(setup["cluster"]["undo"], Value::Null, "nothing to undo");
    // Both pods served throughout: nothing was evicted.
    let ready: Vec<Option<u64>> = setup["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|w| w["replicas_ready"].as_u64())
        .collect();
    assert!(ready[1..].iter().all(|r| *r == Some(2)), "{ready:?}");
    assert!(
        !out.join("cluster-journal.jsonl").exists() || {
            let j = std::fs::read_to_string(out.join("cluster-journal.jsonl")).unwrap_or_default();
            j.trim().is_empty()
        }
    );
}

#[test]
fn a_scenario_without_a_cluster_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario("5s", "1s", "1s")).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(["run", "--driver", "cluster", "--out"])
        .arg(dir.path().join("out"))
        .arg(&file)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("setup \"fixed-2\" has no [kubernetes] table"),
        "{stderr}"
    );
    let dry = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(["run", "--dry-run"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(dry.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dry.stderr).contains("needs --driver cluster"));
}
