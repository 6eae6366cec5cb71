//! The testbed's Kubernetes API, driven by the real kubectl 1.32 (from PATH; each test is
//! skipped without it), by kube-rs and by the cluster driver's own observer and setups: what it
//! lists is the model's, and what clients do through it (scale, cordon, uncordon, taint,
//! drain, delete a node) the model does. Each test has its own testbed, HOME and kubeconfig;
//! every wait is bounded; loopback only.

mod common;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{scenario, start_config, stop};
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use model::PodPhase;
use serde_json::{Value, json};
use testbed::{KubeMirror, ModelPod, Testbed, TestbedConfig};
use tokio::process::Command;

/// Every wait is bounded by this.
const WAIT: Duration = Duration::from_secs(30);

/// Pods start in 1 s and load in 1 s (scenario time).
const LIFE: &str = "concurrency = 2\ntime = \"100ms\"\nlifecycle = { schedule = \"0s\", start = \"1s\", load = \"1s\", grace_period = \"2s\" }";

/// Two 4-GPU on-demand nodes, there from the start, and never more.
const TWO_NODES: &str = r#"
[[cluster.pool]]
name = "gpu"
gpus_per_node = 4
price_per_hour = 3.6
provision = "2s"
min_nodes = 2
max_nodes = 2
"#;

/// Two replicas from an HPA that syncs once an hour: a manual scale holds for the test.
const SLOW_HPA: &str = "[setup.hpa]\nmin_replicas = 2\nmax_replicas = 10\nmetric = \"concurrency\"\ntarget = 3\nsync_period = \"1h\"";

/// A testbed of `pools`, ten times faster than scenario time, with its Kubernetes API.
async fn testbed(pools: &str, scale: f64) -> Testbed {
    let plan = scenario(LIFE, pools, SLOW_HPA);
    let mut config = TestbedConfig::from_plan(&plan, &plan.setups[0], scale);
    config.kube = Some(KubeMirror::default());
    start_config(config).await
}

/// Polls `cond` every 20 ms until it holds; fails after [`WAIT`].
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The model's pods that exist.
fn live(tb: &Testbed) -> Vec<ModelPod> {
    tb.model_pods()
        .into_iter()
        .filter(|p| p.phase != PodPhase::Gone)
        .collect()
}

/// The ids of the model's pods that exist on node `node`.
fn on_node(tb: &Testbed, node: u32) -> Vec<u32> {
    live(tb)
        .iter()
        .filter(|p| p.node == Some(node))
        .map(|p| p.id)
        .collect()
}

struct Kubectl {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// kubectl with the testbed's kubeconfig in a fresh HOME, or `None` when kubectl is not
    /// installed.
    fn new(tb: &Testbed) -> Option<Kubectl> {
        let on_path = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("kubectl").is_file()));
        if !on_path {
            eprintln!("SKIPPED: kubectl is not on PATH");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, tb.kubeconfig().expect("a Kubernetes API"))
            .expect("kubeconfig");
        Some(Kubectl { dir, kubeconfig })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs kubectl to its end and insists on success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out: Output = tokio::time::timeout(WAIT, self.command(args).output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} took over {WAIT:?}"))
            .expect("kubectl runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        );
        stdout.into_owned()
    }

    /// `kubectl get ARGS -o json`.
    async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        let out = self.ok(&all).await;
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Pod name -> its node (`""` while pending), from the API.
    async fn pod_nodes(&self) -> Vec<(String, String)> {
        let list = self.json(&["pods"]).await;
        let mut out: Vec<(String, String)> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    p["spec"]["nodeName"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_lists_the_model_s_pods_nodes_deployment_and_hpa() {
    let tb = testbed(TWO_NODES, 10.0).await;
    let Some(k) = Kubectl::new(&tb) else {
        return stop(tb).await;
    };
    let out = k.ok(&["get", "pods", "-o", "wide"]).await;
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    for (row, pod) in rows.iter().zip(live(&tb)) {
        assert_eq!(
            row[..4],
            [format!("model-{}", pod.id).as_str(), "1/1", "Running", "0"],
            "{out}"
        );
        assert!(row.contains(&"gpu-0"), "{out}");
    }
    let nodes = k.json(&["nodes"]).await;
    let items = nodes["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{nodes}");
    for (n, name) in items.iter().zip(["gpu-0", "gpu-1"]) {
        assert_eq!(n["metadata"]["name"], name);
        let labels = &n["metadata"]["labels"];
        assert_eq!(labels["karpenter.sh/nodepool"], "gpu");
        assert_eq!(labels["karpenter.sh/capacity-type"], "on-demand");
        assert_eq!(labels["node.kubernetes.io/instance-type"], "gpu");
        assert_eq!(n["status"]["allocatable"]["nvidia.com/gpu"], "4");
        assert_eq!(n["status"]["conditions"][0]["type"], "Ready");
        assert_eq!(n["status"]["conditions"][0]["status"], "True");
    }
    let out = k.ok(&["get", "nodes"]).await;
    assert!(out.contains("gpu-0") && out.contains("Ready"), "{out}");
    let pod = k.json(&["pod", "model-0"]).await;
    assert_eq!(pod["metadata"]["labels"]["app"], "model");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    assert_eq!(
        pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"],
        "1"
    );
    let out = k
        .ok(&["rollout", "status", "deployment/model", "--timeout=20s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let hpa = k.json(&["hpa", "model"]).await;
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "model");
    assert_eq!(hpa["status"]["desiredReplicas"], 2);
    assert_eq!(hpa["status"]["currentReplicas"], 2);
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scale_makes_the_model_run_that_many() {
    let tb = testbed(TWO_NODES, 10.0).await;
    let Some(k) = Kubectl::new(&tb) else {
        return stop(tb).await;
    };
    let out = k.ok(&["scale", "deployment/model", "--replicas=5"]).await;
    assert!(out.contains("deployment.apps/model scaled"), "{out}");
    // Carried out before the answer: the model wants 5 and the API shows their pods.
    assert_eq!(tb.snapshot().replicas_desired, 5);
    let pods: Vec<String> = k.pod_nodes().await.into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        pods,
        ["model-0", "model-1", "model-2", "model-3", "model-4"]
    );
    until("five ready replicas", || tb.snapshot().replicas_ready == 5).await;
    let out = k
        .ok(&["rollout", "status", "deployment/model", "--timeout=20s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let d = k.json(&["deployment", "model"]).await;
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["status"]["readyReplicas"], 5);
    assert_eq!(d["status"]["updatedReplicas"], 5);
    assert_eq!(
        d["status"]["observedGeneration"],
        d["metadata"]["generation"]
    );
    let hpa = k.json(&["hpa", "model"]).await;
    assert_eq!(hpa["status"]["desiredReplicas"], 5);
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cordoned_node_takes_nothing_new_until_uncordoned() {
    let tb = testbed(TWO_NODES, 10.0).await;
    let Some(k) = Kubectl::new(&tb) else {
        return stop(tb).await;
    };
    assert_eq!(on_node(&tb, 0), [0, 1], "bin-packed on gpu-0");
    let out = k.ok(&["cordon", "gpu-0"]).await;
    assert!(out.contains("node/gpu-0 cordoned"), "{out}");
    until("the model to cordon node 0", || {
        tb.model_nodes()[0].unschedulable
    })
    .await;
    k.ok(&["scale", "deployment/model", "--replicas=4"]).await;
    assert_eq!(on_node(&tb, 0), [0, 1], "nothing new on the cordoned node");
    assert_eq!(on_node(&tb, 1), [2, 3]);
    // Both cordoned: two more wait (the pool is at its max).
    k.ok(&["cordon", "gpu-1"]).await;
    until("the model to cordon node 1", || {
        tb.model_nodes()[1].unschedulable
    })
    .await;
    k.ok(&["scale", "deployment/model", "--replicas=6"]).await;
    let pending = k.json(&["pod", "model-4"]).await;
    assert_eq!(pending["status"]["phase"], "Pending");
    assert_eq!(pending["status"]["conditions"][0]["type"], "PodScheduled");
    assert_eq!(
        pending["status"]["conditions"][0]["reason"],
        "Unschedulable"
    );
    let out = k.ok(&["get", "nodes"]).await;
    assert!(out.contains("Ready,SchedulingDisabled"), "{out}");
    // Uncordoned, gpu-0 takes them at once.
    let out = k.ok(&["uncordon", "gpu-0"]).await;
    assert!(out.contains("node/gpu-0 uncordoned"), "{out}");
    until("the waiting pods on node 0", || {
        on_node(&tb, 0) == [0, 1, 4, 5]
    })
    .await;
    // The API shows it within a sync.
    let mut shown = Vec::new();
    for _ in 0..100 {
        shown = k.pod_nodes().await;
        if shown.iter().filter(|(_, n)| n == "gpu-0").count() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        shown,
        [
            ("model-0", "gpu-0"),
            ("model-1", "gpu-0"),
            ("model-2", "gpu-1"),
            ("model-3", "gpu-1"),
            ("model-4", "gpu-0"),
            ("model-5", "gpu-0")
        ]
        .map(|(p, n)| (p.to_string(), n.to_string()))
    );
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_schedule_taint_keeps_new_pods_off_like_a_cordon() {
    let tb = testbed(TWO_NODES, 10.0).await;
    let Some(k) = Kubectl::new(&tb) else {
        return stop(tb).await;
    };
    k.ok(&["taint", "nodes", "gpu-0", "spot=true:NoSchedule"])
        .await;
    until("the model to keep pods off node 0", || {
        tb.model_nodes()[0].unschedulable
    })
    .await;
    k.ok(&["scale", "deployment/model", "--replicas=4"]).await;
    assert_eq!((on_node(&tb, 0), on_node(&tb, 1)), (vec![0, 1], vec![2, 3]));
    // NoExecute keeps new pods off too, and (here) evicts nothing.
    k.ok(&["taint", "nodes", "gpu-1", "drain=now:NoExecute"])
        .await;
    until("the model to keep pods off node 1", || {
        tb.model_nodes()[1].unschedulable
    })
    .await;
    assert_eq!(on_node(&tb, 1), [2, 3]);
    // The taint removed, gpu-0 takes pods again (the fuller node first).
    k.ok(&["taint", "nodes", "gpu-0", "spot-"]).await;
    until("the model to let pods on node 0", || {
        !tb.model_nodes()[0].unschedulable
    })
    .await;
    k.ok(&["scale", "deployment/model", "--replicas=6"]).await;
    assert_eq!(on_node(&tb, 0), [0, 1, 4, 5]);
    // The clients' taints are kept when the mirror writes the node.
    let node = k.json(&["node", "gpu-1"]).await;
    assert_eq!(
        node["spec"]["taints"],
        json!([{"key": "drain", "value": "now", "effect": "NoExecute"}])
    );
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_evicts_through_the_api_and_the_pods_come_back_cold_elsewhere() {
    let tb = testbed(TWO_NODES, 10.0).await;
    let Some(k) = Kubectl::new(&tb) else {
        return stop(tb).await;
    };
    let out = k
        .ok(&[
            "drain",
            "gpu-0",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("node/gpu-0 drained"), "{out}");
    let pods = tb.model_pods();
    for old in &pods[..2] {
        assert_eq!((old.phase, old.evicted), (PodPhase::Gone, true), "{old:?}");
    }
    until("two ready replacements", || {
        live(&tb)
            .iter()
            .filter(|p| p.phase == PodPhase::Ready)
            .count()
            == 2
    })
    .await;
    assert_eq!(on_node(&tb, 1), [2, 3], "replaced on the other node");
    assert!(tb.model_nodes()[0].unschedulable);
    let snapshot = tb.snapshot();
    assert_eq!(snapshot.cold_starts, 2);
    let kinds: Vec<_> = snapshot
        .faults
        .iter()
        .map(|f| (f.kind.as_str(), f.pods_lost))
        .collect();
    assert_eq!(kinds, [("pod-eviction", 1), ("pod-eviction", 1)]);
    let shown: Vec<String> = k.pod_nodes().await.into_iter().map(|(p, _)| p).collect();
    assert!(!shown.contains(&"model-0".to_string()), "{shown:?}");
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_node_replaces_its_pods() {
    let tb = testbed(TWO_NODES, 10.0).await;
    let Some(k) = Kubectl::new(&tb) else {
        return stop(tb).await;
    };
    let out = k.ok(&["delete", "node", "gpu-0"]).await;
    assert!(out.contains("\"gpu-0\" deleted"), "{out}");
    until("the model to lose node 0", || tb.model_nodes()[0].gone).await;
    let pods = tb.model_pods();
    for old in &pods[..2] {
        assert_eq!((old.phase, old.evicted), (PodPhase::Gone, false), "{old:?}");
    }
    until("two ready replacements", || {
        live(&tb)
            .iter()
            .filter(|p| p.phase == PodPhase::Ready)
            .count()
            == 2
    })
    .await;
    assert_eq!(on_node(&tb, 1), [2, 3]);
    assert!(
        tb.snapshot().faults.is_empty(),
        "no fault the plan did not have"
    );
    let nodes = k.json(&["nodes"]).await;
    let names: Vec<&str> = nodes["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["gpu-1"], "the deleted node does not come back");
    stop(tb).await;
}

/// `t` as Kubernetes keeps it: to the whole second.
fn second(t: std::time::SystemTime) -> Timestamp {
    let t = Timestamp::try_from(t).expect("a timestamp");
    Timestamp::from_second(t.as_second()).expect("a timestamp")
}

fn condition_time(pod: &Pod, type_: &str) -> Option<Timestamp> {
    let c = pod.status.as_ref()?.conditions.as_ref()?;
    let c = c.iter().find(|c| c.type_ == type_ && c.status == "True")?;
    c.last_transition_time.as_ref().map(|t| t.0)
}

/// A kube-rs client of the testbed's API (no retries: a refusal must come back).
fn kube_client(tb: &Testbed) -> kube::Client {
    let url = format!("http://{}", tb.kube_addr().expect("a Kubernetes API"))
        .parse()
        .expect("url");
    let mut config = kube::Config::new(url);
    config.default_retry = false;
    config.read_timeout = Some(WAIT);
    kube::Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_driver_s_setup_settles_and_its_observer_reads_the_model() {
    use live::Observer as _;
    let tb = testbed(TWO_NODES, 10.0).await;
    let client = kube_client(&tb);
    // The setup's objects as `scalebench manifests` writes them, applied, scaled, settled.
    let plan = scenario(LIFE, TWO_NODES, SLOW_HPA);
    let options = kube_objects::Options {
        namespace: Some("default".into()),
        name: Some("model".into()),
        ..kube_objects::Options::default()
    };
    let objects = kube_objects::write(&plan, &plan.setups[0], &options);
    let act = cluster::Act::new(client.clone(), false);
    let mut setup = cluster::Setup::from_objects(act, "default", &objects).expect("a setup");
    let settle = cluster::Settle {
        settle: Duration::from_millis(300),
        timeout: WAIT,
        poll: Duration::from_millis(50),
    };
    let applied = setup.apply(settle).await.expect("the setup settles");
    assert_eq!(
        applied.changed,
        ["Deployment/model", "HorizontalPodAutoscaler/model"]
    );
    assert_eq!(applied.initial_replicas, Some(2));

    // The run starts after the second the initial pods were created in.
    let start_second = second(tb.wall_time(0)).as_second();
    until("the next second", || {
        Timestamp::now().as_second() > start_second
    })
    .await;
    let target: cluster::Target = toml::from_str(
        r#"
namespace = "default"
selector = "app=model"
deployment = "model"
autoscaler = { kind = "hpa" }
prices = [{ instance_type = "gpu", capacity_type = "on-demand", usd_per_hour = 3.6 }]
"#,
    )
    .expect("a target");
    let obs = cluster::Observer::start(client.clone(), &target, &tokio::runtime::Handle::current())
        .expect("an observer");
    assert!(obs.synced(WAIT).await, "the observer lists everything");
    let o = obs.observe().expect("figures");
    assert_eq!(
        (
            o.replicas_desired,
            o.replicas_ready,
            o.pods_pending,
            o.gpus_allocated
        ),
        (Some(2), Some(2), Some(0), Some(2)),
        "{o:?}"
    );
    assert_eq!(o.nodes.get("gpu"), Some(&1), "{o:?}");
    assert!(o.cost_usd.is_some(), "{o:?}");

    // Three more replicas: their cold starts, as the observer times them from the pods'
    // conditions, are the model's instants to the second.
    Api::<Deployment>::namespaced(client, "default")
        .patch_scale(
            "model",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale");
    assert!(
        obs.wait_for(WAIT, |s| s.cold_starts.len() == 3).await,
        "three cold starts: {:?}",
        obs.state()
    );
    let s = obs.state();
    assert_eq!((s.replicas_desired, s.replicas_ready), (Some(5), Some(5)));
    assert_eq!(s.unfinished_cold_starts, 0);
    let at = |ns: Option<u64>| {
        let t = second(tb.wall_time(ns.expect("an instant")));
        t.as_nanosecond()
    };
    let mut want: Vec<(i128, i128, i128)> = tb
        .model_pods()
        .iter()
        .filter(|p| p.created_ns > 0)
        .map(|p| {
            let created = at(Some(p.created_ns));
            let (scheduled, started, ready) =
                (at(p.scheduled_ns), at(p.started_ns), at(p.ready_ns));
            (scheduled - created, started - scheduled, ready - started)
        })
        .collect();
    let mut got: Vec<(i128, i128, i128)> = s
        .cold_starts
        .iter()
        .map(|c| {
            (
                c.pending_ns.into(),
                c.creating_ns.into(),
                c.loading_ns.into(),
            )
        })
        .collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
    obs.stop();
    setup.restore().await.expect("restored");
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_a_pod_wait_start_and_become_ready_at_the_model_s_instants() {
    // One 2-GPU node, full with the two replicas; another takes 4 s to come up. Twice as
    // fast as scenario time: each phase lasts a second or more of real time.
    let pools = "[[cluster.pool]]\nname = \"gpu\"\ngpus_per_node = 2\nprice_per_hour = 3.6\nprovision = \"4s\"\nmin_nodes = 1\nmax_nodes = 3\n";
    let plan = scenario(
        "concurrency = 2\ntime = \"100ms\"\nlifecycle = { schedule = \"0s\", start = \"2s\", load = \"2s\" }",
        pools,
        SLOW_HPA,
    );
    let mut config = TestbedConfig::from_plan(&plan, &plan.setups[0], 2.0);
    config.kube = Some(KubeMirror::default());
    let tb = start_config(config).await;
    let client = kube_client(&tb);
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let mut events = watcher(pods, watcher::Config::default().labels("app=model")).boxed();
    Api::<Deployment>::namespaced(client.clone(), "default")
        .patch_scale(
            "model",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale");
    let (mut unschedulable, mut creating, mut loading) = (false, false, false);
    let ready = tokio::time::timeout(WAIT, async {
        while let Some(event) = events.next().await {
            let pod = match event.expect("a watch event") {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => p,
                _ => continue,
            };
            if pod.metadata.name.as_deref() != Some("model-2") {
                continue;
            }
            let status = pod.status.clone().unwrap_or_default();
            let reason = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled")
                .and_then(|c| c.reason.clone());
            unschedulable |= reason.as_deref() == Some("Unschedulable");
            let container = status.container_statuses.iter().flatten().next();
            creating |= container
                .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
                .is_some_and(|r| r == "ContainerCreating");
            loading |= status.phase.as_deref() == Some("Running")
                && condition_time(&pod, "Ready").is_none();
            if condition_time(&pod, "Ready").is_some() {
                return pod;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("model-2 ready in time");
    assert!(
        unschedulable && creating && loading,
        "every phase seen: {unschedulable} {creating} {loading}"
    );

    let model = tb.model_pods()[2].clone();
    let at = |ns: Option<u64>| second(tb.wall_time(ns.expect("the model's instant")));
    assert_eq!(
        ready.metadata.creation_timestamp.as_ref().map(|t| t.0),
        Some(at(Some(model.created_ns)))
    );
    assert_eq!(
        condition_time(&ready, "PodScheduled"),
        Some(at(model.scheduled_ns))
    );
    assert_eq!(
        condition_time(&ready, "Initialized"),
        Some(at(model.scheduled_ns))
    );
    let started = ready
        .status
        .as_ref()
        .and_then(|s| {
            s.container_statuses
                .as_ref()?
                .first()?
                .state
                .as_ref()?
                .running
                .as_ref()?
                .started_at
                .as_ref()
        })
        .map(|t| t.0);
    assert_eq!(started, Some(at(model.started_ns)));
    assert_eq!(
        condition_time(&ready, "ContainersReady"),
        Some(at(model.ready_ns))
    );
    assert_eq!(condition_time(&ready, "Ready"), Some(at(model.ready_ns)));
    // The model's phases, for the record: waited for the node, then 2 s and 2 s.
    let scheduled = model.scheduled_ns.unwrap_or(0);
    assert!(scheduled >= model.created_ns + 4_000_000_000, "{model:?}");
    assert_eq!(model.ready_ns, model.started_ns.map(|t| t + 2_000_000_000));

    // The new node was created when the model asked for it.
    let node = tb.model_nodes()[1].clone();
    let api_node = Api::<Node>::all(client)
        .get("gpu-1")
        .await
        .expect("node gpu-1");
    assert_eq!(
        api_node.metadata.creation_timestamp.map(|t| t.0),
        Some(second(tb.wall_time(node.created_ns)))
    );
    stop(tb).await;
}
