//! Behaviour of the whole simulator on small scenarios, with scripted policies where the test is
//! about the cluster rather than the autoscaler.

use std::path::Path;

use scalebench_core::Plan;

use super::Sim;
use autoscale::{Observation, Policy};
use scalebench_core::run::SetupRun;

/// Asks for `before` replicas until `at` seconds, then `after`.
struct Step {
    at: f64,
    before: u32,
    after: u32,
}

impl Policy for Step {
    fn interval(&self) -> f64 {
        1.0
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        if obs.now < self.at {
            self.before
        } else {
            self.after
        }
    }
}

pub(super) fn plan(src: &str) -> Plan {
    match Plan::parse(Path::new("test.toml"), src) {
        Ok(p) => p,
        Err(e) => panic!("test scenario is invalid: {e}"),
    }
}

fn run_with(plan: &Plan, policy: Option<Step>) -> SetupRun {
    match policy {
        Some(p) => run_with_policy(plan, Box::new(p)),
        None => run_with_policy(plan, autoscale::build(plan, &plan.setups[0])),
    }
}

pub(super) fn run_with_policy(plan: &Plan, policy: Box<dyn Policy>) -> SetupRun {
    let no_faults = scalebench_core::fault::FaultPlan::default();
    let mut sim = Sim::with_policy(plan, &plan.setups[0], &no_faults, policy);
    for a in scalebench_core::arrivals::ArrivalStream::new(plan) {
        sim.advance_to(a.t_ns);
        sim.offer(a);
    }
    let run = sim.drain();
    assert!(run.requests().identity_holds(), "{:?}", run.requests());
    run
}

/// The run's cold starts that became ready.
pub(super) fn cold_count(run: &SetupRun) -> Option<u32> {
    run.cold_starts.as_ref().map(|c| c.count())
}

pub(super) const HEAD: &str = r#"
duration = "10m"
[slo]
latency = "1s"
[traffic]
timeout = "30s"
"#;

#[test]
fn per_replica_billing_is_exact() {
    let p = plan(&format!(
        r#"{HEAD}
[[traffic.shape]]
kind = "steady"
rate = 10
[service]
time = "10ms"
[cluster]
billing = "replica"
price_per_replica_hour = 60.0
[[setup]]
name = "f"
[setup.fixed]
replicas = 25
"#
    ));
    let run = run_with(&p, None);
    // 25 replicas x 10 minutes at 1 per replica-minute.
    assert_eq!(run.cost_usd(), Some(250.0));
    assert_eq!(run.requests().ok, run.requests().scheduled);
}

#[test]
fn requests_wait_for_a_cold_start_from_zero() {
    // One request at 60 s, no replica until the policy asks for one at 61 s: it is bound at once
    // (replica billing), starts for 1 + 20 s, loads for 40 s, and then serves the request.
    let p = plan(
        r#"
duration = "10m"
[slo]
latency = "1s"
[traffic]
timeout = "5m"
[[traffic.shape]]
kind = "burst"
requests = 1
at = "1m"
[service]
time = "100ms"
lifecycle = { schedule = "1s", start = "20s", load = "40s" }
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "z"
[setup.fixed]
replicas = 0
"#,
    );
    let run = run_with(
        &p,
        Some(Step {
            at: 61.0,
            before: 0,
            after: 1,
        }),
    );
    assert_eq!(run.requests().ok, 1);
    assert_eq!(cold_count(&run), Some(1));
    assert_eq!(run.waited, 1);
    let max_ms = run.latency.summary().max;
    assert!((max_ms - 62_100.0).abs() < 62_100.0 * 0.001, "{max_ms}");
    // Paid from creation at 61 s to the end of the run.
    assert!((run.cost_usd().unwrap_or(f64::NAN) - 539.0 / 3600.0).abs() < 1e-12);
}

#[test]
fn a_node_takes_scan_plus_provisioning_before_pods_start() {
    let p = plan(&format!(
        r#"{HEAD}
[[traffic.shape]]
kind = "burst"
requests = 1
at = "5m"
[service]
time = "100ms"
lifecycle = {{ schedule = "0s", start = "10s", load = "20s" }}
[[cluster.pool]]
name = "gpu"
gpus_per_node = 1
price_per_hour = 3.6
provision = "2m"
max_nodes = 2
[[setup]]
name = "z"
[setup.fixed]
replicas = 0
"#
    ));
    // The pod is created at 1 s; the scan at 10 s asks for a node, up at 130 s; the pod starts
    // then and is ready at 160 s. Until the 10 min scale-down the node is paid for.
    let run = run_with(
        &p,
        Some(Step {
            at: 1.0,
            before: 0,
            after: 1,
        }),
    );
    assert_eq!(run.requests().ok, 1);
    assert_eq!(cold_count(&run), Some(1));
    let ready_at = run
        .timeline
        .iter()
        .find(|s| s.replicas_ready == Some(1))
        .map(|s| s.t_s);
    assert_eq!(ready_at, Some(160.0));
    // Node from 10 s to the end of the run (600 s) at 3.6 $/h = 0.001 $/s.
    let usd = run.cost_usd().unwrap_or(f64::NAN);
    assert!((usd - 0.59).abs() < 1e-9, "{usd}");
    assert_eq!(
        run.timeline[9].nodes.get("gpu"),
        Some(&1),
        "requested at 10 s"
    );
}

#[test]
fn overload_is_counted_exactly_once() {
    // 100 rps against one replica serving 10 rps with a queue of 20: most are rejected, queued
    // ones time out, a few are ok. Every scheduled request is counted once.
    let p = plan(&format!(
        r#"{HEAD}
[[traffic.shape]]
kind = "steady"
rate = 100
[service]
time = "100ms"
queue = 20
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "f"
[setup.fixed]
replicas = 1
"#
    ));
    let run = run_with(&p, None);
    let r = run.requests();
    assert!(r.rejected > r.scheduled / 2, "{r:?}");
    assert!(r.ok > 5000, "{r:?}");
    assert_eq!(r.failed, 0);
}

#[test]
fn scale_down_drains_and_kills_what_outlives_the_grace_period() {
    // Requests take 20 s. The one at 10 s is served; the replica is removed at 100 s with a 5 s
    // grace period while serving the one from 90 s, which fails; the one at 200 s finds no
    // replica and times out.
    let mut src = String::from(HEAD);
    for at in ["10s", "90s", "200s"] {
        src += &format!("[[traffic.shape]]\nkind = \"burst\"\nrequests = 1\nat = \"{at}\"\n");
    }
    src += r#"
[service]
time = "20s"
lifecycle = { grace_period = "5s" }
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "f"
[setup.fixed]
replicas = 1
"#;
    let run = run_with(
        &plan(&src),
        Some(Step {
            at: 100.0,
            before: 1,
            after: 0,
        }),
    );
    let r = run.requests();
    assert_eq!((r.ok, r.failed, r.timed_out), (1, 1, 1), "{r:?}");
}

#[test]
fn lockstep_gives_each_setup_what_it_gets_alone() {
    let p = plan(&format!(
        r#"{HEAD}
[[traffic.shape]]
kind = "steady"
rate = 40
[service]
time = {{ dist = "exponential", mean = "100ms" }}
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "a"
[setup.fixed]
replicas = 5
[[setup]]
name = "b"
[setup.fixed]
replicas = 3
"#
    ));
    let together = super::simulate_together(
        &p,
        &[&p.setups[0], &p.setups[1]],
        &scalebench_core::fault::FaultPlan::default(),
        None,
        None,
    );
    for (i, run) in together.iter().enumerate() {
        let alone = super::simulate(&p, &p.setups[i]);
        assert_eq!(run.requests(), alone.requests());
        assert_eq!(run.timeline, alone.timeline);
        assert_eq!(run.latency.summary(), alone.latency.summary());
    }
}

/// What a policy was shown: (now, newest visible sample time, ready pods it was told of).
type Shown = std::sync::Arc<std::sync::Mutex<Vec<(f64, Option<f64>, u32)>>>;

/// Records what it was shown.
struct Spy {
    seen: Shown,
    replicas: u32,
}

impl Policy for Spy {
    fn interval(&self) -> f64 {
        5.0
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        if let Ok(mut v) = self.seen.lock() {
            v.push((obs.now, obs.latest().map(|s| s.t), obs.pods.ready));
        }
        self.replicas
    }
}

#[test]
fn policies_see_metrics_a_scrape_delay_late_and_the_warm_pool_is_extra() {
    let p = plan(&format!(
        r#"{HEAD}
[[traffic.shape]]
kind = "steady"
rate = 10
[service]
time = "10ms"
[cluster]
billing = "replica"
price_per_replica_hour = 3600.0
[[setup]]
name = "w"
warm_pool = 2
scrape_delay = "12s"
[setup.fixed]
replicas = 1
"#
    ));
    let seen: Shown = Default::default();
    let run = run_with_policy(
        &p,
        Box::new(Spy {
            seen: seen.clone(),
            replicas: 1,
        }),
    );
    let seen = seen.lock().map(|v| v.clone()).unwrap_or_default();
    assert!(seen.len() > 100);
    for &(now, latest, ready) in &seen {
        assert_eq!(ready, 1, "the policy is not shown the warm pool");
        match latest {
            // Samples come every second; the newest visible one is 12-13 s old.
            Some(t) => assert!(now - t >= 12.0 && now - t < 13.0 + 1e-9, "{now} sees {t}"),
            None => assert!(now < 13.0, "{now} sees nothing"),
        }
    }
    // 1 + 2 warm replicas for the whole 10 minutes at 1 $ per replica-second.
    assert_eq!(run.max_ready, Some(3));
    assert_eq!(run.cost_usd(), Some(3.0 * 600.0));
}

pub(super) fn run_faulty(src: &str) -> SetupRun {
    let p = plan(src);
    let faults = p.faults.clone();
    let run = super::simulate_together(&p, &[&p.setups[0]], &faults, None, None).remove(0);
    assert!(run.requests().identity_holds(), "{:?}", run.requests());
    run
}

/// 5 rps of 50 ms requests; pods start in 10 s and load in 20 s.
pub(super) const LIGHT_LOAD: &str = r#"[[traffic.shape]]
kind = "steady"
rate = 5
[service]
time = "50ms"
lifecycle = { schedule = "0s", start = "10s", load = "20s" }"#;

pub(super) const POOLS: &str = r#"
[[cluster.pool]]
name = "spot"
capacity_type = "spot"
gpus_per_node = 1
price_per_hour = 3.6
provision = "1m"
max_nodes = 3
[[cluster.pool]]
name = "od"
gpus_per_node = 1
price_per_hour = 7.2
provision = "1m"
max_nodes = 3
"#;

#[test]
fn a_spot_node_serves_through_its_notice_then_its_pod_is_replaced_cold() {
    let run = run_faulty(&format!(
        r#"{HEAD}
{LIGHT_LOAD}
{POOLS}
[[setup]]
name = "s"
pools = ["spot"]
[setup.fixed]
replicas = 2
[[faults]]
kind = "spot-interruption"
pool = "spot"
at = "1m"
nodes = 1
notice = "30s"
"#
    ));
    let f = &run.faults[0];
    assert_eq!(
        (f.kind.as_str(), f.target.as_str(), f.pods_lost),
        ("spot-interruption", "spot", 1)
    );
    // Both pods serve through the notice; one dies at the reclaim (90 s).
    assert_eq!(run.timeline[88].replicas_ready, Some(2));
    assert_eq!(run.timeline[91].replicas_ready, Some(1));
    assert_eq!(
        run.timeline[59].faults,
        vec!["spot-interruption@1m".to_string()]
    );
    // The replacement waits for a new node (the scan at 90 s, just after the reclaim, asks for
    // it; up at 150 s), then starts and loads (ready at 180 s): a cold start.
    assert_eq!(cold_count(&run), Some(1));
    assert_eq!(run.timeline[178].replicas_ready, Some(1));
    assert_eq!(run.timeline[180].replicas_ready, Some(2));
    // Paid: node 0 for 600 s, node 1 until its reclaim at 90 s, node 2 from 90 s.
    let usd = run.pools.as_ref().map_or(f64::NAN, |p| p["spot"].usd);
    assert!((usd - (600.0 + 90.0 + 510.0) * 0.001).abs() < 1e-9, "{usd}");
}

/// Four pods, each busy from 59 s to 79 s with one 20 s request, and a pod eviction at 1 m
/// (grace period 5 s). `head` opens the scenario; `setup` and `eviction` add keys.
fn eviction_during_work(head: &str, setup: &str, eviction: &str) -> String {
    format!(
        r#"{head}
[[traffic.shape]]
kind = "burst"
requests = 4
at = "59s"
[service]
time = "20s"
lifecycle = {{ schedule = "0s", start = "10s", load = "20s", grace_period = "5s" }}
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "s"
{setup}
[setup.fixed]
replicas = 4
[[faults]]
kind = "pod-eviction"
at = "1m"
{eviction}
"#
    )
}

#[test]
fn an_eviction_drains_respects_the_budget_and_counts_what_it_kills() {
    let run = run_faulty(&eviction_during_work(
        HEAD,
        "",
        "pods = 2\nmax_unavailable = 1",
    ));
    let f = &run.faults[0];
    // The budget lets one of the two go; it was serving a request, killed at its grace end.
    assert_eq!((f.pods_lost, f.blocked, f.requests_failed), (1, 1, Some(1)));
    let r = run.requests();
    assert_eq!((r.ok, r.failed), (3, 1));
    assert_eq!(cold_count(&run), Some(1), "replaced by a cold pod");
}

#[test]
fn a_pool_outage_falls_back_to_the_next_pool() {
    let run = run_faulty(&format!(
        r#"{HEAD}
{LIGHT_LOAD}
{POOLS}
[[setup]]
name = "s"
pools = ["spot", "od"]
[setup.fixed]
replicas = 2
[[faults]]
kind = "pool-outage"
pool = "spot"
at = "1m"
for = "5m"
"#
    ));
    assert_eq!(run.faults[0].pods_lost, 2);
    assert_eq!(run.timeline[61].nodes.get("spot"), Some(&0));
    assert_eq!(
        run.timeline[120].nodes.get("od"),
        Some(&2),
        "provisioned on demand instead"
    );
    assert_eq!(run.timeline[599].replicas_ready, Some(2));
    assert!(run.pools.as_ref().is_some_and(|p| p["od"].usd > 0.0));
}

#[test]
fn a_spot_pool_with_an_interruption_rate_loses_nodes_at_random_and_recovers() {
    let src = format!(
        r#"{HEAD}
{LIGHT_LOAD}
[[cluster.pool]]
name = "spot"
capacity_type = "spot"
gpus_per_node = 1
price_per_hour = 3.6
provision = "1m"
max_nodes = 6
interruption_rate = 6.0
interruption_notice = "30s"
[[setup]]
name = "s"
[setup.fixed]
replicas = 3
"#
    );
    let run = run_faulty(&src);
    // 3 nodes at 6 per node-hour over 10 minutes: about 3 interruptions.
    assert!(
        !run.faults.is_empty() && run.faults.len() <= 10,
        "{}",
        run.faults.len()
    );
    for f in &run.faults {
        assert_eq!(
            (f.kind.as_str(), f.target.as_str()),
            ("spot-interruption", "spot")
        );
    }
    let reclaimed: u32 = run.faults.iter().map(|f| f.pods_lost).sum();
    assert!(cold_count(&run).is_some_and(|c| c >= 1 && c <= reclaimed));
    // The same seed, the same interruptions.
    let again = run_faulty(&src);
    let times = |r: &SetupRun| r.faults.iter().map(|f| f.t_s).collect::<Vec<_>>();
    assert_eq!(times(&run), times(&again));
}

#[test]
fn a_setup_that_retries_sends_killed_requests_again_and_counts_them_once() {
    let head = HEAD.replace("timeout = \"30s\"", "timeout = \"2m\"");
    let run = run_faulty(&eviction_during_work(
        &head,
        "retry_killed = true",
        "pods = 1",
    ));
    let f = &run.faults[0];
    assert_eq!(
        (f.pods_lost, f.requests_failed, f.retried),
        (1, Some(0), Some(1))
    );
    let r = run.requests();
    assert_eq!((r.scheduled, r.ok, r.failed, r.timed_out), (4, 4, 0, 0));
    // Killed at 65 s, it waits for the first free pod (79 s) and is served again from the
    // start: 20 s more, 40 s after its intended time.
    assert!(
        (run.latency.summary().max - 40_000.0).abs() < 50.0,
        "{}",
        run.latency.summary().max
    );
}

/// A token model whose requests never meet (one a second, each alone for 210 ms): every
/// figure is the hand computation's, to the microsecond.
#[test]
fn an_idle_token_model_gives_exact_ttft_itl_and_tpot() {
    let p = plan(
        r#"
duration = "1m"
[slo]
latency = "1s"
ttft = "100ms"
[traffic]
arrival = "constant"
[[traffic.shape]]
kind = "steady"
rate = 1
[traffic.tokens]
prompt = 100
output = 10
[service.llm]
prefill_per_token = "0.1ms"
step = "20ms"
max_batch = 4
kv_cache_tokens = 10000
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "one"
[setup.fixed]
replicas = 1
"#,
    );
    let run = run_with(&p, None);
    let t = run.tokens.as_ref().expect("token figures");
    let n = run.requests().ok;
    assert_eq!(n, 60);
    // TTFT: 10 ms of prefill + a 20 ms step; then 9 steps of 20 ms: TPOT and every ITL 20 ms,
    // the answer 210 ms after it was due.
    for (name, h, want_ms) in [
        ("ttft", &t.ttft, 30.0),
        ("tpot", &t.tpot, 20.0),
        ("itl", &t.itl, 20.0),
    ] {
        assert!(
            (h.quantile_ms(0.0) - want_ms).abs() < 0.05,
            "{name} min {}",
            h.quantile_ms(0.0)
        );
        assert!(
            (h.quantile_ms(1.0) - want_ms).abs() < 0.05,
            "{name} max {}",
            h.quantile_ms(1.0)
        );
    }
    assert_eq!(t.itl.len(), 9 * 60);
    assert_eq!(t.output_tokens, 600);
    assert_eq!(t.prompt_tokens, Some(6000));
    assert_eq!(
        t.good, 60,
        "within 1 s end to end and 100 ms to the first token"
    );
    assert!((run.latency.quantile_ms(0.5) - 210.0).abs() < 0.1);
}
