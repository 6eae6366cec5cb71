//! The model's pods and nodes read through the view, and the cold-start breakdown, on a model
//! stepped by a host that only runs its timers (no requests).

use std::collections::BTreeMap;

use scalebench_core::Plan;
use scalebench_core::run::ColdStartSample;

use crate::testing::{NoRequest, S, Script, Timers, parse};
use crate::{Model, PodPhase};

/// One on-demand pool of one-GPU nodes that take 2 minutes to provision (none up at the
/// start beyond what the initial replica needs); pods schedule in 1 s, start in 20 s and load in
/// 40 s; a 10-minute scenario.
fn plan() -> Plan {
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
lifecycle = { schedule = "1s", start = "20s", load = "40s" }
[[cluster.pool]]
name = "gpu"
gpus_per_node = 1
price_per_hour = 3.6
provision = "2m"
max_nodes = 8
[[setup]]
name = "s"
[setup.fixed]
replicas = 1
"#;
    parse(src)
}

/// Steps the model to the scenario's end, calling `each` after every timer.
fn run(
    plan: &Plan,
    script: Vec<(f64, u32)>,
    mut each: impl FnMut(u64, &Model<NoRequest>),
) -> Model<NoRequest> {
    let mut host = Timers::default();
    let mut model = Model::with_policy(plan, &plan.setups[0], Box::new(Script(script)), &mut host);
    model.start(&mut host);
    let end = plan.duration.as_nanos();
    while let Some(((t, _), timer)) = host.due.pop_first() {
        if t > end {
            break;
        }
        model.timer(t, timer, &mut host);
        each(t, &model);
    }
    model
}

#[test]
fn a_cold_start_breaks_down_into_the_configured_phase_durations() {
    let plan = plan();
    // Two more replicas from 29.5 s: created at the 30 s sync; the scan at 40 s asks for two
    // nodes, up at 160 s; bound then (pending 130 s), started 1 + 20 s later, ready 40 s after.
    let model = run(&plan, vec![(0.0, 1), (29.5, 3)], |_, _| {});
    let c = model.cold_starts();
    let expected = ColdStartSample {
        pending_ns: 130 * S,
        creating_ns: 21 * S,
        loading_ns: 40 * S,
    };
    assert_eq!(c.samples(), &[expected, expected]);
    assert_eq!(c.unfinished(), 0);
    assert_eq!(expected.total_ns(), 191 * S);
    // The initial replica, ready at time zero, is not a cold start; the count agrees.
    assert_eq!(model.state(plan.duration.as_nanos()).cold_starts, c.count());
    let r = c.report();
    assert_eq!(
        (
            r.pending_ms.p50,
            r.creating_ms.p95,
            r.loading_ms.max,
            r.total_ms.p95
        ),
        (
            Some(130_000.0),
            Some(21_000.0),
            Some(40_000.0),
            Some(191_000.0)
        )
    );
}

#[test]
fn pods_deleted_before_ready_are_unfinished_not_zero() {
    let plan = plan();
    // Up to 3 at the 30 s sync, back to 1 at the 100 s sync, before any node is up: both new
    // pods are deleted while pending.
    let model = run(&plan, vec![(0.0, 1), (29.5, 3), (99.5, 1)], |_, _| {});
    let c = model.cold_starts();
    assert_eq!((c.count(), c.unfinished()), (0, 2));
    let r = c.report();
    assert_eq!((r.total_ms.p50, r.total_ms.max), (None, None));
    let gone: Vec<_> = model
        .pods()
        .filter(|p| p.phase == PodPhase::Gone)
        .map(|p| (p.created_ns, p.scheduled_ns, p.deleting_ns))
        .collect();
    assert_eq!(gone, vec![(30 * S, None, Some(100 * S)); 2]);
}

#[test]
fn a_spikes_new_pods_walk_the_phases_in_order_and_the_view_agrees_with_the_counts() {
    let plan = plan();
    let mut checked = 0;
    let model = run(&plan, vec![(0.0, 1), (29.5, 4), (400.0, 2)], |now, m| {
        let state = m.state(now);
        let mut by_phase = BTreeMap::<&str, u32>::new();
        for p in m.pods() {
            let name = match p.phase {
                PodPhase::Pending => "pending",
                PodPhase::ContainerCreating => "creating",
                PodPhase::Running => "running",
                PodPhase::Ready => "ready",
                PodPhase::Terminating => "terminating",
                PodPhase::Gone => "gone",
            };
            *by_phase.entry(name).or_default() += 1;
            // A pod has the instants of the phases it has entered, and only those, and
            // they never go back.
            let entered = match p.phase {
                PodPhase::Pending => 0,
                PodPhase::ContainerCreating => 1,
                PodPhase::Running => 2,
                _ => 3,
            };
            let instants = [p.scheduled_ns, p.started_ns, p.ready_ns];
            if p.phase != PodPhase::Gone {
                for (i, t) in instants.iter().enumerate() {
                    assert_eq!(t.is_some(), i < entered, "{p:?}");
                }
                assert_eq!(p.node.is_some(), entered > 0, "{p:?}");
                assert_eq!(p.pool, p.node.map(|_| "gpu"), "{p:?}");
            }
            let mut last = p.created_ns;
            for t in instants.into_iter().flatten().chain(p.deleting_ns) {
                assert!(t >= last && t <= now, "{p:?} at {now}");
                last = t;
            }
        }
        let count = |k: &str| by_phase.get(k).copied().unwrap_or(0);
        assert_eq!(
            (
                count("pending"),
                count("creating"),
                count("running"),
                count("ready"),
                count("terminating")
            ),
            (
                state.pending,
                state.creating,
                state.running,
                state.ready,
                state.terminating
            ),
            "at {now}"
        );
        let nodes = m.nodes().filter(|n| !n.gone).count() as u32;
        assert_eq!(Some(&nodes), state.nodes.get("gpu"), "at {now}");
        checked += 1;
    });
    assert!(checked > 600, "one check per timer: {checked}");
    // The spike's three new pods: created at 30 s, bound when their nodes came up (160 s), each
    // phase strictly after the one before.
    let new: Vec<_> = model.pods().filter(|p| p.created_ns > 0).collect();
    assert_eq!(new.len(), 3);
    for p in &new {
        assert_eq!(
            (p.created_ns, p.scheduled_ns, p.started_ns, p.ready_ns),
            (30 * S, Some(160 * S), Some(181 * S), Some(221 * S))
        );
    }
    // Two of the four were deleted at the 400 s scale-down (newest first), the rest serve.
    let phases: Vec<_> = model.pods().map(|p| (p.id, p.phase)).collect();
    assert_eq!(
        phases,
        vec![
            (0, PodPhase::Ready),
            (1, PodPhase::Ready),
            (2, PodPhase::Gone),
            (3, PodPhase::Gone)
        ]
    );
    // The nodes: the initial one, up at 0; three requested at the 40 s scan.
    let nodes: Vec<_> = model
        .nodes()
        .map(|n| (n.id, n.pool, n.capacity_type, n.gpus, n.up, n.created_ns))
        .collect();
    assert_eq!(
        nodes,
        vec![
            (0, "gpu", "on-demand", 1, true, 0),
            (1, "gpu", "on-demand", 1, true, 40 * S),
            (2, "gpu", "on-demand", 1, true, 40 * S),
            (3, "gpu", "on-demand", 1, true, 40 * S),
        ]
    );
    assert_eq!(model.cold_starts().count(), 3);
}
