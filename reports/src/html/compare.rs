//! The HTML page of `scalebench compare --html`: the reports, one table per setup with the
//! change against the baseline coloured by direction, cost against p99 for every setup of
//! every report, and per setup the reports' timelines overlaid.

use std::fmt::Write as _;

use scalebench_core::report::{Report, TimelineSample};

use super::charts::{faults, latency_points, points, wants_log};
use super::{page, wrap};
use crate::compare::{Better, Comparison, Verdict, run_line, show, show_delta};
use crate::format::ms;
use crate::svg::{LineChart, Point, Scatter, Series, XFormat, color, escape};

/// The comparison as a self-contained page; `reports` are the compared reports, in the
/// comparison's order (their timelines are charted).
pub fn compare_html(c: &Comparison, reports: &[Report]) -> String {
    let mut b = String::from("<h1>scalebench compare</h1>\n<h2>Reports</h2>\n<ol class=\"runs\">");
    for (i, r) in c.reports.iter().enumerate() {
        let _ = write!(
            b,
            "<li style=\"color:{}\"><span style=\"color:var(--fg)\">{}</span></li>",
            color(i),
            escape(run_line(i, r).split_once("] ").map_or("", |x| x.1))
        );
    }
    b.push_str("</ol>\n<p class=\"small\">Changes are against [1], the baseline; green is better, red worse (lower latency, cost and errors are better; higher SLO attainment is better).</p>\n");
    b.push_str(&scatter(c, reports));
    for s in &c.setups {
        let _ = writeln!(b, "<h2>setup {}</h2>", escape(&s.name));
        b.push_str("<div class=\"scroll\"><table><thead><tr><th class=\"l\">figure</th><th class=\"l\">better</th>");
        for (i, r) in c.reports.iter().enumerate() {
            let _ = write!(b, "<th>[{}] {}</th>", i + 1, escape(&r.label));
            if i > 0 {
                let _ = write!(b, "<th>vs [1]</th>");
            }
        }
        b.push_str("</tr></thead><tbody>\n");
        for (f, row) in c.figures.iter().zip(&s.figures) {
            let better = match f.better {
                Better::Lower => "lower",
                Better::Higher => "higher",
                Better::Neither => "-",
            };
            let _ = write!(
                b,
                "<tr data-figure=\"{}\"><td class=\"l\">{}</td><td class=\"l\">{better}</td>",
                f.figure.name(),
                escape(f.label)
            );
            for (i, cell) in row.cells.iter().enumerate() {
                let v = cell.map_or_else(|| "-".to_owned(), |c| show(f.unit, c.value));
                let _ = write!(b, "<td>{}</td>", escape(&v));
                if i > 0 {
                    let class = match cell.and_then(|c| c.verdict) {
                        Some(Verdict::Better) => "better",
                        Some(Verdict::Worse) => "worse",
                        _ => "",
                    };
                    let d = cell.map(|c| show_delta(f.unit, &c)).unwrap_or_default();
                    let _ = write!(b, "<td class=\"{class}\">{}</td>", escape(&d));
                }
            }
            b.push_str("</tr>\n");
        }
        b.push_str("</tbody></table></div>\n<div class=\"charts overlay\">\n");
        for chart in overlays(c, reports, &s.name) {
            b.push_str(&wrap(&chart));
        }
        b.push_str("</div>\n");
    }
    page("scalebench compare", &b)
}

/// Cost against p99 for every setup of every report, coloured by report; setups meeting their
/// SLO are highlighted.
fn scatter(c: &Comparison, reports: &[Report]) -> String {
    let mut chart = Scatter::new(
        "cmp-cost-p99",
        "Cost against p99, every setup of every report",
    )
    .labels("cost (USD)", "p99 (ms)")
    .height(320.0);
    if let Some(first) = reports.first() {
        chart = chart.reference(
            first.slo.latency_ms,
            &format!("SLO {} ([1])", ms(first.slo.latency_ms)),
        );
    }
    for (i, r) in reports.iter().enumerate() {
        // A setup whose cost nothing measured has no place on the cost axis.
        for (s, cost) in r
            .setups
            .iter()
            .filter_map(|s| s.cost.total_usd.map(|c| (s, c)))
        {
            chart = chart.point(
                Point::new(cost, s.latency_ms.p99)
                    .label(&format!("[{}] {}", i + 1, s.name))
                    .highlight(s.slo.met)
                    .color(color(i)),
            );
        }
    }
    let _ = c;
    format!(
        "<h2>Cost and p99</h2>\n<p class=\"small\">Outlined points met their SLO.</p>\n<div class=\"chart-wrap\">{}</div>\n",
        chart.render()
    )
}

/// Setup `name`'s p99 per window, replicas ready and cumulative cost, one series per report.
fn overlays(c: &Comparison, reports: &[Report], name: &str) -> Vec<LineChart> {
    let end = reports
        .iter()
        .map(|r| r.duration_s.max(r.window_s))
        .fold(1.0, f64::max);
    let found: Vec<(usize, &Report, &scalebench_core::report::SetupReport)> = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.setups.iter().find(|s| s.name == name).map(|s| (i, r, s)))
        .collect();
    let lat = found
        .iter()
        .flat_map(|(_, _, s)| s.timeline.iter().filter_map(|t| t.p99_ms));
    let slo = found.first().map_or(0.0, |(_, r, _)| r.slo.latency_ms);
    let log = wants_log(lat.chain([slo]));
    let chart = |id: &str, title: &str| {
        let mut ch = LineChart::new(id, title)
            .x_range(0.0, end)
            .x_axis("time into the run", XFormat::Duration)
            .attr("data-setup", name)
            .height(200.0);
        for (i, r, s) in &found {
            for (t, label) in faults(s, r.window_s) {
                ch = ch.marker(t, &format!("[{}] {label}", i + 1));
            }
        }
        ch
    };
    let mut p99 = chart("cmp-p99", &format!("{name}: p99 per window"))
        .y_label(if log { "ms (log scale)" } else { "ms" })
        .y_log(log);
    if slo > 0.0 {
        p99 = p99.reference(slo, &format!("SLO {}", ms(slo)));
    }
    let mut ready = chart("cmp-replicas", &format!("{name}: replicas ready")).y_label("replicas");
    let mut cost = chart("cmp-cost", &format!("{name}: cumulative cost")).y_label("USD");
    for (i, _, s) in &found {
        let label = &c.reports[*i].label;
        let series = |f: &dyn Fn(&TimelineSample) -> Option<f64>| {
            Series::new(
                &format!("[{}] {label}", i + 1),
                color(*i),
                points(&s.timeline, f),
            )
            .setup(label)
        };
        let p = latency_points(&s.timeline, |t| t.p99_ms);
        p99 = p99.series(Series::new(&format!("[{}] {label}", i + 1), color(*i), p).setup(label));
        ready = ready.series(series(&|t| t.replicas_ready.map(f64::from)));
        cost = cost.series(series(&|t| t.cost_usd));
    }
    let has = |f: &dyn Fn(&TimelineSample) -> bool| {
        found.iter().any(|(_, _, s)| s.timeline.iter().any(f))
    };
    let mut out = vec![p99];
    if has(&|t| t.replicas_ready.is_some_and(|r| r > 0)) {
        out.push(ready);
    }
    if has(&|t| t.cost_usd.is_some_and(|c| c > 0.0)) {
        out.push(cost);
    }
    out
}
