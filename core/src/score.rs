//! The score: cost against tail latency for every setup of a run, ranked.
//!
//! Setups that meet the SLO come first, cheapest per 1k answered requests first; setups that miss
//! it follow, best attainment first. A setup meets the SLO when its attainment reaches the
//! percentile and, where `[slo]` bounds them, its TTFT and TPOT at that percentile are within
//! their bounds (at least `percentile`% of the measured values within each). Besides the
//! whole-run figures, the score derives the transient figures from the windows: seconds in SLO
//! violation, and for every spike or burst the time until the windowed objective held again.
//!
//! A cost nothing measured (a live run has no bill) is unknown, not free: a setup with an
//! unknown cost is never ranked as cheaper than one with a known cost. Among setups that meet
//! the SLO, those with a known cost per 1k come first, cheapest first, then those with an
//! unknown cost, best attainment first; wherever the total cost breaks a tie, a known total
//! ranks before an unknown one.

use crate::Plan;

use std::cmp::Ordering;

use crate::report::{
    CapacityCost, ClassReport, Cost, GeneratorLimited, LimitReason, LoadReport, PoolCost, Recovery,
    Report, SCHEMA, Scaling, SetupReport, SloResult, SloSpec,
};
use crate::run::{ColdStarts, LoadStats, SetupRun, WindowSlo};

/// Scores every run of a plan into a report, best setup first.
pub fn score(plan: &Plan, driver: &str, runs: &[SetupRun]) -> Report {
    let mut setups: Vec<SetupReport> = runs.iter().map(|r| score_setup(plan, r)).collect();
    rank(&mut setups);
    Report {
        schema: SCHEMA.to_string(),
        scenario: plan.name.clone(),
        description: plan.description.clone(),
        driver: driver.to_string(),
        seed: plan.seed,
        duration_s: runs
            .iter()
            .map(|r| r.duration_s)
            .fold(plan.duration.as_secs_f64(), f64::min),
        interrupted: runs.iter().any(|r| r.interrupted),
        window_s: plan.window.as_secs_f64(),
        slo: SloSpec {
            latency_ms: plan.slo.latency.as_millis_f64(),
            percentile: plan.slo.percentile,
            timeout_ms: plan.traffic.timeout.as_millis_f64(),
            ttft_ms: plan.slo.ttft.map(crate::Duration::as_millis_f64),
            tpot_ms: plan.slo.tpot.map(crate::Duration::as_millis_f64),
        },
        setups,
        source: None,
        environment: None,
    }
}

/// Orders setups best first and numbers their ranks: those meeting the SLO first, by cost per
/// 1k ok requests (an unknown cost after every known one, then by attainment); the others by
/// attainment; ties by total cost (unknown last), then by name.
pub fn rank(setups: &mut [SetupReport]) {
    setups.sort_by(|a, b| {
        b.slo
            .met
            .cmp(&a.slo.met)
            .then_with(|| {
                if a.slo.met {
                    known_first(a.cost.per_1k_requests_usd, b.cost.per_1k_requests_usd)
                        .then_with(|| b.slo.attainment.total_cmp(&a.slo.attainment))
                } else {
                    b.slo.attainment.total_cmp(&a.slo.attainment)
                }
            })
            .then_with(|| known_first(a.cost.total_usd, b.cost.total_usd))
            .then_with(|| a.name.cmp(&b.name))
    });
    for (i, s) in setups.iter_mut().enumerate() {
        s.rank = i as u32 + 1;
    }
}

/// Orders costs lowest first, an unknown cost after every known one (it may be anything, so it
/// is not cheaper); two unknown costs are equal.
pub fn known_first(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The live load engine's figures and limits, for the report.
fn load_report(l: &LoadStats) -> LoadReport {
    let reasons: Vec<LimitReason> = l
        .limits
        .iter()
        .map(|g| LimitReason {
            reason: g.kind.name().to_string(),
            value: g.value,
            bound: g.bound,
            unit: g.kind.unit().to_string(),
            advice: g.advice.clone(),
        })
        .collect();
    LoadReport {
        schedule_lag_ms: l.schedule_lag.summary(),
        pacing_lag_ms: l.pacing_lag.summary(),
        connection_wait_ms: l.connection_wait.summary(),
        outcomes: l.outcomes.clone(),
        shards: l.shards,
        max_connections: l.max_connections,
        peak_busy: l.peak_busy,
        generator_limited: (!reasons.is_empty()).then_some(GeneratorLimited { reasons }),
    }
}

fn score_setup(plan: &Plan, run: &SetupRun) -> SetupReport {
    let requests = run.requests();
    let attainment = if requests.scheduled == 0 {
        1.0
    } else {
        run.within_slo() as f64 / requests.scheduled as f64
    };
    let percentile = plan.slo.percentile;
    let ends: Vec<f64> = run.timeline.iter().map(|s| s.t_s).collect();
    let violation_s = windows(&ends)
        .zip(&run.window_slo)
        .filter(|(_, w)| w.violated(percentile))
        .map(|((start, end), _)| end - start)
        .fold(0.0, |a, b| a + b);
    // Spikes, bursts and faults: recovery is measured from each.
    let mut transients: Vec<(String, f64)> = plan
        .transients()
        .into_iter()
        .map(|(name, at)| (name, at.as_secs_f64()))
        .chain(run.faults.iter().map(|f| {
            let at = crate::Duration::from_secs_f64(f.t_s);
            (format!("{}@{at}", f.kind), f.t_s)
        }))
        .filter(|(_, at)| *at < run.duration_s)
        .collect();
    transients.sort_by(|a, b| a.1.total_cmp(&b.1));
    let recoveries = transients
        .iter()
        .enumerate()
        .map(|(i, (name, at))| {
            let next = transients
                .iter()
                .skip(i + 1)
                .map(|(_, t)| *t)
                .filter(|t| t > at)
                .fold(f64::INFINITY, f64::min);
            Recovery {
                event: name.clone(),
                at_s: *at,
                recovery_s: recovery(&ends, &run.window_slo, percentile, *at, next),
            }
        })
        .collect();
    let pools = run.pools.as_ref();
    let total_usd = run.cost_usd();
    let gpu_seconds: Option<f64> = pools.map(|p| p.values().map(|p| p.gpu_seconds).sum());
    let mut by_capacity_type = std::collections::BTreeMap::<String, CapacityCost>::new();
    for p in pools.into_iter().flat_map(|p| p.values()) {
        let c = by_capacity_type.entry(p.capacity_type.clone()).or_default();
        c.usd += p.usd;
        c.gpu_hours += p.gpu_seconds / 3600.0;
    }
    SetupReport {
        name: run.name.clone(),
        rank: 0,
        policy: run.policy.clone(),
        requests,
        latency_ms: run.latency.summary(),
        slo: SloResult {
            attainment,
            met: attainment >= percentile / 100.0
                && crate::run::tokens::slo_met(run.tokens.as_ref(), &plan.slo),
            violation_s,
            recoveries,
        },
        cost: Cost {
            total_usd,
            per_1k_requests_usd: total_usd.map(|usd| usd * 1000.0 / requests.ok.max(1) as f64),
            gpu_hours: gpu_seconds.map(|s| s / 3600.0),
            by_pool: pools
                .into_iter()
                .flatten()
                .map(|(name, p)| {
                    (
                        name.clone(),
                        PoolCost {
                            usd: p.usd,
                            gpu_hours: p.gpu_seconds / 3600.0,
                            capacity_type: p.capacity_type.clone(),
                        },
                    )
                })
                .collect(),
            by_capacity_type,
            idle_fraction: run.idle_fraction,
        },
        scaling: Scaling {
            max_replicas: run.max_ready,
            cold_starts: run.cold_starts.as_ref().map(ColdStarts::count),
            scale_up_reaction_s: run.scale_up_reaction_s,
            max_nodes: pools
                .into_iter()
                .flatten()
                .filter(|(name, _)| name.as_str() != "replicas")
                .map(|(name, p)| (name.clone(), p.max_units))
                .collect(),
            budget: run.budget,
        },
        classes: run
            .classes
            .iter()
            .map(|c| ClassReport {
                name: c.name.clone(),
                requests: c.requests,
                latency_ms: c.latency.summary(),
            })
            .collect(),
        faults: run.faults.clone(),
        load: run.load.as_ref().map(load_report),
        timeline: run.timeline.clone(),
        cold_start: run.cold_starts.as_ref().map(ColdStarts::report),
        cluster: run.cluster.clone(),
        repeat: None,
        prometheus: run.prometheus.clone(),
        tokens: run
            .tokens
            .as_ref()
            .map(|t| t.report(requests.scheduled, run.duration_s)),
    }
}

/// `(start, end)` of each window from the windows' end times.
fn windows(ends: &[f64]) -> impl Iterator<Item = (f64, f64)> + '_ {
    ends.iter().scan(0.0, |start, &end| {
        let w = (*start, end);
        *start = end;
        Some(w)
    })
}

/// Seconds from a transient at `at` until the objective holds again: 0 when no window from the
/// transient until the next one (`next`) violated it, `None` when it never held again.
fn recovery(ends: &[f64], slo: &[WindowSlo], percentile: f64, at: f64, next: f64) -> Option<f64> {
    let mut violated = false;
    for ((start, end), w) in windows(ends).zip(slo) {
        if end <= at {
            continue;
        }
        if w.violated(percentile) {
            violated = true;
        } else if violated && w.finished > 0 {
            return Some((start - at).max(0.0));
        }
        if !violated && start >= next {
            break;
        }
    }
    if violated { None } else { Some(0.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(finished: u64, within: u64) -> WindowSlo {
        WindowSlo {
            finished,
            within,
            stuck: false,
        }
    }

    #[test]
    fn recovery_counts_until_the_first_healthy_window_after_a_violation() {
        let ends = [10.0, 20.0, 30.0, 40.0, 50.0];
        let slo = [w(100, 100), w(100, 50), w(0, 0), w(100, 99), w(100, 100)];
        // Spike at 12 s: window 10-20 violates, 20-30 finished nothing (not stuck: not healthy
        // either, since nothing finished), 30-40 meets p99 exactly.
        assert_eq!(recovery(&ends, &slo, 99.0, 12.0, f64::INFINITY), Some(18.0));
    }

    #[test]
    fn no_violation_is_zero_and_no_recovery_is_none() {
        let ends = [10.0, 20.0];
        assert_eq!(
            recovery(&ends, &[w(5, 5), w(5, 5)], 99.0, 0.0, f64::INFINITY),
            Some(0.0)
        );
        assert_eq!(
            recovery(&ends, &[w(5, 5), w(5, 1)], 99.0, 0.0, f64::INFINITY),
            None
        );
    }

    #[test]
    fn a_stuck_window_violates() {
        let stuck = WindowSlo {
            finished: 0,
            within: 0,
            stuck: true,
        };
        assert!(stuck.violated(99.0));
        assert!(!w(0, 0).violated(99.0));
    }

    fn setup(name: &str, met: bool, attainment: f64, per_1k: f64) -> SetupReport {
        costed(name, met, attainment, Some(per_1k))
    }

    fn costed(name: &str, met: bool, attainment: f64, per_1k: Option<f64>) -> SetupReport {
        SetupReport {
            name: name.into(),
            rank: 0,
            policy: "fixed".into(),
            requests: Default::default(),
            latency_ms: Default::default(),
            slo: SloResult {
                attainment,
                met,
                violation_s: 0.0,
                recoveries: vec![],
            },
            cost: Cost {
                total_usd: per_1k,
                per_1k_requests_usd: per_1k,
                gpu_hours: per_1k.map(|_| 0.0),
                by_pool: Default::default(),
                by_capacity_type: Default::default(),
                idle_fraction: per_1k.map(|_| 0.0),
            },
            scaling: Scaling {
                max_replicas: Some(0),
                cold_starts: Some(0),
                scale_up_reaction_s: None,
                max_nodes: Default::default(),
                budget: None,
            },
            classes: vec![],
            faults: vec![],
            load: None,
            timeline: vec![],
            cold_start: None,
            cluster: None,
            repeat: None,
            prometheus: None,
            tokens: None,
        }
    }

    #[test]
    fn setups_meeting_the_slo_rank_first_by_cost_then_the_rest_by_attainment() {
        let mut v = vec![
            setup("miss-close", false, 0.985, 0.01),
            setup("meet-dear", true, 0.999, 0.30),
            setup("miss-far", false, 0.50, 0.001),
            setup("meet-cheap", true, 0.991, 0.10),
        ];
        rank(&mut v);
        let order: Vec<_> = v.iter().map(|s| (s.rank, s.name.as_str())).collect();
        assert_eq!(
            order,
            vec![
                (1, "meet-cheap"),
                (2, "meet-dear"),
                (3, "miss-close"),
                (4, "miss-far")
            ]
        );
    }

    #[test]
    fn an_unknown_cost_is_never_cheaper_than_a_known_one() {
        let mut v = vec![
            costed("meet-unknown-best", true, 1.0, None),
            costed("meet-dear", true, 0.99, Some(9.0)),
            costed("miss-unknown", false, 0.5, None),
            costed("miss-known", false, 0.5, Some(1.0)),
            costed("meet-unknown", true, 0.995, None),
        ];
        rank(&mut v);
        let order: Vec<_> = v.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            order,
            [
                "meet-dear",
                "meet-unknown-best",
                "meet-unknown",
                "miss-known",
                "miss-unknown"
            ]
        );
        assert_eq!(known_first(None, None), Ordering::Equal);
        assert_eq!(known_first(Some(1e9), None), Ordering::Less);
    }

    #[test]
    fn the_load_engines_limits_become_reasons_and_none_is_null() {
        use crate::run::{GeneratorLimit, LatencyHist, LimitKind};
        let mut l = LoadStats {
            schedule_lag: LatencyHist::new(1_000_000),
            pacing_lag: LatencyHist::new(1_000_000),
            connection_wait: LatencyHist::new(1_000_000),
            outcomes: Default::default(),
            shards: Some(2),
            max_connections: Some(64),
            peak_busy: Some(0.97),
            limits: vec![],
            started_at: None,
        };
        l.pacing_lag.record(12_300);
        let r = load_report(&l);
        assert_eq!(r.generator_limited, None);
        assert_eq!((r.shards, r.max_connections), (Some(2), Some(64)));
        assert!(
            (r.pacing_lag_ms.p99 - 12.3).abs() < 0.05,
            "{:?}",
            r.pacing_lag_ms
        );
        l.limits = vec![
            GeneratorLimit {
                kind: LimitKind::PacingLag,
                value: 12.3,
                bound: 1.0,
                advice: "add shards".into(),
            },
            GeneratorLimit {
                kind: LimitKind::Saturated,
                value: 0.97,
                bound: 0.9,
                advice: "more cores".into(),
            },
        ];
        let r = load_report(&l);
        let reasons = r.generator_limited.as_ref().map(|g| g.reasons.clone());
        let reasons = reasons.unwrap_or_default();
        assert_eq!(r.limit_count(), 2);
        assert_eq!(
            (reasons[0].reason.as_str(), reasons[0].unit.as_str()),
            ("pacing_lag", "ms")
        );
        assert_eq!(
            (reasons[1].reason.as_str(), reasons[1].unit.as_str()),
            ("saturated", "fraction")
        );
        (l.shards, l.max_connections) = (None, None);
        assert_eq!(
            load_report(&l).shards,
            None,
            "closed-loop users count no shards"
        );
    }
}
