//! Faults against kubeapi: an eviction, an eviction a PodDisruptionBudget refuses until a pod
//! becomes ready, a spot interruption (taint, evict, delete), a pool outage (cordon, drain the
//! selected pods only), the rails refusing without a call, and a dry run that changes nothing.

mod common;

use std::path::Path;
use std::time::Duration;

use cluster::{
    Act, Backoff, Evicted, FaultConfig, FaultError, Faults, INTERRUPTION_TAINT, Outcome,
};
use common::{
    NS, bounded, client, get_node, node, put, ready_pod, serve, spot_node, taints, target,
};
use kubeapi::{Handle, Kind};
use serde_json::{Value, json};

/// Fast retries for tests: 100 ms doubling to 400 ms, for `deadline`.
fn config(deadline: Duration) -> FaultConfig {
    FaultConfig {
        backoff: Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(400),
            deadline,
        },
        ..FaultConfig::new("run-7")
    }
}

fn faults(client: kube::Client, dry_run: bool, c: FaultConfig, dir: &Path) -> Faults {
    Faults::new(Act::new(client, dry_run), &target(), c, dir).expect("faults")
}

fn exists(h: &Handle, kind: Kind, name: &str) -> bool {
    let ns = if kind == Kind::Node { "" } else { NS };
    h.read(|s| s.get(kind, ns, name)).is_some()
}

/// A pod of a DaemonSet on `node`, labelled like the model's pods.
fn daemon_pod(name: &str, on: &str) -> Value {
    let mut p = ready_pod(name, on);
    p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "DaemonSet",
        "name": "gpu-exporter", "uid": "d-1", "controller": true}]);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eviction_goes_through_the_eviction_subresource() {
    let served = serve().await;
    let dir = tempfile::tempdir().expect("dir");
    let f = faults(
        client(&served),
        false,
        config(Duration::from_secs(5)),
        dir.path(),
    );
    let e = bounded("evict", f.evict_pod(NS, "model-a"))
        .await
        .expect("evicted");
    assert_eq!((e.result, e.refusals), (Evicted::Done, 0));
    assert!(!exists(&served.handle, Kind::Pod, "model-a"));
    let calls = f.act().calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, "POST");
    assert_eq!(
        calls[0].path,
        "/api/v1/namespaces/bench/pods/model-a/eviction"
    );
    assert_eq!(calls[0].outcome, Outcome::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_refuses_until_a_pod_becomes_ready_and_each_refusal_is_recorded() {
    let served = serve().await;
    let h = &served.handle;
    put(
        h,
        Kind::PodDisruptionBudget,
        json!({"metadata": {"name": "model-pdb", "namespace": NS},
               "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "model"}}}}),
    );
    let dir = tempfile::tempdir().expect("dir");

    // A short deadline: refused to the end.
    let short = faults(
        client(&served),
        false,
        config(Duration::from_millis(350)),
        dir.path(),
    );
    let e = bounded("evict", short.evict_pod(NS, "model-a"))
        .await
        .expect("answered");
    assert!(
        matches!(&e.result, Evicted::Refused(m) if m.contains("model-pdb")),
        "{e:?}"
    );
    assert!(e.refusals >= 2, "retried: {e:?}");
    assert_eq!(short.refusals().len(), e.refusals as usize);
    assert!(exists(h, Kind::Pod, "model-a"));

    // Refused until model-c is scheduled and ready, then evicted.
    let f = faults(
        client(&served),
        false,
        config(Duration::from_secs(20)),
        dir.path(),
    );
    let make_ready = async {
        while f.refusals().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        put(h, Kind::Pod, ready_pod("model-c", "od-1"));
    };
    let (e, ()) = bounded("evict under a budget", async {
        tokio::join!(f.evict_pod(NS, "model-a"), make_ready)
    })
    .await;
    let e = e.expect("evicted");
    assert_eq!(e.result, Evicted::Done);
    assert!(e.refusals >= 1);
    let r = &f.refusals()[0];
    assert_eq!((r.namespace.as_str(), r.pod.as_str()), (NS, "model-a"));
    assert!(
        r.message
            .contains("The disruption budget model-pdb needs 2 healthy pods"),
        "{r:?}"
    );
    assert!(!exists(h, Kind::Pod, "model-a"));
    let outcomes: Vec<_> = f.act().calls().into_iter().map(|c| c.outcome).collect();
    assert!(
        matches!(outcomes.first(), Some(Outcome::Refused(_))),
        "{outcomes:?}"
    );
    assert_eq!(outcomes.last(), Some(&Outcome::Done));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spot_interruption_taints_then_evicts_then_deletes_the_node() {
    let served = serve().await;
    let h = &served.handle;
    let mut spot = spot_node("spot-1", "g5.xlarge");
    spot["spec"]["taints"] =
        json!([{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]);
    put(h, Kind::Node, spot);
    let dir = tempfile::tempdir().expect("dir");
    let mut c = config(Duration::from_secs(5));
    c.delete_interrupted_nodes = true;
    let f = faults(client(&served), false, c, dir.path());

    assert!(
        bounded("notice", f.spot_notice("spot-1"))
            .await
            .expect("tainted")
    );
    assert_eq!(
        taints(h, "spot-1"),
        [
            "nvidia.com/gpu=present:NoSchedule".to_string(),
            format!("{INTERRUPTION_TAINT}=run-7:NoSchedule")
        ]
    );
    assert!(
        exists(h, Kind::Pod, "model-a"),
        "pods serve until the notice ends"
    );
    let pending = cluster::journal::pending(f.journal_path().expect("journal")).expect("read");
    assert_eq!(pending.len(), 1, "{pending:?}");

    let r = bounded("reclaim", f.spot_reclaim("spot-1"))
        .await
        .expect("reclaimed");
    assert_eq!(r.evictions.len(), 1);
    assert_eq!(
        (r.evictions[0].pod.as_str(), &r.evictions[0].result),
        ("model-a", &Evicted::Done)
    );
    assert!(r.node_deleted);
    assert!(!exists(h, Kind::Pod, "model-a"));
    assert!(!exists(h, Kind::Node, "spot-1"));
    let calls: Vec<_> = f
        .act()
        .calls()
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert_eq!(
        calls,
        [
            "PATCH /api/v1/nodes/spot-1",
            "POST /api/v1/namespaces/bench/pods/model-a/eviction",
            "DELETE /api/v1/nodes/spot-1"
        ]
    );
    // The node is gone: its undo has nothing left to do and is marked done.
    let report = bounded("undo", f.undo()).await.expect("undo");
    assert_eq!(report.failed, Vec::<String>::new());
    assert_eq!(report.undone.len(), 1);
    assert!(report.undone[0].ends_with("node gone"), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_outage_cordons_its_nodes_and_evicts_only_the_selected_pods() {
    let served = serve().await;
    let h = &served.handle;
    put(h, Kind::Pod, daemon_pod("exporter-od-1", "od-1"));
    let dir = tempfile::tempdir().expect("dir");
    let f = faults(
        client(&served),
        false,
        config(Duration::from_secs(5)),
        dir.path(),
    );

    let o = bounded("outage", f.pool_outage("gpu-od"))
        .await
        .expect("outage");
    assert_eq!(o.nodes, ["od-1"]);
    let evicted: Vec<_> = o
        .evictions
        .iter()
        .map(|e| (e.pod.as_str(), &e.result))
        .collect();
    assert_eq!(evicted, [("model-b", &Evicted::Done)]);
    assert_eq!(
        get_node(h, "od-1").spec.and_then(|s| s.unschedulable),
        Some(true)
    );
    assert_eq!(
        get_node(h, "spot-1").spec.and_then(|s| s.unschedulable),
        None
    );
    assert!(!exists(h, Kind::Pod, "model-b"));
    assert!(exists(h, Kind::Pod, "other-1"), "another label");
    assert!(exists(h, Kind::Pod, "exporter-od-1"), "a DaemonSet's pod");
    assert!(exists(h, Kind::Pod, "model-a"), "another pool");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rails_refuse_without_making_a_call() {
    let served = serve().await;
    let h = &served.handle;
    put(
        h,
        Kind::Node,
        node("idle-1", json!({"karpenter.sh/nodepool": "gpu-spot"})),
    );
    put(h, Kind::Pod, daemon_pod("exporter-od-1", "od-1"));
    let before = h.read(|s| s.resource_version());
    let dir = tempfile::tempdir().expect("dir");
    let f = faults(
        client(&served),
        false,
        config(Duration::from_secs(5)),
        dir.path(),
    );

    let refused = |r: Result<_, FaultError>| match r {
        Err(FaultError::Rails { what }) => what,
        other => panic!("not refused by the rails: {other:?}"),
    };
    let what = refused(
        bounded("foreign ns", f.evict_pod("kube-system", "model-a"))
            .await
            .map(drop),
    );
    assert!(
        what.contains("namespace \"kube-system\" is not among the allowed"),
        "{what}"
    );
    let what = refused(
        bounded("other label", f.evict_pod(NS, "other-1"))
            .await
            .map(drop),
    );
    assert!(
        what.contains("does not match the selector \"app=model\""),
        "{what}"
    );
    let what = refused(
        bounded("daemon", f.evict_pod(NS, "exporter-od-1"))
            .await
            .map(drop),
    );
    assert!(what.contains("DaemonSet"), "{what}");
    let what = refused(bounded("absent", f.evict_pod(NS, "nope")).await.map(drop));
    assert!(what.contains("does not exist"), "{what}");
    let what = refused(
        bounded("idle node", f.spot_notice("idle-1"))
            .await
            .map(drop),
    );
    assert!(
        what.contains("node idle-1 hosts no pod selected by \"app=model\""),
        "{what}"
    );
    let what = refused(
        bounded("idle node", f.spot_reclaim("idle-1"))
            .await
            .map(drop),
    );
    assert!(what.contains("idle-1"), "{what}");
    let what = refused(
        bounded("no pool", f.pool_outage("gpu-nope"))
            .await
            .map(drop),
    );
    assert!(what.contains("pool \"gpu-nope\" has no node"), "{what}");

    assert_eq!(f.act().calls(), []);
    assert_eq!(
        h.read(|s| s.resource_version()),
        before,
        "the store is unchanged"
    );
    let journal = f.journal_path().expect("journal");
    assert_eq!(cluster::journal::read(journal).expect("read"), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_changes_nothing_and_lists_every_call() {
    let served = serve().await;
    let h = &served.handle;
    let before = h.read(|s| s.resource_version());
    let dir = tempfile::tempdir().expect("dir");
    let mut c = config(Duration::from_secs(5));
    c.delete_interrupted_nodes = true;
    let f = faults(client(&served), true, c, dir.path());

    assert!(
        bounded("notice", f.spot_notice("spot-1"))
            .await
            .expect("notice")
    );
    let r = bounded("reclaim", f.spot_reclaim("spot-1"))
        .await
        .expect("reclaim");
    assert_eq!(r.evictions[0].result, Evicted::DryRun);
    let o = bounded("outage", f.pool_outage("gpu-od"))
        .await
        .expect("outage");
    assert_eq!(o.evictions[0].result, Evicted::DryRun);
    let e = bounded("evict", f.evict_pod(NS, "model-a"))
        .await
        .expect("evict");
    assert_eq!(e.result, Evicted::DryRun);

    assert_eq!(
        h.read(|s| s.resource_version()),
        before,
        "the store is unchanged"
    );
    let calls: Vec<_> = f
        .act()
        .calls()
        .iter()
        .map(|c| {
            assert_eq!(c.outcome, Outcome::DryRun);
            format!("{} {} ({})", c.method, c.path, c.summary)
        })
        .collect();
    assert_eq!(
        calls,
        [
            "PATCH /api/v1/nodes/spot-1 (taint scalebench.io/interruption=run-7:NoSchedule)",
            "POST /api/v1/namespaces/bench/pods/model-a/eviction (evict)",
            "DELETE /api/v1/nodes/spot-1 (delete node)",
            "PATCH /api/v1/nodes/od-1 (cordon)",
            "POST /api/v1/namespaces/bench/pods/model-b/eviction (evict)",
            "POST /api/v1/namespaces/bench/pods/model-a/eviction (evict)",
        ]
    );
    assert_eq!(f.journal_path(), None);
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "no journal written"
    );
}
