//! Vectors ported from kubernetes `pkg/controller/podautoscaler/replica_calculator_test.go`
//! (autoscaling/v2 version, `makePodMetricLevels` era). Each test names the Go test it ports.
//!
//! The Go fixture (`prepareTestClientSet`) builds pods with two containers that each request the
//! listed quantity and each report the listed level, a `Ready` condition with a zero
//! `lastTransitionTime`, a zero `startTime` unless `podStartTime` is given, and metric samples
//! with a zero timestamp and a one-minute window; the calculator runs with a 0.1 tolerance, a
//! 2 min CPU initialization period and a 10 s initial readiness delay. [`Case`] rebuilds that.

use super::*;

mod plain;
mod resource;

/// `time.Now()` in the Go tests; the zero `time.Time` is 0.
const NOW: f64 = 1.0e9;
/// `hotCPUCreationTime()`: started a minute ago, inside the initialization period.
const HOT: f64 = NOW - 60.0;
/// `coolCPUCreationTime()`: started three minutes ago, past the initialization period.
const COOL: f64 = NOW - 180.0;
/// `numContainersPerPod`.
const CONTAINERS: i64 = 2;

fn calc() -> ReplicaCalculator {
    ReplicaCalculator {
        tolerance: 0.1,
        cpu_initialization_period: 120.0,
        delay_of_initial_readiness_status: 10.0,
    }
}

/// A `replicaCalcTestCase`, built with [`case`] and the setters below.
#[derive(Default, Clone)]
struct Case {
    current: u32,
    ready: Vec<bool>,
    phase: Vec<PodPhase>,
    deleting: Vec<bool>,
    start: Vec<f64>,
    /// Per-container level for resource metrics, per-pod value for custom metrics.
    levels: Vec<i64>,
    /// Per-container request in milli-units.
    requests: Vec<i64>,
}

/// `currentReplicas` and the metric levels; every other field as the Go fixture defaults it.
fn case(current: u32, levels: &[i64]) -> Case {
    Case {
        current,
        levels: levels.to_vec(),
        ..Case::default()
    }
}

impl Case {
    fn ready(self, ready: &[bool]) -> Self {
        Case {
            ready: ready.to_vec(),
            ..self
        }
    }

    fn phase(self, phase: &[PodPhase]) -> Self {
        Case {
            phase: phase.to_vec(),
            ..self
        }
    }

    fn deleting(self, deleting: &[bool]) -> Self {
        Case {
            deleting: deleting.to_vec(),
            ..self
        }
    }

    fn start(self, start: &[f64]) -> Self {
        Case {
            start: start.to_vec(),
            ..self
        }
    }

    fn requests(self, requests: &[i64]) -> Self {
        Case {
            requests: requests.to_vec(),
            ..self
        }
    }

    /// `n` pods requesting `resource.MustParse("1.0")` per container.
    fn cpu(self, n: usize) -> Self {
        self.requests(&vec![1000; n])
    }

    fn pods(&self, per_container: bool) -> Vec<PodInfo> {
        let n = (self.current as usize).max(self.phase.len());
        let k = if per_container { CONTAINERS } else { 1 };
        (0..n)
            .map(|i| PodInfo {
                phase: self.phase.get(i).copied().unwrap_or(PodPhase::Running),
                ready_condition: Some(ReadyCondition {
                    ready: self.ready.get(i).copied().unwrap_or(true),
                    last_transition: 0.0,
                }),
                start_time: Some(self.start.get(i).copied().unwrap_or(0.0)),
                deleting: self.deleting.get(i).copied().unwrap_or(false),
                metric: self.levels.get(i).map(|&l| PodMetric {
                    value: l * k,
                    timestamp: 0.0,
                    window: 60.0,
                }),
                request: self.requests.get(i).map_or(0, |r| r * CONTAINERS),
            })
            .collect()
    }

    /// `GetResourceReplicas` with a CPU utilization target.
    fn resource(&self, target: i32) -> ResourceProposal {
        calc()
            .resource_replicas(self.current, target, &self.pods(true), NOW)
            .expect("resource replicas")
    }

    /// `GetMetricReplicas` (a Pods metric): (replicas, usage).
    fn pods_metric(&self, target: i64) -> (u32, i64) {
        let pods = self.pods(false);
        calc()
            .plain_metric_replicas(self.current, target, &pods, MetricSource::Plain, NOW)
            .expect("pods metric replicas")
    }
}

fn rp(replicas: u32, utilization: i32, raw_average: i64) -> ResourceProposal {
    ResourceProposal {
        replicas,
        utilization,
        raw_average,
    }
}

const T: bool = true;
const F: bool = false;
use PodPhase::{Failed, Pending, Running};

#[test]
fn test_replica_calc_during_rolling_update_with_max_surge() {
    // TestReplicaCalcDuringRollingUpdateWithMaxSurge and ...WithMaxSurgeCM: a surge pod without
    // metrics must not make the count go up while scaling down.
    let c = case(2, &[100, 100]).phase(&[Running; 3]);
    assert_eq!(c.clone().cpu(3).resource(50), rp(2, 10, CONTAINERS * 100));
    let cm = Case {
        levels: vec![10000, 10000],
        ..c
    };
    assert_eq!(cm.pods_metric(17000), (2, 10000));
}

#[test]
fn test_replica_calc_no_metrics_is_an_error() {
    // The "did not receive metrics for targeted pods" branch (e.g. TestReplicaCalcEmptyMetrics).
    let c = case(2, &[100, 100]).ready(&[F, F]);
    let err = calc().resource_replicas(2, 50, &c.pods(true), NOW);
    assert_eq!(err, Err(CalcError::NoMetrics));
    assert_eq!(
        calc().plain_metric_replicas(0, 1, &[], MetricSource::Plain, NOW),
        Err(CalcError::NoPods)
    );
}

#[test]
fn test_group_pods() {
    // TestGroupPods: (case name, phase, Ready condition as (status, transition), start time,
    // metric as (timestamp, window), deleting, CPU-like?, expected group: ready, unready, missing
    // or ignored).
    use MetricSource::{CpuLikeResource as Cpu, Plain};
    use PodPhase::Succeeded;
    type Row = (
        &'static str,
        PodPhase,
        Option<(bool, f64)>,
        Option<f64>,
        Option<(f64, f64)>,
        bool,
        MetricSource,
        &'static str,
    );
    #[rustfmt::skip]
    let rows: [Row; 10] = [
        ("count in a ready pod - memory", Succeeded, None, None, Some((NOW, 60.0)), F, Plain, "ready"),
        ("unready a pod without ready condition - CPU", Succeeded, None, Some(NOW), Some((0.0, 0.0)), F, Cpu, "unready"),
        ("count in a ready pod with fresh metrics during initialization period - CPU", Succeeded, Some((T, NOW - 30.0)), Some(NOW - 60.0), Some((NOW, 30.0)), F, Cpu, "ready"),
        ("unready a ready pod without fresh metrics during initialization period - CPU", Succeeded, Some((T, NOW - 30.0)), Some(NOW - 60.0), Some((NOW, 60.0)), F, Cpu, "unready"),
        ("unready an unready pod during initialization period - CPU", Succeeded, Some((F, NOW - 594.0)), Some(NOW - 600.0), Some((0.0, 0.0)), F, Cpu, "unready"),
        ("count in an unready pod that was ready after initialization period - CPU", Succeeded, Some((F, NOW - 540.0)), Some(NOW - 600.0), Some((0.0, 0.0)), F, Cpu, "ready"),
        ("a missing pod", Succeeded, None, Some(NOW - 180.0), None, F, Cpu, "missing"),
        ("pending pods are unreadied", Pending, None, None, None, F, Cpu, "unready"),
        ("ignore pods with deletion timestamps", Pending, None, None, Some((0.0, 0.0)), T, Cpu, "ignored"),
        ("ignore pods in a failed state", Failed, None, None, Some((0.0, 0.0)), F, Cpu, "ignored"),
    ];
    for (name, phase, cond, start_time, metric, deleting, source, expected) in rows {
        let pod = PodInfo {
            phase,
            ready_condition: cond.map(|(ready, last_transition)| ReadyCondition {
                ready,
                last_transition,
            }),
            start_time,
            deleting,
            metric: metric.map(|(timestamp, window)| PodMetric {
                value: 1,
                timestamp,
                window,
            }),
            request: 0,
        };
        let g = calc().group_pods(&[pod], source, NOW);
        let got = match (
            g.ready_count,
            &g.unready[..],
            &g.missing[..],
            &g.ignored[..],
        ) {
            (1, [], [], []) => "ready",
            (0, [0], [], []) => "unready",
            (0, [], [0], []) => "missing",
            (0, [], [], [0]) => "ignored",
            _ => "inconsistent",
        };
        assert_eq!(got, expected, "{name}");
    }
}
