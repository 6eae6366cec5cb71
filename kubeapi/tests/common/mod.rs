//! A small cluster in a store, served on 127.0.0.1, for the client tests.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use kubeapi::{Handle, Kind, Server, Shutdown, Store};
use serde_json::{Value, json};

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(30);

/// Awaits `f` or fails after [`WAIT`].
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {WAIT:?}: {what}"),
    }
}

pub fn node(name: &str) -> Value {
    json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
           "spec": {},
           "status": {"conditions": [{"type": "Ready", "status": "True"}],
                      "nodeInfo": {"kubeletVersion": "v1.32.0", "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "",
                                   "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "linux",
                                   "osImage": "", "systemUUID": ""}}})
}

pub fn pod(name: &str, ns: &str, node: &str, labels: Value, owner: (&str, &str, &str)) -> Value {
    let (api_version, kind, owner_name) = owner;
    json!({"metadata": {"name": name, "namespace": ns, "labels": labels,
                        "ownerReferences": [{"apiVersion": api_version, "kind": kind, "name": owner_name,
                                             "uid": format!("uid-{owner_name}"), "controller": true}]},
           "spec": {"nodeName": node, "containers": [{"name": "server", "image": "scalebench/model"}]},
           "status": {"phase": "Running", "podIP": "10.0.0.1",
                      "conditions": [{"type": "Ready", "status": "True"}],
                      "containerStatuses": [{"name": "server", "ready": true, "restartCount": 0, "image": "", "imageID": ""}]}})
}

pub fn web_pod(name: &str, node: &str) -> Value {
    pod(
        name,
        "default",
        node,
        json!({"app": "web"}),
        ("apps/v1", "ReplicaSet", "web-7d4"),
    )
}

/// Nodes `node-a` and `node-b`; deployment `web` (3 replicas) with pods `web-1` and `web-2` on
/// node-a and `web-3` on node-b; DaemonSet `kube-system/logger` with a pod on node-a; and
/// the budget `web-pdb` (minAvailable 2 of app=web).
pub fn cluster() -> Store {
    let mut s = Store::new();
    let mut put = |kind: Kind, object: Value| {
        s.replace(kind, "", object, false)
            .expect("fixture object is valid");
    };
    put(Kind::Node, node("node-a"));
    put(Kind::Node, node("node-b"));
    put(
        Kind::Deployment,
        json!({"metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "server"}]}}},
        "status": {"replicas": 3, "readyReplicas": 3}}),
    );
    put(
        Kind::DaemonSet,
        json!({"metadata": {"name": "logger", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"app": "logger"}},
                 "template": {"metadata": {"labels": {"app": "logger"}}, "spec": {"containers": [{"name": "log"}]}}}}),
    );
    put(Kind::Pod, web_pod("web-1", "node-a"));
    put(Kind::Pod, web_pod("web-2", "node-a"));
    put(Kind::Pod, web_pod("web-3", "node-b"));
    put(
        Kind::Pod,
        pod(
            "logger-a",
            "kube-system",
            "node-a",
            json!({"app": "logger"}),
            ("apps/v1", "DaemonSet", "logger"),
        ),
    );
    put(
        Kind::PodDisruptionBudget,
        json!({"metadata": {"name": "web-pdb", "namespace": "default"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}),
    );
    s
}

/// The fixture cluster, served.
pub struct Served {
    pub handle: Handle,
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
}

pub async fn serve(config: kubeapi::Config) -> Served {
    let handle = Handle::new(cluster());
    let (addr, shutdown) = Server::start_with(handle.clone(), config)
        .await
        .expect("server starts");
    Served {
        handle,
        addr,
        shutdown,
    }
}
