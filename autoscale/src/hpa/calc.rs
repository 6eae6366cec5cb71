//! The HPA's replica calculator: how many replicas one metric asks for.
//!
//! A port of kubernetes `pkg/controller/podautoscaler/replica_calculator.go` (the autoscaling/v2
//! controller: `groupPods`, `GetResourceReplicas`, `calcPlainMetricReplicas`,
//! `GetExternalPerPodMetricReplicas` and `Tolerances.isWithin`) and of the two ratio helpers in
//! `pkg/controller/podautoscaler/metrics/utilization.go`. Metric values are kept as the integer
//! milli-units the controller works in (`Quantity.MilliValue()`), so its integer truncations
//! (utilization percent, average usage) happen here too. Times are seconds of scenario time.

use thiserror::Error;

/// The phase of a pod (`status.phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    /// Not yet bound, or its containers are not running yet.
    Pending,
    /// Bound and at least one container running.
    Running,
    /// All containers exited with success.
    Succeeded,
    /// All containers exited, at least one with failure.
    Failed,
}

/// The pod's `Ready` condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadyCondition {
    /// `status == True`.
    pub ready: bool,
    /// `lastTransitionTime`, in seconds.
    pub last_transition: f64,
}

/// One pod's metric as the metrics API returns it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodMetric {
    /// The value in milli-units (for a resource: usage in milli-units of the resource).
    pub value: i64,
    /// When the sample was taken, in seconds.
    pub timestamp: f64,
    /// The window the sample was averaged over, in seconds.
    pub window: f64,
}

/// A pod as the controller's pod lister sees it, with its metric if the metrics API had one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodInfo {
    /// `status.phase`.
    pub phase: PodPhase,
    /// The `Ready` condition, if the pod has one.
    pub ready_condition: Option<ReadyCondition>,
    /// `status.startTime`, if set.
    pub start_time: Option<f64>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// The pod's metric, if the metrics API returned one.
    pub metric: Option<PodMetric>,
    /// The pod's request of the resource in milli-units (only read for utilization targets).
    pub request: i64,
}

/// Which readiness rules `groupPods` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricSource {
    /// A CPU-like resource metric: samples of pods that are unready, still initialising, or whose
    /// sample predates their readiness are set aside (`resource == v1.ResourceCPU`).
    CpuLikeResource,
    /// Any other metric: only pending pods are set aside.
    Plain,
}

/// Why no replica count could be computed (the controller then leaves the scale alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CalcError {
    /// The selector matched no pod.
    #[error("no pods returned by selector while calculating replica count")]
    NoPods,
    /// No pod that counts had a metric.
    #[error("did not receive metrics for targeted pods (pods might be unready)")]
    NoMetrics,
    /// The requests of the pods with metrics sum to zero.
    #[error("no metrics returned matched known pods")]
    NoMatchingRequests,
}

/// A replica count proposed for a utilization target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceProposal {
    /// The proposed replica count.
    pub replicas: u32,
    /// Current utilization in percent of the request (truncated, as the controller reports it).
    pub utilization: i32,
    /// Average raw usage per pod in milli-units.
    pub raw_average: i64,
}

/// The outcome of `groupPods`: indices into the pod slice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodGroups {
    /// Pods whose metric counts as is.
    pub ready_count: usize,
    /// Pending pods and (CPU-like metrics only) pods whose sample is not trusted yet.
    pub unready: Vec<usize>,
    /// Pods without a metric.
    pub missing: Vec<usize>,
    /// Deleted or failed pods: ignored entirely.
    pub ignored: Vec<usize>,
}

/// The controller's replica calculator with its flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicaCalculator {
    /// `--horizontal-pod-autoscaler-tolerance` (both directions).
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` in seconds.
    pub cpu_initialization_period: f64,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` in seconds.
    pub delay_of_initial_readiness_status: f64,
}

impl ReplicaCalculator {
    /// A calculator with the given tolerance and kube-controller-manager's defaults for the
    /// other flags (5 min CPU initialization period, 30 s initial readiness delay).
    pub fn new(tolerance: f64) -> Self {
        ReplicaCalculator {
            tolerance,
            cpu_initialization_period: 300.0,
            delay_of_initial_readiness_status: 30.0,
        }
    }

    /// `Tolerances.isWithin`: true when the ratio is too close to 1 to act on.
    pub fn is_within(&self, usage_ratio: f64) -> bool {
        (1.0 - self.tolerance) <= usage_ratio && usage_ratio <= (1.0 + self.tolerance)
    }

    /// `groupPods`: sorts pods into ready, unready, missing-metric and ignored ones.
    pub fn group_pods(&self, pods: &[PodInfo], source: MetricSource, now: f64) -> PodGroups {
        let mut g = PodGroups::default();
        for (i, pod) in pods.iter().enumerate() {
            if pod.deleting || pod.phase == PodPhase::Failed {
                g.ignored.push(i);
                continue;
            }
            if pod.phase == PodPhase::Pending {
                g.unready.push(i);
                continue;
            }
            let Some(metric) = pod.metric else {
                g.missing.push(i);
                continue;
            };
            if source == MetricSource::CpuLikeResource
                && self.cpu_sample_untrusted(pod, metric, now)
            {
                g.unready.push(i);
                continue;
            }
            g.ready_count += 1;
        }
        g
    }

    /// The CPU branch of `groupPods`.
    fn cpu_sample_untrusted(&self, pod: &PodInfo, metric: PodMetric, now: f64) -> bool {
        let (Some(cond), Some(start)) = (pod.ready_condition, pod.start_time) else {
            return true;
        };
        if start + self.cpu_initialization_period > now {
            // Still initialising: ignore it if unready or if no full metric window has been
            // collected since it last changed readiness.
            !cond.ready || metric.timestamp < cond.last_transition + metric.window
        } else {
            // Ignore it if unready and it has never been ready.
            !cond.ready && start + self.delay_of_initial_readiness_status > cond.last_transition
        }
    }

    /// `GetResourceReplicas`: the replicas for a target utilization (percent of request).
    pub fn resource_replicas(
        &self,
        current: u32,
        target_utilization: i32,
        pods: &[PodInfo],
        now: f64,
    ) -> Result<ResourceProposal, CalcError> {
        if pods.is_empty() {
            return Err(CalcError::NoPods);
        }
        let g = self.group_pods(pods, MetricSource::CpuLikeResource, now);
        let mut metrics = counted_metrics(pods, &g);
        if metrics.is_empty() {
            return Err(CalcError::NoMetrics);
        }
        let (usage_ratio, utilization, raw_average) =
            resource_utilization_ratio(&metrics, pods, target_utilization)?;
        let proposal = |replicas| ResourceProposal {
            replicas,
            utilization,
            raw_average,
        };
        let scale_up_with_unready = !g.unready.is_empty() && usage_ratio > 1.0;
        if !scale_up_with_unready && g.missing.is_empty() {
            if self.is_within(usage_ratio) {
                return Ok(proposal(current));
            }
            return Ok(proposal(ceil_replicas(usage_ratio * g.ready_count as f64)));
        }
        if usage_ratio < 1.0 {
            // Scale-down: missing pods use 100% of their request (or the target, if above 100%).
            let fallback = i64::from(target_utilization.max(100));
            metrics.extend(
                g.missing
                    .iter()
                    .map(|&i| (i, pods[i].request * fallback / 100)),
            );
        } else if usage_ratio > 1.0 {
            metrics.extend(g.missing.iter().map(|&i| (i, 0)));
        }
        if scale_up_with_unready {
            metrics.extend(g.unready.iter().map(|&i| (i, 0)));
        }
        let (new_ratio, _, _) = resource_utilization_ratio(&metrics, pods, target_utilization)?;
        if self.is_within(new_ratio) || direction_flipped(usage_ratio, new_ratio) {
            return Ok(proposal(current));
        }
        let new_replicas = ceil_replicas(new_ratio * metrics.len() as f64);
        if (new_ratio < 1.0 && new_replicas > current)
            || (new_ratio > 1.0 && new_replicas < current)
        {
            return Ok(proposal(current));
        }
        Ok(proposal(new_replicas))
    }

    /// `calcPlainMetricReplicas`: the replicas for an average value per pod (a Pods metric, or a
    /// resource with an AverageValue target when `source` is CPU-like). Returns the proposal and
    /// the current average usage in milli-units.
    pub fn plain_metric_replicas(
        &self,
        current: u32,
        target_usage: i64,
        pods: &[PodInfo],
        source: MetricSource,
        now: f64,
    ) -> Result<(u32, i64), CalcError> {
        if pods.is_empty() {
            return Err(CalcError::NoPods);
        }
        let g = self.group_pods(pods, source, now);
        let mut metrics = counted_metrics(pods, &g);
        if metrics.is_empty() {
            return Err(CalcError::NoMetrics);
        }
        let (usage_ratio, usage) = metric_usage_ratio(&metrics, target_usage);
        let scale_up_with_unready = !g.unready.is_empty() && usage_ratio > 1.0;
        if !scale_up_with_unready && g.missing.is_empty() {
            if self.is_within(usage_ratio) {
                return Ok((current, usage));
            }
            return Ok((ceil_replicas(usage_ratio * g.ready_count as f64), usage));
        }
        if usage_ratio < 1.0 {
            // Scale-down: missing pods use exactly the target.
            metrics.extend(g.missing.iter().map(|&i| (i, target_usage)));
        } else if usage_ratio > 1.0 {
            metrics.extend(g.missing.iter().map(|&i| (i, 0)));
        }
        if scale_up_with_unready {
            metrics.extend(g.unready.iter().map(|&i| (i, 0)));
        }
        let (new_ratio, _) = metric_usage_ratio(&metrics, target_usage);
        if self.is_within(new_ratio) || direction_flipped(usage_ratio, new_ratio) {
            return Ok((current, usage));
        }
        let new_replicas = ceil_replicas(new_ratio * metrics.len() as f64);
        if (new_ratio < 1.0 && new_replicas > current)
            || (new_ratio > 1.0 && new_replicas < current)
        {
            return Ok((current, usage));
        }
        Ok((new_replicas, usage))
    }

    /// `GetExternalPerPodMetricReplicas`: an External metric with an AverageValue target.
    /// `status_replicas` is the scale's `status.replicas`; `values` are the metric's series in
    /// milli-units. Returns the proposal and the usage per replica in milli-units.
    pub fn external_per_pod_replicas(
        &self,
        status_replicas: u32,
        target_per_pod: i64,
        values: &[i64],
    ) -> (u32, i64) {
        let usage = values.iter().fold(0_i64, |acc, &v| acc.saturating_add(v));
        let mut replicas = status_replicas;
        let usage_ratio = usage as f64 / (target_per_pod as f64 * f64::from(status_replicas));
        if !self.is_within(usage_ratio) {
            replicas = ceil_replicas(usage as f64 / target_per_pod as f64);
        }
        let per_replica = (usage as f64 / f64::from(status_replicas)).ceil() as i64;
        (replicas, per_replica)
    }
}

/// The metrics of the pods that count (neither ignored nor unready), as (pod, value).
fn counted_metrics(pods: &[PodInfo], g: &PodGroups) -> Vec<(usize, i64)> {
    pods.iter()
        .enumerate()
        .filter(|(i, _)| !g.ignored.contains(i) && !g.unready.contains(i))
        .filter_map(|(i, p)| p.metric.map(|m| (i, m.value)))
        .collect()
}

/// `metrics.GetResourceUtilizationRatio`: (ratio, utilization percent, raw average).
fn resource_utilization_ratio(
    metrics: &[(usize, i64)],
    pods: &[PodInfo],
    target_utilization: i32,
) -> Result<(f64, i32, i64), CalcError> {
    let metrics_total: i64 = metrics.iter().map(|&(_, v)| v).sum();
    let requests_total: i64 = metrics.iter().map(|&(i, _)| pods[i].request).sum();
    if requests_total == 0 {
        return Err(CalcError::NoMatchingRequests);
    }
    let utilization = (metrics_total * 100 / requests_total) as i32;
    let ratio = f64::from(utilization) / f64::from(target_utilization);
    Ok((ratio, utilization, metrics_total / metrics.len() as i64))
}

/// `metrics.GetMetricUsageRatio`: (ratio, average usage). `metrics` is never empty here.
fn metric_usage_ratio(metrics: &[(usize, i64)], target_usage: i64) -> (f64, i64) {
    let total: i64 = metrics.iter().map(|&(_, v)| v).sum();
    let usage = total / metrics.len().max(1) as i64;
    (usage as f64 / target_usage as f64, usage)
}

/// True when rebalancing flipped the direction of the change.
fn direction_flipped(usage_ratio: f64, new_ratio: f64) -> bool {
    (usage_ratio < 1.0 && new_ratio > 1.0) || (usage_ratio > 1.0 && new_ratio < 1.0)
}

/// `int32(math.Ceil(x))`, capped at the int32 range the API allows.
pub(crate) fn ceil_replicas(x: f64) -> u32 {
    x.ceil().clamp(0.0, f64::from(i32::MAX)) as u32
}

#[cfg(test)]
#[path = "calc_tests/mod.rs"]
mod tests;
