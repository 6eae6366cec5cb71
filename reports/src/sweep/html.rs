//! `sweep.html`: the sweep as a self-contained page: cost against p99 for every setup of every
//! setting with the Pareto front joined and the cheapest setting that meets the SLO named, then
//! the front as a table.

use std::fmt::Write as _;

use scalebench_core::sweep::{Row, Sweep};

use super::{FRONT_COLUMNS, cheapest_line, describe, front, result_cells, shared_values};
use crate::format::{ms, pct_floor, percentile, usd};
use crate::html::page;
use crate::svg::{Point, Scatter, color, escape};

/// The colour of the points that failed more than the error budget.
const SHED: &str = "#b8b8b8";

/// The whole page for `sweep`.
pub fn sweep_html(sweep: &Sweep) -> String {
    let rows = sweep.rows();
    let names = setup_names(&rows);
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>scalebench sweep: {}</h1>\n<p class=\"small\">seed {} &middot; {} settings of {} &middot; {} distinct simulations &middot; SLO {} &le; {}{}{}</p>\n",
        escape(&sweep.scenario),
        sweep.seed,
        sweep.settings.len(),
        escape(&sweep.keys.join(" x ")),
        sweep.simulations,
        percentile(sweep.slo.percentile),
        escape(&ms(sweep.slo.latency_ms)),
        escape(&crate::table::token_bounds(&sweep.slo, "\u{2264}")),
        if sweep.interrupted {
            " &middot; <strong>interrupted: partial</strong>"
        } else {
            ""
        },
    );
    let _ = writeln!(
        b,
        "<p class=\"cheapest\" data-cheapest=\"{}\">{}</p>",
        sweep
            .cheapest_meeting_slo()
            .map_or_else(String::new, |r| r.simulation.to_string()),
        escape(cheapest_line(sweep).trim_end())
    );

    let cheapest = sweep.cheapest_meeting_slo().map(|r| r.simulation);
    let mut chart = Scatter::new(
        "sweep-cost-p99",
        "Cost against p99, every setup of every setting",
    )
    .labels("cost (USD)", "p99 (ms)")
    .height(420.0)
    .reference(
        sweep.slo.latency_ms,
        &format!("SLO {}", ms(sweep.slo.latency_ms)),
    )
    .connect_highlighted();
    // One point per distinct simulation: settings that share a run share its point.
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        if !seen.insert(r.simulation) {
            continue;
        }
        // A row whose cost nothing measured has no place on the cost axis.
        let Some(cost) = r.setup.cost.total_usd else {
            continue;
        };
        let k = names.iter().position(|n| *n == r.setup.name).unwrap_or(0);
        let mut p = Point::new(cost, r.setup.latency_ms.p99)
            .highlight(r.pareto)
            .color(if r.eligible { color(k) } else { SHED });
        let setting = describe(sweep, &shared_values(&rows, r.simulation));
        p = p.tip(&format!(
            "{}: {setting}: {}, p99 {}",
            r.setup.name,
            usd(cost),
            ms(r.setup.latency_ms.p99)
        ));
        if Some(r.simulation) == cheapest {
            p = p.label(&format!("cheapest meeting the SLO: {}", r.setup.name));
        }
        chart = chart.point(p);
    }
    b.push_str("<p class=\"small\">");
    for (k, n) in names.iter().enumerate() {
        let _ = write!(
            b,
            "<span style=\"display:inline-block;width:10px;height:10px;border-radius:50%;background:{};margin:0 4px 0 12px\"></span>{}",
            color(k),
            escape(n)
        );
    }
    if rows.iter().any(|r| !r.eligible) {
        let _ = write!(
            b,
            "<span style=\"display:inline-block;width:10px;height:10px;border-radius:50%;background:{SHED};margin:0 4px 0 12px\"></span>failed more than the SLO's error budget ({}): left off the front, since p99 counts only answered requests",
            pct_floor(sweep.error_budget())
        );
    }
    b.push_str("</p>\n<p class=\"small\">Each point is one setup under one setting (settings that leave a setup unchanged share its point). Outlined and joined: the Pareto front, where no other point is both cheaper and faster. Hover a point for its setting.</p>\n");
    let _ = writeln!(b, "<div class=\"chart-wrap\">{}</div>", chart.render());

    b.push_str("<h2>Pareto front</h2>\n<table class=\"front\"><thead><tr>");
    for k in &sweep.keys {
        let _ = write!(b, "<th>{}</th>", escape(k));
    }
    for h in FRONT_COLUMNS {
        let _ = write!(b, "<th>{h}</th>");
    }
    b.push_str("</tr></thead><tbody>\n");
    for r in front(&rows) {
        let _ = write!(
            b,
            "<tr data-simulation=\"{}\"{}>",
            r.simulation,
            if Some(r.simulation) == cheapest {
                " class=\"met\""
            } else {
                ""
            }
        );
        for v in shared_values(&rows, r.simulation) {
            let _ = write!(b, "<td>{}</td>", escape(v.as_deref().unwrap_or("*")));
        }
        for cell in result_cells(r) {
            let _ = write!(b, "<td>{}</td>", escape(&cell));
        }
        b.push_str("</tr>\n");
    }
    b.push_str("</tbody></table>\n<p class=\"small\">* = any value: the setup does not depend on that key. Every setting and setup is in sweep.csv.</p>\n");
    page(&format!("scalebench sweep: {}", sweep.scenario), &b)
}

/// The setup names in order of first appearance.
fn setup_names<'a>(rows: &[Row<'a>]) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.setup.name.as_str()) {
            names.push(&r.setup.name);
        }
    }
    names
}
