//! `calcPlainMetricReplicas` (Pods metrics) and `GetExternalPerPodMetricReplicas` vectors.

use super::*;

#[test]
fn test_replica_calc_scale_up_cm() {
    // TestReplicaCalcScaleUpCM
    assert_eq!(
        case(3, &[20000, 10000, 30000]).pods_metric(15000),
        (4, 20000)
    );
}

#[test]
fn test_replica_calc_scale_up_cm_external_as_pods_metric() {
    // TestReplicaCalcScaleUpCMExternal (the Go test runs it as a podMetric).
    assert_eq!(case(1, &[8600]).pods_metric(4400), (2, 8600));
}

#[test]
fn test_replica_calc_scale_up_cm_unready_hot_cpu_no_less_scale() {
    // TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale: readiness is not checked for custom
    // metrics, so the unready, hot pod's value counts.
    let c = case(3, &[50000, 10000, 30000]).ready(&[T, T, F]);
    let c = c.start(&[COOL, COOL, HOT]);
    assert_eq!(c.pods_metric(15000), (6, 30000));
}

#[test]
fn test_replica_calc_scale_up_cm_unready_hot_cpu_scale_would_scale_down() {
    // TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown
    let c = case(3, &[50000, 15000, 30000]).ready(&[F, T, F]);
    let c = c.start(&[HOT, COOL, HOT]);
    assert_eq!(c.pods_metric(15000), (7, 31666));
}

#[test]
fn test_replica_calc_per_pod_cm_external() {
    // TestReplicaCalcScaleUpPerPodCMExternal, TestReplicaCalcScaleDownPerPodCMExternal and
    // TestReplicaCalcTolerancePerPodCMExternal: (status replicas, target) -> (replicas, usage).
    assert_eq!(
        calc().external_per_pod_replicas(3, 2150, &[8600]),
        (4, 2867)
    );
    assert_eq!(
        calc().external_per_pod_replicas(5, 2867, &[8600]),
        (3, 1720)
    );
    assert_eq!(
        calc().external_per_pod_replicas(3, 2900, &[8600]),
        (3, 2867)
    );
}

#[test]
fn test_replica_calc_scale_down_cm() {
    // TestReplicaCalcScaleDownCM
    assert_eq!(case(5, &[12000; 5]).pods_metric(20000), (3, 12000));
}

#[test]
fn test_replica_calc_tolerance_cm() {
    // TestReplicaCalcToleranceCM
    assert_eq!(
        case(3, &[20000, 21000, 21000]).pods_metric(20000),
        (3, 20666)
    );
}

#[test]
fn test_plain_metric_replica_calc_missing_metrics_no_change_eq() {
    // TestPlainMetricReplicaCalcMissingMetricsNoChangeEq
    assert_eq!(
        case(5, &[20000, 19000, 21000]).pods_metric(20000),
        (5, 20000)
    );
}
