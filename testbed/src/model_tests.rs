//! The model's state machine stepped by hand in scenario time, without HTTP or a clock.

use std::path::Path;
use std::sync::Weak;

use chaos::{Count, Fault};
use workloads::{Duration, Plan};

use crate::TestbedConfig;
use crate::model::{Model, Phase};
use crate::shared::Admit;

const ONE_POOL: &str = r#"
[[cluster.pool]]
name = "p"
gpus_per_node = 2
price_per_hour = 1.0
provision = "60s"
max_nodes = 5
"#;

fn model(setup: &str) -> Model {
    model_with(ONE_POOL, setup)
}

fn model_with(pools: &str, setup: &str) -> Model {
    let src = format!(
        r#"
duration = "1h"
[slo]
latency = "1s"
[traffic]
capacity = 100
[[traffic.shape]]
kind = "steady"
rate = 10
[service]
concurrency = 1
time = "1s"
lifecycle = {{ schedule = "0s", start = "5s", load = "10s", grace_period = "30s" }}
[cluster]
scan_interval = "10s"
{pools}
[[setup]]
name = "s"
{setup}
"#
    );
    let plan = match Plan::parse(Path::new("t.toml"), &src) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let cfg = TestbedConfig::from_plan(&plan, &plan.setups[0], 1.0);
    Model::new(&cfg, Weak::new())
}

fn phases(m: &Model) -> Vec<Phase> {
    m.replicas.values().map(|r| r.phase).collect()
}

#[test]
fn new_replicas_wait_for_a_node_then_start_load_and_serve() {
    let mut m = model("initial_replicas = 1\n[setup.fixed]\nreplicas = 3");
    assert_eq!(phases(&m), [Phase::Ready]);
    m.advance(14.9);
    assert_eq!(
        phases(&m),
        [Phase::Ready],
        "the policy's first decision is at 15 s"
    );
    m.advance(15.0);
    // One fits next to the first on its node (2 GPUs); the third waits for a new node.
    assert_eq!(phases(&m), [Phase::Ready, Phase::Starting, Phase::Pending]);
    m.advance(19.9);
    assert_eq!(phases(&m)[1], Phase::Starting);
    m.advance(20.0); // start done; the scan asks for a node, up at 80 s
    assert_eq!(phases(&m)[1], Phase::Loading);
    assert_eq!(m.snapshot(20.0).nodes.get("p"), Some(&2));
    m.advance(30.0);
    assert_eq!(phases(&m), [Phase::Ready, Phase::Ready, Phase::Pending]);
    m.advance(80.0);
    assert_eq!(phases(&m)[2], Phase::Starting);
    m.advance(95.0);
    assert_eq!(phases(&m)[2], Phase::Ready);
    // Two nodes at 1 USD/h: one since 0, one since the scan at 20 s.
    assert!((m.cost(3600.0) - (1.0 + 3580.0 / 3600.0)).abs() < 1e-9);
}

#[test]
fn an_evicted_busy_replica_drains_and_is_killed_at_the_grace_period() {
    let mut m = model("[setup.fixed]\nreplicas = 2");
    let Admit::Serve(slot) = m.admit(0.0, None) else {
        panic!("a ready replica has room");
    };
    let busy = slot.replica;
    slot.disarm(); // the test holds the request; it never finishes
    let eviction = Fault::PodEviction {
        at: Duration::ZERO,
        pods: Count::N(2),
        max_unavailable: None,
    };
    let record = m.inject(&eviction, 1.0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(record.pods_lost, 2);
    // The idle one is gone, the busy one drains; two replacements are on their way.
    assert_eq!(
        m.replicas.get(&busy).map(|r| r.phase),
        Some(Phase::Draining)
    );
    assert_eq!(m.pod_counts().total(), 2);
    m.advance(30.9);
    assert!(m.replicas.contains_key(&busy), "within its grace period");
    m.advance(31.0);
    assert!(!m.replicas.contains_key(&busy), "killed at the end of it");
    assert_eq!(m.faults[0].requests_failed, 1);
    assert_eq!(m.stats.killed, 1);
    assert_eq!(m.in_flight.value, 0.0);
}

#[test]
fn a_draining_replica_that_finishes_its_requests_goes_at_once() {
    let mut m = model("[setup.fixed]\nreplicas = 1");
    let Admit::Serve(slot) = m.admit(0.0, None) else {
        panic!("a ready replica has room");
    };
    let id = slot.replica;
    slot.disarm();
    m.desired = 0;
    m.reconcile(0.5);
    assert_eq!(m.replicas.get(&id).map(|r| r.phase), Some(Phase::Draining));
    assert!(
        matches!(m.admit(0.6, None), Admit::Wait(_)),
        "a draining replica takes nothing new"
    );
    assert!(m.release(id, 1.0, Some(1.0)));
    assert!(m.replicas.is_empty());
    assert_eq!((m.stats.ok, m.stats.killed), (1, 0));
}

#[test]
fn replicas_placed_on_a_pool_bind_and_provision_only_there() {
    let pools = format!("{ONE_POOL}{}", ONE_POOL.replace("\"p\"", "\"q\""));
    let mut m = model_with(&pools, "[setup.fixed]\nreplicas = 1");
    assert_eq!(m.snapshot(0.0).nodes.get("p"), Some(&1));
    // As a placing policy would ask: none anywhere, two on pool q (index 1).
    m.desired = 2;
    m.placement = Some(vec![0, 2]);
    m.reconcile(1.0);
    let groups: Vec<_> = m.replicas.values().map(|r| (r.group, r.phase)).collect();
    assert_eq!(
        groups,
        [(Some(1), Phase::Pending), (Some(1), Phase::Pending)]
    );
    // Pool p's node has room now, but they wait for q's; the scan provisions one there.
    m.advance(10.0);
    let s = m.snapshot(10.0);
    assert_eq!((s.nodes.get("p"), s.nodes.get("q")), (Some(&1), Some(&1)));
    assert_eq!(s.pods_pending, 2);
}

#[test]
fn random_spot_interruptions_notice_then_reclaim_nodes() {
    let spot = r#"
[[cluster.pool]]
name = "spot"
capacity_type = "spot"
gpus_per_node = 2
price_per_hour = 1.0
provision = "60s"
max_nodes = 5
interruption_rate = 360
interruption_notice = "30s"
"#;
    let mut m = model_with(spot, "[setup.fixed]\nreplicas = 2");
    // 360 per node-hour: one every 10 s on average; step in 1 s ticks for two minutes.
    for t in 1..=120 {
        m.advance(f64::from(t));
    }
    let f = m.faults.first().expect("at least one random interruption");
    assert_eq!(
        (f.kind.as_str(), f.target.as_str()),
        ("spot-interruption", "spot")
    );
    assert!(m.faults.iter().any(|f| f.pods_lost > 0), "{:?}", m.faults);
}

#[test]
fn the_queue_serves_higher_priorities_first_and_sheds_the_lowest() {
    let src = r#"
duration = "1h"
[slo]
latency = "1s"
[traffic]
capacity = 100
[[traffic.shape]]
kind = "steady"
rate = 10
[[traffic.class]]
name = "batch"
[[traffic.class]]
name = "chat"
priority = 2
[service]
concurrency = 1
queue = 2
time = "1s"
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "s"
[setup.fixed]
replicas = 1
"#;
    let plan = Plan::parse(Path::new("q.toml"), src).unwrap_or_else(|e| panic!("{e}"));
    let cfg = TestbedConfig::from_plan(&plan, &plan.setups[0], 1.0);
    let mut m = Model::new(&cfg, Weak::new());
    let admit = |m: &mut Model, class: &str| m.admit(0.0, Some(class.to_string()));
    // The one slot is taken; then two batch requests fill the queue.
    assert!(matches!(admit(&mut m, "batch"), Admit::Serve(_)));
    let first_batch = admit(&mut m, "batch");
    let second_batch = admit(&mut m, "batch");
    assert!(matches!(first_batch, Admit::Wait(_)) && matches!(second_batch, Admit::Wait(_)));
    // A chat request sheds the newest batch request and goes first.
    assert!(matches!(admit(&mut m, "chat"), Admit::Wait(_)));
    let Admit::Wait(mut shed) = second_batch else {
        unreachable!()
    };
    assert!(
        shed.try_recv()
            .is_err_and(|e| e == tokio::sync::oneshot::error::TryRecvError::Closed)
    );
    let order: Vec<u8> = m.queue.iter().map(|w| w.priority).collect();
    assert_eq!(order, vec![2, 0]);
    // A batch request finds the queue full of requests at least as important: refused.
    assert!(matches!(admit(&mut m, "batch"), Admit::Full));
    assert_eq!(m.stats.rejected, 2);
}
