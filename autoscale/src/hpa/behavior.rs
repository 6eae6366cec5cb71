//! The HPA controller's normalization of a proposal: stabilization windows, scaling policies and
//! the min/max clamp.
//!
//! A port of kubernetes `pkg/controller/podautoscaler/horizontal.go`:
//! `normalizeDesiredReplicasWithBehaviors`, `stabilizeRecommendationWithBehaviors`,
//! `convertDesiredReplicasWithBehaviorRate`, `calculateScaleUpLimitWithScalingRules`,
//! `calculateScaleDownLimitWithBehaviors`, `getReplicasChangePerPeriod`, `storeScaleEvent`,
//! `markScaleEventsOutdated`, `getLongestPolicyPeriod` and `recordInitialRecommendation`, with the
//! API server's defaulting of `spec.behavior` (`GenerateHPAScaleUpRules` /
//! `GenerateHPAScaleDownRules` in `pkg/apis/autoscaling/v2/defaults.go`). Time comparisons keep
//! Go's strict `After`/`Before`. Replica arithmetic is done in `i64` (Go uses `int32`).

use scalebench_core::policy::{ScalingPolicyKind, ScalingRules, SelectPolicy};

/// One resolved HPAScalingPolicy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedPolicy {
    /// Pods or Percent.
    pub kind: ScalingPolicyKind,
    /// How many pods, or what percent.
    pub value: u32,
    /// periodSeconds.
    pub period: f64,
}

/// HPAScalingRules after API defaulting: every field set.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// stabilizationWindowSeconds.
    pub stabilization_window: f64,
    /// selectPolicy.
    pub select_policy: SelectPolicy,
    /// policies.
    pub policies: Vec<ResolvedPolicy>,
}

impl Rules {
    /// `GenerateHPAScaleUpRules`: unset fields default to 0 s, Max, and 4 pods / 100% per 15 s.
    pub fn scale_up(rules: &ScalingRules) -> Self {
        Self::resolve(rules, 0.0, ScalingRules::default_up())
    }

    /// `GenerateHPAScaleDownRules` plus the controller's `maybeInitScaleDownStabilizationWindow`:
    /// an unset window takes `--horizontal-pod-autoscaler-downscale-stabilization`
    /// (`downscale_window`, 300 s by default); unset policies are 100% per 15 s.
    pub fn scale_down(rules: &ScalingRules, downscale_window: f64) -> Self {
        Self::resolve(rules, downscale_window, ScalingRules::default_down())
    }

    fn resolve(rules: &ScalingRules, default_window: f64, defaults: ScalingRules) -> Self {
        let policies = if rules.policies.is_empty() {
            &defaults.policies
        } else {
            &rules.policies
        };
        Rules {
            stabilization_window: rules
                .stabilization_window
                .map_or(default_window, |d| d.as_secs_f64()),
            select_policy: rules.select_policy,
            policies: policies
                .iter()
                .map(|p| ResolvedPolicy {
                    kind: p.kind,
                    value: p.value,
                    period: p.period.as_secs_f64(),
                })
                .collect(),
        }
    }

    /// `getLongestPolicyPeriod`.
    pub fn longest_policy_period(&self) -> f64 {
        self.policies.iter().map(|p| p.period).fold(0.0, f64::max)
    }
}

/// `timestampedScaleEvent`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleEvent {
    /// Replicas added (in the scale-up list) or removed (in the scale-down list); positive.
    pub replica_change: i64,
    /// When the scale happened, in seconds.
    pub timestamp: f64,
    /// Older than the longest policy period: the slot may be reused.
    pub outdated: bool,
}

/// `timestampedRecommendation`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recommendation {
    /// The unstabilized desired replica count.
    pub replicas: i64,
    /// When it was made, in seconds.
    pub timestamp: f64,
}

/// What `normalizeDesiredReplicasWithBehaviors` works on (`NormalizationArg`).
#[derive(Debug, Clone, Copy)]
pub struct NormalizationArg<'a> {
    /// spec.behavior.scaleUp, defaulted.
    pub scale_up: &'a Rules,
    /// spec.behavior.scaleDown, defaulted.
    pub scale_down: &'a Rules,
    /// spec.minReplicas.
    pub min_replicas: i64,
    /// spec.maxReplicas.
    pub max_replicas: i64,
    /// The scale's spec.replicas.
    pub current_replicas: i64,
    /// The proposal from the metrics (or the stabilized one, once stabilized).
    pub desired_replicas: i64,
}

/// The controller's memory for one HPA: recommendations and scale events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Recent unstabilized recommendations.
    pub recommendations: Vec<Recommendation>,
    /// Recent scale-ups.
    pub scale_up_events: Vec<ScaleEvent>,
    /// Recent scale-downs.
    pub scale_down_events: Vec<ScaleEvent>,
    initialized: bool,
}

impl History {
    /// `recordInitialRecommendation`: the first reconcile records the current count.
    pub fn record_initial_recommendation(&mut self, current: i64, now: f64) {
        if !self.initialized {
            self.initialized = true;
            self.recommendations.push(Recommendation {
                replicas: current,
                timestamp: now,
            });
        }
    }

    /// `normalizeDesiredReplicasWithBehaviors`: stabilize, then apply the rate limits and the
    /// min/max bounds.
    pub fn normalize_desired_replicas_with_behaviors(
        &mut self,
        mut args: NormalizationArg<'_>,
        now: f64,
    ) -> i64 {
        args.desired_replicas = self.stabilize_recommendation_with_behaviors(&args, now);
        self.convert_desired_replicas_with_behavior_rate(&args, now)
    }

    /// `stabilizeRecommendationWithBehaviors`: the current count pulled into
    /// [min of the recommendations in the up window, max of those in the down window]; records
    /// the new recommendation, reusing a slot older than both windows.
    pub fn stabilize_recommendation_with_behaviors(
        &mut self,
        args: &NormalizationArg<'_>,
        now: f64,
    ) -> i64 {
        let up_cutoff = now - args.scale_up.stabilization_window;
        let down_cutoff = now - args.scale_down.stabilization_window;
        let mut up = args.desired_replicas;
        let mut down = args.desired_replicas;
        let mut old_sample = None;
        for (i, rec) in self.recommendations.iter().enumerate() {
            if rec.timestamp > up_cutoff {
                up = up.min(rec.replicas);
            }
            if rec.timestamp > down_cutoff {
                down = down.max(rec.replicas);
            }
            if rec.timestamp < up_cutoff && rec.timestamp < down_cutoff {
                old_sample = Some(i);
            }
        }
        let mut recommendation = args.current_replicas;
        if recommendation < up {
            recommendation = up;
        }
        if recommendation > down {
            recommendation = down;
        }
        let new = Recommendation {
            replicas: args.desired_replicas,
            timestamp: now,
        };
        match old_sample {
            Some(i) => self.recommendations[i] = new,
            None => self.recommendations.push(new),
        }
        recommendation
    }

    /// `convertDesiredReplicasWithBehaviorRate`: the rate limits of the policies and min/max.
    pub fn convert_desired_replicas_with_behavior_rate(
        &self,
        args: &NormalizationArg<'_>,
        now: f64,
    ) -> i64 {
        let (up_events, down_events) = (&self.scale_up_events, &self.scale_down_events);
        if args.desired_replicas > args.current_replicas {
            let limit = calculate_scale_up_limit_with_scaling_rules(
                args.current_replicas,
                up_events,
                down_events,
                args.scale_up,
                now,
            )
            // No further scale-up until the recent scale-up events age out.
            .max(args.current_replicas);
            let maximum_allowed = args.max_replicas.min(limit);
            if args.desired_replicas > maximum_allowed {
                return maximum_allowed;
            }
        } else if args.desired_replicas < args.current_replicas {
            let limit = calculate_scale_down_limit_with_behaviors(
                args.current_replicas,
                up_events,
                down_events,
                args.scale_down,
                now,
            )
            // No further scale-down until the recent scale-down events age out.
            .min(args.current_replicas);
            let minimum_allowed = args.min_replicas.max(limit);
            if args.desired_replicas < minimum_allowed {
                return minimum_allowed;
            }
        }
        args.desired_replicas
    }

    /// `storeScaleEvent`: records a rescale, reusing an outdated slot of the same direction.
    pub fn store_scale_event(
        &mut self,
        scale_up: &Rules,
        scale_down: &Rules,
        prev: i64,
        new: i64,
        now: f64,
    ) {
        let (events, longest, change) = if new > prev {
            let longest = scale_up.longest_policy_period();
            (&mut self.scale_up_events, longest, new - prev)
        } else {
            let longest = scale_down.longest_policy_period();
            (&mut self.scale_down_events, longest, prev - new)
        };
        mark_scale_events_outdated(events, longest, now);
        let event = ScaleEvent {
            replica_change: change,
            timestamp: now,
            outdated: false,
        };
        match events.iter().rposition(|e| e.outdated) {
            Some(i) => events[i] = event,
            None => events.push(event),
        }
    }
}

/// `markScaleEventsOutdated`.
fn mark_scale_events_outdated(events: &mut [ScaleEvent], longest_period: f64, now: f64) {
    let cutoff = now - longest_period;
    for e in events.iter_mut().filter(|e| e.timestamp < cutoff) {
        e.outdated = true;
    }
}

/// `getReplicasChangePerPeriod`: the replicas changed by the events of the last `period` s.
pub fn get_replicas_change_per_period(period: f64, events: &[ScaleEvent], now: f64) -> i64 {
    let cutoff = now - period;
    events
        .iter()
        .filter(|e| e.timestamp > cutoff)
        .map(|e| e.replica_change)
        .sum()
}

/// The replica count at the start of a policy's period.
fn period_start_replicas(
    current: i64,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    period: f64,
    now: f64,
) -> i64 {
    current - get_replicas_change_per_period(period, up_events, now)
        + get_replicas_change_per_period(period, down_events, now)
}

/// `calculateScaleUpLimitWithScalingRules`: the most replicas the policies allow now.
pub fn calculate_scale_up_limit_with_scaling_rules(
    current: i64,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    rules: &Rules,
    now: f64,
) -> i64 {
    let (mut result, pick): (i64, fn(i64, i64) -> i64) = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        // For scaling up, the smallest change is the smallest count.
        SelectPolicy::Min => (i64::from(i32::MAX), i64::min),
        SelectPolicy::Max => (i64::from(i32::MIN), i64::max),
    };
    for policy in &rules.policies {
        let start = period_start_replicas(current, up_events, down_events, policy.period, now);
        let proposed = match policy.kind {
            ScalingPolicyKind::Pods => start + i64::from(policy.value),
            // Rounded up so that a small percentage still adds a pod.
            ScalingPolicyKind::Percent => {
                (start as f64 * (1.0 + f64::from(policy.value) / 100.0)).ceil() as i64
            }
        };
        result = pick(result, proposed);
    }
    result
}

/// `calculateScaleDownLimitWithBehaviors`: the fewest replicas the policies allow now.
pub fn calculate_scale_down_limit_with_behaviors(
    current: i64,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    rules: &Rules,
    now: f64,
) -> i64 {
    let (mut result, pick): (i64, fn(i64, i64) -> i64) = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        // For scaling down, the smallest change is the largest count.
        SelectPolicy::Min => (i64::from(i32::MIN), i64::max),
        SelectPolicy::Max => (i64::from(i32::MAX), i64::min),
    };
    for policy in &rules.policies {
        let start = period_start_replicas(current, up_events, down_events, policy.period, now);
        let proposed = match policy.kind {
            ScalingPolicyKind::Pods => start - i64::from(policy.value),
            // Go's int32() conversion truncates toward zero.
            ScalingPolicyKind::Percent => {
                (start as f64 * (1.0 - f64::from(policy.value) / 100.0)).trunc() as i64
            }
        };
        result = pick(result, proposed);
    }
    result
}

#[cfg(test)]
#[path = "behavior_tests.rs"]
mod tests;
