//! KEDA: a ScaledObject with one trigger, as the KEDA operator and the HPA it creates run it.
//!
//! KEDA owns the 0 <-> 1 edge. Every `pollingInterval` its scale loop asks the scaler whether the
//! trigger is active (metric > `activationThreshold`) and runs `RequestScale` from kedacore/keda
//! `pkg/scaling/executor/scale_scaledobjects.go`: active at 0 replicas -> `scaleFromZeroOrIdle`
//! (minReplicaCount, or 1); active otherwise -> `lastActiveTime = now`; inactive with replicas
//! and minReplicaCount 0 -> `scaleToZeroOrIdle`, which scales straight to 0 once
//! `lastActiveTime + cooldownPeriod` is before now (or, never active, once the creation time plus
//! `initialCooldownPeriod`, default 0, is); inactive below minReplicaCount -> minReplicaCount.
//!
//! Between 1 and N the HPA KEDA creates (`controllers/keda/hpa.go`) decides: one External metric
//! with an AverageValue target of the trigger's target, minReplicas = max(minReplicaCount, 1)
//! (`getHPAMinReplicas`), maxReplicas = maxReplicaCount and the configured behavior. It is the
//! same [`Controller`] as a plain HPA, so all HPA semantics apply (including "spec.replicas 0
//! disables autoscaling", which is what leaves 0 to KEDA).

use scalebench_core::policy::{KedaConfig, KedaTrigger};

use super::hpa::calc::{CalcError, ReplicaCalculator};
use super::hpa::{Controller, milli};
use super::{MetricSample, Observation, Policy};

/// kube-controller-manager's `--horizontal-pod-autoscaler-sync-period` default, in seconds.
pub const HPA_SYNC_PERIOD: f64 = 15.0;
/// kube-controller-manager's `--horizontal-pod-autoscaler-tolerance` default.
pub const HPA_TOLERANCE: f64 = 0.1;
/// KEDA's `defaultInitialCooldownPeriod` (`pkg/scaling/executor/scale_executor.go`), seconds.
pub const INITIAL_COOLDOWN_PERIOD: f64 = 0.0;

/// Slack for "is this loop due": calls land on multiples of [`Policy::interval`].
const DUE_EPS: f64 = 1e-6;

/// KEDA as a [`Policy`].
///
/// [`Policy::interval`] is the greatest common divisor (to the millisecond) of the HPA sync
/// period and the polling interval, so that both loops run on their own schedules: each call
/// runs the HPA sync if one is due, then KEDA's poll if one is due. When both fall on the same
/// instant the HPA goes first, as if its sync landed just before the poll; a count KEDA sets is
/// seen by the HPA at its next sync.
#[derive(Debug, Clone)]
pub struct Keda {
    trigger: KedaTrigger,
    target: f64,
    activation_threshold: f64,
    min_replicas: u32,
    polling_interval: f64,
    cooldown_period: f64,
    interval: f64,
    calc: ReplicaCalculator,
    hpa: Controller,
    created_at: Option<f64>,
    last_active: Option<f64>,
    next_poll: f64,
    next_sync: f64,
}

impl Keda {
    /// A ScaledObject from its settings.
    pub fn new(c: &KedaConfig) -> Self {
        let polling_interval = c.polling_interval.as_secs_f64();
        Keda {
            trigger: c.trigger,
            target: c.target,
            activation_threshold: c.activation_threshold,
            min_replicas: c.min_replicas,
            polling_interval,
            cooldown_period: c.cooldown_period.as_secs_f64(),
            interval: gcd_seconds(HPA_SYNC_PERIOD, polling_interval),
            calc: ReplicaCalculator::new(HPA_TOLERANCE),
            hpa: Controller::new(c.min_replicas.max(1), c.max_replicas, &c.behavior),
            created_at: None,
            last_active: None,
            next_poll: 0.0,
            next_sync: 0.0,
        }
    }

    /// The trigger's metric in one sample: the queue, or requests in service plus queued.
    pub fn trigger_value(&self, s: &MetricSample) -> f64 {
        match self.trigger {
            KedaTrigger::Queue => s.queue,
            KedaTrigger::Concurrency => s.in_flight + s.queue,
        }
    }

    /// `status.lastActiveTime`: the last poll that found the trigger active.
    pub fn last_active(&self) -> Option<f64> {
        self.last_active
    }

    /// The HPA KEDA created.
    pub fn hpa(&self) -> &Controller {
        &self.hpa
    }

    /// One `RequestScale` after a poll: returns the new spec.replicas.
    fn request_scale(&mut self, now: f64, current: u32, sample: Option<&MetricSample>) -> u32 {
        // Without a metric the scaler errs: no fallback is configured, so nothing is scaled.
        let Some(s) = sample else {
            return current;
        };
        let active = self.trigger_value(s) > self.activation_threshold;
        if active {
            // scaleFromZeroOrIdle when at zero; either way lastActiveTime becomes now.
            self.last_active = Some(now);
            return if current == 0 {
                self.min_replicas.max(1)
            } else {
                current
            };
        }
        if current > 0 && self.min_replicas == 0 {
            // scaleToZeroOrIdle: only once the cooldown has passed.
            let cooled = match (self.last_active, self.created_at) {
                (Some(last), _) => last + self.cooldown_period < now,
                (None, Some(created)) => created + INITIAL_COOLDOWN_PERIOD < now,
                (None, None) => true,
            };
            return if cooled { 0 } else { current };
        }
        current.max(self.min_replicas)
    }

    /// The HPA's proposal: `GetExternalPerPodMetricReplicas` on the trigger's metric.
    fn hpa_proposal(&self, obs: &Observation<'_>) -> Result<u32, CalcError> {
        let s = obs.latest().ok_or(CalcError::NoMetrics)?;
        let value = milli(self.trigger_value(s));
        let (replicas, _) =
            self.calc
                .external_per_pod_replicas(obs.pods.total(), milli(self.target), &[value]);
        Ok(replicas)
    }
}

impl Policy for Keda {
    fn interval(&self) -> f64 {
        self.interval
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        let now = obs.now;
        if self.created_at.is_none() {
            self.created_at = Some(now);
            self.next_poll = now;
            self.next_sync = now;
        }
        let mut replicas = obs.current;
        if now + DUE_EPS >= self.next_sync {
            self.next_sync = next_due(self.next_sync, HPA_SYNC_PERIOD, now);
            let proposal = self.hpa_proposal(obs);
            replicas = self.hpa.reconcile(now, replicas, || proposal);
        }
        if now + DUE_EPS >= self.next_poll {
            self.next_poll = next_due(self.next_poll, self.polling_interval, now);
            replicas = self.request_scale(now, replicas, obs.latest());
        }
        replicas
    }
}

/// The first time after `now` on the schedule `due + k * period`.
fn next_due(mut due: f64, period: f64, now: f64) -> f64 {
    if period <= 0.0 {
        return now;
    }
    while due <= now + DUE_EPS {
        due += period;
    }
    due
}

/// The greatest common divisor of two periods, to the millisecond (a zero period is ignored).
fn gcd_seconds(a: f64, b: f64) -> f64 {
    let (mut x, mut y) = ((a * 1000.0).round() as u64, (b * 1000.0).round() as u64);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    if x == 0 { a } else { x as f64 / 1000.0 }
}

#[cfg(test)]
mod tests;
