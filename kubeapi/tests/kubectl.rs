//! kubectl 1.32 (the one on PATH, gcloud's dispatcher) against the server: get (Tables),
//! get -w, scale, cordon, uncordon, taint, drain under a PodDisruptionBudget, and
//! server-side apply. Each test has its own server, HOME and kubeconfig; every kubectl is
//! killed when its test ends.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{Served, bounded, serve, web_pod};
use kubeapi::Kind;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, Lines};
use tokio::process::{Child, Command};

struct Kubectl {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

fn on_path() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("kubectl").is_file()))
}

impl Kubectl {
    /// A kubeconfig for the server in a fresh HOME (kubectl caches discovery under it), or
    /// `None` when kubectl is not installed.
    fn new(served: &Served) -> Option<Kubectl> {
        if !on_path() {
            eprintln!("SKIPPED: kubectl is not on PATH");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: http://{}\n\
             users:\n- name: u\n  user: {{}}\ncontexts:\n- name: t\n  context:\n    cluster: t\n    user: u\n    namespace: default\n\
             current-context: t\n",
            served.addr
        );
        std::fs::write(&kubeconfig, config).expect("kubeconfig");
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

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs kubectl to its end and insists on success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out: Output = bounded(&args.join(" "), self.command(args).output())
            .await
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

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).spawn().expect("kubectl starts")
    }
}

/// Reads lines until one contains `needle`; returns what was read.
async fn read_until<R: AsyncRead + Unpin>(lines: &mut Lines<BufReader<R>>, needle: &str) -> String {
    let mut seen = String::new();
    bounded(&format!("a line with {needle:?}"), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(needle) {
                return;
            }
        }
        panic!("the output ended without {needle:?}:\n{seen}");
    })
    .await;
    seen
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test]
async fn get_pods_and_nodes_print_table_columns() {
    let served = serve(Default::default()).await;
    let Some(k) = Kubectl::new(&served) else {
        return;
    };
    let out = k.ok(&["get", "pods"]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        words(lines[0]),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    assert_eq!(
        words(lines[1])[..4],
        ["web-1", "1/1", "Running", "0"],
        "{out}"
    );
    assert_eq!(lines.len(), 4, "{out}");
    let out = k.ok(&["get", "pods", "-A", "-o", "wide"]).await;
    assert!(
        out.contains("kube-system") && out.contains("logger-a") && out.contains("NODE"),
        "{out}"
    );
    let out = k.ok(&["get", "nodes"]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        words(lines[0]),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{out}"
    );
    assert_eq!(words(lines[1])[..3], ["node-a", "Ready", "<none>"], "{out}");
    assert_eq!(words(lines[1])[4], "v1.32.0", "{out}");
    served.shutdown.shutdown().await;
}

#[tokio::test]
async fn get_pods_watch_prints_changes() {
    let served = serve(Default::default()).await;
    let Some(k) = Kubectl::new(&served) else {
        return;
    };
    let mut child = k.spawn(&["get", "pods", "-w"]);
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    read_until(&mut out, "web-3").await;
    served
        .handle
        .write(|s| s.replace(Kind::Pod, "", web_pod("web-4", "node-b"), false))
        .expect("add");
    let line = read_until(&mut out, "web-4").await;
    assert!(line.contains("Running"), "{line}");
    served
        .handle
        .write(|s| {
            s.patch(
                Kind::Pod,
                "default",
                "web-4",
                &json!({"status": {"phase": "Failed"}}),
            )
        })
        .expect("modify");
    read_until(&mut out, "Failed").await;
    child.kill().await.expect("kill kubectl get -w");
    served.shutdown.shutdown().await;
}

#[tokio::test]
async fn scale_deployment() {
    let served = serve(Default::default()).await;
    let Some(k) = Kubectl::new(&served) else {
        return;
    };
    let out = k.ok(&["scale", "deployment/web", "--replicas=5"]).await;
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    let replicas = |s: &Served| {
        s.handle
            .read(|st| st.scale("default", "web"))
            .expect("scale")
            .spec
            .and_then(|s| s.replicas)
    };
    assert_eq!(replicas(&served), Some(5));
    // With --current-replicas kubectl GETs the Scale and PUTs it back with its resourceVersion.
    k.ok(&[
        "scale",
        "deployment/web",
        "--current-replicas=5",
        "--replicas=2",
    ])
    .await;
    assert_eq!(replicas(&served), Some(2));
    served.shutdown.shutdown().await;
}

#[tokio::test]
async fn cordon_uncordon_and_taint() {
    let served = serve(Default::default()).await;
    let Some(k) = Kubectl::new(&served) else {
        return;
    };
    let spec = |s: &Served| {
        s.handle
            .read(|st| st.get(Kind::Node, "", "node-b"))
            .map(|n| n["spec"].clone())
            .expect("node")
    };
    assert!(
        k.ok(&["cordon", "node-b"])
            .await
            .contains("node/node-b cordoned")
    );
    assert_eq!(spec(&served)["unschedulable"], true);
    assert!(
        k.ok(&["get", "nodes"])
            .await
            .contains("Ready,SchedulingDisabled")
    );
    assert!(
        k.ok(&["uncordon", "node-b"])
            .await
            .contains("node/node-b uncordoned")
    );
    assert!(spec(&served).get("unschedulable").is_none());

    k.ok(&["taint", "nodes", "node-b", "spot=true:NoSchedule"])
        .await;
    assert_eq!(
        spec(&served)["taints"],
        json!([{"key": "spot", "value": "true", "effect": "NoSchedule"}])
    );
    k.ok(&["taint", "nodes", "node-b", "other=x:NoExecute"])
        .await;
    assert_eq!(spec(&served)["taints"].as_array().map(Vec::len), Some(2));
    k.ok(&["taint", "nodes", "node-b", "spot-"]).await;
    assert_eq!(
        spec(&served)["taints"],
        json!([{"key": "other", "value": "x", "effect": "NoExecute"}])
    );
    k.ok(&["taint", "nodes", "node-b", "other-"]).await;
    assert!(spec(&served).get("taints").is_none());
    served.shutdown.shutdown().await;
}

#[tokio::test]
async fn drain_waits_for_the_disruption_budget() {
    let served = serve(Default::default()).await;
    let Some(k) = Kubectl::new(&served) else {
        return;
    };
    let mut child = k.spawn(&[
        "drain",
        "node-a",
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=60s",
    ]);
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    // web-1 and web-2 are on node-a: one eviction goes through (3 ready, 2 needed), the
    // other is refused with a 429 and retried every 5 s.
    read_until(&mut stderr, "disruption budget").await;
    let exists = |s: &Served, p: &str| {
        s.handle
            .read(|st| st.get(Kind::Pod, "default", p).is_some())
    };
    assert_eq!(
        u8::from(exists(&served, "web-1")) + u8::from(exists(&served, "web-2")),
        1
    );
    served
        .handle
        .write(|s| {
            s.patch(
                Kind::PodDisruptionBudget,
                "default",
                "web-pdb",
                &json!({"spec": {"minAvailable": 1}}),
            )
        })
        .expect("relax the budget");
    let out = bounded("drain finishes", child.wait_with_output())
        .await
        .expect("kubectl drain");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "drain failed: {stdout}");
    assert!(stdout.contains("node/node-a drained"), "{stdout}");
    assert!(!exists(&served, "web-1") && !exists(&served, "web-2"));
    assert!(
        served
            .handle
            .read(|s| s.get(Kind::Pod, "kube-system", "logger-a").is_some()),
        "DaemonSet pods stay"
    );
    assert!(
        served
            .handle
            .read(|s| s.get(Kind::Node, "", "node-a"))
            .is_some_and(|n| n["spec"]["unschedulable"] == true)
    );
    served.shutdown.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_of_an_hpa() {
    let served = serve(Default::default()).await;
    let Some(k) = Kubectl::new(&served) else {
        return;
    };
    let hpa = |max: u32| {
        format!(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\nspec:\n  minReplicas: 2\n  maxReplicas: {max}\n\
             \x20 scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: web\n  metrics:\n  - type: Resource\n\
             \x20   resource:\n      name: cpu\n      target:\n        type: Utilization\n        averageUtilization: 60\n"
        )
    };
    let file = k.dir().join("hpa.yaml");
    let path = file.to_str().expect("utf-8 path");
    std::fs::write(&file, hpa(10)).expect("hpa.yaml");
    let out = k
        .ok(&["apply", "--server-side", "--validate=false", "-f", path])
        .await;
    assert!(
        out.contains("horizontalpodautoscaler.autoscaling/web serverside-applied"),
        "{out}"
    );
    let max = |s: &Served| {
        s.handle
            .read(|st| st.get(Kind::HorizontalPodAutoscaler, "default", "web"))
            .map(|h| h["spec"]["maxReplicas"].clone())
    };
    assert_eq!(max(&served), Some(json!(10)));
    std::fs::write(&file, hpa(20)).expect("hpa.yaml");
    k.ok(&["apply", "--server-side", "--validate=false", "-f", path])
        .await;
    assert_eq!(max(&served), Some(json!(20)));
    let out = k.ok(&["get", "hpa"]).await;
    assert!(out.contains("web"), "{out}");
    served.shutdown.shutdown().await;
}
