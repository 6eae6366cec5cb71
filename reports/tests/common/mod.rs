//! A small hand-built report shared by the integration tests, and reading report.json back
//! validated against docs/report.schema.json.
#![allow(dead_code)]

#[path = "../../../tests/common/report_schema.rs"]
mod report_schema;
pub use report_schema::*;

use std::collections::BTreeMap;
use std::path::Path;

use scalebench_core::report::{
    BudgetReport, CapacityCost, ClassReport, ClusterRun, ColdStartReport, Cost, FaultEvent,
    Goodput, Latency, PoolCost, Recovery, RefusalRecord, Report, Requests, SCHEMA, Scaling,
    SetupReport, SloResult, SloSpec, TimelineSample, TokenLatency, TokenReport, UndoRecord,
    WatchErrorRecord,
};
use scalebench_core::run::{ColdStartSample, ColdStarts};
use serde_json::Value;

/// Reads a report.json back (`path` is the file): validates it against
/// docs/report.schema.json, then reads it with [`reports::read_json`].
pub fn read_report(path: &Path) -> Report {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    validate_report(&value, &path.display().to_string());
    reports::read_json(path).unwrap_or_else(|e| panic!("{e}"))
}

fn pools<const N: usize>(entries: [(&str, u32); N]) -> BTreeMap<String, u32> {
    entries.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn sample(t_s: f64, ready: u32, nodes: BTreeMap<String, u32>, cost_usd: f64) -> TimelineSample {
    TimelineSample {
        t_s,
        rps: 200.0 + t_s,
        ok: 195,
        p50_ms: Some(40.5),
        p95_ms: Some(150.0),
        p99_ms: Some(410.25),
        errors: 5,
        replicas_desired: Some(ready + 1),
        replicas_ready: Some(ready),
        pods_pending: Some(1),
        nodes,
        gpus_allocated: Some(ready),
        gpu_util: Some(0.625),
        queue_depth: Some(3),
        cost_usd: Some(cost_usd),
        running: None,
        kv_cache_usage: None,
        faults: if t_s == 2.0 {
            vec!["pod-eviction@2s".to_owned()]
        } else {
            vec![]
        },
        budget_held_back: 0,
        ..TimelineSample::default()
    }
}

fn latency(p50: f64, p95: f64, p99: f64, p999: f64) -> Latency {
    Latency {
        p50,
        p90: p95 * 0.8,
        p95,
        p99,
        p999,
        max: p999 * 1.5,
        mean: p50 * 1.2,
    }
}

fn cost(total_usd: f64, per_1k: f64, gpu_hours: f64, idle: f64, pool: &str, kind: &str) -> Cost {
    let by_pool = [(
        pool.to_owned(),
        PoolCost {
            usd: total_usd,
            gpu_hours,
            capacity_type: kind.to_owned(),
        },
    )];
    let by_capacity_type = [(
        kind.to_owned(),
        CapacityCost {
            usd: total_usd,
            gpu_hours,
        },
    )];
    Cost {
        total_usd: Some(total_usd),
        per_1k_requests_usd: Some(per_1k),
        gpu_hours: Some(gpu_hours),
        by_pool: by_pool.into_iter().collect(),
        by_capacity_type: by_capacity_type.into_iter().collect(),
        idle_fraction: Some(idle),
    }
}

fn requests(ok: u64, failed: u64, rejected: u64, timed_out: u64, not_sent: u64) -> Requests {
    let scheduled = ok + failed + rejected + timed_out + not_sent;
    Requests {
        scheduled,
        sent: scheduled - not_sent,
        ok,
        failed,
        rejected,
        timed_out,
        not_sent,
    }
}

fn recovery(event: &str, at_s: f64, recovery_s: Option<f64>) -> Recovery {
    Recovery {
        event: event.to_owned(),
        at_s,
        recovery_s,
    }
}

/// A cold-start breakdown from (pending, creating, loading) seconds per replica and the
/// replicas that never became ready.
pub fn cold_starts(phases_s: &[(u64, u64, u64)], unfinished: u32) -> ColdStartReport {
    let mut c = ColdStarts::new();
    for &(pending, creating, loading) in phases_s {
        c.push(ColdStartSample {
            pending_ns: pending * 1_000_000_000,
            creating_ns: creating * 1_000_000_000,
            loading_ns: loading * 1_000_000_000,
        });
    }
    c.add_unfinished(unfinished);
    c.report()
}

/// What a real cluster did to a setup, with every part filled in: not synced, two watch errors
/// (one before the run's start) and their relist, a budget's refusal, an undo that failed once.
pub fn cluster_run() -> ClusterRun {
    ClusterRun {
        context: Some("kind-scalebench".to_owned()),
        namespace: "bench".to_owned(),
        deployment: "llm".to_owned(),
        synced: false,
        relists: 1,
        watch_errors: vec![
            WatchErrorRecord {
                t_s: -2.5,
                resource: "nodes".to_owned(),
                kind: "initial-list-failed".to_owned(),
                message: "error trying to connect: connection refused".to_owned(),
            },
            WatchErrorRecord {
                t_s: 125.0,
                resource: "pods".to_owned(),
                kind: "watch-error-410".to_owned(),
                message: "too old resource version: 120 (480)".to_owned(),
            },
        ],
        stale_s: Some(4.5),
        eviction_refusals: vec![RefusalRecord {
            t_s: 420.0,
            pod: "llm-7d9f8-x2k4q".to_owned(),
            message: "Cannot evict pod as it would violate the pod's disruption budget.".to_owned(),
        }],
        api_calls: 14,
        dry_run: false,
        undo: Some(UndoRecord {
            undone: 2,
            failed: vec!["cordon gpu-spot-1: 403 Forbidden".to_owned()],
        }),
    }
}

/// Three setups, best first: a KPA that meets the SLO with one spot interruption, an HPA that
/// misses it, and a fixed fleet that meets it expensively.
pub fn report() -> Report {
    let kpa = SetupReport {
        name: "kpa-panic".to_owned(),
        rank: 1,
        policy: "kpa".to_owned(),
        requests: requests(119_400, 17, 500, 83, 0),
        latency_ms: latency(42.14, 180.0, 420.5, 1234.0),
        slo: SloResult {
            attainment: 0.99527,
            met: true,
            violation_s: 12.0,
            recoveries: vec![recovery("spike@5m", 300.0, Some(38.0))],
        },
        cost: cost(3.4567, 0.001667, 2.88, 0.375, "gpu-spot", "spot"),
        scaling: Scaling {
            max_replicas: Some(8),
            cold_starts: Some(6),
            scale_up_reaction_s: Some(41.5),
            max_nodes: pools([("gpu-spot", 4)]),
            budget: None,
        },
        classes: vec![ClassReport {
            name: "chat".to_owned(),
            requests: requests(119_400, 17, 500, 83, 0),
            latency_ms: latency(42.14, 180.0, 420.5, 1234.0),
        }],
        faults: vec![FaultEvent {
            t_s: 420.0,
            kind: "spot-interruption".to_owned(),
            target: "gpu-spot".to_owned(),
            pods_lost: 2,
            requests_failed: Some(17),
            blocked: 0,
            retried: Some(0),
        }],
        load: None,
        cold_start: Some(cold_starts(
            &[
                (70, 21, 40),
                (72, 21, 41),
                (0, 21, 40),
                (130, 22, 40),
                (71, 21, 45),
                (75, 21, 40),
            ],
            1,
        )),
        cluster: None,
        repeat: None,
        prometheus: None,
        tokens: None,
        timeline: vec![
            sample(1.0, 2, pools([("gpu-spot", 1)]), 0.01),
            sample(2.0, 3, pools([("gpu-spot", 2)]), 0.02),
            sample(3.0, 4, pools([("gpu-spot", 2)]), 0.035),
        ],
    };
    let hpa = SetupReport {
        name: "hpa-default".to_owned(),
        rank: 2,
        policy: "hpa".to_owned(),
        requests: requests(116_000, 1000, 2500, 400, 100),
        latency_ms: latency(48.0, 640.0, 2150.0, 29_990.0),
        slo: SloResult {
            attainment: 0.97129,
            met: false,
            violation_s: 95.5,
            recoveries: vec![
                recovery("spike@5m", 300.0, None),
                recovery("fault", 420.0, Some(0.0)),
            ],
        },
        cost: cost(2.1, 0.000905, 1.75, 0.2, "gpu-spot", "spot"),
        scaling: Scaling {
            max_replicas: Some(5),
            cold_starts: Some(3),
            scale_up_reaction_s: None,
            max_nodes: pools([("gpu-od", 1), ("gpu-spot", 3)]),
            budget: Some(BudgetReport {
                ceiling_usd_per_hour: 12.0,
                limited_s: 95.0,
                first_limited_s: Some(305.0),
                max_held_back: 3,
            }),
        },
        classes: vec![],
        faults: vec![],
        load: None,
        cold_start: Some(cold_starts(&[(0, 21, 40), (65, 21, 40), (66, 20, 40)], 0)),
        cluster: None,
        repeat: None,
        prometheus: None,
        tokens: None,
        timeline: vec![
            sample(1.0, 1, pools([("gpu-od", 1), ("gpu-spot", 1)]), 0.01),
            TimelineSample {
                budget_held_back: 3,
                ..sample(2.0, 1, pools([("gpu-od", 1), ("gpu-spot", 2)]), 0.02)
            },
        ],
    };
    let fixed = SetupReport {
        name: "fixed-10".to_owned(),
        rank: 3,
        policy: "fixed".to_owned(),
        requests: requests(120_000, 0, 0, 0, 0),
        latency_ms: latency(35.0, 90.0, 140.0, 310.0),
        slo: SloResult {
            attainment: 1.0,
            met: true,
            violation_s: 0.0,
            recoveries: vec![],
        },
        cost: cost(9.87, 0.008225, 8.0, 0.8125, "gpu-od", "on-demand"),
        scaling: Scaling {
            max_replicas: Some(10),
            cold_starts: Some(10),
            scale_up_reaction_s: None,
            max_nodes: pools([("gpu-od", 3)]),
            budget: None,
        },
        classes: vec![],
        faults: vec![],
        load: None,
        cold_start: Some(cold_starts(&[(90, 21, 40); 10], 0)),
        cluster: None,
        repeat: None,
        prometheus: None,
        tokens: None,
        timeline: vec![
            sample(1.0, 10, pools([("gpu-od", 3)]), 0.05),
            sample(2.0, 10, pools([("gpu-od", 3)]), 0.1),
        ],
    };
    Report {
        schema: SCHEMA.to_owned(),
        scenario: "spike-demo".to_owned(),
        description: Some("A 3x spike at 5 minutes on a GPU pool.".to_owned()),
        driver: "sim".to_owned(),
        seed: 42,
        duration_s: 600.0,
        interrupted: false,
        window_s: 1.0,
        slo: SloSpec {
            latency_ms: 500.0,
            percentile: 99.0,
            timeout_ms: 30_000.0,
            ttft_ms: None,
            tpot_ms: None,
        },
        setups: vec![kpa, hpa, fixed],
        source: None,
        environment: None,
    }
}

/// The token figures of an LLM endpoint's setup: every percentile known unless `itl` is false
/// (no answer had two tokens: ITL and TPOT `null`).
pub fn tokens(ttft_p99: f64, goodput_share: f64, itl: bool) -> TokenReport {
    let l = |p50: f64, p99: f64| TokenLatency {
        p50,
        p90: (p50 + p99) / 2.0,
        p95: p99 * 0.9,
        p99,
        max: p99 * 1.5,
        mean: p50 * 1.1,
    };
    TokenReport {
        ttft_ms: Some(l(ttft_p99 / 4.0, ttft_p99)),
        itl_ms: itl.then(|| l(21.5, 48.0)),
        tpot_ms: itl.then(|| l(22.0, 41.25)),
        output_tokens: 1_234_567,
        prompt_tokens: itl.then_some(7_654_321),
        output_tokens_per_s: 2057.6,
        goodput: Goodput {
            requests: (goodput_share * 120_000.0) as u64,
            share: goodput_share,
            rps: goodput_share * 200.0,
        },
    }
}

/// The shared report as an LLM run: `kpa-panic` and `fixed-10` have token figures (the fixed
/// fleet's answers were single tokens), `hpa-default` none; the SLO bounds TTFT and TPOT, and
/// the windows carry their token figures (the kpa's second window had no first token).
pub fn llm_report() -> Report {
    let mut r = report();
    r.slo.ttft_ms = Some(500.0);
    r.slo.tpot_ms = Some(50.0);
    r.setups[0].tokens = Some(tokens(412.5, 0.9871, true));
    r.setups[2].tokens = Some(tokens(180.0, 1.0, false));
    for (i, w) in r.setups[0].timeline.iter_mut().enumerate() {
        let t = w.t_s;
        w.ttft_p50_ms = (i != 1).then_some(100.0 + t);
        w.ttft_p99_ms = (i != 1).then_some(400.0 + t);
        w.itl_p99_ms = Some(45.5);
        w.tpot_p99_ms = (i != 1).then_some(40.0);
        w.tokens_per_s = Some(2000.0 + t);
        w.goodput_rps = Some(190.0);
        w.good_share = Some(0.975);
    }
    for w in &mut r.setups[2].timeline {
        w.ttft_p50_ms = Some(120.0);
        w.ttft_p99_ms = Some(180.0);
        w.tokens_per_s = Some(200.0);
        w.goodput_rps = Some(200.0);
        w.good_share = Some(1.0);
    }
    r
}
