//! The KPA as a [`Policy`], driven by a toy service: per-second samples delayed by a scrape
//! delay, pods that become ready a fixed time after they are asked for and vanish at once when
//! removed.

use serde_json::json;

use super::*;
use crate::PodCounts;

const SCRAPE_DELAY: f64 = 1.0;
const STARTUP: f64 = 10.0;

/// One decision: (now, replicas wanted, ready pods seen, in panic).
type Tick = (u32, u32, u32, bool);

/// Runs `kpa` from `start` ready pods for `until` seconds under a total concurrency `load(t)`.
fn run(c: serde_json::Value, start: u32, until: u32, load: impl Fn(u32) -> f64) -> Vec<Tick> {
    let mut kpa = Kpa::new(&serde_json::from_value(c).expect("a valid [setup.kpa]"));
    let (mut spec, mut ready, mut starting) = (start, start, Vec::<f64>::new());
    let mut samples = Vec::new();
    let mut ticks = Vec::new();
    for t in 1..=until {
        let now = f64::from(t);
        let before = starting.len();
        starting.retain(|&at| at > now);
        ready += (before - starting.len()) as u32;
        let total = load(t);
        let served = if ready > 0 { total } else { 0.0 };
        samples.push(MetricSample {
            t: now,
            ready,
            in_flight: served,
            queue: total - served,
            arrival_rps: total,
            gpu_util_pct: 0.0,
            ..MetricSample::default()
        });
        if t % 2 != 0 {
            continue;
        }
        let visible = samples.partition_point(|s| s.t <= now - SCRAPE_DELAY);
        let obs = Observation {
            now,
            current: spec,
            pods: PodCounts {
                pending: starting.len() as u32,
                ready,
                ..PodCounts::default()
            },
            samples: &samples[..visible],
            pools: &[],
        };
        let want = kpa.decide(&obs);
        ticks.push((t, want, ready, kpa.in_panic()));
        if want > spec {
            starting.extend((spec..want).map(|_| now + STARTUP));
        } else {
            for _ in want..spec {
                if starting.pop().is_none() {
                    ready -= 1;
                }
            }
        }
        spec = want;
    }
    ticks
}

fn at(ticks: &[Tick], t: u32) -> Tick {
    *ticks
        .iter()
        .find(|k| k.0 == t)
        .expect("a tick at that time")
}

#[test]
fn steady_load_holds_the_stable_desired() {
    // 700 in flight at target 100 x 70% utilization: 10 pods.
    let ticks = run(json!({"max_scale": 100}), 1, 300, |_| 700.0);
    assert!(ticks.iter().all(|k| k.1 == 10), "{ticks:?}");
    // A jump from 1 to 10 pods panics (10 / 1 >= 200%) until a stable window after the pods are
    // ready, then the stable mode asks for the same 10.
    assert!(at(&ticks, 2).3);
    assert!(ticks.iter().filter(|k| k.0 >= 90).all(|k| !k.3));
}

#[test]
fn sudden_5x_panics_scales_up_fast_and_never_down_while_panicking() {
    let load = |t| {
        if (301..=330).contains(&t) {
            700.0
        } else {
            140.0
        }
    };
    let ticks = run(json!({"max_scale": 100}), 2, 600, load);
    assert!(ticks.iter().filter(|k| k.0 <= 300).all(|k| k.1 == 2));
    // Created over 2 ready pods it starts in panic (TestStartInPanicMode), calm a window later.
    assert!(at(&ticks, 2).3);
    assert!(
        ticks
            .iter()
            .filter(|k| (100..=300).contains(&k.0))
            .all(|k| !k.3)
    );
    // The first surge sample is visible at 302: the 6 s panic window already doubles.
    assert!(at(&ticks, 302).3);
    assert_eq!(at(&ticks, 302).1, 4);
    assert_eq!(at(&ticks, 308).1, 10);
    let panicking: Vec<_> = ticks.iter().filter(|k| k.0 > 300 && k.3).collect();
    assert!(
        panicking.windows(2).all(|w| w[1].1 >= w[0].1),
        "{panicking:?}"
    );
    // The load fell back at 330, but the scale holds until the panic ends (last over the
    // threshold while the new pods were still starting, ~312, plus the stable window).
    assert!(
        ticks
            .iter()
            .filter(|k| (330..=370).contains(&k.0))
            .all(|k| k.1 == 10 && k.3)
    );
    let calm = ticks
        .iter()
        .find(|k| k.0 > 302 && !k.3)
        .expect("panic ends");
    assert!((372..=380).contains(&calm.0), "{calm:?}");
    assert_eq!(ticks.last().map(|k| k.1), Some(2));
}

#[test]
fn traffic_stop_scales_to_zero_after_stable_window_and_grace_period() {
    let ticks = run(json!({"max_scale": 10}), 1, 400, |t| {
        if t < 200 { 70.0 } else { 0.0 }
    });
    // The last busy second (199) leaves the 60 s window at 259 + 1 s scrape delay = 260: the PA
    // goes inactive; the grace period (30 s) later the last pod goes.
    let first_zero = ticks.iter().find(|k| k.1 == 0).expect("scales to zero");
    assert_eq!(first_zero.0, 290);
    assert!(ticks.iter().filter(|k| k.0 < 290).all(|k| k.1 == 1));
    assert!(ticks.iter().filter(|k| k.0 >= 290).all(|k| k.1 == 0));
    assert_eq!(ticks.last().map(|k| k.1), Some(0));
    // scale-to-zero-pod-retention-period longer than the grace period holds the pod longer.
    let c = json!({"max_scale": 10, "scale_to_zero_pod_retention_period": "2m"});
    let ticks = run(c, 1, 500, |t| if t < 200 { 70.0 } else { 0.0 });
    assert_eq!(ticks.iter().find(|k| k.1 == 0).map(|k| k.0), Some(380));
}

#[test]
fn max_scale_down_rate_halves_at_most_per_tick() {
    let mut k = Kpa::new(&serde_json::from_value(json!({"max_scale": 100})).expect("config"));
    let mut ready = 16;
    for want in [8, 4, 2, 1, 0] {
        ready = k.scale(0.0, 0.0, 0.0, ready);
        assert_eq!(ready, want);
    }
    let ticks = run(json!({"max_scale": 100}), 16, 400, |t| {
        if t <= 100 { 1120.0 } else { 0.0 }
    });
    assert!(ticks.iter().all(|k| k.1 >= k.2 / 2), "{ticks:?}");
    assert_eq!(ticks.last().map(|k| k.1), Some(0));
}

#[test]
fn scales_from_zero_on_buffered_requests() {
    // The activator reports the requests it buffers while no pod is ready.
    let ticks = run(json!({"max_scale": 10}), 0, 120, |t| {
        if t >= 100 { 1.0 } else { 0.0 }
    });
    assert!(ticks.iter().filter(|k| k.0 < 102).all(|k| k.1 == 0));
    assert_eq!(at(&ticks, 102).1, 1);
    // activation-scale lifts the first scale-up.
    let c = json!({"max_scale": 10, "activation_scale": 3});
    let ticks = run(c, 0, 120, |t| if t >= 100 { 1.0 } else { 0.0 });
    assert_eq!(at(&ticks, 102).1, 3);
}

#[test]
fn no_data_keeps_the_current_scale() {
    // TestAutoscalerNoDataNoAutoscale: no metrics, no decision.
    let mut k = Kpa::new(&serde_json::from_value(json!({"max_scale": 10})).expect("config"));
    let obs = Observation {
        now: 0.0,
        current: 5,
        pods: PodCounts::default(),
        samples: &[],
        pools: &[],
    };
    assert_eq!(k.decide(&obs), 5);
    assert!((k.interval() - 2.0).abs() < 1e-9);
}

#[test]
fn initial_scale_holds_until_reached_then_idles_to_zero() {
    let ticks = run(json!({"max_scale": 10, "initial_scale": 3}), 0, 200, |_| {
        0.0
    });
    assert_eq!(at(&ticks, 2).1, 3);
    // Ready at 12, active from 12, inactive a stable window later (72), zero 30 s after that.
    assert_eq!(
        ticks.iter().find(|k| k.0 > 2 && k.1 == 0).map(|k| k.0),
        Some(102)
    );
}
