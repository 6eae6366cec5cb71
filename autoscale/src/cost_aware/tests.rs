//! Tests of [`CostAware`] as a pure function of what it observes.

use super::*;
use crate::PodCounts;

/// Settings as a scenario would write them, with the defaults filled in.
fn config(toml_src: &str) -> CostAwareConfig {
    match toml::from_str(toml_src) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn resource(name: &str, spot: bool, usd: f64, rps: f64, tail_s: f64) -> Resource {
    Resource {
        name: name.into(),
        capacity_type: if spot {
            CapacityType::Spot
        } else {
            CapacityType::OnDemand
        },
        usd_per_replica_hour: usd,
        replica_rps: rps,
        max_replicas: 40,
        service_tail_s: tail_s,
    }
}

const SLO: Slo = Slo {
    latency_s: 1.0,
    tail: Tail::P99,
};

/// A spot pool at $0.30 and an on-demand pool at $0.80 per replica-hour, both 40 rps a replica.
fn spot_and_od(settings: &str) -> CostAware {
    CostAware::new(
        &config(settings),
        SLO,
        vec![
            resource("spot", true, 0.30, 40.0, 0.3),
            resource("od", false, 0.80, 40.0, 0.3),
        ],
    )
}

/// Arrival rate that needs exactly `replicas` replicas of 40 rps at 70% utilisation.
fn rps_for(replicas: u32) -> f64 {
    replicas as f64 * 40.0 * 0.7
}

/// A minute of one-second samples up to `now` at `rps` arrivals a second, nothing queued.
fn samples(now: f64, rps: f64) -> Vec<MetricSample> {
    (0..60)
        .map(|i| MetricSample {
            t: now - 59.0 + i as f64,
            arrival_rps: rps,
            ..MetricSample::default()
        })
        .collect()
}

fn ready(n: u32) -> PoolView {
    PoolView {
        pods: PodCounts {
            ready: n,
            ..PodCounts::default()
        },
        ..PoolView::default()
    }
}

fn decide(p: &mut CostAware, now: f64, samples: &[MetricSample], pools: &[PoolView]) -> Decision {
    let total = pools.iter().map(|v| v.pods.total()).sum();
    p.decide_placed(&Observation {
        now,
        current: total,
        pods: PodCounts::default(),
        samples,
        pools,
    })
}

/// A decision at `now` after a minute of steady arrivals that need `replicas` replicas.
fn steady(p: &mut CostAware, now: f64, replicas: u32, pools: &[PoolView]) -> Decision {
    decide(p, now, &samples(now, rps_for(replicas)), pools)
}

fn per_pool(d: &Decision) -> Vec<u32> {
    match &d.placement {
        Placement::PerPool(v) => v.clone(),
        Placement::Anywhere(n) => panic!("placed anywhere: {n}"),
    }
}

#[test]
fn the_design_price_table_ranks_gpu_spot_first_per_inference() {
    let table = vec![
        resource("small-cpu", false, 0.10, 5.0, 0.1),
        resource("large-cpu", false, 0.50, 40.0, 0.1),
        resource("gpu-spot", true, 1.20, 200.0, 0.1),
    ];
    let per_1k: Vec<f64> = table
        .iter()
        .map(|r| r.usd_per_inference() * 1000.0)
        .collect();
    for (got, want) in per_1k.iter().zip([0.005_56, 0.003_47, 0.001_67]) {
        assert!((got - want).abs() < 5e-6, "{per_1k:?}");
    }
    let mut p = CostAware::new(&config("max_replicas = 30"), SLO, table);
    let names: Vec<&str> = p.preference().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["gpu-spot", "large-cpu", "small-cpu"]);
    // 300 rps at 70% of 200 rps a replica: three GPU replicas, nothing on the CPU pools.
    let d = decide(
        &mut p,
        60.0,
        &samples(60.0, 300.0),
        &[ready(0), ready(0), ready(1)],
    );
    assert_eq!(per_pool(&d), [0, 0, 3]);
}

#[test]
fn a_resource_too_slow_for_the_slo_comes_last_however_cheap() {
    let mut p = CostAware::new(
        &config("max_replicas = 30"),
        SLO,
        vec![
            resource("cheap-slow", false, 0.10, 40.0, 1.5),
            resource("dear-fast", false, 0.80, 40.0, 0.3),
        ],
    );
    let d = steady(&mut p, 60.0, 4, &[ready(0), ready(1)]);
    assert_eq!(per_pool(&d), [0, 4]);
}

#[test]
fn scale_up_goes_to_the_cheapest_pool_at_once() {
    let mut p = spot_and_od("max_replicas = 30");
    let d = steady(&mut p, 60.0, 8, &[ready(2), ready(0)]);
    assert_eq!(per_pool(&d), [8, 0]);
    assert_eq!(d.held_back, 0);
}

#[test]
fn a_spot_notice_replaces_the_noticed_pods_on_demand_at_once() {
    let mut p = spot_and_od("max_replicas = 30");
    let spot = PoolView {
        noticed: 2,
        last_disruption: Some(55.0),
        ..ready(6)
    };
    let d = steady(&mut p, 60.0, 8, &[spot, ready(0)]);
    // The six healthy spot pods stay; the two under notice are replaced on on-demand.
    assert_eq!(per_pool(&d), [6, 2]);
}

#[test]
fn a_short_spot_pool_gives_up_its_waiting_pods_for_on_demand() {
    let mut p = spot_and_od("max_replicas = 30");
    let spot = PoolView {
        pods: PodCounts {
            ready: 4,
            pending: 3,
            ..PodCounts::default()
        },
        unbound: 3,
        last_shortage: Some(50.0),
        ..PoolView::default()
    };
    let d = steady(&mut p, 60.0, 7, &[spot, ready(0)]);
    assert_eq!(per_pool(&d), [4, 3]);
    // A spot pool at its max is short too: the rest goes on demand.
    let mut p = spot_and_od("max_replicas = 60");
    let d = steady(&mut p, 60.0, 45, &[ready(2), ready(0)]);
    assert_eq!(per_pool(&d), [40, 5]);
}

#[test]
fn after_the_avoidance_capacity_moves_back_to_spot_once_it_is_ready() {
    let mut p = spot_and_od("max_replicas = 30");
    let s = |now| samples(now, rps_for(8));
    let lost = |now| PoolView {
        last_disruption: Some(now),
        ..ready(0)
    };
    // The spot pool was lost at 100 s: everything is on demand, and stays there while spot is
    // avoided (10 minutes).
    let d = decide(&mut p, 690.0, &s(690.0), &[lost(100.0), ready(8)]);
    assert_eq!(per_pool(&d), [0, 8]);
    // After it, replacements for all on-demand replicas start on spot; on-demand keeps its own.
    let d = decide(&mut p, 710.0, &s(710.0), &[lost(100.0), ready(8)]);
    assert_eq!(per_pool(&d), [8, 8]);
    // While they start, nothing else moves and on-demand is not trimmed.
    let starting = PoolView {
        pods: PodCounts {
            pending: 3,
            loading: 2,
            ready: 3,
            ..PodCounts::default()
        },
        last_disruption: Some(100.0),
        ..PoolView::default()
    };
    let d = decide(&mut p, 720.0, &s(720.0), &[starting, ready(8)]);
    assert_eq!(per_pool(&d), [8, 5], "as many go as are ready on spot");
    // All ready: the on-demand replicas go.
    let spot_ready = PoolView {
        last_disruption: Some(100.0),
        ..ready(8)
    };
    let d = decide(&mut p, 730.0, &s(730.0), &[spot_ready, ready(5)]);
    assert_eq!(per_pool(&d), [8, 0]);
}

#[test]
fn the_budget_caps_what_it_adds_and_reports_what_it_held_back() {
    let mut p = CostAware::new(
        &config("max_replicas = 30\nbudget_per_hour = 6.0"),
        SLO,
        vec![resource("od", false, 1.0, 40.0, 0.3)],
    );
    let need_10 = samples(60.0, rps_for(10));
    let d = decide(&mut p, 60.0, &need_10, &[ready(4)]);
    assert_eq!((per_pool(&d), d.held_back), (vec![6], 4));
    // Above the ceiling already (a fallback, a smaller budget): it keeps what it has, adds none.
    let d = decide(&mut p, 70.0, &need_10, &[ready(8)]);
    assert_eq!((per_pool(&d), d.held_back), (vec![8], 2));
    // Within the budget: nothing held back.
    let mut p = CostAware::new(
        &config("max_replicas = 30\nbudget_per_hour = 6.0"),
        SLO,
        vec![resource("od", false, 1.0, 40.0, 0.3)],
    );
    let d = steady(&mut p, 80.0, 5, &[ready(4)]);
    assert_eq!((per_pool(&d), d.held_back), (vec![5], 0));
}

#[test]
fn scale_down_waits_for_the_scale_down_window() {
    let mut p = spot_and_od("max_replicas = 30");
    let d = steady(&mut p, 100.0, 10, &[ready(4), ready(0)]);
    assert_eq!(per_pool(&d), [10, 0]);
    for t in [110.0, 200.0, 390.0] {
        let d = steady(&mut p, t, 4, &[ready(10), ready(0)]);
        assert_eq!(per_pool(&d), [10, 0], "at {t}");
    }
    let d = steady(&mut p, 400.0, 4, &[ready(10), ready(0)]);
    assert_eq!(per_pool(&d), [4, 0]);
}

/// Samples from `from` to `to` (inclusive) at the arrival rate of `replicas` replicas, with the
/// given queue and p99 at each second.
fn series(
    from: f64,
    to: f64,
    replicas: u32,
    queue: impl Fn(f64) -> f64,
    p99_ms: impl Fn(f64) -> Option<f64>,
) -> Vec<MetricSample> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        out.push(MetricSample {
            t,
            arrival_rps: rps_for(replicas),
            queue: queue(t),
            latency_p99_ms: p99_ms(t),
            ..MetricSample::default()
        });
        t += 1.0;
    }
    out
}

#[test]
fn latency_and_queue_add_capacity_only_once_everything_is_ready() {
    let rising = |t: f64| Some(500.0 + 10.0 * (t - 40.0));
    let all_ready = [ready(8), ready(0)];
    // The plan is in place from 20 s; at 60 s the p99 measured since rises toward the SLO: the
    // headroom grows by a quarter.
    let mut p = spot_and_od("max_replicas = 30");
    decide(
        &mut p,
        20.0,
        &series(0.0, 20.0, 8, |_| 0.0, |_| None),
        &all_ready,
    );
    let d = decide(
        &mut p,
        60.0,
        &series(0.0, 60.0, 8, |_| 0.0, rising),
        &all_ready,
    );
    assert_eq!(per_pool(&d), [10, 0], "8 x 1.25");
    // The same p99 while replicas are still loading does not wind the plan up...
    let mut p = spot_and_od("max_replicas = 30");
    let loading = PoolView {
        pods: PodCounts {
            ready: 6,
            loading: 2,
            ..PodCounts::default()
        },
        ..PoolView::default()
    };
    decide(
        &mut p,
        20.0,
        &series(0.0, 20.0, 8, |_| 0.0, |_| None),
        &[loading, ready(0)],
    );
    let d = decide(
        &mut p,
        60.0,
        &series(0.0, 60.0, 8, |_| 0.0, rising),
        &[loading, ready(0)],
    );
    assert_eq!(per_pool(&d), [8, 0]);
    // ...nor do high latencies measured before the plan was in place (a queue draining after
    // a cold start, seen a scrape delay late).
    let mut p = spot_and_od("max_replicas = 30");
    decide(
        &mut p,
        55.0,
        &series(0.0, 40.0, 8, |_| 0.0, rising),
        &all_ready,
    );
    let d = decide(
        &mut p,
        60.0,
        &series(0.0, 45.0, 8, |_| 0.0, rising),
        &all_ready,
    );
    assert_eq!(per_pool(&d), [8, 0]);
    // A tail far above the SLO but falling fast is capacity catching up: nothing more.
    let mut p = spot_and_od("max_replicas = 30");
    decide(
        &mut p,
        20.0,
        &series(0.0, 20.0, 8, |_| 0.0, |_| None),
        &all_ready,
    );
    let falling = |t: f64| Some(5000.0 - 20.0 * (t - 20.0));
    let d = decide(
        &mut p,
        60.0,
        &series(0.0, 60.0, 8, |_| 0.0, falling),
        &all_ready,
    );
    assert_eq!(per_pool(&d), [8, 0]);
    // A queue of 40 or more through the whole short window (10 s) is drained within it: 4 rps
    // more. A queue that empties within the window adds nothing.
    let mut p = spot_and_od("max_replicas = 30");
    decide(
        &mut p,
        20.0,
        &series(0.0, 20.0, 8, |_| 0.0, |_| None),
        &all_ready,
    );
    let d = decide(
        &mut p,
        60.0,
        &series(0.0, 60.0, 8, |t| t, |_| Some(300.0)),
        &all_ready,
    );
    assert_eq!(per_pool(&d), [9, 0]);
    let mut p = spot_and_od("max_replicas = 30");
    decide(
        &mut p,
        20.0,
        &series(0.0, 20.0, 8, |_| 0.0, |_| None),
        &all_ready,
    );
    let draining = |t: f64| (60.0 - t) * 100.0;
    let d = decide(
        &mut p,
        60.0,
        &series(0.0, 60.0, 8, draining, |_| Some(300.0)),
        &all_ready,
    );
    assert_eq!(per_pool(&d), [8, 0]);
    // Calm again: the headroom decays back, and the plan with it (after the scale-down window).
    let mut p = spot_and_od("max_replicas = 30\nscale_down_window = \"10s\"");
    decide(
        &mut p,
        20.0,
        &series(0.0, 20.0, 8, |_| 0.0, |_| None),
        &all_ready,
    );
    decide(
        &mut p,
        60.0,
        &series(0.0, 60.0, 8, |_| 0.0, rising),
        &all_ready,
    );
    let mut last = Vec::new();
    for i in 1..=10 {
        let t = 60.0 + 10.0 * i as f64;
        let calm = series(0.0, t, 8, |_| 0.0, |_| Some(200.0));
        last = per_pool(&decide(&mut p, t, &calm, &[ready(10), ready(0)]));
    }
    assert_eq!(last, [8, 0]);
}

#[test]
fn the_spot_share_keeps_the_rest_on_demand() {
    let mut p = spot_and_od("max_replicas = 30\nmax_spot_share = 0.5");
    let d = steady(&mut p, 60.0, 8, &[ready(1), ready(1)]);
    assert_eq!(per_pool(&d), [4, 4]);
    assert_eq!(p.initial_placement(8), Some(vec![4, 4]));
    // Moving back after an outage: only the spot share of the plan moves, and the replicas
    // starting on spot are not trimmed while on-demand cannot go yet.
    let mut p = spot_and_od("max_replicas = 30\nmax_spot_share = 0.5");
    let lost = PoolView {
        last_disruption: Some(0.0),
        ..ready(0)
    };
    let d = steady(&mut p, 700.0, 8, &[lost, ready(8)]);
    assert_eq!(per_pool(&d), [4, 8]);
    let starting = PoolView {
        pods: PodCounts {
            pending: 4,
            ..PodCounts::default()
        },
        ..lost
    };
    let d = steady(&mut p, 710.0, 8, &[starting, ready(8)]);
    assert_eq!(per_pool(&d), [4, 8]);
    let d = steady(&mut p, 720.0, 8, &[PoolView { ..ready(4) }, ready(8)]);
    assert_eq!(per_pool(&d), [4, 4]);
}

#[test]
fn min_and_max_bound_the_plan() {
    let mut p = spot_and_od("min_replicas = 2\nmax_replicas = 30");
    let d = decide(&mut p, 60.0, &samples(60.0, 0.0), &[ready(0), ready(0)]);
    assert_eq!(per_pool(&d), [2, 0]);
    let d = decide(&mut p, 70.0, &samples(70.0, 1e6), &[ready(2), ready(0)]);
    assert_eq!(per_pool(&d), [30, 0]);
}

#[test]
fn without_samples_it_keeps_what_there_is() {
    let mut p = spot_and_od("max_replicas = 30");
    let d = decide(&mut p, 5.0, &[], &[ready(3), ready(1)]);
    assert_eq!((per_pool(&d), d.held_back), (vec![3, 1], 0));
    assert_eq!(
        p.decide(&Observation {
            now: 5.0,
            current: 4,
            pods: PodCounts::default(),
            samples: &[],
            pools: &[ready(3), ready(1)],
        }),
        4
    );
}

#[test]
fn initial_replicas_start_on_the_cheapest_pool_with_room() {
    let p = spot_and_od("max_replicas = 60");
    assert_eq!(p.initial_placement(13), Some(vec![13, 0]));
    assert_eq!(p.initial_placement(50), Some(vec![40, 10]), "spot holds 40");
}
