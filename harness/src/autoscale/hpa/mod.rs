//! The Kubernetes HorizontalPodAutoscaler (autoscaling/v2), to the letter of its controller:
//! every sync period the replica calculator turns the latest visible metrics into a
//! recommendation ([`calc`]), and the behaviors stabilize and rate-limit it ([`behavior`]).
//!
//! How the simulator's metrics map onto HPA metric types:
//! - `concurrency` and `rps`: a Pods metric with an AverageValue target; each ready pod reports
//!   the per-pod average of the latest sample, pods still loading report nothing (missing),
//!   pending pods are set aside;
//! - `queue`: an External metric with an AverageValue target per pod (the queue length against
//!   the pods that exist);
//! - `gpu-util`: a Resource metric with a Utilization target, where loading pods are unready and
//!   set aside as CPU pods are.
//!
//! When no sample is visible yet, or no pod reports a metric, the HPA leaves the scale alone, as
//! the controller does when it cannot get metrics. When spec.replicas is 0 and minReplicas is
//! not, autoscaling is disabled (KEDA relies on this to own 0 <-> 1).

pub mod behavior;
pub mod calc;

use workloads::policy::{HpaConfig, HpaMetric};

use super::{MetricSample, Observation, Policy};
use behavior::Normalizer;
use calc::{MetricKind, Phase, PodView};

/// A Kubernetes HPA.
#[derive(Debug, Clone)]
pub struct Hpa {
    config: HpaConfig,
    normalizer: Normalizer,
}

impl Hpa {
    /// An HPA from its settings.
    pub fn new(c: &HpaConfig) -> Self {
        Hpa {
            config: c.clone(),
            normalizer: Normalizer::new(&c.behavior, c.min_replicas, c.max_replicas),
        }
    }

    /// The replica calculator's recommendation for `sample` with the pods of `obs`, or `None`
    /// when it has no metrics to go on.
    pub fn recommend(&self, obs: &Observation<'_>, sample: &MetricSample) -> Option<u32> {
        let c = &self.config;
        let pods = obs.pods;
        let current = obs.current;
        let per_pod = |total: f64| {
            if sample.ready == 0 {
                None
            } else {
                Some(total / sample.ready as f64)
            }
        };
        let views = |metric: Option<f64>| -> Vec<PodView> {
            let mut v = Vec::with_capacity(pods.total() as usize);
            v.extend((0..pods.ready).map(|_| PodView {
                phase: Phase::Running,
                ready: true,
                deleting: false,
                metric,
            }));
            v.extend((0..pods.loading).map(|_| PodView {
                phase: Phase::Running,
                ready: false,
                deleting: false,
                metric: if c.metric == HpaMetric::GpuUtil {
                    Some(0.0)
                } else {
                    None
                },
            }));
            v.extend((0..pods.pending).map(|_| PodView {
                phase: Phase::Pending,
                ready: false,
                deleting: false,
                metric: None,
            }));
            v
        };
        match c.metric {
            HpaMetric::Concurrency | HpaMetric::Rps => {
                let total = match c.metric {
                    HpaMetric::Concurrency => sample.in_flight,
                    _ => sample.arrival_rps,
                };
                let v = views(per_pod(total));
                calc::pod_metric_replicas(current, &v, MetricKind::Pods, c.target, c.tolerance).ok()
            }
            HpaMetric::GpuUtil => {
                let v = views((sample.ready > 0).then_some(sample.gpu_util_pct));
                calc::pod_metric_replicas(current, &v, MetricKind::Resource, c.target, c.tolerance)
                    .ok()
            }
            HpaMetric::Queue => Some(calc::external_per_pod_replicas(
                pods.total(),
                sample.queue,
                c.target,
                c.tolerance,
            )),
        }
    }

    /// One sync of the controller (`reconcileAutoscaler`): the replica count to set.
    pub fn sync(&mut self, obs: &Observation<'_>) -> u32 {
        let c = &self.config;
        let current = obs.current;
        let desired = if current == 0 && c.min_replicas != 0 {
            // Autoscaling is disabled for this resource.
            return 0;
        } else if current > c.max_replicas {
            c.max_replicas
        } else if current < c.min_replicas {
            c.min_replicas
        } else {
            let Some(recommended) = obs.latest().and_then(|s| self.recommend(obs, s)) else {
                return current;
            };
            self.normalizer.normalize(obs.now, current, recommended)
        };
        if desired != current {
            self.normalizer.record_scale(obs.now, current, desired);
        }
        desired
    }
}

impl Policy for Hpa {
    fn interval(&self) -> f64 {
        self.config.sync_period.as_secs_f64()
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        self.sync(obs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::PodCounts;
    use workloads::Duration;
    use workloads::policy::Behavior;

    fn hpa(metric: HpaMetric, target: f64) -> Hpa {
        Hpa::new(&HpaConfig {
            min_replicas: 1,
            max_replicas: 40,
            metric,
            target,
            tolerance: 0.1,
            sync_period: Duration::from_secs(15),
            behavior: Behavior::default(),
        })
    }

    fn sample(ready: u32, in_flight: f64, queue: f64) -> MetricSample {
        MetricSample {
            t: 0.0,
            ready,
            in_flight,
            queue,
            arrival_rps: 0.0,
            gpu_util_pct: 0.0,
        }
    }

    fn obs(
        now: f64,
        current: u32,
        ready: u32,
        loading: u32,
        s: &[MetricSample],
    ) -> Observation<'_> {
        Observation {
            now,
            current,
            pods: PodCounts {
                pending: 0,
                loading,
                ready,
                draining: 0,
            },
            samples: s,
        }
    }

    #[test]
    fn three_times_the_target_on_two_pods_asks_for_six() {
        let mut h = hpa(HpaMetric::Concurrency, 2.0);
        let s = [sample(2, 12.0, 0.0)];
        assert_eq!(h.decide(&obs(15.0, 2, 2, 0, &s)), 6);
    }

    #[test]
    fn a_big_jump_is_limited_by_the_default_scale_up_policy() {
        let mut h = hpa(HpaMetric::Concurrency, 1.0);
        let s = [sample(2, 60.0, 0.0)];
        // Wants 60, may add max(4 pods, 100%) to 2: 6.
        assert_eq!(h.decide(&obs(15.0, 2, 2, 0, &s)), 6);
        // Next sync: 4 pods still loading report nothing and count as 0 on a scale-up:
        // (30 + 30 + 0 x 4) / 6 = 10 per pod -> 60, limited to max(6 + 4, 12) = 12.
        assert_eq!(h.decide(&obs(30.0, 6, 2, 4, &s)), 12);
    }

    #[test]
    fn no_visible_metrics_keep_the_scale() {
        let mut h = hpa(HpaMetric::Concurrency, 1.0);
        assert_eq!(h.decide(&obs(15.0, 3, 3, 0, &[])), 3);
        let s = [sample(0, 0.0, 0.0)];
        assert_eq!(
            h.decide(&obs(30.0, 3, 0, 3, &s)),
            3,
            "no pod reports a metric"
        );
    }

    #[test]
    fn scale_down_waits_300s_then_follows_the_load() {
        let mut h = hpa(HpaMetric::Concurrency, 2.0);
        let busy = [sample(10, 20.0, 0.0)];
        assert_eq!(h.decide(&obs(0.0, 10, 10, 0, &busy)), 10);
        let idle = [sample(10, 4.0, 0.0)];
        let mut t = 15.0;
        while t < 300.0 {
            assert_eq!(h.decide(&obs(t, 10, 10, 0, &idle)), 10, "at {t}");
            t += 15.0;
        }
        assert_eq!(h.decide(&obs(300.0 + 15.0, 10, 10, 0, &idle)), 2);
    }

    #[test]
    fn queue_is_an_external_average_value_metric() {
        let mut h = hpa(HpaMetric::Queue, 5.0);
        let s = [sample(2, 8.0, 40.0)];
        // 40 waiting / 5 per pod = 8, limited to max(2 + 4, 4) = 6.
        assert_eq!(h.decide(&obs(15.0, 2, 2, 0, &s)), 6);
    }

    #[test]
    fn zero_replicas_with_a_nonzero_minimum_disables_autoscaling() {
        let mut h = hpa(HpaMetric::Concurrency, 1.0);
        let s = [sample(0, 0.0, 50.0)];
        assert_eq!(h.decide(&obs(15.0, 0, 0, 0, &s)), 0);
    }
}
