//! The Kubernetes Horizontal Pod Autoscaler (autoscaling/v2), as the controller in
//! kube-controller-manager runs it.
//!
//! [`calc`] ports the replica calculator (one metric -> a proposal), [`behavior`] ports the
//! normalization (stabilization windows, scaling policies, min/max), and [`Controller`] ports the
//! part of `reconcileAutoscaler` in `pkg/controller/podautoscaler/horizontal.go` that joins them.
//! [`Hpa`] turns the simulator's [`Observation`] into the pods and metrics the controller would
//! read. KEDA reuses [`Controller`] for the HPA it creates.
//!
//! Where this differs from a real cluster:
//! - `spec.behavior` is always set (the scenario's defaults are the API server's), so the
//!   controller's legacy path for a nil behavior (`normalizeDesiredReplicas`: scale-up limit
//!   max(2 x current, 4), no periods) is not modelled. The two agree from 4 replicas up; below
//!   that the behavior path allows current + 4 (e.g. 1 -> 5 where the legacy path gives 4).
//! - The pod list is synthesised from [`PodCounts`] and one aggregated sample: every ready pod
//!   reports the same per-pod average, there are no metrics for pods outside the list, and
//!   ready pods are taken to be past the CPU initialization period.
//! - Values become milli-units by rounding (`Quantity.MilliValue()` rounds up, and metrics
//!   adapters differ); the controller's own integer truncations are kept.

pub mod behavior;
pub mod calc;

use scalebench_core::policy::{Behavior, HpaConfig, HpaMetric};

use self::behavior::{History, NormalizationArg, Rules};
use self::calc::{
    CalcError, MetricSource, PodInfo, PodMetric, PodPhase, ReadyCondition, ReplicaCalculator,
};
use super::{Observation, PodCounts, Policy};

/// `--horizontal-pod-autoscaler-downscale-stabilization` default, in seconds.
pub const DOWNSCALE_STABILIZATION: f64 = 300.0;

/// The request given to each pod for the `gpu-util` Resource metric: one GPU, in milli-units.
const GPU_REQUEST_MILLI: i64 = 1000;

/// One HPA object and the controller's memory of it.
#[derive(Debug, Clone)]
pub struct Controller {
    min_replicas: u32,
    max_replicas: u32,
    scale_up: Rules,
    scale_down: Rules,
    history: History,
}

impl Controller {
    /// An HPA with these bounds and `spec.behavior` (defaulted as the API server does).
    pub fn new(min_replicas: u32, max_replicas: u32, behavior: &Behavior) -> Self {
        Controller {
            min_replicas,
            max_replicas,
            scale_up: Rules::scale_up(&behavior.scale_up),
            scale_down: Rules::scale_down(&behavior.scale_down, DOWNSCALE_STABILIZATION),
            history: History::default(),
        }
    }

    /// The controller's memory (recommendations and scale events).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// One `reconcileAutoscaler` pass at `now` for a target whose spec.replicas is `current`;
    /// `proposal` computes the metric's proposal. Returns the new spec.replicas.
    ///
    /// As in the controller: with spec.replicas 0 and minReplicas > 0 autoscaling is disabled;
    /// out-of-range counts are clamped without looking at metrics; when the metric cannot be
    /// computed nothing changes and nothing is recorded.
    pub fn reconcile(
        &mut self,
        now: f64,
        current: u32,
        proposal: impl FnOnce() -> Result<u32, CalcError>,
    ) -> u32 {
        let cur = i64::from(current);
        self.history.record_initial_recommendation(cur, now);
        if current == 0 && self.min_replicas != 0 {
            // "scaling is disabled since the replica count of the target is zero".
            return current;
        }
        let desired = if current > self.max_replicas {
            i64::from(self.max_replicas)
        } else if current < self.min_replicas {
            i64::from(self.min_replicas)
        } else {
            let Ok(metric_desired) = proposal() else {
                return current;
            };
            let args = NormalizationArg {
                scale_up: &self.scale_up,
                scale_down: &self.scale_down,
                min_replicas: i64::from(self.min_replicas),
                max_replicas: i64::from(self.max_replicas),
                current_replicas: cur,
                desired_replicas: i64::from(metric_desired),
            };
            self.history
                .normalize_desired_replicas_with_behaviors(args, now)
        };
        if desired != cur {
            self.history
                .store_scale_event(&self.scale_up, &self.scale_down, cur, desired, now);
        }
        desired.clamp(0, i64::from(u32::MAX)) as u32
    }
}

/// The HPA as a [`Policy`]: called every sync period.
///
/// The metric comes from the newest visible [`MetricSample`](super::MetricSample):
/// - `concurrency`: a Pods metric, AverageValue target; each ready pod reports
///   `in_flight / sample.ready`;
/// - `rps`: a Pods metric, AverageValue target; each ready pod reports `arrival_rps / sample.ready`;
/// - `queue`: an External metric, AverageValue target (`GetExternalPerPodMetricReplicas` with
///   status.replicas = the non-terminating pods);
/// - `gpu-util`: a CPU-like Resource metric, Utilization target; each ready pod reports
///   `gpu_util_pct` of a one-GPU request.
///
/// Pods are built from [`PodCounts`]: ready pods are Running and Ready (long past the CPU
/// initialization period) with the per-pod value; loading pods are Running, not Ready, without a
/// metric; pending pods are Pending; draining pods carry a deletion timestamp.
#[derive(Debug, Clone)]
pub struct Hpa {
    metric: HpaMetric,
    target: f64,
    sync_period: f64,
    calc: ReplicaCalculator,
    controller: Controller,
}

impl Hpa {
    /// An HPA from its settings.
    pub fn new(c: &HpaConfig) -> Self {
        Hpa {
            metric: c.metric,
            target: c.target,
            sync_period: c.sync_period.as_secs_f64(),
            calc: ReplicaCalculator::new(c.tolerance),
            controller: Controller::new(c.min_replicas, c.max_replicas, &c.behavior),
        }
    }

    /// The controller state (for inspection in tests and reports).
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The metric's proposal for this observation.
    fn proposal(&self, obs: &Observation<'_>) -> Result<u32, CalcError> {
        // No sample yet: the metrics API has nothing, so the controller keeps the scale.
        let sample = obs.latest().ok_or(CalcError::NoMetrics)?;
        let per_pod = |v: f64| (sample.ready > 0).then(|| milli(v / f64::from(sample.ready)));
        match self.metric {
            HpaMetric::Concurrency => self.pods_metric(obs, per_pod(sample.in_flight)),
            HpaMetric::Rps => self.pods_metric(obs, per_pod(sample.arrival_rps)),
            HpaMetric::Queue => {
                let status_replicas = obs.pods.total();
                let (replicas, _) = self.calc.external_per_pod_replicas(
                    status_replicas,
                    milli(self.target),
                    &[milli(sample.queue)],
                );
                Ok(replicas)
            }
            HpaMetric::GpuUtil => {
                let value = (sample.ready > 0).then(|| milli(sample.gpu_util_pct / 100.0));
                let pods = pod_list(&obs.pods, value, sample.t, GPU_REQUEST_MILLI);
                let target = self.target.round() as i32;
                let p = self
                    .calc
                    .resource_replicas(obs.current, target, &pods, obs.now)?;
                Ok(p.replicas)
            }
        }
    }

    fn pods_metric(&self, obs: &Observation<'_>, value: Option<i64>) -> Result<u32, CalcError> {
        let t = obs.latest().map_or(obs.now, |s| s.t);
        let pods = pod_list(&obs.pods, value, t, 0);
        let (replicas, _) = self.calc.plain_metric_replicas(
            obs.current,
            milli(self.target),
            &pods,
            MetricSource::Plain,
            obs.now,
        )?;
        Ok(replicas)
    }
}

impl Policy for Hpa {
    fn interval(&self) -> f64 {
        self.sync_period
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        let proposal = self.proposal(obs);
        self.controller.reconcile(obs.now, obs.current, || proposal)
    }
}

/// A value in the milli-units the controller computes in (`Quantity.MilliValue()`, rounded).
pub(crate) fn milli(x: f64) -> i64 {
    (x * 1000.0).round() as i64
}

/// The pods of [`PodCounts`] as the pod lister would list them. Ready pods report `value` (in
/// milli-units) sampled at `sample_t`; `value` None means the metrics API returned nothing.
fn pod_list(pods: &PodCounts, value: Option<i64>, sample_t: f64, request: i64) -> Vec<PodInfo> {
    // Ready pods started and became ready long ago, so the CPU-like rules trust their samples.
    let long_ago = f64::NEG_INFINITY;
    let pod = |phase, ready: Option<bool>, metric, deleting| PodInfo {
        phase,
        ready_condition: ready.map(|ready| ReadyCondition {
            ready,
            last_transition: long_ago,
        }),
        start_time: ready.map(|_| long_ago),
        deleting,
        metric,
        request,
    };
    let metric = value.map(|value| PodMetric {
        value,
        timestamp: sample_t,
        window: 1.0,
    });
    let mut list = Vec::with_capacity((pods.total() + pods.draining) as usize);
    let ready = pod(PodPhase::Running, Some(true), metric, false);
    let loading = pod(PodPhase::Running, Some(false), None, false);
    let pending = pod(PodPhase::Pending, None, None, false);
    let draining = pod(PodPhase::Running, Some(true), None, true);
    list.extend(std::iter::repeat_n(ready, pods.ready as usize));
    list.extend(std::iter::repeat_n(loading, pods.loading as usize));
    list.extend(std::iter::repeat_n(pending, pods.pending as usize));
    list.extend(std::iter::repeat_n(draining, pods.draining as usize));
    list
}

#[cfg(test)]
mod tests;
