//! KEDA: a ScaledObject with one trigger. KEDA's operator owns 0 <-> 1 and the HPA it creates
//! owns 1 <-> N, as in KEDA's `pkg/scaling/executor/scale_scaledobjects.go`:
//! - every `polling_interval` the scaler checks whether the trigger is active (its metric above
//!   `activation_threshold`); from zero replicas an active trigger scales to
//!   max(minReplicaCount, 1);
//! - while active, it remembers when it last was; once inactive for `cooldown_period` it scales
//!   straight to minReplicaCount (0), not through the HPA;
//! - between 1 and N the HPA (minReplicas = max(minReplicaCount, 1), an External metric with an
//!   AverageValue target, the setup's `behavior`) scales with HPA semantics every 15 s; with 0
//!   replicas the HPA does nothing.
//!
//! The trigger's metric is the queue length (`queue`) or the requests in service plus waiting
//! (`concurrency`, as the HTTP add-on counts pending requests at its interceptor).

use workloads::Duration;
use workloads::policy::{HpaConfig, HpaMetric, KedaConfig, KedaTrigger};

use super::hpa::{behavior::Normalizer, calc};
use super::{MetricSample, Observation, Policy};

/// The HPA controller's sync period.
const HPA_SYNC_S: f64 = 15.0;

/// A KEDA ScaledObject and the HPA it manages.
#[derive(Debug, Clone)]
pub struct Keda {
    config: KedaConfig,
    hpa: HpaConfig,
    normalizer: Normalizer,
    last_poll: Option<f64>,
    last_hpa: Option<f64>,
    last_active: Option<f64>,
}

impl Keda {
    /// A ScaledObject from its settings.
    pub fn new(c: &KedaConfig) -> Self {
        let hpa = HpaConfig {
            min_replicas: c.min_replicas.max(1),
            max_replicas: c.max_replicas,
            metric: HpaMetric::Queue,
            target: c.target,
            tolerance: 0.1,
            sync_period: Duration::from_secs(HPA_SYNC_S as u64),
            behavior: c.behavior.clone(),
        };
        Keda {
            normalizer: Normalizer::new(&hpa.behavior, hpa.min_replicas, hpa.max_replicas),
            config: c.clone(),
            hpa,
            last_poll: None,
            last_hpa: None,
            // The run starts in a steady state: whatever runs at time zero was active then.
            last_active: Some(0.0),
        }
    }

    fn metric(&self, s: &MetricSample) -> f64 {
        match self.config.trigger {
            KedaTrigger::Queue => s.queue,
            KedaTrigger::Concurrency => s.in_flight + s.queue,
        }
    }

    fn due(last: Option<f64>, now: f64, every: f64) -> bool {
        last.is_none_or(|t| now - t >= every - 1e-9)
    }
}

impl Policy for Keda {
    fn interval(&self) -> f64 {
        self.config
            .polling_interval
            .as_secs_f64()
            .clamp(0.001, HPA_SYNC_S)
    }

    fn decide(&mut self, obs: &Observation<'_>) -> u32 {
        let now = obs.now;
        let mut current = obs.current;
        // No metric visible yet (the scrape delay at the start): nothing to decide on.
        let Some(value) = obs.latest().map(|s| self.metric(s)) else {
            return current;
        };
        // The operator's poll: activation and cooldown.
        if Self::due(
            self.last_poll,
            now,
            self.config.polling_interval.as_secs_f64(),
        ) {
            self.last_poll = Some(now);
            let active = value > self.config.activation_threshold;
            if active {
                self.last_active = Some(now);
                if current == 0 {
                    current = self.config.min_replicas.max(1);
                    self.normalizer.record_scale(now, 0, current);
                    return current;
                }
            } else if current > self.config.min_replicas {
                let cooled = self
                    .last_active
                    .is_none_or(|t| now - t >= self.config.cooldown_period.as_secs_f64());
                if cooled && self.config.min_replicas == 0 {
                    self.normalizer.record_scale(now, current, 0);
                    return 0;
                }
            } else if current < self.config.min_replicas {
                return self.config.min_replicas;
            }
        }
        // The HPA's sync, between 1 and N.
        if current == 0 || !Self::due(self.last_hpa, now, HPA_SYNC_S) {
            return current;
        }
        self.last_hpa = Some(now);
        let c = &self.hpa;
        let desired = if current > c.max_replicas {
            c.max_replicas
        } else if current < c.min_replicas {
            c.min_replicas
        } else {
            let rec =
                calc::external_per_pod_replicas(obs.pods.total(), value, c.target, c.tolerance);
            self.normalizer.normalize(now, current, rec)
        };
        if desired != current {
            self.normalizer.record_scale(now, current, desired);
        }
        desired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::PodCounts;
    use workloads::policy::Behavior;

    fn keda(trigger: KedaTrigger) -> Keda {
        Keda::new(&KedaConfig {
            min_replicas: 0,
            max_replicas: 20,
            trigger,
            target: 5.0,
            activation_threshold: 2.0,
            polling_interval: Duration::from_secs(30),
            cooldown_period: Duration::from_secs(300),
            behavior: Behavior::default(),
        })
    }

    fn at<'a>(
        now: f64,
        current: u32,
        queue: f64,
        buf: &'a mut Vec<MetricSample>,
    ) -> Observation<'a> {
        buf.clear();
        buf.push(MetricSample {
            t: now,
            ready: current,
            in_flight: 0.0,
            queue,
            arrival_rps: 0.0,
            gpu_util_pct: 0.0,
        });
        Observation {
            now,
            current,
            pods: PodCounts {
                pending: 0,
                loading: 0,
                ready: current,
                draining: 0,
            },
            samples: buf,
        }
    }

    #[test]
    fn stays_at_zero_under_the_activation_threshold_and_activates_above_it() {
        let mut k = keda(KedaTrigger::Queue);
        let mut b = Vec::new();
        assert_eq!(k.decide(&at(0.0, 0, 2.0, &mut b)), 0, "2 is not above 2");
        assert_eq!(
            k.decide(&at(15.0, 0, 50.0, &mut b)),
            0,
            "the next poll is at 30 s"
        );
        assert_eq!(k.decide(&at(30.0, 0, 50.0, &mut b)), 1, "activated: 0 -> 1");
    }

    #[test]
    fn the_hpa_takes_it_from_one_to_n() {
        let mut k = keda(KedaTrigger::Queue);
        let mut b = Vec::new();
        assert_eq!(k.decide(&at(0.0, 0, 50.0, &mut b)), 1);
        // 50 waiting at 5 per replica wants 10; the default scale-up allows 1 + 4 = 5.
        assert_eq!(k.decide(&at(15.0, 1, 50.0, &mut b)), 5);
        assert_eq!(k.decide(&at(30.0, 5, 50.0, &mut b)), 10);
    }

    #[test]
    fn cools_down_to_zero_after_the_cooldown_not_before() {
        let mut k = keda(KedaTrigger::Queue);
        let mut b = Vec::new();
        assert_eq!(k.decide(&at(0.0, 0, 10.0, &mut b)), 1);
        // Inactive from 30 s on; the HPA keeps 1 (its minimum).
        let mut t = 30.0;
        while t < 300.0 {
            assert_eq!(k.decide(&at(t, 1, 0.0, &mut b)), 1, "at {t}");
            t += 15.0;
        }
        assert_eq!(
            k.decide(&at(300.0, 1, 0.0, &mut b)),
            0,
            "300 s after the last activity"
        );
    }

    #[test]
    fn no_visible_metric_is_no_reason_to_scale_in() {
        let mut k = keda(KedaTrigger::Queue);
        let o = Observation {
            now: 15.0,
            current: 8,
            pods: PodCounts::default(),
            samples: &[],
        };
        assert_eq!(k.decide(&o), 8);
    }

    #[test]
    fn concurrency_counts_requests_in_service_and_waiting() {
        let k = keda(KedaTrigger::Concurrency);
        let s = MetricSample {
            t: 0.0,
            ready: 2,
            in_flight: 3.0,
            queue: 4.0,
            arrival_rps: 0.0,
            gpu_util_pct: 0.0,
        };
        assert_eq!(k.metric(&s), 7.0);
    }
}
