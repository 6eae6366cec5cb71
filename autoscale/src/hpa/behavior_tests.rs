//! Vectors ported from kubernetes `pkg/controller/podautoscaler/horizontal_test.go`
//! (`TestNormalizeDesiredReplicasWithBehavior`, `TestScalingWithRules`, `TestStoreScaleEvents`,
//! `TestCalculateScaleUpLimitWithScalingRules`, `TestCalculateScaleDownLimitWithBehaviors`).
//! The stored copy of that file predates the split of the limit functions into scale-up and
//! scale-down event lists; its vectors use one direction's events only, for which both versions
//! give the same answers, so they are run against the current functions unchanged.

use super::*;
use scalebench_core::units::Duration;

const NOW: f64 = 1.0e9;

fn policy(kind: ScalingPolicyKind, value: u32, period: f64) -> ResolvedPolicy {
    ResolvedPolicy {
        kind,
        value,
        period,
    }
}

/// `generateScalingRules(pods, podsPeriod, percent, percentPeriod, stabilizationWindow)`.
fn generate_scaling_rules(pods: u32, pp: f64, percent: u32, pcp: f64, window: f64) -> Rules {
    let mut policies = Vec::new();
    if pods != 0 {
        policies.push(policy(ScalingPolicyKind::Pods, pods, pp));
    }
    if percent != 0 {
        policies.push(policy(ScalingPolicyKind::Percent, percent, pcp));
    }
    Rules {
        stabilization_window: window,
        select_policy: SelectPolicy::Max,
        policies,
    }
}

/// `GenerateHPAScaleUpRules(nil)` / `GenerateHPAScaleDownRules(nil)` (window filled later).
fn unset() -> ScalingRules {
    ScalingRules {
        stabilization_window: None,
        select_policy: SelectPolicy::Max,
        policies: Vec::new(),
    }
}

/// `generateEventsUniformDistribution(rawEvents, periodSeconds)`.
fn uniform_events(raw: &[i64], period: f64) -> Vec<ScaleEvent> {
    let segment = period / raw.len() as f64;
    raw.iter()
        .enumerate()
        .map(|(i, &change)| ScaleEvent {
            replica_change: change,
            timestamp: NOW - (period - segment * (i + 1) as f64 + segment / 2.0).trunc(),
            outdated: false,
        })
        .collect()
}

fn rec(replicas: i64, ago: f64) -> Recommendation {
    Recommendation {
        replicas,
        timestamp: NOW - ago,
    }
}

#[test]
fn test_api_defaults() {
    // GenerateHPAScaleUpRules / GenerateHPAScaleDownRules with nothing set, and a set window.
    let up = Rules::scale_up(&unset());
    assert_eq!(up.stabilization_window, 0.0);
    assert_eq!(
        up.policies,
        vec![
            policy(ScalingPolicyKind::Pods, 4, 15.0),
            policy(ScalingPolicyKind::Percent, 100, 15.0)
        ]
    );
    let down = Rules::scale_down(&unset(), 300.0);
    assert_eq!(down.stabilization_window, 300.0);
    assert_eq!(
        down.policies,
        vec![policy(ScalingPolicyKind::Percent, 100, 15.0)]
    );
    let set = ScalingRules {
        stabilization_window: Some(Duration::from_secs(60)),
        ..unset()
    };
    assert_eq!(Rules::scale_down(&set, 300.0).stabilization_window, 60.0);
}

#[test]
fn test_normalize_desired_replicas_with_behavior() {
    // TestNormalizeDesiredReplicasWithBehavior: (name, stored recommendations as (replicas,
    // seconds ago), current, desired, expected, expected stored replicas, up window, down window).
    #[rustfmt::skip]
    type Row = (&'static str, Vec<(i64, f64)>, i64, i64, i64, Vec<i64>, f64, f64);
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("empty recommendations for scaling down", vec![], 100, 5, 5, vec![5], 0.0, 0.0),
        ("simple scale down stabilization", vec![(4, 120.0), (5, 60.0)], 100, 3, 5, vec![4, 5, 3], 0.0, 180.0),
        ("simple scale up stabilization", vec![(4, 120.0), (5, 60.0)], 1, 7, 4, vec![4, 5, 7], 300.0, 0.0),
        ("no scale down stabilization", vec![(1, 120.0), (2, 60.0)], 100, 3, 3, vec![1, 2, 3], 300.0, 0.0),
        ("no scale up stabilization", vec![(4, 120.0), (5, 60.0)], 1, 3, 3, vec![4, 5, 3], 0.0, 300.0),
        ("no scale down stabilization, reuse recommendation element", vec![(10, 600.0), (9, 540.0)], 100, 3, 3, vec![10, 3], 0.0, 0.0),
        ("no scale up stabilization, reuse recommendation element", vec![(10, 600.0), (9, 540.0)], 1, 100, 100, vec![10, 100], 0.0, 0.0),
        ("scale down stabilization, reuse one of obsolete recommendation element", vec![(10, 600.0), (4, 60.0), (5, 120.0), (9, 540.0)], 100, 3, 5, vec![10, 4, 5, 3], 0.0, 180.0),
        ("scale up stabilization, reuse one of obsolete recommendation element", vec![(10, 6000.0), (6, 60.0), (5, 120.0), (9, 180.0)], 1, 100, 5, vec![100, 6, 5, 9], 300.0, 0.0),
    ];
    for (name, recs, current, desired, expected, stored, up_w, down_w) in rows {
        let mut h = History {
            recommendations: recs.iter().map(|&(r, ago)| rec(r, ago)).collect(),
            ..History::default()
        };
        let up = Rules {
            stabilization_window: up_w,
            ..generate_scaling_rules(0, 0.0, 0, 0.0, 0.0)
        };
        let down = Rules {
            stabilization_window: down_w,
            ..up.clone()
        };
        let args = NormalizationArg {
            scale_up: &up,
            scale_down: &down,
            min_replicas: 0,
            max_replicas: 0,
            current_replicas: current,
            desired_replicas: desired,
        };
        assert_eq!(
            h.stabilize_recommendation_with_behaviors(&args, NOW),
            expected,
            "{name}"
        );
        let got: Vec<i64> = h.recommendations.iter().map(|r| r.replicas).collect();
        assert_eq!(got, stored, "{name}");
    }
}

#[test]
fn test_scaling_with_rules() {
    // TestScalingWithRules: convertDesiredReplicasWithBehaviorRate. `None` rules are the API
    // defaults. (name, up events, down events, min, max, up rules, down rules, current,
    // desired, expected).
    #[rustfmt::skip]
    type Row = (&'static str, Vec<ScaleEvent>, Vec<ScaleEvent>, i64, i64, Option<Rules>, Option<Rules>, i64, i64, i64);
    let g = generate_scaling_rules;
    let e = uniform_events;
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("prenormalized desired replicas within range", vec![], vec![], 3, 8, None, None, 5, 7, 7),
        ("prenormalized desired replicas < minReplicas", vec![], vec![], 2, 8, None, None, 3, 1, 2),
        ("prenormalized desired replicas within range when minReplicas is 0", vec![], vec![], 0, 10, None, None, 1, 0, 0),
        ("maxReplicas is the limit because maxReplicas < scaleUpLimit", vec![], vec![], 1, 10, None, None, 20, 1000, 10),
        ("desired replica count is more than the maximum replica count", vec![], vec![], 100, 150, None, None, 100, 1000, 150),
        ("scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", vec![], vec![], 1, 2000, Some(g(0, 0.0, 1, 60.0, 0.0)), None, 3, 1000, 4),
        ("scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies", vec![], vec![], 3, 2000, None, Some(g(20, 60.0, 0, 0.0, 0.0)), 1000, 3, 980),
        ("scaleUp with default behavior", vec![], vec![], 1, 1000, None, None, 10, 50, 20),
        ("scaleUp with pods policy larger than percent policy", vec![], vec![], 1, 1000, Some(g(100, 60.0, 100, 60.0, 0.0)), None, 10, 500, 110),
        ("scaleUp with percent policy larger than pods policy", vec![], vec![], 1, 1000, Some(g(2, 60.0, 100, 60.0, 0.0)), None, 10, 500, 20),
        ("scaleUp with spec MaxReplicas limitation with large pod policy", vec![], vec![], 1, 1000, Some(g(100, 60.0, 0, 0.0, 0.0)), None, 10, 50, 50),
        ("scaleUp with spec MaxReplicas limitation with large percent policy", vec![], vec![], 1, 1000, Some(g(10000, 60.0, 0, 0.0, 0.0)), None, 10, 50, 50),
        ("scaleUp with pod policy limitation", vec![], vec![], 1, 1000, Some(g(30, 60.0, 0, 0.0, 0.0)), None, 10, 50, 40),
        ("scaleUp with percent policy limitation", vec![], vec![], 1, 1000, Some(g(0, 0.0, 200, 60.0, 0.0)), None, 10, 50, 30),
        ("scaleDown with percent policy larger than pod policy", vec![], vec![], 1, 1000, None, Some(g(20, 60.0, 1, 60.0, 300.0)), 100, 2, 80),
        ("scaleDown with pod policy larger than percent policy", vec![], vec![], 1, 1000, None, Some(g(2, 60.0, 1, 60.0, 300.0)), 100, 2, 98),
        ("scaleDown with spec MinReplicas=nil limitation with large pod policy", vec![], vec![], 1, 1000, None, Some(g(100, 60.0, 0, 0.0, 300.0)), 10, 0, 1),
        ("scaleDown with spec MinReplicas limitation with large percent policy", vec![], vec![], 5, 1000, None, Some(g(0, 0.0, 100, 60.0, 300.0)), 10, 2, 5),
        ("scaleDown with pod policy limitation", vec![], vec![], 1, 1000, None, Some(g(5, 60.0, 0, 0.0, 300.0)), 10, 2, 5),
        ("scaleDown with percent policy limitation", vec![], vec![], 1, 1000, None, Some(g(0, 0.0, 50, 60.0, 300.0)), 10, 5, 5),
        ("scaleUp with spec MaxReplicas limitation with large pod policy and events", e(&[1, 5, 9], 120.0), vec![], 1, 200, Some(g(300, 60.0, 0, 0.0, 0.0)), None, 100, 500, 200),
        ("scaleUp with spec MaxReplicas limitation with large percent policy and events", e(&[1, 5, 9], 120.0), vec![], 1, 200, Some(g(0, 0.0, 10000, 60.0, 0.0)), None, 100, 500, 200),
        ("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events", e(&[1, 5, 9], 120.0), vec![], 1, 1000, Some(g(5, 120.0, 0, 0.0, 0.0)), None, 100, 500, 100),
        ("scaleUp with pod policy and previous scale up events", e(&[1, 5, 9], 120.0), vec![], 1, 1000, Some(g(150, 120.0, 0, 0.0, 0.0)), None, 100, 500, 235),
        ("scaleUp with percent policy and previous scale up events", e(&[1, 5, 9], 120.0), vec![], 1, 1000, Some(g(0, 0.0, 200, 120.0, 0.0)), None, 100, 500, 255),
        ("scaleDown with default policy and previous events", vec![], e(&[1, 5, 9], 120.0), 1, 1000, None, None, 10, 5, 5),
        ("scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", vec![], e(&[1, 5, 9], 120.0), 1, 1000, None, Some(g(115, 120.0, 0, 0.0, 300.0)), 100, 0, 1),
        ("scaleDown with spec MinReplicas limitation with large pod policy and previous events", vec![], e(&[1, 5, 9], 120.0), 5, 1000, None, Some(g(130, 120.0, 0, 0.0, 300.0)), 100, 0, 5),
        ("scaleDown with spec MinReplicas limitation with large percent policy and previous events", vec![], e(&[1, 5, 9], 120.0), 5, 1000, None, Some(g(0, 0.0, 100, 120.0, 300.0)), 100, 2, 5),
        ("scaleDown with pod policy limitation and previous events", vec![], e(&[1, 5, 9], 120.0), 1, 1000, None, Some(g(5, 120.0, 0, 0.0, 300.0)), 100, 2, 100),
        ("scaleDown with percent policy limitation and previous events", vec![], e(&[2, 4, 6], 120.0), 1, 1000, None, Some(g(0, 0.0, 50, 120.0, 300.0)), 100, 0, 56),
        ("scaleDown with previous events preventing further scale down", vec![], e(&[10, 10, 10], 120.0), 1, 1000, None, Some(g(0, 0.0, 10, 120.0, 300.0)), 100, 0, 100),
        ("scaleDown with with previous events still allowing more scale down", vec![], e(&[10, 10, 10], 120.0), 1, 1000, None, Some(g(0, 0.0, 1000, 120.0, 300.0)), 10, 5, 5),
        ("check 'outdated' flag for events for one behavior for up", e(&[8, 12, 9, 11], 120.0), vec![], 1, 1000, Some(g(1000, 60.0, 0, 0.0, 0.0)), None, 100, 200, 200),
        ("check that events were not marked 'outdated' for two different policies in the behavior for up", e(&[8, 12, 9, 11], 120.0), vec![], 1, 1000, Some(g(1000, 120.0, 100, 60.0, 0.0)), None, 100, 200, 200),
        ("check 'outdated' flag for events for one behavior for down", vec![], e(&[8, 12, 9, 11], 120.0), 1, 1000, None, Some(g(1000, 60.0, 0, 0.0, 300.0)), 100, 5, 5),
        ("check that events were marked 'outdated' for two different policies in the behavior for down", vec![], e(&[8, 12, 9, 11], 120.0), 1, 1000, None, Some(g(1000, 30.0, 100, 60.0, 300.0)), 100, 5, 5),
    ];
    for (name, up_events, down_events, min, max, up, down, current, desired, expected) in rows {
        let h = History {
            scale_up_events: up_events,
            scale_down_events: down_events,
            ..History::default()
        };
        let up = up.unwrap_or_else(|| Rules::scale_up(&unset()));
        let down = down.unwrap_or_else(|| Rules::scale_down(&unset(), 300.0));
        let args = NormalizationArg {
            scale_up: &up,
            scale_down: &down,
            min_replicas: min,
            max_replicas: max,
            current_replicas: current,
            desired_replicas: desired,
        };
        assert_eq!(
            h.convert_desired_replicas_with_behavior_rate(&args, NOW),
            expected,
            "{name}"
        );
    }
}

#[test]
fn test_calculate_scale_limits_with_min_policy() {
    // TestCalculateScaleUpLimitWithScalingRules and TestCalculateScaleDownLimitWithBehaviors.
    let rules = Rules {
        stabilization_window: 300.0,
        select_policy: SelectPolicy::Min,
        policies: vec![
            policy(ScalingPolicyKind::Pods, 2, 60.0),
            policy(ScalingPolicyKind::Percent, 50, 60.0),
        ],
    };
    assert_eq!(
        calculate_scale_up_limit_with_scaling_rules(1, &[], &[], &rules, NOW),
        2
    );
    assert_eq!(
        calculate_scale_down_limit_with_behaviors(5, &[], &[], &rules, NOW),
        3
    );
    let disabled = Rules {
        select_policy: SelectPolicy::Disabled,
        ..rules
    };
    assert_eq!(
        calculate_scale_up_limit_with_scaling_rules(7, &[], &[], &disabled, NOW),
        7
    );
    assert_eq!(
        calculate_scale_down_limit_with_behaviors(7, &[], &[], &disabled, NOW),
        7
    );
}

#[test]
fn test_store_scale_events() {
    // TestStoreScaleEvents (the cases with a behavior; the controller always has one here):
    // (name, previous events as (change, seconds ago), rules, expected change in the last 60 s
    // before storing, expected events as (change, outdated)).
    #[rustfmt::skip]
    type Row = (&'static str, Vec<(i64, f64)>, Rules, i64, Vec<(i64, bool)>);
    let g = generate_scaling_rules;
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("empty entries with two-policy-behavior", vec![], g(10, 60.0, 100, 60.0, 0.0), 0, vec![(5, false)]),
        ("one outdated entry to be replaced with behavior", vec![(7, 61.0)], g(10, 60.0, 100, 60.0, 0.0), 0, vec![(5, false)]),
        ("one actual entry to be not touched with behavior", vec![(7, 58.0)], g(10, 60.0, 100, 60.0, 0.0), 7, vec![(7, false), (5, false)]),
        ("two entries, one of them to be replaced", vec![(7, 61.0), (6, 59.0)], g(10, 60.0, 0, 0.0, 0.0), 6, vec![(5, false), (6, false)]),
        ("replace one entry, use policies with different periods", vec![(8, 29.0), (6, 59.0), (7, 61.0), (9, 61.0)], g(10, 60.0, 100, 30.0, 0.0), 14, vec![(8, false), (6, false), (7, true), (5, false)]),
        ("two entries, both actual", vec![(7, 58.0), (6, 59.0)], g(10, 120.0, 100, 30.0, 0.0), 13, vec![(7, false), (6, false), (5, false)]),
    ];
    for (name, prev, rules, change, expected) in rows {
        let prev: Vec<ScaleEvent> = prev
            .iter()
            .map(|&(c, ago)| ScaleEvent {
                replica_change: c,
                timestamp: NOW - ago,
                outdated: false,
            })
            .collect();
        for up in [true, false] {
            let mut h = History::default();
            let new = if up {
                h.scale_up_events = prev.clone();
                15
            } else {
                h.scale_down_events = prev.clone();
                5
            };
            let events = |h: &History| {
                if up {
                    h.scale_up_events.clone()
                } else {
                    h.scale_down_events.clone()
                }
            };
            assert_eq!(
                get_replicas_change_per_period(60.0, &events(&h), NOW),
                change,
                "{name}"
            );
            h.store_scale_event(&rules, &rules, 10, new, NOW);
            let got: Vec<(i64, bool)> = events(&h)
                .iter()
                .map(|e| (e.replica_change, e.outdated))
                .collect();
            assert_eq!(got, expected, "{name} (up: {up})");
        }
    }
}
