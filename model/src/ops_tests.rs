//! The operations by id: an eviction, a cordon and an uncordon, a node deleted, a scale.

use autoscale::{Observation, Policy};
use scalebench_core::Plan;
use scalebench_core::fault::{Count, Fault};

use crate::testing::{NoRequest, S, Script, Timers, parse};
use crate::{Model, PodPhase, Refused};

/// A 10-minute scenario on one on-demand pool of `gpus`-GPU nodes (one GPU a replica) that
/// provision in 30 s, at least `min_nodes`; pods schedule at once, start in 2 s and load in 3 s,
/// with a 10 s grace period; `replicas` ready at the start; `setup` is added to the
/// `[[setup]]` table.
fn plan(gpus: u32, min_nodes: u32, replicas: u32, setup: &str) -> Plan {
    parse(&format!(
        r#"
duration = "10m"
[slo]
latency = "1s"
[traffic]
timeout = "30s"
[[traffic.shape]]
kind = "steady"
rate = 1
[service]
time = "10ms"
lifecycle = {{ schedule = "0s", start = "2s", load = "3s", grace_period = "10s" }}
[[cluster.pool]]
name = "gpu"
gpus_per_node = {gpus}
price_per_hour = 3.6
provision = "30s"
min_nodes = {min_nodes}
max_nodes = 8
[[setup]]
name = "s"
{setup}
[setup.fixed]
replicas = {replicas}
"#
    ))
}

fn start(plan: &Plan, policy: Box<dyn Policy>) -> (Model<NoRequest>, Timers) {
    let mut host = Timers::default();
    let mut model = Model::with_policy(plan, &plan.setups[0], policy, &mut host);
    model.start(&mut host);
    (model, host)
}

/// (id, phase, node) of every pod that exists.
fn live(model: &Model<NoRequest>) -> Vec<(u32, PodPhase, Option<u32>)> {
    model
        .pods()
        .filter(|p| p.phase != PodPhase::Gone)
        .map(|p| (p.id, p.phase, p.node))
        .collect()
}

#[test]
fn an_eviction_drains_the_pod_and_its_replacement_starts_cold() {
    let plan = plan(4, 0, 3, "");
    let (mut model, mut host) = start(&plan, Box::new(Script(vec![(0.0, 3)])));
    model.offer(S, NoRequest, &mut host);
    let busy = model
        .pods()
        .find(|p| p.phase == PodPhase::Ready && model.pods[p.id as usize].in_flight > 0)
        .map(|p| p.id)
        .unwrap_or(u32::MAX);
    let idle = (0..3).find(|&p| p != busy).unwrap_or(u32::MAX);
    host.run_until(&mut model, 10 * S);

    // An idle ready pod goes at once; a replacement is created at once, cold.
    assert_eq!(model.evict_pod(10 * S, idle, &mut host), Ok(()));
    let gone = model
        .pods()
        .nth(idle as usize)
        .map(|p| (p.phase, p.evicted, p.deleting_ns));
    assert_eq!(gone, Some((PodPhase::Gone, true, Some(10 * S))));
    let new: Vec<_> = model.pods().filter(|p| p.created_ns == 10 * S).collect();
    assert_eq!(new.len(), 1);
    assert_eq!(
        (new[0].phase, new[0].evicted),
        (PodPhase::ContainerCreating, false)
    );

    // A pod serving a request drains until its grace period ends.
    assert_eq!(model.evict_pod(11 * S, busy, &mut host), Ok(()));
    assert_eq!(
        model.evict_pod(12 * S, busy, &mut host),
        Err(Refused::PodTerminating(busy))
    );
    assert_eq!(
        model.evict_pod(12 * S, idle, &mut host),
        Err(Refused::PodGone(idle))
    );
    assert_eq!(
        model.evict_pod(12 * S, 99, &mut host),
        Err(Refused::NoSuchPod(99))
    );
    host.run_until(&mut model, 30 * S);
    let busy_pod = model
        .pods()
        .nth(busy as usize)
        .map(|p| (p.phase, p.deleting_ns));
    assert_eq!(busy_pod, Some((PodPhase::Gone, Some(11 * S))));
    let ready = live(&model)
        .iter()
        .filter(|p| p.1 == PodPhase::Ready)
        .count();
    assert_eq!(ready, 3, "both replaced: {:?}", live(&model));

    // Each eviction is a pod-eviction record with its marker, as an injected one is.
    let state = model.state(30 * S);
    let records: Vec<_> = state
        .faults
        .iter()
        .map(|f| (f.t_s, f.kind.as_str(), f.target.as_str(), f.pods_lost))
        .collect();
    assert_eq!(
        records,
        [
            (10.0, "pod-eviction", "pods", 1),
            (11.0, "pod-eviction", "pods", 1)
        ]
    );
    assert_eq!(
        model.take_markers(),
        ["pod-eviction@10s", "pod-eviction@11s"]
    );
    assert_eq!(model.cold_starts().count(), 2);
}

#[test]
fn an_eviction_is_recorded_as_an_injected_one_of_one_pod() {
    let plan = plan(4, 0, 1, "");
    let (mut by_id, mut host_a) = start(&plan, Box::new(Script(vec![(0.0, 1)])));
    let (mut injected, mut host_b) = start(&plan, Box::new(Script(vec![(0.0, 1)])));
    assert_eq!(by_id.evict_pod(5 * S, 0, &mut host_a), Ok(()));
    let fault = Fault::PodEviction {
        at: scalebench_core::Duration::ZERO,
        pods: Count::N(1),
        max_unavailable: None,
    };
    assert!(injected.inject(5 * S, &fault, &mut host_b).is_ok());
    host_a.run_until(&mut by_id, 60 * S);
    host_b.run_until(&mut injected, 60 * S);
    assert_eq!(by_id.state(60 * S), injected.state(60 * S));
    assert_eq!(by_id.cold_starts(), injected.cold_starts());
}

#[test]
fn a_cordoned_node_takes_no_new_pod_until_it_is_uncordoned() {
    // Two 2-GPU nodes up at the start; the one replica on node 0.
    let plan = plan(2, 2, 1, "");
    let (mut model, mut host) = start(&plan, Box::new(Script(vec![(0.0, 1)])));
    assert_eq!(live(&model), [(0, PodPhase::Ready, Some(0))]);
    for node in [0, 1] {
        assert_eq!(model.set_cordoned(S, node, true, &mut host), Ok(()));
    }
    let views: Vec<_> = model
        .nodes()
        .map(|n| (n.unschedulable, n.cordoned))
        .collect();
    assert_eq!(views, [(true, false), (true, false)]);
    // Two more replicas find no room: pending, though both nodes have some.
    assert_eq!(model.scale_to(2 * S, 3, &mut host), Ok(()));
    assert_eq!(
        live(&model),
        [
            (0, PodPhase::Ready, Some(0)),
            (1, PodPhase::Pending, None),
            (2, PodPhase::Pending, None)
        ]
    );
    // Uncordoning node 1 binds them there at once; node 0 stays cordoned.
    assert_eq!(model.set_cordoned(3 * S, 1, false, &mut host), Ok(()));
    assert_eq!(
        live(&model),
        [
            (0, PodPhase::Ready, Some(0)),
            (1, PodPhase::ContainerCreating, Some(1)),
            (2, PodPhase::ContainerCreating, Some(1))
        ]
    );
    assert_eq!(
        model.pods().nth(1).and_then(|p| p.scheduled_ns),
        Some(3 * S)
    );
    assert!(model.nodes().next().is_some_and(|n| n.unschedulable));
    // The cordon is not a disruption: no fault, no marker.
    assert!(model.state(3 * S).faults.is_empty());
    assert!(model.take_markers().is_empty());
    assert_eq!(
        model.set_cordoned(3 * S, 7, true, &mut host),
        Err(Refused::NoSuchNode(7))
    );
}

#[test]
fn uncordoning_a_node_under_a_notice_leaves_it_cordoned() {
    let src = r#"
duration = "10m"
[slo]
latency = "1s"
[traffic]
timeout = "30s"
[[traffic.shape]]
kind = "steady"
rate = 1
[service]
time = "10ms"
[[cluster.pool]]
name = "spot"
capacity_type = "spot"
gpus_per_node = 2
price_per_hour = 1
provision = "30s"
min_nodes = 1
max_nodes = 4
[[setup]]
name = "s"
[setup.fixed]
replicas = 1
"#;
    let plan = parse(src);
    let (mut model, mut host) = start(&plan, Box::new(Script(vec![(0.0, 1)])));
    let notice = Fault::SpotInterruption {
        pool: "spot".into(),
        at: scalebench_core::Duration::ZERO,
        nodes: Count::N(1),
        notice: scalebench_core::Duration::from_secs(60),
    };
    assert!(model.inject(S, &notice, &mut host).is_ok());
    assert_eq!(model.set_cordoned(2 * S, 0, true, &mut host), Ok(()));
    assert_eq!(model.set_cordoned(3 * S, 0, false, &mut host), Ok(()));
    let node = model.nodes().next().map(|n| (n.cordoned, n.unschedulable));
    assert_eq!(node, Some((true, false)), "still under its notice");
    assert_eq!(model.scale_to(4 * S, 2, &mut host), Ok(()));
    assert_eq!(
        live(&model)[1],
        (1, PodPhase::Pending, None),
        "nothing new on a node about to go"
    );
}

#[test]
fn a_deleted_node_s_pods_are_replaced_and_it_is_paid_until_then() {
    // One-GPU nodes: two replicas on two nodes.
    let plan = plan(1, 0, 2, "");
    let (mut model, mut host) = start(&plan, Box::new(Script(vec![(0.0, 2)])));
    assert_eq!(
        live(&model),
        [(0, PodPhase::Ready, Some(0)), (1, PodPhase::Ready, Some(1))]
    );
    assert_eq!(model.remove_node(10 * S, 0, &mut host), Ok(()));
    assert_eq!(
        live(&model),
        [(1, PodPhase::Ready, Some(1)), (2, PodPhase::Pending, None)]
    );
    let node0 = model.nodes().next().map(|n| n.gone);
    assert_eq!(node0, Some(true));
    assert_eq!(
        model
            .pods()
            .next()
            .map(|p| (p.phase, p.evicted, p.deleting_ns)),
        Some((PodPhase::Gone, false, Some(10 * S)))
    );
    // No fault record: the plan had none.
    assert!(model.state(10 * S).faults.is_empty());
    // Paid: node 0 for 10 s, node 1 for 20 s.
    let paid = model.bill(20 * S).pools["gpu"].unit_seconds;
    assert!((paid - 30.0).abs() < 1e-9, "{paid}");
    assert_eq!(
        model.remove_node(11 * S, 0, &mut host),
        Err(Refused::NodeGone(0))
    );
    // The cluster autoscaler provisions a node for the replacement (its scan at 10 s, up 30 s
    // later); it starts there.
    host.run_until(&mut model, 60 * S);
    let replacement = model
        .pods()
        .nth(2)
        .map(|p| (p.phase, p.node, p.scheduled_ns));
    assert_eq!(replacement, Some((PodPhase::Ready, Some(2), Some(40 * S))));
}

#[test]
fn a_scale_holds_until_the_policy_s_next_sync_and_counts_the_warm_pool() {
    let plan = plan(4, 0, 1, "warm_pool = 1");
    // The policy syncs every second and always asks for 1.
    let (mut model, mut host) = start(&plan, Box::new(Script(vec![(0.0, 1)])));
    assert_eq!(model.state(0).replicas_desired, 2);
    assert_eq!(model.scale_to(S / 2, 4, &mut host), Ok(()));
    assert_eq!(model.state(S / 2).replicas_desired, 4);
    let created: Vec<_> = model
        .pods()
        .filter(|p| p.created_ns == S / 2)
        .map(|p| p.phase)
        .collect();
    assert_eq!(created, [PodPhase::ContainerCreating; 2]);
    // Its sync at 1 s decides again: back to 1 (+1 warm); the two new pods go first.
    host.run_until(&mut model, S);
    assert_eq!(model.state(S).replicas_desired, 2);
    assert_eq!(live(&model).len(), 2);
    // Below the warm pool: no replicas for the policy, the warm pool stays.
    assert_eq!(model.scale_to(S + 1, 0, &mut host), Ok(()));
    assert_eq!(model.state(S + 1).replicas_desired, 1);
    assert_eq!(live(&model).len(), 1);
}

/// Places its one replica on the first pool.
struct Placed;

impl Policy for Placed {
    fn interval(&self) -> f64 {
        1.0
    }
    fn decide(&mut self, _: &Observation<'_>) -> u32 {
        1
    }
    fn initial_placement(&self, replicas: u32) -> Option<Vec<u32>> {
        Some(vec![replicas])
    }
}

#[test]
fn a_policy_that_places_its_replicas_takes_only_the_count_it_runs() {
    let plan = plan(4, 0, 1, "");
    let (mut model, mut host) = start(&plan, Box::new(Placed));
    assert_eq!(model.scale_to(S / 2, 1, &mut host), Ok(()));
    assert_eq!(
        model.scale_to(S / 2, 3, &mut host),
        Err(Refused::PlacedPerPool {
            current: 1,
            asked: 3
        })
    );
    assert_eq!(live(&model).len(), 1);
}

#[test]
fn replica_billing_has_no_nodes_to_cordon_or_delete() {
    let plan = plan(4, 0, 1, "billing = \"replica\"\nprice_per_replica_hour = 1");
    let (mut model, mut host) = start(&plan, Box::new(Script(vec![(0.0, 1)])));
    assert_eq!(
        model.set_cordoned(S, 0, true, &mut host),
        Err(Refused::NoNodes)
    );
    assert_eq!(model.remove_node(S, 0, &mut host), Err(Refused::NoNodes));
    assert_eq!(model.evict_pod(S, 0, &mut host), Ok(()));
}

#[test]
fn a_deleted_pod_is_replaced_without_a_fault_record() {
    let plan = plan(4, 0, 2, "");
    let (mut model, mut host) = start(&plan, Box::new(Script(vec![(0.0, 2)])));
    assert_eq!(model.remove_pod(5 * S, 1, &mut host), Ok(()));
    assert_eq!(
        live(&model),
        [
            (0, PodPhase::Ready, Some(0)),
            (2, PodPhase::ContainerCreating, Some(0))
        ]
    );
    assert!(model.pods().nth(1).is_some_and(|p| !p.evicted));
    assert!(model.state(5 * S).faults.is_empty());
    assert!(model.take_markers().is_empty());
    assert_eq!(
        model.remove_pod(6 * S, 1, &mut host),
        Err(Refused::PodGone(1))
    );
}
