//! The observer against kubeapi: the seeded figures, writes moving them (a pod through its
//! phases, a node added, a pod deleted), cold starts from the pod's conditions, cost at the
//! price table's rate, an unknown instance type, a relist after compaction, and a kubeconfig
//! with a named context.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cluster::{Observer, Target};
use common::{
    NS, WAIT, at, bounded, client, observer, on_demand_node, ready_pod, serve, spot_node, target,
    unschedulable_pod,
};
use k8s_openapi::jiff::Timestamp;
use kubeapi::Kind;
use live::Observer as _;
use scalebench_core::run::ColdStartSample;
use serde_json::json;

fn pools(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Waits until the observer's figures satisfy `ok`.
async fn until(obs: &Observer, what: &str, mut ok: impl FnMut(&live::Observed) -> bool) {
    let done = obs
        .wait_for(WAIT, |_| obs.observe().as_ref().is_some_and(&mut ok))
        .await;
    assert!(
        done,
        "timed out after {WAIT:?}: {what}; last: {:?}",
        obs.observe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_figures_then_a_pod_through_its_phases_a_node_and_a_delete() {
    let served = serve().await;
    let obs = observer(client(&served), &target()).await;

    let o = obs.observe().expect("synced");
    assert_eq!(o.replicas_desired, Some(3), "the HPA's desiredReplicas");
    assert_eq!(o.replicas_ready, Some(2));
    assert_eq!(o.pods_pending, Some(1), "model-c");
    assert_eq!(o.nodes, pools(&[("gpu-od", 1), ("gpu-spot", 1)]));
    assert_eq!(o.gpus_allocated, Some(2), "model-c is not bound");
    assert!(o.cost_usd.is_some_and(|c| c >= 0.0), "{o:?}");
    let s = obs.state();
    assert_eq!(
        s.pending_reasons,
        BTreeMap::from([("Unschedulable".to_string(), 1)])
    );
    assert_eq!(s.pods_by_phase.get("Running"), Some(&2));
    assert_eq!(s.pods.len(), 3, "other-1 is not selected");
    assert_eq!(
        s.nodes_by_pool["gpu-spot"],
        BTreeMap::from([("spot".to_string(), 1)])
    );
    assert_eq!(
        s.nodes_by_pool["gpu-od"],
        BTreeMap::from([("on-demand".to_string(), 1)])
    );
    assert_eq!(
        s.unfinished_cold_starts, 0,
        "the seeded pods predate the run"
    );
    assert!(obs.markers().is_empty());

    // A new pod, created during the run (its creationTimestamp pinned to t0), pending...
    let h = &served.handle;
    let t0 = Timestamp::from_second(Timestamp::now().as_second() + 1).expect("t0");
    served.clock.pin(Some(t0));
    let mut d = unschedulable_pod("model-d");
    d["status"]["conditions"] = json!([]);
    h.write(|s| s.replace(Kind::Pod, "", d, false))
        .expect("add");
    h.write(|s| s.replace(Kind::Node, "", spot_node("spot-2", "g5.xlarge"), false))
        .expect("node");
    served.clock.pin(None);
    until(&obs, "model-d pending", |o| o.pods_pending == Some(2)).await;
    let s = obs.state();
    assert_eq!(s.pending_reasons.get("Scheduling"), Some(&1), "{s:?}");
    assert_eq!(s.unfinished_cold_starts, 1);

    // ...scheduled on the new node, its container being created...
    h.write(|s| {
        s.patch(Kind::Pod, NS, "model-d", &json!({
            "spec": {"nodeName": "spot-2"},
            "status": {"conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": at(t0, 2)}],
                       "containerStatuses": [{"name": "server", "ready": false, "restartCount": 0, "image": "", "imageID": "",
                                              "state": {"waiting": {"reason": "ContainerCreating"}}}]}}))
    })
    .expect("scheduled");
    until(&obs, "spot-2 counted", |o| {
        o.nodes == pools(&[("gpu-od", 1), ("gpu-spot", 2)]) && o.gpus_allocated == Some(3)
    })
    .await;
    assert_eq!(
        obs.state().pending_reasons.get("ContainerCreating"),
        Some(&1)
    );

    // ...ready; the deployment says 3 ready.
    h.write(|s| {
        s.patch(Kind::Pod, NS, "model-d", &json!({
            "status": {"phase": "Running",
                       "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": at(t0, 2)},
                                      {"type": "Initialized", "status": "True", "lastTransitionTime": at(t0, 3)},
                                      {"type": "Ready", "status": "True", "lastTransitionTime": at(t0, 9)}],
                       "containerStatuses": [{"name": "server", "ready": true, "restartCount": 0, "image": "", "imageID": "",
                                              "state": {"running": {"startedAt": at(t0, 5)}}}]}}))
    })
    .expect("ready");
    h.write(|s| {
        s.patch(
            Kind::Deployment,
            NS,
            "model",
            &json!({"status": {"readyReplicas": 3}}),
        )
    })
    .expect("ready replicas");
    until(&obs, "model-d ready", |o| {
        o.pods_pending == Some(1) && o.replicas_ready == Some(3)
    })
    .await;
    let s = obs.state();
    let second = 1_000_000_000;
    assert_eq!(
        s.cold_starts,
        [ColdStartSample {
            pending_ns: 2 * second,
            creating_ns: 3 * second,
            loading_ns: 4 * second
        }]
    );
    assert_eq!(s.cold_starts[0].total_ns(), 9 * second);
    assert_eq!(s.unfinished_cold_starts, 0);

    // model-a goes: spot-1 hosts no selected pod any more.
    h.write(|s| s.delete(Kind::Pod, NS, "model-a"))
        .expect("delete");
    until(&obs, "model-a gone", |o| {
        o.nodes == pools(&[("gpu-od", 1), ("gpu-spot", 1)]) && o.gpus_allocated == Some(2)
    })
    .await;
    let markers = obs.markers();
    assert_eq!(markers.len(), 1, "{markers:?}");
    assert!(markers[0].starts_with("pod-deleted@"), "{markers:?}");

    // An eviction through the API (no budget here): marked as such.
    let pods = kube::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client(&served), NS);
    h.write(|s| {
        s.patch(
            Kind::Pod,
            NS,
            "model-b",
            &json!({"status": {"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}]}}),
        )
    })
    .expect("disruption condition");
    bounded("evict", pods.evict("model-b", &Default::default()))
        .await
        .expect("evicted");
    until(&obs, "model-b gone", |o| o.gpus_allocated == Some(1)).await;
    let markers = obs.markers();
    assert_eq!(markers.len(), 1, "{markers:?}");
    assert!(markers[0].starts_with("pod-eviction@"), "{markers:?}");

    obs.stop();
    served.shutdown.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_grows_at_the_price_rate_and_an_unknown_price_is_none() {
    let served = serve().await;
    let mut t = target();
    t.autoscaler = Default::default();
    let run_start = Timestamp::now();
    let obs = Observer::start_at(
        client(&served),
        &t,
        &tokio::runtime::Handle::current(),
        run_start,
    )
    .expect("starts");
    assert!(obs.synced(WAIT).await);
    let o = obs.observe().expect("synced");
    assert_eq!(
        o.replicas_desired,
        Some(2),
        "no autoscaler: the deployment's spec.replicas"
    );

    // spot-1 at $1/s and od-1 at $2/s, both older than the run: billed from when first seen.
    let rate = 3.0;
    let (c1, i1) = (
        obs.observe().and_then(|o| o.cost_usd).expect("priced"),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (c2, i2) = (
        obs.observe().and_then(|o| o.cost_usd).expect("priced"),
        Instant::now(),
    );
    let elapsed = (i2 - i1).as_secs_f64();
    assert!(
        ((c2 - c1) - rate * elapsed).abs() < 0.05 * rate * elapsed,
        "cost grew {} in {elapsed} s, expected {} /s",
        c2 - c1,
        rate
    );
    let since_start = run_start.duration_until(Timestamp::now()).as_secs_f64();
    assert!(c2 <= rate * since_start, "{c2} > {rate} * {since_start}");
    assert!(
        c2 >= rate * (since_start - 2.0),
        "{c2} < {rate} * ({since_start} - 2)"
    );

    // A node of an instance type the table lacks hosts a model pod: the cost is unknown.
    let h = &served.handle;
    h.write(|s| s.replace(Kind::Node, "", on_demand_node("odd-1", "x9.huge"), false))
        .expect("node");
    h.write(|s| s.replace(Kind::Pod, "", ready_pod("model-x", "odd-1"), false))
        .expect("pod");
    until(&obs, "odd-1 counted", |o| o.nodes.get("gpu-od") == Some(&2)).await;
    assert_eq!(obs.observe().and_then(|o| o.cost_usd), None);
    assert_eq!(obs.state().cost_usd, None);
    served.shutdown.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relist_after_compaction_is_recorded_and_the_state_stays_right() {
    let served = serve().await;
    let mut t = target();
    t.autoscaler = cluster::Autoscaler {
        kind: cluster::AutoscalerKind::Keda,
        name: Some("model".into()),
    };
    let obs = observer(client(&served), &t).await;
    assert_eq!(
        obs.observe().and_then(|o| o.replicas_desired),
        Some(4),
        "keda-hpa-model"
    );

    // model-b deleted and the log compacted before any watch saw it: the watches get a 410,
    // list again, and the list no longer holds model-b.
    let h = &served.handle;
    h.write(|s| {
        s.delete(Kind::Pod, NS, "model-b").expect("delete");
        s.compact();
    });
    h.write(|s| s.replace(Kind::Pod, "", unschedulable_pod("model-e"), false))
        .expect("add");
    let relisted = obs
        .wait_for(WAIT, |s| {
            s.relists >= 1 && s.pods.iter().all(|p| p.name != "model-b") && s.pods_pending == 2
        })
        .await;
    let s = obs.state();
    assert!(relisted, "{s:?}");
    assert!(
        s.errors
            .iter()
            .any(|e| e.resource == "pods" && e.kind == "watch-error-410"),
        "{:?}",
        s.errors
    );
    let markers = obs.markers();
    assert!(
        markers.iter().any(|m| m.starts_with("relist:pods@")),
        "{markers:?}"
    );
    assert!(
        markers.iter().any(|m| m.starts_with("watch-error:pods@")),
        "{markers:?}"
    );
    assert!(
        markers.iter().any(|m| m.starts_with("pod-deleted@")),
        "{markers:?}"
    );
    let o = obs.observe().expect("still answering");
    assert_eq!(
        o.nodes,
        pools(&[("gpu-spot", 1)]),
        "od-1 hosts no model pod now"
    );
    assert_eq!(o.gpus_allocated, Some(1));
    assert_eq!(o.replicas_desired, Some(4));
    served.shutdown.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_file_and_its_named_context() {
    let served = serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    // The current context points nowhere; "bench" at the server.
    let kubeconfig = format!(
        "apiVersion: v1
kind: Config
current-context: elsewhere
clusters:
- name: nowhere
  cluster:
    server: http://127.0.0.1:9
- name: fake
  cluster:
    server: http://{addr}
users:
- name: me
  user:
    token: not-checked
contexts:
- name: elsewhere
  context: {{cluster: nowhere, user: me, namespace: default}}
- name: bench
  context: {{cluster: fake, user: me, namespace: bench}}
",
        addr = served.addr
    );
    std::fs::write(&path, kubeconfig).expect("write kubeconfig");
    let mut t = target();
    t.kubeconfig = Some(path.clone());
    t.context = Some("bench".into());
    let client = bounded("connect", cluster::connect(&t))
        .await
        .expect("connects");
    let obs = observer(client, &t).await;
    assert_eq!(obs.observe().and_then(|o| o.replicas_ready), Some(2));
    drop(obs);

    t.context = Some("missing".into());
    let Err(err) = bounded("connect", cluster::connect(&t)).await else {
        panic!("no such context, yet it connected")
    };
    assert!(err.to_string().contains("\"missing\""), "{err}");
    served.shutdown.shutdown().await;
}

#[test]
fn a_stopped_observer_ends_its_tasks_and_start_checks_the_target() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let served = rt.block_on(serve());
    let client = {
        let _guard = rt.enter();
        client(&served)
    };
    let mut bad: Target = target();
    bad.namespace = "Bench".into();
    let err = Observer::start(client.clone(), &bad, rt.handle()).expect_err("bad namespace");
    assert!(err.to_string().contains("`namespace`"), "{err}");

    // Started from a plain thread, read from a plain thread, as the collector does.
    let obs = Observer::start(client, &target(), rt.handle()).expect("starts");
    let deadline = Instant::now() + WAIT;
    while obs.observe().is_none() {
        assert!(Instant::now() < deadline, "not synced within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(obs.observe().and_then(|o| o.replicas_ready), Some(2));
    obs.stop();
    rt.block_on(served.shutdown.shutdown());
}
