//! A small GPU cluster in a kubeapi store, served on 127.0.0.1, and the observer's target for it.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cluster::{Observer, Target};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kubeapi::{Clock, Handle, Kind, Server, Shutdown, Store};
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

/// The store's clock: the system's, or pinned to an instant (creationTimestamps are stamped
/// from it).
#[derive(Clone, Default)]
pub struct TestClock(Arc<Mutex<Option<Timestamp>>>);

impl TestClock {
    pub fn pin(&self, at: Option<Timestamp>) {
        *self.0.lock().expect("clock") = at;
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        self.0.lock().expect("clock").unwrap_or_else(Timestamp::now)
    }
}

pub const NS: &str = "bench";

pub fn node(name: &str, labels: Value) -> Value {
    json!({"metadata": {"name": name, "labels": labels}, "spec": {}})
}

pub fn spot_node(name: &str, instance: &str) -> Value {
    node(
        name,
        json!({"karpenter.sh/nodepool": "gpu-spot", "karpenter.sh/capacity-type": "spot",
               "node.kubernetes.io/instance-type": instance}),
    )
}

pub fn on_demand_node(name: &str, instance: &str) -> Value {
    node(
        name,
        json!({"eks.amazonaws.com/nodegroup": "gpu-od", "eks.amazonaws.com/capacityType": "ON_DEMAND",
               "node.kubernetes.io/instance-type": instance}),
    )
}

fn container(gpus: u32) -> Value {
    json!({"name": "server", "image": "example.invalid/model",
           "resources": {"limits": {"nvidia.com/gpu": gpus.to_string()}}})
}

/// A ready model pod with one GPU on `node`.
pub fn ready_pod(name: &str, node: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": NS, "labels": {"app": "model"}},
           "spec": {"nodeName": node, "containers": [container(1)]},
           "status": {"phase": "Running",
                      "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
                      "containerStatuses": [{"name": "server", "ready": true, "restartCount": 0, "image": "", "imageID": "",
                                             "state": {"running": {}}}]}})
}

/// A model pod with one GPU that no node has room for.
pub fn unschedulable_pod(name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": NS, "labels": {"app": "model"}},
           "spec": {"containers": [container(1)]},
           "status": {"phase": "Pending",
                      "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}})
}

pub fn at(t: Timestamp, secs: i64) -> String {
    (t + SignedDuration::from_secs(secs)).to_string()
}

/// Nodes `spot-1` (pool gpu-spot, Karpenter spot, g5.xlarge) and `od-1` (pool gpu-od, EKS
/// on-demand, g5.2xlarge), both created an hour before now; Deployment `model` (2 replicas, 2
/// ready); HPA `model` (desired 3) and KEDA's `keda-hpa-model` (desired 4); ready pods
/// `model-a` on spot-1 and `model-b` on od-1, the unschedulable `model-c`; `other-1` (not
/// selected) on od-1.
pub fn cluster(clock: &TestClock) -> Store {
    clock.pin(Some(Timestamp::now() - SignedDuration::from_hours(1)));
    let mut s = Store::with_clock(Box::new(clock.clone()));
    let mut put = |kind: Kind, object: Value| {
        s.replace(kind, "", object, false)
            .expect("fixture object is valid");
    };
    put(Kind::Node, spot_node("spot-1", "g5.xlarge"));
    put(Kind::Node, on_demand_node("od-1", "g5.2xlarge"));
    put(
        Kind::Deployment,
        json!({"metadata": {"name": "model", "namespace": NS},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "model"}},
                        "template": {"metadata": {"labels": {"app": "model"}}, "spec": {"containers": [{"name": "server"}]}}},
               "status": {"replicas": 2, "readyReplicas": 2}}),
    );
    for (name, desired) in [("model", 3), ("keda-hpa-model", 4)] {
        put(
            Kind::HorizontalPodAutoscaler,
            json!({"metadata": {"name": name, "namespace": NS},
                   "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "model"},
                            "minReplicas": 1, "maxReplicas": 10},
                   "status": {"currentReplicas": 2, "desiredReplicas": desired}}),
        );
    }
    put(Kind::Pod, ready_pod("model-a", "spot-1"));
    put(Kind::Pod, ready_pod("model-b", "od-1"));
    put(Kind::Pod, unschedulable_pod("model-c"));
    let mut other = ready_pod("other-1", "od-1");
    other["metadata"]["labels"] = json!({"app": "other"});
    put(Kind::Pod, other);
    clock.pin(None);
    s
}

/// The fixture cluster, served.
pub struct Served {
    pub handle: Handle,
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub clock: TestClock,
}

pub async fn serve() -> Served {
    let clock = TestClock::default();
    let handle = Handle::new(cluster(&clock));
    let (addr, shutdown) = Server::start_with(handle.clone(), Default::default())
        .await
        .expect("server starts");
    Served {
        handle,
        addr,
        shutdown,
        clock,
    }
}

/// A client for the server: in-memory configuration, no retries inside the client.
pub fn client(served: &Served) -> kube::Client {
    let url = format!("http://{}", served.addr).parse().expect("url");
    let mut config = kube::Config::new(url);
    config.default_retry = false;
    config.read_timeout = Some(Duration::from_secs(20));
    kube::Client::try_from(config).expect("client")
}

/// The target of the fixture: `app=model` in `bench`, HPA `model`, g5.xlarge spot at
/// $3600/h ($1/s) and g5.2xlarge on-demand at $7200/h ($2/s).
pub fn target() -> Target {
    Target::from_toml(
        r#"
        namespace = "bench"
        selector = "app=model"
        deployment = "model"
        autoscaler = { kind = "hpa", name = "model" }
        prices = [
            { instance_type = "g5.xlarge", capacity_type = "spot", usd_per_hour = 3600.0 },
            { instance_type = "g5.2xlarge", capacity_type = "on-demand", usd_per_hour = 7200.0 },
        ]
        "#,
    )
    .expect("target parses")
}

/// Starts an observer on the current runtime and waits for its first lists.
pub async fn observer(client: kube::Client, target: &Target) -> Observer {
    let obs = Observer::start(client, target, &tokio::runtime::Handle::current()).expect("starts");
    assert!(obs.synced(WAIT).await, "the watchers list within {WAIT:?}");
    obs
}

/// The node `name` as the store holds it.
pub fn get_node(h: &Handle, name: &str) -> Node {
    let v = h
        .read(|s| s.get(Kind::Node, "", name))
        .expect("node exists");
    serde_json::from_value((*v).clone()).expect("a Node")
}

/// The node's taints, as `key=value:effect`.
pub fn taints(h: &Handle, name: &str) -> Vec<String> {
    let spec = get_node(h, name).spec.unwrap_or_default();
    spec.taints
        .unwrap_or_default()
        .into_iter()
        .map(|t| format!("{}={}:{}", t.key, t.value.unwrap_or_default(), t.effect))
        .collect()
}

/// Whether the node is cordoned (`spec.unschedulable`).
pub fn cordoned(h: &Handle, name: &str) -> bool {
    get_node(h, name)
        .spec
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

/// Puts a cluster-scoped or namespaced object (its namespace in its metadata) into the store.
pub fn put(h: &Handle, kind: Kind, object: Value) {
    h.write(|s| s.replace(kind, "", object, false))
        .expect("valid object");
}
