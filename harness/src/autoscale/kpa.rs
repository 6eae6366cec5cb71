//! The Knative Pod Autoscaler, after knative/serving `pkg/autoscaler/scaling/autoscaler.go`
//! (`Scale`): every tick it averages the observed concurrency (requests in service plus those
//! buffered, as the activator holds them when there are no pods) over the stable window (60 s)
//! and the panic window (10% of it); desired pods = ceil(observed / (target x utilization)),
//! clamped to [ready / max-scale-down-rate, ready x max-scale-up-rate]. Panic mode starts when
//! the panic window wants at least panic-threshold (200%) of the ready pods, lasts until a stable
//! window passes without that, takes the larger of the two recommendations and never scales down.
//! A scale-down-delay holds the highest recommendation for its length. Scaling to zero waits
//! until the stable window has seen no traffic and then the scale-to-zero grace period.

use std::collections::VecDeque;

use workloads::policy::KpaConfig;

use super::{Observation, Policy};

/// A Knative Pod Autoscaler.
#[derive(Debug, Clone)]
pub struct Kpa {
    config: KpaConfig,
    panic_since: Option<f64>,
    max_panic_pods: u32,
    /// Recommendations within the scale-down delay, for its maximum.
    delay: VecDeque<(f64, u32)>,
    /// Since when the stable window has wanted zero pods.
    zero_since: Option<f64>,
}

/// The windowed averages a decision is made from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    /// Average concurrency over the stable window.
    pub stable: f64,
    /// Average concurrency over the panic window.
    pub panic: f64,
}

impl Kpa {
    /// A KPA from its settings.
    pub fn new(c: &KpaConfig) -> Self {
        Kpa {
            config: c.clone(),
            panic_since: None,
            max_panic_pods: 0,
            delay: VecDeque::new(),
            zero_since: None,
        }
    }

    fn panic_window(&self) -> f64 {
        self.config.stable_window.as_secs_f64() * self.config.panic_window_percentage / 100.0
    }

    /// The averages over the windows ending at the newest visible sample; `None` without data.
    pub fn observe(&self, obs: &Observation<'_>) -> Option<Observed> {
        let last = obs.latest()?.t;
        let avg = |window: f64| {
            let from = last - window;
            let (sum, n) = obs
                .samples
                .iter()
                .rev()
                .take_while(|s| s.t > from)
                .fold((0.0, 0u32), |(sum, n), s| {
                    (sum + s.in_flight + s.queue, n + 1)
                });
            if n == 0 { 0.0 } else { sum / n as f64 }
        };
        Some(Observed {
            stable: avg(self.config.stable_window.as_secs_f64()),
            panic: avg(self.panic_window().max(1.0)),
        })
    }

    /// `Scale`: the pods wanted at `now` with `ready` pods serving (before the reconciler's
    /// scale-to-zero grace period and min/max bounds, which [`Policy::decide`] applies).
    pub fn scale(&mut self, now: f64, ready: u32, o: Observed) -> u32 {
        let c = &self.config;
        let target = c.target * c.target_utilization / 100.0;
        let ready_f = (ready as f64).max(1.0);
        let dspc = (o.stable / target).ceil();
        let dppc = (o.panic / target).ceil();
        let max_up = (c.max_scale_up_rate * ready_f).ceil();
        let max_down = if ready == 0 {
            0.0
        } else {
            (ready_f / c.max_scale_down_rate).floor()
        };
        let stable = dspc.max(max_down).min(max_up) as u32;
        let panic = dppc.max(max_down).min(max_up) as u32;
        let over = dppc / ready_f >= c.panic_threshold_percentage / 100.0;
        let stable_window = c.stable_window.as_secs_f64();
        if over {
            self.panic_since = Some(now);
        } else if self.panic_since.is_some_and(|t| t + stable_window < now) {
            self.panic_since = None;
            self.max_panic_pods = 0;
        }
        let mut desired = stable;
        if self.panic_since.is_some() {
            desired = desired.max(panic);
            if desired > self.max_panic_pods {
                self.max_panic_pods = desired;
            } else {
                desired = self.max_panic_pods;
            }
        }
        let delay = c.scale_down_delay.as_secs_f64();
        if delay > 0.0 {
            self.delay.retain(|&(t, _)| t > now - delay);
            self.delay.push_back((now, desired));
            desired = self.delay.iter().map(|&(_, d)| d).max().unwrap_or(desired);
        }
        desired
    }

    /// The reconciler's part: scale to zero only after the grace period of wanting none, then
    /// min-scale and max-scale.
    pub fn bound(&mut self, now: f64, desired: u32) -> u32 {
        let c = &self.config;
        let mut desired = desired;
        if desired == 0 {
            let since = *self.zero_since.get_or_insert(now);
            if now - since < c.scale_to_zero_grace_period.as_secs_f64() {
                desired = 1;
            }
        } else {
            self.zero_since = None;
        }
        desired.clamp(c.min_scale, c.max_scale)
    }
}

impl Policy for Kpa {
    fn interval(&self) -> f64 {
        self.config.tick.as_secs_f64().max(0.001)
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        match self.observe(obs) {
            // No data: no decision, as the autoscaler does.
            None => obs.current,
            Some(o) => {
                let desired = self.scale(obs.now, obs.pods.ready, o);
                self.bound(obs.now, desired)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Vectors from knative/serving `pkg/autoscaler/scaling/autoscaler_test.go` (the tests named
    //! after theirs), plus the panic window, rate limits, scale-down delay and scale-to-zero
    //! grace period in the same style. Targets are concurrency per pod (utilization folded in).
    use super::*;
    use workloads::Duration;

    fn kpa(target: f64) -> Kpa {
        Kpa::new(&KpaConfig {
            min_scale: 0,
            max_scale: 100,
            initial_scale: None,
            target,
            target_utilization: 100.0,
            stable_window: Duration::from_secs(60),
            panic_window_percentage: 10.0,
            panic_threshold_percentage: 200.0,
            max_scale_up_rate: 1000.0,
            max_scale_down_rate: 2.0,
            scale_to_zero_grace_period: Duration::from_secs(30),
            scale_down_delay: Duration::ZERO,
            tick: Duration::from_secs(2),
        })
    }

    fn o(stable: f64, panic: f64) -> Observed {
        Observed { stable, panic }
    }

    #[test]
    fn stable_mode_follows_the_stable_average() {
        let mut k = kpa(10.0);
        assert_eq!(k.scale(0.0, 5, o(50.0, 50.0)), 5);
        assert_eq!(
            k.scale(2.0, 5, o(100.0, 100.0)),
            10,
            "not over 2x: stable mode"
        );
    }

    #[test]
    fn panic_mode_scales_on_the_panic_window_and_never_down() {
        let mut k = kpa(10.0);
        // The panic window wants 20 pods on 5 ready: 400% >= 200%: panic.
        assert_eq!(k.scale(0.0, 5, o(60.0, 200.0)), 20);
        // The burst eases in the panic window, but panic mode never scales down.
        assert_eq!(k.scale(2.0, 20, o(80.0, 50.0)), 20);
        // A stable window after the last over-threshold tick, panic ends.
        assert_eq!(
            k.scale(61.0, 20, o(80.0, 50.0)),
            10,
            "limited by max scale-down rate 2"
        );
        assert_eq!(k.scale(63.0, 10, o(80.0, 50.0)), 8);
    }

    #[test]
    fn scale_down_is_rate_limited() {
        let mut k = kpa(10.0);
        assert_eq!(
            k.scale(0.0, 40, o(10.0, 10.0)),
            20,
            "halves at most per tick"
        );
    }

    #[test]
    fn scale_down_delay_holds_the_highest_recent_recommendation() {
        let mut k = kpa(10.0);
        k.config.scale_down_delay = Duration::from_secs(30);
        assert_eq!(k.scale(0.0, 8, o(80.0, 80.0)), 8);
        assert_eq!(k.scale(10.0, 8, o(40.0, 40.0)), 8);
        assert_eq!(k.scale(31.0, 8, o(40.0, 40.0)), 4);
    }

    #[test]
    fn test_autoscaler_stable_mode_decrease() {
        let mut k = kpa(10.0);
        assert_eq!(k.scale(0.0, 8, o(100.0, 100.0)), 10);
        assert_eq!(k.scale(2.0, 8, o(50.0, 50.0)), 5);
    }

    #[test]
    fn test_autoscaler_stable_mode_no_traffic_scale_to_zero() {
        let mut k = kpa(10.0);
        assert_eq!(k.scale(0.0, 1, o(1.0, 0.0)), 1);
        assert_eq!(k.scale(2.0, 1, o(0.0, 0.0)), 0);
    }

    #[test]
    fn test_autoscaler_panic_mode_double_pod_count() {
        // The panic concurrency takes precedence.
        let mut k = kpa(10.0);
        assert_eq!(k.scale(0.0, 1, o(50.0, 100.0)), 10);
    }

    #[test]
    fn test_autoscaler_panic_mode_exponential_track_and_stablize() {
        let mut k = kpa(1.0);
        assert_eq!(k.scale(0.0, 1, o(6.0, 6.0)), 6);
        assert_eq!(k.scale(1.0, 6, o(36.0, 36.0)), 36);
        assert_eq!(k.scale(2.0, 36, o(216.0, 216.0)), 216);
        assert_eq!(k.scale(3.0, 216, o(1296.0, 1296.0)), 1296);
        assert_eq!(k.scale(4.0, 1296, o(1296.0, 1296.0)), 1296);
    }

    #[test]
    fn scales_to_zero_only_after_the_grace_period() {
        let mut k = kpa(10.0);
        let mut step = |t, ready, obs| {
            let d = k.scale(t, ready, obs);
            k.bound(t, d)
        };
        assert_eq!(step(0.0, 1, o(0.0, 0.0)), 1, "grace period starts");
        assert_eq!(step(28.0, 1, o(0.0, 0.0)), 1);
        assert_eq!(step(30.0, 1, o(0.0, 0.0)), 0);
        // From zero, buffered requests bring it back at once (ready counts as 1).
        assert_eq!(step(40.0, 0, o(0.5, 5.0)), 1);
    }

    #[test]
    fn bounds_apply() {
        let mut k = kpa(1.0);
        k.config.max_scale = 7;
        k.config.min_scale = 2;
        assert_eq!(k.bound(0.0, 100), 7);
        assert_eq!(k.bound(100.0, 0), 2);
    }
}
