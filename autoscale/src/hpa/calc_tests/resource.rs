//! `GetResourceReplicas` vectors (CPU utilization targets).

use super::*;

#[test]
fn test_replica_calc_scale_up() {
    // TestReplicaCalcScaleUp
    let c = case(3, &[300, 500, 700]).cpu(3);
    assert_eq!(c.resource(30), rp(5, 50, CONTAINERS * 500));
}

#[test]
fn test_replica_calc_scale_up_unready_less_scale() {
    // TestReplicaCalcScaleUpUnreadyLessScale: the unready pod counts as 0% on scale-up.
    let c = case(3, &[300, 500, 700]).ready(&[F, T, T]).cpu(3);
    assert_eq!(c.resource(30), rp(4, 60, CONTAINERS * 600));
}

#[test]
fn test_replica_calc_scale_up_hot_cpu_less_scale() {
    // TestReplicaCalcScaleUpHotCpuLessScale: a pod inside the CPU initialization period whose
    // sample predates a full window since readiness is set aside like an unready one.
    let c = case(3, &[300, 500, 700]).start(&[HOT, COOL, COOL]).cpu(3);
    assert_eq!(c.resource(30), rp(4, 60, CONTAINERS * 600));
}

#[test]
fn test_replica_calc_scale_up_unready_no_scale() {
    // TestReplicaCalcScaleUpUnreadyNoScale
    let c = case(3, &[400, 500, 700]).ready(&[T, F, F]).cpu(3);
    assert_eq!(c.resource(30), rp(3, 40, CONTAINERS * 400));
}

#[test]
fn test_replica_calc_scale_hot_cpu_no_scale() {
    // TestReplicaCalcScaleHotCpuNoScale
    let c = case(3, &[400, 500, 700])
        .ready(&[T, F, F])
        .start(&[COOL, HOT, HOT]);
    assert_eq!(c.cpu(3).resource(30), rp(3, 40, CONTAINERS * 400));
}

#[test]
fn test_replica_calc_scale_up_ignores_failed_pods() {
    // TestReplicaCalcScaleUpIgnoresFailedPods
    let c = case(2, &[500, 700]).ready(&[T, T, F, F]);
    let c = c.phase(&[Running, Running, Failed, Failed]).cpu(4);
    assert_eq!(c.resource(30), rp(4, 60, CONTAINERS * 600));
}

#[test]
fn test_replica_calc_scale_up_ignores_deletion_pods() {
    // TestReplicaCalcScaleUpIgnoresDeletionPods
    let c = case(2, &[500, 700])
        .ready(&[T, T, F, F])
        .phase(&[Running; 4]);
    let c = c.deleting(&[F, F, T, T]).cpu(4);
    assert_eq!(c.resource(30), rp(4, 60, CONTAINERS * 600));
}

#[test]
fn test_replica_calc_scale_down() {
    // TestReplicaCalcScaleDown
    let c = case(5, &[100, 300, 500, 250, 250]).cpu(5);
    assert_eq!(c.resource(50), rp(3, 28, CONTAINERS * 280));
}

#[test]
fn test_replica_calc_scale_down_exclude_unready_pods() {
    // TestReplicaCalcScaleDownExcludeUnreadyPods
    let c = case(5, &[100, 300, 500, 250, 250])
        .ready(&[T, T, T, F, F])
        .cpu(5);
    assert_eq!(c.resource(50), rp(2, 30, CONTAINERS * 300));
}

#[test]
fn test_replica_calc_scale_down_exclude_unscheduled_pods() {
    // TestReplicaCalcScaleDownExcludeUnscheduledPods: pending pods are unready.
    let c = case(5, &[100]).ready(&[T, F, F, F, F]);
    let c = c
        .phase(&[Running, Pending, Pending, Pending, Pending])
        .cpu(5);
    assert_eq!(c.resource(50), rp(1, 10, CONTAINERS * 100));
}

#[test]
fn test_replica_calc_scale_down_ignore_hot_cpu_pods() {
    // TestReplicaCalcScaleDownIgnoreHotCpuPods
    let c = case(5, &[100, 300, 500, 250, 250]).start(&[COOL, COOL, COOL, HOT, HOT]);
    assert_eq!(c.cpu(5).resource(50), rp(2, 30, CONTAINERS * 300));
}

#[test]
fn test_replica_calc_scale_down_ignores_failed_pods() {
    // TestReplicaCalcScaleDownIgnoresFailedPods
    let c = case(5, &[100, 300, 500, 250, 250]).ready(&[T, T, T, T, T, F, F]);
    let c = c.phase(&[Running, Running, Running, Running, Running, Failed, Failed]);
    assert_eq!(c.cpu(7).resource(50), rp(3, 28, CONTAINERS * 280));
}

#[test]
fn test_replica_calc_scale_down_ignores_deletion_pods() {
    // TestReplicaCalcScaleDownIgnoresDeletionPods
    let c = case(5, &[100, 300, 500, 250, 250]).ready(&[T, T, T, T, T, F, F]);
    let c = c.phase(&[Running; 7]).deleting(&[F, F, F, F, F, T, T]);
    assert_eq!(c.cpu(7).resource(50), rp(3, 28, CONTAINERS * 280));
}

#[test]
fn test_replica_calc_tolerance() {
    // TestReplicaCalcTolerance
    let c = case(3, &[1010, 1030, 1020]).requests(&[900, 1000, 1100]);
    assert_eq!(c.resource(100), rp(3, 102, CONTAINERS * 1020));
}

#[test]
fn test_replica_calc_missing_metrics() {
    // TestReplicaCalcMissingMetrics: on a scale-down missing pods count as 100% of request.
    assert_eq!(case(4, &[400, 95]).cpu(4).resource(100), rp(3, 24, 495));
}

#[test]
fn test_replica_calc_missing_metrics_no_change() {
    // TestReplicaCalcMissingMetricsNoChangeEq / ...NoChangeGt / ...NoChangeLt
    for (level, utilization) in [(1000, 100), (1900, 190), (600, 60)] {
        let got = case(2, &[level]).cpu(2).resource(100);
        assert_eq!(got, rp(2, utilization, CONTAINERS * level), "{level}");
    }
}

#[test]
fn test_replica_calc_missing_metrics_unready_change() {
    // TestReplicaCalcMissingMetricsUnreadyChange: filling in the missing pod flips direction.
    let c = case(3, &[100, 450]).ready(&[F, T, T]).cpu(3);
    assert_eq!(c.resource(50), rp(3, 45, CONTAINERS * 450));
}

#[test]
fn test_replica_calc_missing_metrics_unready_scale_up() {
    // TestReplicaCalcMissingMetricsUnreadyScaleUp and ...HotCpuScaleUp: missing and unready
    // pods count as 0.
    let c = case(3, &[100, 2000]).ready(&[F, T, T]).cpu(3);
    assert_eq!(c.resource(50), rp(4, 200, CONTAINERS * 2000));
    let c = c.start(&[HOT, COOL, COOL]);
    assert_eq!(c.resource(50), rp(4, 200, CONTAINERS * 2000));
}

#[test]
fn test_replica_calc_missing_metrics_unready_scale_down() {
    // TestReplicaCalcMissingMetricsUnreadyScaleDown
    let c = case(4, &[100, 100, 100]).ready(&[F, T, T, T]).cpu(4);
    assert_eq!(c.resource(50), rp(3, 10, CONTAINERS * 100));
}

#[test]
fn test_replica_calc_missing_metrics_scale_down_target_over_100() {
    // TestReplicaCalcMissingMetricsScaleDownTargetOver100: missing pods use the target.
    let c = case(4, &[200, 100, 100]).ready(&[F, T, T, T]);
    let c = c.requests(&[1000, 1000, 2000, 2000]);
    assert_eq!(c.resource(300), rp(2, 6, CONTAINERS * 100));
}

#[test]
fn test_replica_calc_computed_tolerance_alg_implementation() {
    // TestReplicaCalcComputedToleranceAlgImplementation: 10 pods using 150m of ~300m each.
    let per_pod = 300;
    let c = case(10, &[150; 10])
        .requests(&[100, -100, 10, -10, 2, -2, 1, -1, 0, 0].map(|d| per_pod + d));
    // target = 1/(2*(1-0.1)) + 0.01 -> 56%: just outside the tolerance, scale to ceil(8.84).
    assert_eq!(c.resource(56).replicas, 9);
    // target + 0.004 -> 55%: just inside it, no change.
    assert_eq!(c.resource(55).replicas, 10);
}
