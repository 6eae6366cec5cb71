//! report.html's token figures, in reports where some setup has them (an LLM endpoint): a
//! table of every setup's, per setup two charts beside the latency chart (TTFT and ITL per
//! window; tokens and goodput per second), and TTFT p99 of every setup on one chart. A report
//! without token figures shows none of it.

use std::fmt::Write as _;

use scalebench_core::report::{Report, SetupReport};

use super::charts::wants_log;
use super::charts::{BLUE, Chart, GREEN, ORANGE, PURPLE, RED, base, latency_points, points};
use crate::format::ms;
use crate::svg::{LineChart, Series, color, escape};
use crate::tokens::{TOKEN_COLUMNS, token_cells};

/// The per-setup charts' ids and titles.
pub(crate) const CHARTS: [(&str, &str); 2] = [
    ("tokens", "Time to first token and inter-token latency"),
    ("throughput", "Tokens and goodput per second"),
];

/// The token table of every setup in rank order (`-` for a setup without token figures);
/// empty when no setup has any.
pub(crate) fn section(report: &Report) -> String {
    if !report.has_tokens() {
        return String::new();
    }
    let mut setups: Vec<&SetupReport> = report.setups.iter().collect();
    setups.sort_by_key(|s| s.rank);
    let mut t = String::from(
        "<h2>Tokens</h2>\n<p class=\"small\">From the intended send time: TTFT to the first content token, ITL between tokens, TPOT = (end - first token) / (output tokens - 1). Goodput: requests that met every per-request objective (latency, TTFT and TPOT bounds), per second and as a share of those scheduled.</p>\n<div class=\"scroll\"><table class=\"tokens\"><thead><tr><th class=\"l\">setup</th>",
    );
    for h in TOKEN_COLUMNS {
        let _ = write!(t, "<th>{h}</th>");
    }
    t.push_str("</tr></thead><tbody>\n");
    for s in setups {
        let _ = write!(
            t,
            "<tr data-tokens=\"{}\"><td class=\"l\">{}</td>",
            escape(&s.name),
            escape(&s.name)
        );
        for v in token_cells(s.tokens.as_ref()) {
            let _ = write!(t, "<td>{}</td>", escape(&v));
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</tbody></table></div>\n");
    t
}

/// The token charts of one setup, `b` making a chart on the report's time axis from an id and
/// a title; `None` for a setup without token figures.
pub(crate) fn charts(
    report: &Report,
    s: &SetupReport,
    b: impl Fn(&'static str, &'static str) -> LineChart,
) -> Option<Vec<Chart>> {
    s.tokens.as_ref()?;
    let tl = &s.timeline;
    let ttft = report.slo.ttft_ms;
    let values = tl
        .iter()
        .flat_map(|t| [t.ttft_p50_ms, t.ttft_p99_ms, t.itl_p99_ms, t.tpot_p99_ms])
        .flatten();
    let log = wants_log(values.chain(ttft));
    let [(id, title), (rid, rtitle)] = CHARTS;
    let mut latency = b(id, title)
        .y_label(if log { "ms (log scale)" } else { "ms" })
        .y_log(log);
    if let Some(bound) = ttft {
        latency = latency.reference(bound, &format!("TTFT SLO {}", ms(bound)));
    }
    let latency = latency
        .series(
            Series::new("ttft_p50", GREEN, latency_points(tl, |t| t.ttft_p50_ms)).label("TTFT p50"),
        )
        .series(
            Series::new("ttft_p99", RED, latency_points(tl, |t| t.ttft_p99_ms)).label("TTFT p99"),
        )
        .series(
            Series::new("itl_p99", ORANGE, latency_points(tl, |t| t.itl_p99_ms)).label("ITL p99"),
        )
        .series(
            Series::new("tpot_p99", PURPLE, latency_points(tl, |t| t.tpot_p99_ms))
                .label("TPOT p99"),
        );
    let throughput = b(rid, rtitle)
        .y_label("output tokens / s")
        .right_axis("good requests / s")
        .series(Series::new("tokens_per_s", BLUE, points(tl, |t| t.tokens_per_s)).label("tokens/s"))
        .series(
            Series::new("goodput_rps", GREEN, points(tl, |t| t.goodput_rps))
                .label("goodput (right axis)")
                .right(),
        );
    Some(vec![
        Chart { id, chart: latency },
        Chart {
            id: rid,
            chart: throughput,
        },
    ])
}

/// TTFT p99 per window of every setup against the TTFT bound, one colour per setup; `None`
/// when no setup has token figures.
pub(crate) fn overlay(report: &Report, marks: &[(f64, String)]) -> Option<LineChart> {
    if !report.has_tokens() {
        return None;
    }
    let ttft = report.slo.ttft_ms;
    let values = report
        .setups
        .iter()
        .flat_map(|s| s.timeline.iter().filter_map(|t| t.ttft_p99_ms));
    let log = wants_log(values.chain(ttft));
    let mut c = base(report, "cmp-ttft", "TTFT p99 per window, all setups", marks)
        .y_label(if log { "ms (log scale)" } else { "ms" })
        .y_log(log);
    if let Some(bound) = ttft {
        c = c.reference(bound, &format!("TTFT SLO {}", ms(bound)));
    }
    for (i, s) in report.setups.iter().enumerate() {
        let p = latency_points(&s.timeline, |t| t.ttft_p99_ms);
        c = c.series(Series::new(&s.name, color(i), p).setup(&s.name));
    }
    Some(c)
}
