//! The HPA controller's normalization, ported from Kubernetes'
//! `pkg/controller/podautoscaler/horizontal.go`: `stabilizeRecommendationWithBehaviors` (the
//! highest recommendation of the scale-down window and the lowest of the scale-up window bound
//! the change), `convertDesiredReplicasWithBehaviorRate` with
//! `calculateScaleUpLimitWithScalingRules` / `calculateScaleDownLimitWithBehaviors` (Pods and
//! Percent policies against the replica count at the start of each policy's period, selectPolicy
//! Max / Min / Disabled), then minReplicas / maxReplicas.

use workloads::policy::{Behavior, ScalingPolicyKind, ScalingRules, SelectPolicy};

/// A recommendation the controller made, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Recommendation {
    t: f64,
    replicas: u32,
}

/// A scale change the controller made, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ScaleEvent {
    t: f64,
    change: u32,
}

/// The controller's memory of one HPA: recommendations and scale events.
#[derive(Debug, Clone)]
pub struct Normalizer {
    behavior: Behavior,
    min: u32,
    max: u32,
    recommendations: Vec<Recommendation>,
    ups: Vec<ScaleEvent>,
    downs: Vec<ScaleEvent>,
}

fn window(rules: &ScalingRules) -> f64 {
    rules.stabilization_window.map_or(0.0, |d| d.as_secs_f64())
}

fn longest_period(rules: &ScalingRules) -> f64 {
    rules
        .policies
        .iter()
        .map(|p| p.period.as_secs_f64())
        .fold(0.0, f64::max)
}

impl Normalizer {
    /// The normalizer of an HPA with these behaviors and bounds.
    pub fn new(behavior: &Behavior, min: u32, max: u32) -> Self {
        Normalizer {
            behavior: behavior.clone(),
            min,
            max,
            recommendations: Vec::new(),
            ups: Vec::new(),
            downs: Vec::new(),
        }
    }

    /// `normalizeDesiredReplicasWithBehaviors`: the replica count to set at `now` (seconds),
    /// from the metrics' recommendation. Records the recommendation; the caller records the
    /// change with [`Normalizer::record_scale`] when it scales.
    pub fn normalize(&mut self, now: f64, current: u32, desired: u32) -> u32 {
        let stabilized = self.stabilize(now, current, desired);
        self.limit_rate(now, current, stabilized)
    }

    fn stabilize(&mut self, now: f64, current: u32, desired: u32) -> u32 {
        let up_cutoff = now - window(&self.behavior.scale_up);
        let down_cutoff = now - window(&self.behavior.scale_down);
        let (mut up, mut down) = (desired, desired);
        let mut old = None;
        for (i, r) in self.recommendations.iter().enumerate() {
            if r.t > up_cutoff {
                up = up.min(r.replicas);
            }
            if r.t > down_cutoff {
                down = down.max(r.replicas);
            }
            if r.t < up_cutoff && r.t < down_cutoff {
                old = Some(i);
            }
        }
        let recommendation = current.max(up).min(down);
        let rec = Recommendation {
            t: now,
            replicas: desired,
        };
        match old {
            Some(i) => self.recommendations[i] = rec,
            None => self.recommendations.push(rec),
        }
        recommendation
    }

    fn limit_rate(&self, now: f64, current: u32, desired: u32) -> u32 {
        let (current_i, desired_i) = (current as i64, desired as i64);
        if desired > current {
            let limit = self.scale_up_limit(now, current_i).max(current_i);
            let allowed = (self.max as i64).min(limit);
            desired_i.min(allowed).max(0) as u32
        } else if desired < current {
            let limit = self.scale_down_limit(now, current_i).min(current_i);
            let allowed = (self.min as i64).max(limit);
            desired_i.max(allowed).max(0) as u32
        } else {
            desired
        }
    }

    /// Replicas at the start of a policy's period: now's, minus what was added and plus what
    /// was removed within the period.
    fn period_start(&self, now: f64, current: i64, period: f64) -> i64 {
        let cutoff = now - period;
        let sum = |events: &[ScaleEvent]| -> i64 {
            events
                .iter()
                .filter(|e| e.t > cutoff)
                .map(|e| e.change as i64)
                .sum()
        };
        current - sum(&self.ups) + sum(&self.downs)
    }

    fn scale_up_limit(&self, now: f64, current: i64) -> i64 {
        let rules = &self.behavior.scale_up;
        let (mut result, pick): (i64, fn(i64, i64) -> i64) = match rules.select_policy {
            SelectPolicy::Disabled => return current,
            SelectPolicy::Min => (i64::MAX, i64::min),
            SelectPolicy::Max => (i64::MIN, i64::max),
        };
        for p in &rules.policies {
            let start = self.period_start(now, current, p.period.as_secs_f64());
            let proposed = match p.kind {
                ScalingPolicyKind::Pods => start + p.value as i64,
                // Rounded up so that a small percentage still adds a pod.
                ScalingPolicyKind::Percent => {
                    (start as f64 * (1.0 + p.value as f64 / 100.0)).ceil() as i64
                }
            };
            result = pick(result, proposed);
        }
        if rules.policies.is_empty() {
            i64::MAX
        } else {
            result
        }
    }

    fn scale_down_limit(&self, now: f64, current: i64) -> i64 {
        let rules = &self.behavior.scale_down;
        let (mut result, pick): (i64, fn(i64, i64) -> i64) = match rules.select_policy {
            SelectPolicy::Disabled => return current,
            SelectPolicy::Min => (i64::MIN, i64::max),
            SelectPolicy::Max => (i64::MAX, i64::min),
        };
        for p in &rules.policies {
            let start = self.period_start(now, current, p.period.as_secs_f64());
            let proposed = match p.kind {
                ScalingPolicyKind::Pods => start - p.value as i64,
                ScalingPolicyKind::Percent => {
                    (start as f64 * (1.0 - p.value as f64 / 100.0)) as i64
                }
            };
            result = pick(result, proposed);
        }
        if rules.policies.is_empty() {
            i64::MIN
        } else {
            result
        }
    }

    /// `storeScaleEvent`: the controller changed the scale from `from` to `to` at `now`.
    pub fn record_scale(&mut self, now: f64, from: u32, to: u32) {
        let keep_up = now - longest_period(&self.behavior.scale_up);
        let keep_down = now - longest_period(&self.behavior.scale_down);
        self.ups.retain(|e| e.t > keep_up);
        self.downs.retain(|e| e.t > keep_down);
        if to > from {
            self.ups.push(ScaleEvent {
                t: now,
                change: to - from,
            });
        } else if to < from {
            self.downs.push(ScaleEvent {
                t: now,
                change: from - to,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    //! After Kubernetes' `pkg/controller/podautoscaler/horizontal_test.go`
    //! (TestScalingWithRules, TestNormalizeDesiredReplicasWithBehavior,
    //! TestStoreScaleEvents / TestCalculateScaleUpLimitWithScalingRules) and the defaults the API
    //! server fills in.
    use super::*;
    use workloads::Duration;
    use workloads::policy::ScalingPolicy;

    fn rules(
        window: u64,
        select: SelectPolicy,
        policies: &[(ScalingPolicyKind, u32, u64)],
    ) -> ScalingRules {
        ScalingRules {
            stabilization_window: Some(Duration::from_secs(window)),
            select_policy: select,
            policies: policies
                .iter()
                .map(|&(kind, value, period)| ScalingPolicy {
                    kind,
                    value,
                    period: Duration::from_secs(period),
                })
                .collect(),
        }
    }

    use ScalingPolicyKind::{Percent, Pods};

    #[test]
    fn default_scale_up_is_max_of_4_pods_and_100_percent_per_15s() {
        let mut n = Normalizer::new(&Behavior::default(), 1, 100);
        // From 1: max(1 + 4, 2 x 1) = 5.
        assert_eq!(n.normalize(0.0, 1, 50), 5);
        n.record_scale(0.0, 1, 5);
        // Within the same 15 s period the start is still 1: no more.
        assert_eq!(n.normalize(10.0, 5, 50), 5);
        // Next period, from 5: max(5 + 4, 10) = 10.
        assert_eq!(n.normalize(16.0, 5, 50), 10);
        n.record_scale(16.0, 5, 10);
        assert_eq!(n.normalize(32.0, 10, 50), 20);
    }

    #[test]
    fn default_scale_down_waits_for_the_300s_window() {
        let mut n = Normalizer::new(&Behavior::default(), 1, 100);
        assert_eq!(n.normalize(0.0, 10, 10), 10);
        // Load drops: the highest recommendation of the last 300 s (10) holds.
        for t in (15..300).step_by(15) {
            assert_eq!(n.normalize(t as f64, 10, 2), 10, "at {t} s");
        }
        // Once the 10 is older than 300 s, the scale-down (100% per 15 s) goes all the way.
        assert_eq!(n.normalize(301.0, 10, 2), 2);
    }

    #[test]
    fn pods_and_percent_with_select_policy() {
        // TestScalingWithRules-style: scale up by 2 pods or 50% per 60 s.
        let up = |select| Behavior {
            scale_up: rules(0, select, &[(Pods, 2, 60), (Percent, 50, 60)]),
            scale_down: ScalingRules::default_down(),
        };
        let mut max = Normalizer::new(&up(SelectPolicy::Max), 1, 100);
        assert_eq!(
            max.normalize(0.0, 10, 40),
            15,
            "Max: 50% of 10 beats 2 pods"
        );
        let mut min = Normalizer::new(&up(SelectPolicy::Min), 1, 100);
        assert_eq!(min.normalize(0.0, 10, 40), 12, "Min: 2 pods");
        let mut off = Normalizer::new(&up(SelectPolicy::Disabled), 1, 100);
        assert_eq!(off.normalize(0.0, 10, 40), 10, "Disabled");
    }

    #[test]
    fn scale_down_percent_rounds_down_and_counts_the_period() {
        let b = Behavior {
            scale_up: ScalingRules::default_up(),
            scale_down: rules(0, SelectPolicy::Max, &[(Percent, 10, 60)]),
        };
        let mut n = Normalizer::new(&b, 1, 100);
        // 10% of 25 is 2.5: the limit is int(22.5) = 22.
        assert_eq!(n.normalize(0.0, 25, 5), 22);
        n.record_scale(0.0, 25, 22);
        // Within the period the start is still 25: limit 22, no further.
        assert_eq!(n.normalize(30.0, 22, 5), 22);
        assert_eq!(n.normalize(61.0, 22, 5), 19);
    }

    #[test]
    fn scale_up_stabilization_takes_the_lowest_recent_recommendation() {
        let b = Behavior {
            scale_up: rules(60, SelectPolicy::Max, &[(Percent, 1000, 15)]),
            scale_down: rules(0, SelectPolicy::Max, &[(Percent, 100, 15)]),
        };
        let mut n = Normalizer::new(&b, 1, 100);
        assert_eq!(n.normalize(0.0, 2, 2), 2);
        // A brief spike is ignored while the window still holds a 2.
        assert_eq!(n.normalize(15.0, 2, 8), 2);
        assert_eq!(n.normalize(61.0, 2, 8), 8);
    }

    #[test]
    fn bounds_apply_last() {
        let mut n = Normalizer::new(&Behavior::default(), 2, 6);
        assert_eq!(n.normalize(0.0, 4, 50), 6, "maxReplicas");
        let b = Behavior {
            scale_up: ScalingRules::default_up(),
            scale_down: rules(0, SelectPolicy::Max, &[(Percent, 100, 15)]),
        };
        let mut n = Normalizer::new(&b, 2, 6);
        assert_eq!(n.normalize(0.0, 4, 0), 2, "minReplicas");
    }
}
