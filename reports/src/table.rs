//! The ranked tables printed after a run: a header line, then latency and SLO, then cost and
//! scaling (two tables so each stays readable in a 160-column terminal), then the token figures
//! of an LLM endpoint, injected faults and what budget ceilings held back, when there were
//! any, then the live load engine, a warning for each setup it limited, and one for each setup
//! whose cluster may have skewed it (a run on a real cluster). A figure nothing measured shows
//! as `-`, never as 0.

use scalebench_core::report::{Recovery, Report, Requests, SetupReport, SloSpec};
use tabled::Table;
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::peaker::Priority;
use tabled::settings::{Alignment, Style, Width};

use crate::format::{
    duration, limit_label, limit_value, ms, or_dash, pct_floor, pct1, percentile, secs, sig3, usd,
};

/// The widest a table may get; see [`finish`] for how wider ones shrink.
const MAX_WIDTH: usize = 160;

/// The narrowest the setup column gets before other columns wrap too.
const MIN_SETUP_WIDTH: usize = 16;

/// Renders the report for a terminal: a header line (scenario, driver, seed, duration, SLO), a
/// latency/SLO table (with TTFT p99 and goodput columns when some setup has token figures) and
/// a cost/scaling table of the setups in rank order, the
/// [`token_table`](crate::token_table) when some setup has token figures, the
/// [`fault_table`] when any fault was injected, the [`load_table`] of a live run, the
/// [`generator_warnings`] of the setups its load engine limited and the [`cluster_warnings`]
/// of those a real cluster may have skewed. Ends with a newline.
pub fn ranked_table(report: &Report) -> String {
    let setups = by_rank(report);
    let mut out = header(report);
    out.push_str("\nLatency (from intended send time) and SLO\n");
    out.push_str(&render(latency_table(&setups, report.has_tokens())));
    out.push_str("\nCost and scaling\n");
    out.push_str(&render(cost_table(&setups)));
    if let Some(tokens) = crate::tokens::token_table(report) {
        out.push_str(
            "\nTokens (from intended send time; goodput: requests meeting every SLO bound)\n",
        );
        out.push_str(&tokens);
    }
    if let Some(faults) = fault_table(report) {
        out.push_str("\nInjected faults\n");
        out.push_str(&faults);
    }
    if let Some(budgets) = budget_table(report) {
        out.push_str("\nBudget ceilings\n");
        out.push_str(&budgets);
    }
    if let Some(load) = load_table(report) {
        out.push_str("\nLoad engine (schedule lag: actual - intended send time = pacing + connection wait)\n");
        out.push_str(&load);
    }
    let warnings: String = [generator_warnings(report), cluster_warnings(report)]
        .into_iter()
        .flatten()
        .collect();
    if !warnings.is_empty() {
        out.push('\n');
        out.push_str(&warnings);
    }
    out
}

/// One line per way the load engine, not the target, limited a setup, in rank order:
/// `warning: the load engine, not the target, limited setup 'load': pacing lag p99 12.3 ms >
/// 1 ms bound — add shards`; `None` when it limited none. Ends with a newline.
pub fn generator_warnings(report: &Report) -> Option<String> {
    let mut out = String::new();
    for s in by_rank(report) {
        for line in limit_lines(s) {
            out.push_str(&format!(
                "warning: the load engine, not the target, limited setup '{}': {line}\n",
                s.name
            ));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// One line per setup of a run on a real cluster whose Kubernetes side may have skewed its
/// figures, in rank order: `warning: the cluster may have skewed setup 'hpa': 2 watch errors
/// (first at 2m: pods watch-error-410), 1 relist, figures up to 4.5s stale; ...` (see
/// [`cluster_troubles`](crate::cluster_troubles)); `None` when none was. Ends with a newline.
pub fn cluster_warnings(report: &Report) -> Option<String> {
    let mut out = String::new();
    for s in by_rank(report) {
        let troubles = crate::cluster::troubles(s);
        if !troubles.is_empty() {
            out.push_str(&format!(
                "warning: the cluster may have skewed setup '{}': {}\n",
                s.name,
                troubles.join("; ")
            ));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Each way the load engine limited `setup`: `pacing lag p99 12.3 ms > 1 ms bound — advice`.
pub fn limit_lines(setup: &SetupReport) -> Vec<String> {
    let Some(limited) = setup.generator_limited() else {
        return Vec::new();
    };
    limited
        .reasons
        .iter()
        .map(|r| {
            let mut line = format!(
                "{} {} > {} bound",
                limit_label(&r.reason),
                limit_value(&r.unit, r.value),
                limit_value(&r.unit, r.bound)
            );
            if !r.advice.is_empty() {
                line.push_str(" \u{2014} ");
                line.push_str(&r.advice);
            }
            line
        })
        .collect()
}

/// How the live load engine kept its schedule and how requests ended, per setup, or `None`
/// for a simulated run. Ends with a newline.
pub fn load_table(report: &Report) -> Option<String> {
    let setups: Vec<_> = by_rank(report)
        .into_iter()
        .filter_map(|s| s.load.as_ref().map(|l| (s, l)))
        .collect();
    if setups.is_empty() {
        return None;
    }
    let mut b = Builder::default();
    b.push_record([
        "setup",
        "lag p50",
        "lag p99",
        "lag max",
        "pacing p99",
        "conn wait p99",
        "shards",
        "conns",
        "busy",
        "limited",
        "outcomes",
    ]);
    for (s, l) in setups {
        let outcomes: Vec<String> = l.outcomes.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let limited = match &l.generator_limited {
            Some(g) => g
                .reasons
                .iter()
                .map(|r| r.reason.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            None => "no".to_owned(),
        };
        let mut row = vec![s.name.clone()];
        row.extend(crate::format::load_cells(l));
        row.extend([limited, outcomes.join(" ")]);
        b.push_record(row);
    }
    let mut table = b.build();
    table.modify(Columns::new(1..9), Alignment::right());
    Some(render(finish(table, 0)))
}

/// What the budget ceiling of each setup that has one held back, in rank order, or `None` when
/// no setup has a ceiling. Ends with a newline.
pub fn budget_table(report: &Report) -> Option<String> {
    let setups: Vec<_> = by_rank(report)
        .into_iter()
        .filter_map(|s| s.scaling.budget.map(|b| (s, b)))
        .collect();
    if setups.is_empty() {
        return None;
    }
    let mut b = Builder::default();
    b.push_record(["setup", "ceiling", "held back", "for s", "first at"]);
    for (s, budget) in setups {
        b.push_record([
            s.name.clone(),
            format!("{}/h", usd(budget.ceiling_usd_per_hour)),
            if budget.max_held_back == 0 {
                "-".to_owned()
            } else {
                format!("up to {} repl", budget.max_held_back)
            },
            secs(budget.limited_s),
            budget
                .first_limited_s
                .map_or_else(|| "-".to_owned(), duration),
        ]);
    }
    let mut table = b.build();
    table.modify(Columns::new(1..), Alignment::right());
    Some(render(finish(table, 0)))
}

/// The injected faults of every setup in rank order, or `None` when there were none. Ends with
/// a newline.
pub fn fault_table(report: &Report) -> Option<String> {
    let setups = by_rank(report);
    if setups.iter().all(|s| s.faults.is_empty()) {
        return None;
    }
    let mut b = Builder::default();
    b.push_record(["setup", "at", "kind", "target", "pods lost", "req failed"]);
    for s in setups {
        for f in &s.faults {
            b.push_record([
                s.name.clone(),
                duration(f.t_s),
                f.kind.clone(),
                f.target.clone(),
                f.pods_lost.to_string(),
                f.requests_failed
                    .map_or_else(|| "-".to_string(), |n| n.to_string()),
            ]);
        }
    }
    let mut table = b.build();
    table.modify(Columns::new(4..), Alignment::right());
    Some(render(finish(table, 0)))
}

/// The setups sorted by rank (stable, so ties keep the report's order).
pub(crate) fn by_rank(report: &Report) -> Vec<&SetupReport> {
    let mut setups: Vec<&SetupReport> = report.setups.iter().collect();
    setups.sort_by_key(|s| s.rank);
    setups
}

/// What a run was: `driver sim`, `seed 42`, `duration 10m`, `window 1s`,
/// `SLO p99 <= 500 ms (timeout 30.0 s)` (`SLO p99 <= 2.00 s, TTFT <= 500 ms, TPOT <= 50.0 ms
/// (timeout 30.0 s)` with token bounds); the terminal and report.html join them.
pub(crate) fn run_facts(report: &Report) -> [String; 5] {
    let slo = &report.slo;
    [
        format!("driver {}", report.driver),
        format!("seed {}", report.seed),
        format!("duration {}", duration(report.duration_s)),
        format!("window {}", duration(report.window_s)),
        format!(
            "SLO {} <= {}{} (timeout {})",
            percentile(slo.percentile),
            ms(slo.latency_ms),
            token_bounds(slo, "<="),
            ms(slo.timeout_ms)
        ),
    ]
}

/// `, TTFT <= 500 ms, TPOT <= 50.0 ms` for the SLO's token bounds (`le` the comparison as
/// written); empty without any.
pub(crate) fn token_bounds(slo: &SloSpec, le: &str) -> String {
    [("TTFT", slo.ttft_ms), ("TPOT", slo.tpot_ms)]
        .into_iter()
        .filter_map(|(name, bound)| bound.map(|b| format!(", {name} {le} {}", ms(b))))
        .collect()
}

/// `scenario spike | driver sim | seed 42 | duration 10m | window 1s | SLO p99 <= 500 ms ...`,
/// and the description on its own line when there is one.
fn header(report: &Report) -> String {
    let mut out = format!(
        "scenario {} | {}\n",
        report.scenario,
        run_facts(report).join(" | ")
    );
    if report.interrupted {
        out.push_str("INTERRUPTED: the figures cover the traffic offered until then\n");
    }
    if let Some(description) = &report.description {
        out.push_str(description);
        out.push('\n');
    }
    out
}

/// Rank, setup, policy, latency percentiles, SLO attainment, violation, errors, with `tokens`
/// TTFT p99 and goodput, recoveries.
fn latency_table(setups: &[&SetupReport], tokens: bool) -> Table {
    let mut b = Builder::default();
    let mut head = vec![
        "#", "setup", "policy", "p50", "p95", "p99", "p99.9", "SLO att", "met", "viol s", "errors",
    ];
    if tokens {
        head.extend(["TTFT p99", "goodput"]);
    }
    head.push("recovery");
    b.push_record(head);
    for s in setups {
        let l = &s.latency_ms;
        let mut row = vec![
            s.rank.to_string(),
            s.name.clone(),
            s.policy.clone(),
            ms(l.p50),
            ms(l.p95),
            ms(l.p99),
            ms(l.p999),
            pct_floor(s.slo.attainment),
            if s.slo.met { "yes" } else { "no" }.to_owned(),
            secs(s.slo.violation_s),
            errors(&s.requests),
        ];
        if tokens {
            row.extend(crate::tokens::ranked_cells(s));
        }
        row.push(recoveries(&s.slo.recoveries));
        b.push_record(row);
    }
    let mut table = b.build();
    table.modify(Columns::one(0), Alignment::right());
    table.modify(Columns::new(3..8), Alignment::right());
    table.modify(
        Columns::new(9..if tokens { 13 } else { 11 }),
        Alignment::right(),
    );
    finish(table, 1)
}

/// Rank, setup, cost, its spot part, cost per 1k, GPU-hours, idle share, replicas, cold starts,
/// reaction, most nodes per pool.
fn cost_table(setups: &[&SetupReport]) -> Table {
    let mut b = Builder::default();
    b.push_record([
        "#",
        "setup",
        "cost",
        "on spot",
        "$/1k req",
        "GPU-h",
        "idle",
        "max repl",
        "cold starts",
        "scale-up s",
        "max nodes",
    ]);
    for s in setups {
        let (c, sc) = (&s.cost, &s.scaling);
        let nodes: Vec<String> = sc
            .max_nodes
            .iter()
            .map(|(p, n)| format!("{p}:{n}"))
            .collect();
        b.push_record([
            s.rank.to_string(),
            s.name.clone(),
            or_dash(c.total_usd, usd),
            c.by_capacity_type
                .get("spot")
                .map_or_else(|| "-".to_owned(), |spot| usd(spot.usd)),
            or_dash(c.per_1k_requests_usd, usd),
            or_dash(c.gpu_hours, sig3),
            or_dash(c.idle_fraction, pct1),
            or_dash(sc.max_replicas, |n| n.to_string()),
            or_dash(sc.cold_starts, |n| n.to_string()),
            sc.scale_up_reaction_s.map_or_else(|| "-".to_owned(), secs),
            if nodes.is_empty() {
                "-".to_owned()
            } else {
                nodes.join(" ")
            },
        ]);
    }
    let mut table = b.build();
    table.modify(Columns::one(0), Alignment::right());
    table.modify(Columns::new(2..10), Alignment::right());
    finish(table, 1)
}

/// The shared style: compact borders; a table wider than [`MAX_WIDTH`] wraps its setup column
/// (column `setup_col`) first, down to [`MIN_SETUP_WIDTH`], and then its widest columns.
pub(crate) fn finish(mut table: Table, setup_col: usize) -> Table {
    table.with(Style::psql());
    let excess = table.total_width().saturating_sub(MAX_WIDTH);
    if excess > 0 {
        let setup_width = table
            .get_records()
            .iter()
            .filter_map(|row| row.get(setup_col))
            .flat_map(|cell| cell.as_ref().lines().map(|line| line.chars().count()))
            .max()
            .unwrap_or(0);
        let target = setup_width.saturating_sub(excess).max(MIN_SETUP_WIDTH);
        if target < setup_width {
            table.modify(Columns::one(setup_col), Width::wrap(target));
        }
    }
    if table.total_width() > MAX_WIDTH {
        table.with(Width::wrap(MAX_WIDTH).priority(Priority::max(true)));
    }
    table
}

/// The table as text, without the padding that trails each line, ending with a newline.
pub(crate) fn render(table: Table) -> String {
    table
        .to_string()
        .lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}

/// `failed + rejected + timed_out` and their share of scheduled requests, e.g. `12 (0.40%)`;
/// requests never sent are added as `+N unsent`.
fn errors(r: &Requests) -> String {
    let count = r.failed + r.rejected + r.timed_out;
    let mut out = if count == 0 {
        "0".to_owned()
    } else {
        let share = count as f64 / r.scheduled.max(1) as f64;
        if share < 0.0001 {
            format!("{count} (<0.01%)")
        } else {
            format!("{count} ({:.2}%)", share * 100.0)
        }
    };
    if r.not_sent > 0 {
        out.push_str(&format!(" +{} unsent", r.not_sent));
    }
    out
}

/// One line per transient, e.g. `spike@5m: 42s`, `never` when it had not recovered; `-` when
/// there were none.
fn recoveries(list: &[Recovery]) -> String {
    if list.is_empty() {
        return "-".to_owned();
    }
    let line = |r: &Recovery| {
        let event = if r.event.contains('@') {
            r.event.clone()
        } else {
            format!("{}@{}", r.event, duration(r.at_s))
        };
        let took = r
            .recovery_s
            .map_or_else(|| "never".to_owned(), |s| format!("{}s", secs(s)));
        format!("{event}: {took}")
    };
    list.iter().map(line).collect::<Vec<_>>().join("\n")
}
