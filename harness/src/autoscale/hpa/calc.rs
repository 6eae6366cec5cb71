//! The HPA's replica calculator, ported from Kubernetes'
//! `pkg/controller/podautoscaler/replica_calculator.go`: how pods are grouped (deleted and
//! failed pods are ignored, pending pods are set aside, pods without metrics are "missing",
//! unready pods are set aside for resource metrics), and how the usage ratio becomes a replica
//! count (the tolerance, missing pods assumed at the target on scale-down and at zero on
//! scale-up, set-aside pods at zero on scale-up, and no change when that flips the direction).

/// A pod's phase as the API server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not yet running (unscheduled, pulling, starting).
    Pending,
    /// Running.
    Running,
    /// Failed.
    Failed,
}

/// A pod as the replica calculator sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodView {
    /// Its phase.
    pub phase: Phase,
    /// Its Ready condition.
    pub ready: bool,
    /// It has a deletion timestamp.
    pub deleting: bool,
    /// Its metric (per-pod value, or utilisation percent for resource metrics), if reported.
    pub metric: Option<f64>,
}

impl PodView {
    /// A running, ready pod reporting `metric`.
    #[cfg(test)]
    pub fn ready(metric: f64) -> Self {
        PodView {
            phase: Phase::Running,
            ready: true,
            deleting: false,
            metric: Some(metric),
        }
    }
}

/// How a metric's pods are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A resource metric with a Utilization target (CPU-like: unready pods are set aside).
    Resource,
    /// A Pods metric with an AverageValue target.
    Pods,
}

/// Why no replica count could be computed (the controller then leaves the scale alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalcError {
    /// No pod reported a metric ("did not receive metrics for any ready pods").
    NoMetrics,
    /// There are no pods.
    NoPods,
}

/// `GetResourceReplicas` / `calcPlainMetricReplicas`: the replica count for per-pod metrics.
/// `target` is the utilisation percent (resource) or the average value per pod (Pods metric).
pub fn pod_metric_replicas(
    current: u32,
    pods: &[PodView],
    kind: MetricKind,
    target: f64,
    tolerance: f64,
) -> Result<u32, CalcError> {
    if pods.is_empty() {
        return Err(CalcError::NoPods);
    }
    // groupPods
    let mut ready_count = 0u32;
    let mut metrics: Vec<f64> = Vec::new();
    let (mut ignored, mut missing) = (0u32, 0u32);
    for p in pods {
        if p.deleting || p.phase == Phase::Failed {
            continue;
        }
        if p.phase == Phase::Pending {
            ignored += 1;
            continue;
        }
        let Some(m) = p.metric else {
            missing += 1;
            continue;
        };
        if kind == MetricKind::Resource && !p.ready {
            // An unready pod that has never been ready (ours are loading) is set aside.
            ignored += 1;
            continue;
        }
        ready_count += 1;
        metrics.push(m);
    }
    if metrics.is_empty() {
        return Err(CalcError::NoMetrics);
    }
    let ratio = |sum: f64, n: usize| sum / n as f64 / target;
    let usage_ratio = ratio(metrics.iter().sum(), metrics.len());
    let rebalance_ignored = ignored > 0 && usage_ratio > 1.0;
    if !rebalance_ignored && missing == 0 {
        if (1.0 - usage_ratio).abs() <= tolerance {
            return Ok(current);
        }
        return Ok(ceil(usage_ratio * ready_count as f64));
    }
    let mut sum: f64 = metrics.iter().sum();
    let mut n = metrics.len();
    if missing > 0 {
        // On a scale-down, missing pods are taken to be at the target; on a scale-up, at zero.
        // (At a ratio of exactly 1 the resource path leaves them out, the Pods path counts them
        // at zero, as upstream does.)
        if usage_ratio < 1.0 {
            sum += target * missing as f64;
            n += missing as usize;
        } else if usage_ratio > 1.0 || kind == MetricKind::Pods {
            n += missing as usize;
        }
    }
    if rebalance_ignored {
        // On a scale-up, set-aside pods are taken to be at zero.
        n += ignored as usize;
    }
    let new_ratio = ratio(sum, n);
    if (1.0 - new_ratio).abs() <= tolerance
        || (usage_ratio < 1.0 && new_ratio > 1.0)
        || (usage_ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(current);
    }
    let new_replicas = ceil(new_ratio * n as f64);
    if (new_ratio < 1.0 && new_replicas > current) || (new_ratio > 1.0 && new_replicas < current) {
        return Ok(current);
    }
    Ok(new_replicas)
}

/// `GetExternalPerPodMetricReplicas`: an External metric with an AverageValue target, against
/// the pods that exist (`status_replicas`).
pub fn external_per_pod_replicas(
    status_replicas: u32,
    total: f64,
    target: f64,
    tolerance: f64,
) -> u32 {
    let usage_ratio = total / (target * status_replicas as f64);
    if status_replicas == 0 || (1.0 - usage_ratio).abs() > tolerance {
        ceil(total / target)
    } else {
        status_replicas
    }
}

fn ceil(x: f64) -> u32 {
    if x.is_finite() && x > 0.0 {
        x.ceil().min(u32::MAX as f64) as u32
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    //! Vectors from Kubernetes' `pkg/controller/podautoscaler/replica_calculator_test.go`
    //! (test names as there). Resource levels there are milli-CPU against 1000m requests, so a
    //! level of 300 is 30% utilisation.
    use super::*;

    const TOL: f64 = 0.1;

    fn cpu(levels: &[f64]) -> Vec<PodView> {
        levels.iter().map(|&l| PodView::ready(l / 10.0)).collect()
    }

    fn with_ready(mut pods: Vec<PodView>, ready: &[bool]) -> Vec<PodView> {
        for (p, &r) in pods.iter_mut().zip(ready) {
            p.ready = r;
        }
        pods
    }

    #[test]
    fn test_replica_calc_scale_up() {
        let pods = cpu(&[300.0, 500.0, 700.0]);
        assert_eq!(
            pod_metric_replicas(3, &pods, MetricKind::Resource, 30.0, TOL),
            Ok(5)
        );
    }

    #[test]
    fn test_replica_calc_scale_up_unready_less_scale() {
        let pods = with_ready(cpu(&[300.0, 500.0, 700.0]), &[false, true, true]);
        assert_eq!(
            pod_metric_replicas(3, &pods, MetricKind::Resource, 30.0, TOL),
            Ok(4)
        );
    }

    #[test]
    fn test_replica_calc_scale_up_unready_no_scale() {
        let pods = with_ready(cpu(&[400.0, 500.0, 700.0]), &[true, false, false]);
        assert_eq!(
            pod_metric_replicas(3, &pods, MetricKind::Resource, 30.0, TOL),
            Ok(3)
        );
    }

    #[test]
    fn test_replica_calc_scale_up_ignores_failed_pods() {
        let mut pods = cpu(&[500.0, 700.0]);
        for _ in 0..2 {
            pods.push(PodView {
                phase: Phase::Failed,
                ready: false,
                deleting: false,
                metric: None,
            });
        }
        assert_eq!(
            pod_metric_replicas(2, &pods, MetricKind::Resource, 30.0, TOL),
            Ok(4)
        );
    }

    #[test]
    fn test_replica_calc_scale_up_ignores_deletion_pods() {
        let mut pods = cpu(&[500.0, 700.0]);
        for _ in 0..2 {
            pods.push(PodView {
                phase: Phase::Running,
                ready: false,
                deleting: true,
                metric: None,
            });
        }
        assert_eq!(
            pod_metric_replicas(2, &pods, MetricKind::Resource, 30.0, TOL),
            Ok(4)
        );
    }

    #[test]
    fn test_replica_calc_scale_up_cm() {
        // qps levels 20, 10, 30 against a target of 15 per pod.
        let pods: Vec<_> = [20.0, 10.0, 30.0].map(PodView::ready).to_vec();
        assert_eq!(
            pod_metric_replicas(3, &pods, MetricKind::Pods, 15.0, TOL),
            Ok(4)
        );
    }

    #[test]
    fn test_replica_calc_scale_up_cm_unready_hot_cpu_no_less_scale() {
        // A Pods metric: an unready pod that reports a metric counts like any other.
        let pods = with_ready(
            [50.0, 10.0, 30.0].map(PodView::ready).to_vec(),
            &[true, true, false],
        );
        assert_eq!(
            pod_metric_replicas(3, &pods, MetricKind::Pods, 15.0, TOL),
            Ok(6)
        );
    }

    #[test]
    fn test_replica_calc_scale_down() {
        let pods = cpu(&[100.0, 300.0, 500.0, 250.0, 250.0]);
        assert_eq!(
            pod_metric_replicas(5, &pods, MetricKind::Resource, 50.0, TOL),
            Ok(3)
        );
    }

    #[test]
    fn test_replica_calc_scale_down_cm() {
        let pods: Vec<_> = [12.0; 5].map(PodView::ready).to_vec();
        assert_eq!(
            pod_metric_replicas(5, &pods, MetricKind::Pods, 20.0, TOL),
            Ok(3)
        );
    }

    #[test]
    fn test_replica_calc_scale_down_exclude_unready_pods() {
        let pods = with_ready(
            cpu(&[100.0, 300.0, 500.0, 250.0, 250.0]),
            &[true, true, true, false, false],
        );
        assert_eq!(
            pod_metric_replicas(5, &pods, MetricKind::Resource, 50.0, TOL),
            Ok(2)
        );
    }

    #[test]
    fn test_replica_calc_scale_down_exclude_unscheduled_pods() {
        let mut pods = cpu(&[100.0]);
        for _ in 0..4 {
            pods.push(PodView {
                phase: Phase::Pending,
                ready: false,
                deleting: false,
                metric: None,
            });
        }
        assert_eq!(
            pod_metric_replicas(5, &pods, MetricKind::Resource, 50.0, TOL),
            Ok(1)
        );
    }

    #[test]
    fn test_replica_calc_tolerance() {
        // Levels 1010m, 1030m and 1020m at a 100% target (upstream's requests are 0.9, 1.0 and
        // 1.1 CPU; here all are 1 CPU): about 102%, within the 10% tolerance.
        let pods = cpu(&[1010.0, 1030.0, 1020.0]);
        assert_eq!(
            pod_metric_replicas(3, &pods, MetricKind::Resource, 100.0, TOL),
            Ok(3)
        );
    }

    /// After the TestReplicaCalcMissingMetrics* family: a ratio of exactly 1 with a pod that
    /// reports nothing changes nothing.
    #[test]
    fn missing_metrics_at_the_target_change_nothing() {
        let mut pods = cpu(&[900.0, 1100.0]);
        pods.push(PodView {
            metric: None,
            ..PodView::ready(0.0)
        });
        assert_eq!(
            pod_metric_replicas(2, &pods, MetricKind::Resource, 100.0, TOL),
            Ok(2)
        );
    }

    /// After the TestReplicaCalcMissingMetrics* family: missing pods count as 0 on a scale-up
    /// and as the target on a scale-down.
    #[test]
    fn missing_metrics_damp_both_directions() {
        // 2 pods at 200%, one missing: (2 + 2 + 0) / 3 = 1.33 of target -> ceil(4) = 4.
        let mut pods = cpu(&[2000.0, 2000.0]);
        pods.push(PodView {
            metric: None,
            ..PodView::ready(0.0)
        });
        assert_eq!(
            pod_metric_replicas(3, &pods, MetricKind::Resource, 100.0, TOL),
            Ok(4)
        );
        // Scale-down: 2 pods at 20%, one missing counts as 100%: (0.2+0.2+1)/3 = 0.47 -> 2.
        let mut pods = cpu(&[200.0, 200.0]);
        pods.push(PodView {
            metric: None,
            ..PodView::ready(0.0)
        });
        assert_eq!(
            pod_metric_replicas(3, &pods, MetricKind::Resource, 100.0, TOL),
            Ok(2)
        );
    }

    #[test]
    fn test_replica_calc_per_pod_cm_external() {
        // TestReplicaCalcScaleUpPerPodCMExternal: 8600 over 3 pods at 2150 per pod -> 4.
        assert_eq!(external_per_pod_replicas(3, 8600.0, 2150.0, TOL), 4);
        // TestReplicaCalcScaleDownPerPodCMExternal: 8600 over 5 pods at 2867 per pod -> 3.
        assert_eq!(external_per_pod_replicas(5, 8600.0, 2867.0, TOL), 3);
        // Within tolerance: no change.
        assert_eq!(external_per_pod_replicas(4, 8600.0, 2150.0, TOL), 4);
    }

    #[test]
    fn no_metrics_at_all_is_an_error() {
        let pods = [PodView {
            phase: Phase::Pending,
            ready: false,
            deleting: false,
            metric: None,
        }];
        assert_eq!(
            pod_metric_replicas(1, &pods, MetricKind::Pods, 1.0, TOL),
            Err(CalcError::NoMetrics)
        );
        assert_eq!(
            pod_metric_replicas(1, &[], MetricKind::Pods, 1.0, TOL),
            Err(CalcError::NoPods)
        );
    }
}
