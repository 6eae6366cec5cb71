//! The ranked terminal tables: order, figures, width, and a locked snapshot.

mod common;

use reports::{budget_table, fault_table, load_table, ranked_table};
use scalebench_core::report::Recovery;

/// The whole output for the shared report; update deliberately when the layout changes.
const SNAPSHOT: &str = "\
scenario spike-demo | driver sim | seed 42 | duration 10m | window 1s | SLO p99 <= 500 ms (timeout 30.0 s)
A 3x spike at 5 minutes on a GPU pool.

Latency (from intended send time) and SLO
 # | setup       | policy |     p50 |     p95 |    p99 |  p99.9 | SLO att | met | viol s |                   errors | recovery
---+-------------+--------+---------+---------+--------+--------+---------+-----+--------+--------------------------+-----------------
 1 | kpa-panic   | kpa    | 42.1 ms |  180 ms | 420 ms | 1.23 s |  99.52% | yes |     12 |              600 (0.50%) | spike@5m: 38s
 2 | hpa-default | hpa    | 48.0 ms |  640 ms | 2.15 s | 30.0 s |  97.12% | no  |   95.5 | 3900 (3.25%) +100 unsent | spike@5m: never
   |             |        |         |         |        |        |         |     |        |                          | fault@7m: 0s
 3 | fixed-10    | fixed  | 35.0 ms | 90.0 ms | 140 ms | 310 ms | 100.00% | yes |      0 |                        0 | -

Cost and scaling
 # | setup       |  cost | on spot |  $/1k req | GPU-h |  idle | max repl | cold starts | scale-up s | max nodes
---+-------------+-------+---------+-----------+-------+-------+----------+-------------+------------+---------------------
 1 | kpa-panic   | $3.46 |   $3.46 |  $0.00167 |  2.88 | 37.5% |        8 |           6 |       41.5 | gpu-spot:4
 2 | hpa-default | $2.10 |   $2.10 | $0.000905 |  1.75 | 20.0% |        5 |           3 |          - | gpu-od:1 gpu-spot:3
 3 | fixed-10    | $9.87 |       - |  $0.00822 |  8.00 | 81.2% |       10 |          10 |          - | gpu-od:3

Injected faults
 setup     | at | kind              | target   | pods lost | req failed
-----------+----+-------------------+----------+-----------+------------
 kpa-panic | 7m | spot-interruption | gpu-spot |         2 |         17

Budget ceilings
 setup       |  ceiling |    held back | for s | first at
-------------+----------+--------------+-------+----------
 hpa-default | $12.00/h | up to 3 repl |    95 |    5m05s
";

#[test]
fn snapshot() {
    assert_eq!(ranked_table(&common::report()), SNAPSHOT);
}

/// Byte offsets of each name's first occurrence after `from`, in the given order.
fn positions(text: &str, names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .map(|n| text.find(n).unwrap_or(usize::MAX))
        .collect()
}

#[test]
fn setups_in_rank_order_in_both_tables() {
    let text = ranked_table(&common::report());
    let (latency, cost) = text.split_at(text.find("Cost and scaling").unwrap_or(0));
    let names = ["kpa-panic", "hpa-default", "fixed-10"];
    for part in [latency, cost] {
        let at = positions(part, &names);
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "not in rank order: {at:?}\n{part}"
        );
    }
}

#[test]
fn rank_decides_the_order_not_the_vector() {
    let mut report = common::report();
    report.setups.reverse();
    assert_eq!(ranked_table(&report), SNAPSHOT);
}

#[test]
fn header_and_key_figures() {
    let text = ranked_table(&common::report());
    let header = text.lines().next().unwrap_or_default();
    for part in [
        "spike-demo",
        "driver sim",
        "seed 42",
        "duration 10m",
        "SLO p99 <= 500 ms",
    ] {
        assert!(header.contains(part), "{part:?} missing from {header:?}");
    }
    for figure in [
        "42.1 ms",
        "1.23 s",
        "30.0 s",
        "99.52%",
        "97.12%",
        "spike@5m: 38s",
        "spike@5m: never",
        "fault@7m: 0s",
        "600 (0.50%)",
        "3900 (3.25%) +100 unsent",
        "$3.46",
        "$0.00167",
        "37.5%",
        "41.5",
        "spot-interruption",
    ] {
        assert!(text.contains(figure), "{figure:?} missing from\n{text}");
    }
}

#[test]
fn fits_160_columns_with_long_names_and_many_transients() {
    let mut report = common::report();
    for s in &mut report.setups {
        s.name = format!(
            "{}-target=0.7,min=2,max=40,stabilization=300s,warm-pool=2",
            s.name
        );
        s.slo.recoveries = (1..=4)
            .map(|i| Recovery {
                event: format!("burst@{i}0m"),
                at_s: f64::from(i) * 600.0,
                recovery_s: Some(12.5),
            })
            .collect();
    }
    let text = ranked_table(&report);
    for line in text.lines() {
        assert!(
            line.chars().count() <= 160,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(text.contains("burst@40m: 12.5s"), "{text}");
}

#[test]
fn no_faults_no_fault_table() {
    let mut report = common::report();
    for s in &mut report.setups {
        s.faults.clear();
    }
    assert_eq!(fault_table(&report), None);
    assert!(!ranked_table(&report).contains("Injected faults"));
}

#[test]
fn no_budget_no_budget_table() {
    let mut report = common::report();
    for s in &mut report.setups {
        s.scaling.budget = None;
    }
    assert_eq!(budget_table(&report), None);
    assert!(!ranked_table(&report).contains("Budget ceilings"));
}

#[test]
fn no_setups_still_renders_headers() {
    let mut report = common::report();
    report.setups.clear();
    let text = ranked_table(&report);
    assert!(
        text.contains("p99.9") && text.contains("$/1k req"),
        "{text}"
    );
}

#[test]
fn a_live_run_shows_its_schedule_lag_and_outcomes() {
    let mut report = common::report();
    assert_eq!(load_table(&report), None, "a simulated run has none");
    report.setups[0].load = Some(scalebench_core::report::LoadReport {
        schedule_lag_ms: scalebench_core::report::Latency {
            p50: 0.078,
            p99: 0.41,
            max: 3.9,
            ..Default::default()
        },
        pacing_lag_ms: scalebench_core::report::Latency {
            p99: 0.25,
            ..Default::default()
        },
        connection_wait_ms: scalebench_core::report::Latency {
            p99: 0.125,
            ..Default::default()
        },
        outcomes: [("http_200".to_owned(), 1190), ("timeout".to_owned(), 10)]
            .into_iter()
            .collect(),
        shards: Some(2),
        max_connections: Some(48),
        peak_busy: Some(0.375),
        generator_limited: None,
    });
    let text = ranked_table(&report);
    assert!(text.contains("Load engine (schedule lag"), "{text}");
    for figure in [
        "0.0780 ms",
        "0.410 ms",
        "3.90 ms",
        "http_200:1190 timeout:10",
        "pacing p99",
        "conn wait p99",
        "0.250 ms",
        "0.125 ms",
        "37.5%",
    ] {
        assert!(text.contains(figure), "{figure:?} missing from\n{text}");
    }
    assert!(!text.contains("warning:"), "the engine kept up:\n{text}");
    assert_eq!(reports::generator_warnings(&report), None);
}

#[test]
fn a_limited_setup_gets_one_warning_line_per_reason_after_the_tables() {
    use scalebench_core::report::{GeneratorLimited, LimitReason, LoadReport};
    let mut report = common::report();
    let reason = |reason: &str, value, bound, unit: &str, advice: &str| LimitReason {
        reason: reason.into(),
        value,
        bound,
        unit: unit.into(),
        advice: advice.into(),
    };
    let name = report.setups[1].name.clone();
    report.setups[1].load = Some(LoadReport {
        schedule_lag_ms: Default::default(),
        pacing_lag_ms: Default::default(),
        connection_wait_ms: Default::default(),
        outcomes: Default::default(),
        shards: Some(1),
        max_connections: None,
        peak_busy: None,
        generator_limited: Some(GeneratorLimited {
            reasons: vec![
                reason("pacing_lag", 12.34, 1.0, "ms", "raise --shards"),
                reason("not_sent", 40.0, 0.0, "count", "raise --max-in-flight"),
            ],
        }),
    });
    let text = ranked_table(&report);
    let expected = [
        format!(
            "warning: the load engine, not the target, limited setup '{name}': pacing lag p99 12.3 ms > 1 ms bound \u{2014} raise --shards\n"
        ),
        format!(
            "warning: the load engine, not the target, limited setup '{name}': requests not sent 40 > 0 bound \u{2014} raise --max-in-flight\n"
        ),
    ];
    for line in &expected {
        assert!(
            text.contains(line.as_str()),
            "{line:?} missing from\n{text}"
        );
    }
    let load = text.find("Load engine").unwrap_or(usize::MAX);
    let warning = text.find("warning:").unwrap_or(0);
    assert!(warning > load, "the warnings follow the tables:\n{text}");
    assert!(
        text.contains("pacing_lag not_sent"),
        "the limited column:\n{text}"
    );
}

#[test]
fn unknown_cost_and_scaling_show_as_a_dash_not_zero() {
    let mut report = common::report();
    let s = &mut report.setups[0];
    s.cost = scalebench_core::report::Cost::default();
    s.scaling.max_replicas = None;
    s.scaling.cold_starts = None;
    let name = s.name.clone();
    let text = ranked_table(&report);
    let cost_table = &text[text.find("Cost and scaling").unwrap_or(0)..];
    let row = cost_table
        .lines()
        .find(|l| l.contains(&name))
        .unwrap_or_else(|| panic!("no row for {name} in\n{text}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // #, setup, cost, on spot, $/1k, GPU-h, idle, max repl, cold starts
    assert_eq!(cells[2..9], ["-"; 7], "{row}");
}

#[test]
fn a_setup_the_cluster_may_have_skewed_gets_one_warning_line_after_the_tables() {
    let mut report = common::report();
    let name = report.setups[1].name.clone();
    report.setups[1].cluster = Some(common::cluster_run());
    let text = ranked_table(&report);
    let expected = format!(
        "warning: the cluster may have skewed setup '{name}': the watchers had not listed everything when the load started; 2 watch errors (first at -2.5s: nodes initial-list-failed), 1 relist, figures up to 4.5s stale; 1 eviction refused by a PodDisruptionBudget (first at 7m: llm-7d9f8-x2k4q); 1 taint or cordon not undone (cordon gpu-spot-1: 403 Forbidden): put back with `scalebench cluster undo JOURNAL`\n"
    );
    assert!(text.ends_with(&format!("\n\n{expected}")), "{text}");
    assert_eq!(text.matches("warning:").count(), 1, "one line per setup");
    assert_eq!(reports::cluster_warnings(&report), Some(expected));
    // Each trouble alone is enough for the line, and names only itself.
    let mut lone = |change: fn(&mut scalebench_core::report::ClusterRun)| {
        let mut c = common::cluster_run();
        c.synced = true;
        c.watch_errors.clear();
        c.eviction_refusals.clear();
        c.undo = None;
        change(&mut c);
        report.setups[1].cluster = Some(c);
        reports::cluster_troubles(&report.setups[1])
    };
    assert_eq!(
        lone(|c| c.synced = false),
        ["the watchers had not listed everything when the load started"]
    );
    let two_failed = lone(|c| {
        c.undo = Some(scalebench_core::report::UndoRecord {
            undone: 0,
            failed: vec!["a: 403".to_owned(), "b: 403".to_owned()],
        });
    });
    assert_eq!(
        two_failed,
        [
            "2 taints or cordons not undone (first: a: 403): put back with `scalebench cluster undo JOURNAL`"
        ]
    );
    // Relists, a stale stretch, API calls and a dry run alone are no trouble; nor is an undo
    // that put everything back.
    let clean = lone(|c| {
        c.dry_run = true;
        c.undo = Some(scalebench_core::report::UndoRecord {
            undone: 4,
            failed: vec![],
        });
    });
    assert_eq!(clean, Vec::<String>::new());
    let mut report = report.clone();
    report.setups[1].cluster = Some({
        let mut c = common::cluster_run();
        (c.synced, c.watch_errors, c.eviction_refusals, c.undo) = (true, vec![], vec![], None);
        c
    });
    assert_eq!(reports::cluster_warnings(&report), None);
    assert!(!ranked_table(&report).contains("warning:"));
    // Without the section (every driver but the cluster's): nothing.
    assert_eq!(reports::cluster_warnings(&common::report()), None);
}
