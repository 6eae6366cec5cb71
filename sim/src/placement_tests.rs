//! The simulator with a policy that places its replicas on pools (the cost-aware policy):
//! pinned pods, fallback and return, spot notices, budgets, pool speed and the latency the
//! policy reads.

use super::tests::{HEAD, LIGHT_LOAD, POOLS, cold_count, plan, run_faulty, run_with_policy};
use autoscale::{Observation, Policy};
use scalebench_core::run::SetupRun;

/// 20 minutes of light load on a spot and an on-demand pool (one replica a node, nodes in a
/// minute, empty nodes gone after a minute), a cost-aware setup with two replicas and `extra`
/// settings, and `faults`.
fn cost_aware(extra: &str, faults: &str) -> SetupRun {
    run_faulty(&format!(
        r#"
duration = "20m"
[slo]
latency = "1s"
[traffic]
timeout = "30s"
{LIGHT_LOAD}
[cluster]
scale_down_unneeded = "1m"
{POOLS}
[[setup]]
name = "ca"
pools = ["spot", "od"]
initial_replicas = 2
[setup.cost-aware]
min_replicas = 2
max_replicas = 6
{extra}
{faults}
"#
    ))
}

/// The sample of the window ending at `t` seconds.
fn at(run: &SetupRun, t: f64) -> &scalebench_core::report::TimelineSample {
    let i = run.timeline.partition_point(|s| s.t_s < t);
    &run.timeline[i.min(run.timeline.len() - 1)]
}

fn nodes(run: &SetupRun, t: f64, pool: &str) -> u32 {
    at(run, t).nodes.get(pool).copied().unwrap_or(0)
}

#[test]
fn an_outage_moves_the_replicas_on_demand_and_they_come_back_after_it() {
    let run = cost_aware(
        "avoid_after_disruption = \"3m\"",
        "[[faults]]\nkind = \"pool-outage\"\npool = \"spot\"\nat = \"1m\"\nfor = \"5m\"",
    );
    // The spot pool is cheaper per inference: both replicas start there.
    assert_eq!((nodes(&run, 59.0, "spot"), nodes(&run, 59.0, "od")), (2, 0));
    assert_eq!(run.faults[0].pods_lost, 2);
    // Replaced on demand: a decision (10 s), a node (1 m), start and load (30 s).
    assert_eq!(nodes(&run, 90.0, "od"), 2);
    assert_eq!(at(&run, 175.0).replicas_ready, Some(2));
    assert_eq!(nodes(&run, 175.0, "spot"), 0);
    // While the outage lasts, spot is tried after each avoidance and found short again; it comes
    // back once the outage is over, and the on-demand replicas go once the spot ones are ready.
    assert_eq!(nodes(&run, 359.0, "od"), 2);
    let back = run
        .timeline
        .iter()
        .find(|s| s.t_s > 360.0 && s.nodes.get("od") == Some(&0))
        .map(|s| s.t_s);
    assert!(back.is_some_and(|t| t < 900.0), "back on spot at {back:?}");
    assert_eq!(at(&run, 1199.0).replicas_ready, Some(2));
    assert_eq!(nodes(&run, 1199.0, "spot"), 2);
    // Serving never stopped for long: the replicas were down only for the outage's first cold
    // start, and the on-demand nodes were paid while they served.
    let down: usize = run
        .timeline
        .iter()
        .filter(|s| s.t_s > 360.0 && s.replicas_ready < Some(2))
        .count();
    assert_eq!(down, 0, "no gap while moving back");
    let pools = run.pools.clone().unwrap_or_default();
    assert!(pools["od"].usd > 0.0 && pools["spot"].usd > 0.0);
}

#[test]
fn a_spot_notice_starts_replacements_on_demand_before_the_reclaim() {
    let run = cost_aware(
        "",
        "[[faults]]\nkind = \"spot-interruption\"\npool = \"spot\"\nat = \"1m\"\nnodes = 1\nnotice = \"2m\"",
    );
    let f = &run.faults[0];
    assert_eq!((f.pods_lost, f.requests_failed), (1, Some(0)), "{f:?}");
    // Notice at 60 s, reclaim at 180 s. The replacement is asked for at the decision that
    // follows the notice (60 s), on demand: a node at 120 s, ready at 150 s, while the noticed
    // pod still serves.
    assert_eq!(nodes(&run, 62.0, "od"), 1);
    assert_eq!(at(&run, 149.0).replicas_ready, Some(2));
    assert_eq!(at(&run, 151.0).replicas_ready, Some(3));
    assert_eq!(at(&run, 179.0).replicas_ready, Some(3));
    // Reclaimed: two ready, none missing at any time, and no spot pod re-created for it.
    let min_ready = run
        .timeline
        .iter()
        .filter_map(|s| s.replicas_ready)
        .min()
        .unwrap_or(0);
    assert_eq!(min_ready, 2);
    assert_eq!(at(&run, 200.0).replicas_ready, Some(2));
    assert_eq!(nodes(&run, 200.0, "spot"), 1);
    // Two cold starts: the replacement, and its move back to spot once spot is no longer
    // avoided (10 minutes after the notice).
    assert_eq!(cold_count(&run), Some(2));
    assert_eq!(nodes(&run, 1199.0, "spot"), 2);
}

#[test]
fn a_budget_ceiling_holds_replicas_back_and_is_reported() {
    // 150 rps of 50 ms requests need 11 replicas at 70%; at $7.20 an on-demand replica, $30 an
    // hour buys 4.
    let run = run_faulty(&format!(
        r#"{HEAD}
[[traffic.shape]]
kind = "steady"
rate = 150
[service]
time = "50ms"
lifecycle = {{ schedule = "0s", start = "10s", load = "20s" }}
[[cluster.pool]]
name = "od"
gpus_per_node = 1
price_per_hour = 7.2
provision = "1m"
max_nodes = 20
[[setup]]
name = "capped"
pools = ["od"]
initial_replicas = 2
[setup.cost-aware]
max_replicas = 20
budget_per_hour = 30.0
"#
    ));
    let Some(b) = run.budget else {
        panic!("a budget report")
    };
    assert_eq!(b.ceiling_usd_per_hour, 30.0);
    assert_eq!(
        b.first_limited_s,
        Some(20.0),
        "the first decision that sees metrics (15 s late) is held back"
    );
    assert!(b.limited_s > 500.0, "{b:?}");
    assert!(b.max_held_back >= 7, "{b:?}");
    // Never more asked for than the budget buys.
    assert!(run.timeline.iter().all(|s| s.replicas_desired <= Some(4)));
    assert!(run.timeline.iter().skip(20).all(|s| s.budget_held_back > 0));
}

#[test]
fn a_faster_pool_serves_in_proportion() {
    let head = HEAD.replace("[traffic]", "[traffic]\narrival = \"constant\"");
    let src = |speed: &str| {
        format!(
            r#"{head}
[[traffic.shape]]
kind = "steady"
rate = 2
[service]
time = "100ms"
[[cluster.pool]]
name = "fast"
gpus_per_node = 1
price_per_hour = 1.0
max_nodes = 1
{speed}
[[setup]]
name = "one"
[setup.fixed]
replicas = 1
"#
        )
    };
    let slow = run_faulty(&src(""));
    let fast = run_faulty(&src("speed = 2.5"));
    assert!((slow.latency.summary().max - 100.0).abs() < 0.5);
    assert!((fast.latency.summary().max - 40.0).abs() < 0.5);
}

/// What the latency-reading spy saw: (sample time, p95, p99) of every visible sample.
type Tails = std::sync::Arc<std::sync::Mutex<Vec<(f64, Option<f64>, Option<f64>)>>>;

/// Records the tails it sees; reads them (so the simulator measures them) when `.1` is set.
struct TailSpy(Tails, bool);

impl Policy for TailSpy {
    fn interval(&self) -> f64 {
        60.0
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        if let Ok(mut v) = self.0.lock() {
            v.extend(
                obs.samples
                    .iter()
                    .map(|s| (s.t, s.latency_p95_ms, s.latency_p99_ms)),
            );
        }
        1
    }

    fn reads_latency(&self) -> bool {
        self.1
    }
}

#[test]
fn a_policy_that_reads_latency_sees_each_seconds_tail() {
    let head = HEAD.replace("[traffic]", "[traffic]\narrival = \"constant\"");
    let p = plan(&format!(
        r#"{head}
[[traffic.shape]]
kind = "steady"
rate = 500
[service]
time = {{ dist = "uniform", min = "100ms", max = "200ms" }}
concurrency = 1000
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "spy"
[setup.fixed]
replicas = 1
"#
    ));
    let tails: Tails = Default::default();
    run_with_policy(&p, Box::new(TailSpy(tails.clone(), true)));
    let tails = tails.lock().map(|v| v.clone()).unwrap_or_default();
    assert!(tails.len() > 100);
    for &(t, p95, p99) in &tails {
        // 500 requests a second, uniform over 100-200 ms: p95 near 195, p99 near 199 (within
        // sampling noise and the histogram's 1%).
        let (Some(p95), Some(p99)) = (p95, p99) else {
            panic!("no latency at {t}")
        };
        assert!((190.0..=200.0).contains(&p95), "{t}: p95 {p95}");
        assert!(
            (196.0..=202.0).contains(&p99) && p99 >= p95,
            "{t}: p99 {p99}"
        );
    }
    // A policy that does not read them is not given them (and does not pay for them).
    let unread: Tails = Default::default();
    run_with_policy(&p, Box::new(TailSpy(unread.clone(), false)));
    let unread = unread.lock().map(|v| v.clone()).unwrap_or_default();
    assert!(!unread.is_empty() && unread.iter().all(|s| s.1.is_none() && s.2.is_none()));
}

#[test]
fn under_replica_billing_the_replicas_are_the_one_resource() {
    // 140 rps of 100 ms requests, one at a time: 10 rps a replica, 20 at 70% (serverless
    // style, replicas ready in 3 s). The queue built up by the one replica of the start drains
    // once they are ready, and adds nothing: the need of the last 5 minutes (noisy estimates
    // of 140 rps) asks for 20 to 22.
    let run = run_faulty(&format!(
        r#"{HEAD}
[[traffic.shape]]
kind = "steady"
rate = 140
[service]
time = "100ms"
lifecycle = {{ schedule = "0s", start = "1s", load = "2s" }}
[cluster]
billing = "replica"
price_per_replica_hour = 0.5
[[setup]]
name = "ca"
[setup.cost-aware]
max_replicas = 40
budget_per_hour = 100.0
"#
    ));
    for w in run.timeline.iter().filter(|w| w.t_s > 60.0) {
        assert!(
            w.replicas_desired.is_some_and(|d| (20..=22).contains(&d)),
            "{w:?}"
        );
    }
    assert!(
        run.max_ready.is_some_and(|m| m <= 22),
        "no wind-up from the first queue: {:?}",
        run.max_ready
    );
    assert!(run.pools.is_some_and(|p| p.contains_key("replicas")));
    assert_eq!(run.budget.map(|b| b.max_held_back), Some(0));
}
