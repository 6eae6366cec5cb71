//! The Knative Pod Autoscaler (KPA), ported from knative/serving so that a simulated run scales
//! the way a Knative revision would.
//!
//! Three Knative components are folded into one [`Policy`]:
//! - the metric collector (`pkg/autoscaler/metrics/collector.go`): stable and panic window
//!   averages of the per-second total concurrency (or request rate), see `window`;
//! - the decider (`pkg/autoscaler/scaling/autoscaler.go`, `Scale`), run every tick, which keeps its
//!   last recommendation while it has no data (`multiscaler.go`, `tickScaler`), see `decider`;
//! - the PodAutoscaler reconciler (`pkg/reconciler/autoscaling/kpa/scaler.go`, `scale` and
//!   `handleScaleToZero`; `kpa.go`, `computeActiveCondition`): min/max and initial scale, and the
//!   Active/Activating/Inactive states that delay scale to zero by the stable window and then the
//!   grace period (or the pod retention period, if longer).

mod decider;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_adapter;
mod window;

use scalebench_core::policy::{KpaConfig, KpaMetric};

use self::decider::Decider;
use super::{MetricSample, Observation, Policy};

/// `ProgressDeadline` (600 s) plus `activationTimeoutBuffer` (10 s): a revision that has not
/// activated by then may be scaled to zero (`scaler.go`, `activationTimeout`).
const ACTIVATION_TIMEOUT: f64 = 610.0;

/// The PodAutoscaler's `Active` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activity {
    /// Active=Unknown: pods requested but fewer than the active threshold are ready.
    Activating,
    /// Active=True.
    Active,
    /// Active=False: no traffic; the activator is in the path.
    Inactive,
}

/// The Knative Pod Autoscaler.
#[derive(Debug, Clone)]
pub struct Kpa {
    decider: Decider,
    metric: KpaMetric,
    tick: f64,
    /// Window lengths in whole 1 s buckets.
    stable_buckets: i64,
    panic_buckets: i64,
    stable_window: f64,
    min_scale: u32,
    max_scale: u32,
    initial_scale: u32,
    /// The longer of scale-to-zero-grace-period and scale-to-zero-pod-retention-period.
    zero_after_inactive: f64,
    /// The decider's latest valid recommendation (`DesiredScale`; `None` is Knative's -1).
    recommended: Option<u32>,
    /// Whether `decide` has run once (the decider is created on the first observation).
    started: bool,
    activity: Activity,
    /// When `activity` last changed (the condition's LastTransitionTime).
    activity_since: f64,
    /// ScaleTargetInitialized: the initial scale has been reached once.
    initialized: bool,
}

impl Kpa {
    /// A KPA from its settings.
    pub fn new(c: &KpaConfig) -> Self {
        let stable = c.stable_window.as_secs_f64();
        // MakeMetric: the panic window is a percentage of the stable window, rounded to a bucket.
        let panic = (stable * c.panic_window_percentage / 100.0).round();
        Kpa {
            decider: Decider::new(c),
            metric: c.metric,
            tick: c.tick.as_secs_f64(),
            stable_buckets: (stable.round() as i64).max(1),
            panic_buckets: (panic as i64).max(1),
            stable_window: stable,
            min_scale: c.min_scale,
            max_scale: c.max_scale,
            // GetInitialScale: the cluster default is 1. An explicit 0 is honoured, as if
            // allow-zero-initial-scale were set.
            initial_scale: c.initial_scale.unwrap_or(1),
            zero_after_inactive: c
                .scale_to_zero_grace_period
                .as_secs_f64()
                .max(c.scale_to_zero_pod_retention_period.as_secs_f64()),
            recommended: None,
            started: false,
            activity: Activity::Activating,
            activity_since: 0.0,
            initialized: false,
        }
    }

    /// The decider alone (Knative's `Scale`): the pods wanted for the observed stable and panic
    /// averages (total concurrency, or requests per second) with `ready` pods ready, at `now`
    /// seconds. It updates the panic state and the scale-down-delay window, but applies no
    /// min/max bound and no scale-to-zero delay.
    pub fn scale(&mut self, now: f64, stable: f64, panic: f64, ready: u32) -> u32 {
        self.decider.scale(now, stable, panic, ready)
    }

    /// True while the decider is in panic mode.
    pub fn in_panic(&self) -> bool {
        self.decider.in_panic()
    }

    /// The stable and panic averages the collector would report as of the newest sample, or
    /// `None` when the stable window holds no data.
    pub fn averages(&self, samples: &[MetricSample]) -> Option<(f64, f64)> {
        window::averages(
            samples,
            self.metric,
            self.stable_buckets,
            self.panic_buckets,
        )
    }

    /// `scaler.scale`: Knative's `want` (-1 for unknown; also fed to the Active condition) and
    /// whether to apply it to spec.replicas (`false` leaves the replicas as they are).
    fn bounded_scale(&self, now: f64) -> (i64, bool) {
        let mut desired = self.recommended.map_or(-1, i64::from);
        if desired < 0 && self.activity != Activity::Activating {
            // "Metrics are not yet being collected."
            return (desired, false);
        }
        let mut min = i64::from(self.min_scale);
        if self.initial_scale > 1 && !self.initialized {
            min = min.max(i64::from(self.initial_scale));
        }
        desired = desired.max(min);
        if self.max_scale > 0 {
            // applyBounds: a max of 0 means unbounded.
            desired = desired.min(i64::from(self.max_scale));
        }
        if desired != 0 {
            return (desired, true);
        }
        self.handle_scale_to_zero(now)
    }

    /// `handleScaleToZero` for a bounded desired scale of 0.
    fn handle_scale_to_zero(&self, now: f64) -> (i64, bool) {
        let held = now - self.activity_since;
        match self.activity {
            // Stuck activating past the progress deadline: give up and scale to zero.
            Activity::Activating if held > ACTIVATION_TIMEOUT => (0, true),
            Activity::Activating => (-1, false),
            // Active for a stable window: mark inactive (want 0) but do not scale yet.
            Activity::Active if held >= self.stable_window => (0, false),
            // Otherwise keep one pod for the rest of the idle period.
            Activity::Active => (1, true),
            // Inactive for the grace period (the activator has been in the path since the PA went
            // inactive) and for the pod retention period: remove the last pod.
            Activity::Inactive => (0, held >= self.zero_after_inactive),
        }
    }

    /// `computeActiveCondition` for the scale wanted and the pods ready.
    fn update_activity(&mut self, now: f64, want: i64, ready: u32) {
        // activeThreshold
        let min_ready = if self.initialized {
            self.min_scale.max(1)
        } else {
            self.min_scale.max(self.initial_scale)
        };
        if ready >= min_ready {
            self.initialized = true;
        }
        let inactive = self.activity == Activity::Inactive;
        let next = if want == 0 || min_ready == 0 {
            Activity::Inactive
        } else if want > 0 || !inactive {
            if ready < min_ready {
                Activity::Activating
            } else {
                Activity::Active
            }
        } else {
            Activity::Inactive
        };
        if next != self.activity {
            self.activity = next;
            self.activity_since = now;
        }
    }
}

impl Policy for Kpa {
    fn interval(&self) -> f64 {
        self.tick
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        let ready = obs.pods.ready;
        if !self.started {
            self.started = true;
            self.activity_since = obs.now;
            self.decider.start(obs.now, ready);
        }
        // tickScaler: an invalid result (no data) keeps the last recommendation.
        if let Some((stable, panic)) = self.averages(obs.samples) {
            self.recommended = Some(self.decider.scale(obs.now, stable, panic, ready));
        }
        let (want, apply) = self.bounded_scale(obs.now);
        self.update_activity(obs.now, want, ready);
        match u32::try_from(want) {
            Ok(n) if apply => n,
            _ => obs.current,
        }
    }
}
