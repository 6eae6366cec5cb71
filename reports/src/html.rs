//! `report.html`: one self-contained page per report (inline CSS, inline SVG rendered here, a
//! little inline script; nothing fetched), so it opens offline in any browser: the ranked table,
//! each setup's timeline as charts on one time axis with the faults marked, the setups overlaid
//! on shared charts, and where the report came from.

use std::fmt::Write as _;
use std::io::Write;

use scalebench_core::report::{Report, Requests, SetupReport};

use crate::format::{duration, ms, pct_floor, pct1, percentile, secs, sig3, usd};
use crate::svg::{LineChart, escape};
use crate::{FileOutput, WriteError};

mod assets;
mod charts;
pub(crate) mod compare;

pub(crate) use assets::page;

/// `report.html`: the report as a self-contained page with charts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl FileOutput for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn what(&self) -> &'static str {
        "report HTML"
    }

    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), WriteError> {
        out.write_all(render_html(report).as_bytes())?;
        Ok(())
    }
}

/// The whole page for `report`.
pub fn render_html(report: &Report) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "<h1>scalebench: {}</h1>", escape(&report.scenario));
    if let Some(d) = &report.description {
        let _ = writeln!(b, "<p class=\"meta\">{}</p>", escape(d));
    }
    let facts = crate::table::run_facts(report).map(|f| escape(&f));
    let _ = writeln!(b, "<p class=\"meta\">{}</p>", facts.join(" &middot; "));
    if report.interrupted {
        b.push_str("<p class=\"banner\"><b>Interrupted:</b> the run was stopped early; the figures cover the traffic offered until then.</p>\n");
    }
    b.push_str("<h2>Setups, best first</h2>\n");
    b.push_str(&ranked_table(report));
    b.push_str(&timelines(report));
    if report.setups.len() > 1 {
        b.push_str("<h2>Setups compared</h2>\n<p class=\"small\">One colour per setup; click a name in a legend to hide or show it. Vertical lines mark faults.</p>\n<div class=\"charts overlay\">\n");
        for chart in charts::overlays(report) {
            b.push_str(&wrap(&chart));
        }
        b.push_str("</div>\n");
    }
    b.push_str(&provenance(report));
    page(&format!("scalebench: {}", report.scenario), &b)
}

/// A chart in its wrapper, with the hover readout's box.
pub(crate) fn wrap(chart: &LineChart) -> String {
    format!(
        "<div class=\"chart-wrap\"><div class=\"readout\"></div>{}</div>\n",
        chart.render()
    )
}

/// The ranked summary table.
fn ranked_table(report: &Report) -> String {
    let mut setups: Vec<&SetupReport> = report.setups.iter().collect();
    setups.sort_by_key(|s| s.rank);
    let mut t = String::from("<div class=\"scroll\"><table class=\"ranked\"><thead><tr>");
    for (h, left) in [
        ("#", false),
        ("setup", true),
        ("policy", true),
        ("p50", false),
        ("p95", false),
        ("p99", false),
        ("p99.9", false),
        ("SLO att", false),
        ("met", true),
        ("errors", false),
        ("cost", false),
        ("$/1k req", false),
        ("GPU-h", false),
        ("idle", false),
        ("max repl", false),
        ("cold starts", false),
        ("scale-up s", false),
    ] {
        let _ = write!(t, "<th{}>{h}</th>", if left { " class=\"l\"" } else { "" });
    }
    t.push_str("</tr></thead><tbody>\n");
    for s in setups {
        let l = &s.latency_ms;
        let _ = write!(
            t,
            "<tr{}><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td>",
            if s.rank == 1 { " class=\"best\"" } else { "" },
            s.rank,
            escape(&s.name),
            escape(&s.policy)
        );
        for v in [ms(l.p50), ms(l.p95), ms(l.p99), ms(l.p999)] {
            let _ = write!(t, "<td>{}</td>", escape(&v));
        }
        let met = if s.slo.met { "yes" } else { "no" };
        let _ = write!(
            t,
            "<td>{}</td><td class=\"l {met}\">{met}</td><td>{}</td>",
            pct_floor(s.slo.attainment),
            escape(&errors(&s.requests))
        );
        let (c, sc) = (&s.cost, &s.scaling);
        for v in [
            usd(c.total_usd),
            usd(c.per_1k_requests_usd),
            sig3(c.gpu_hours),
            pct1(c.idle_fraction),
            sc.max_replicas.to_string(),
            sc.cold_starts.to_string(),
            sc.scale_up_reaction_s.map_or_else(|| "-".to_owned(), secs),
        ] {
            let _ = write!(t, "<td>{}</td>", escape(&v));
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</tbody></table></div>\n");
    t
}

/// `failed + rejected + timed_out` and their share of scheduled requests.
fn errors(r: &Requests) -> String {
    let count = r.failed + r.rejected + r.timed_out;
    if count == 0 {
        return "0".to_owned();
    }
    format!(
        "{count} ({:.2}%)",
        100.0 * count as f64 / r.scheduled.max(1) as f64
    )
}

/// The per-setup timelines: tabs to pick a setup (all are shown without script), then one
/// section of aligned charts per setup.
fn timelines(report: &Report) -> String {
    let mut b = String::from("<h2>Timelines</h2>\n");
    let longest = report.setups.iter().map(|s| s.timeline.len()).max();
    if longest.is_some_and(|n| n > charts::MAX_POINTS) {
        let _ = writeln!(
            b,
            "<p class=\"small\">The timelines have more than {} windows: each chart shows the lowest and highest value of each group of windows (downsampled).</p>",
            charts::MAX_POINTS
        );
    }
    b.push_str("<p class=\"small\">All charts share one time axis; hover to read the values at a time. Dashed red: the SLO latency; dotted purple: faults. Latency lines skip the windows in which no request finished.</p>\n");
    if report.setups.len() > 1 {
        b.push_str("<div class=\"tabs\">");
        for (i, s) in report.setups.iter().enumerate() {
            let _ = write!(
                b,
                "<button type=\"button\" data-show-setup=\"{i}\">{}. {}</button>",
                s.rank,
                escape(&s.name)
            );
        }
        b.push_str("<button type=\"button\" data-show-setup=\"all\">all</button></div>\n");
    }
    let mut empty_note = None;
    for (i, s) in report.setups.iter().enumerate() {
        let (charts, empty) = charts::setup_charts(report, s);
        if !empty.is_empty() {
            empty_note = Some(empty);
        }
        let _ = write!(
            b,
            "<section class=\"setup\" data-index=\"{i}\" data-setup=\"{}\"><h3>{}. {} <span class=\"small\">({})</span></h3>\n<div class=\"charts\">\n",
            escape(&s.name),
            s.rank,
            escape(&s.name),
            escape(&s.policy)
        );
        for c in charts {
            debug_assert!(!c.id.is_empty());
            b.push_str(&wrap(&c.chart));
        }
        b.push_str("</div></section>\n");
    }
    if let Some(empty) = empty_note {
        let _ = writeln!(
            b,
            "<p class=\"small\">Not charted, the report has no data for them (driver {}): {}.</p>",
            escape(&report.driver),
            escape(&empty.join(", "))
        );
    }
    b
}

/// The scenario and the environment the report came from.
fn provenance(report: &Report) -> String {
    let mut b = String::from("<h2>Scenario and environment</h2>\n<dl class=\"kv\">");
    let mut kv = |k: &str, v: &str| {
        let _ = write!(b, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    };
    kv("scenario", &report.scenario);
    if let Some(d) = &report.description {
        kv("description", d);
    }
    kv("driver", &report.driver);
    kv("seed", &report.seed.to_string());
    kv(
        "duration",
        &format!("{} ({} s)", duration(report.duration_s), report.duration_s),
    );
    kv("window", &format!("{} s", report.window_s));
    let slo = &report.slo;
    kv(
        "SLO",
        &format!(
            "{} \u{2264} {}, timeout {}",
            percentile(slo.percentile),
            ms(slo.latency_ms),
            ms(slo.timeout_ms)
        ),
    );
    kv("interrupted", if report.interrupted { "yes" } else { "no" });
    match &report.environment {
        Some(e) => {
            kv("scalebench", &e.scalebench);
            kv("machine", &format!("{} {}, {} CPUs", e.os, e.arch, e.cpus));
            kv("started at", &e.started_at);
        }
        None => kv("environment", "not recorded"),
    }
    match &report.source {
        Some(src) => kv("scenario file", &src.path),
        None => kv("scenario file", "not recorded"),
    }
    b.push_str("</dl>\n");
    if let Some(src) = &report.source {
        let _ = writeln!(
            b,
            "<details><summary>{}</summary><pre>{}</pre></details>",
            escape(&src.path),
            escape(&src.toml)
        );
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalebench_core::report::{SloSpec, TimelineSample};

    fn report() -> Report {
        let json = r#"{"schema":"scalebench.report/v1","scenario":"s<x>","driver":"load","seed":1,
            "duration_s":10,"window_s":1,"slo":{"latency_ms":500,"percentile":99,"timeout_ms":30000},
            "setups":[]}"#;
        let mut r: Report = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        r.slo = SloSpec {
            latency_ms: 500.0,
            percentile: 99.0,
            timeout_ms: 30_000.0,
        };
        r
    }

    #[test]
    fn a_report_without_setups_source_or_environment_renders() {
        let html = render_html(&report());
        assert!(html.contains("s&lt;x&gt;"));
        assert!(html.contains("not recorded"));
        assert!(!html.contains("<s<x>"));
    }

    #[test]
    fn a_large_report_stays_small() {
        let mut r = report();
        r.duration_s = 7200.0;
        r.window_s = 3.6;
        let mut seed = 7u64;
        let mut noise = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as f64 / f64::from(1u32 << 31)
        };
        for i in 0..6 {
            let mut s = setup();
            s.name = format!("setup-{i}");
            s.timeline = (1..=2000)
                .map(|w| TimelineSample {
                    t_s: f64::from(w) * 3.6,
                    rps: 400.0 + 50.0 * noise(),
                    p50_ms: 80.0 + 5.0 * noise(),
                    p95_ms: 200.0 + 30.0 * noise(),
                    p99_ms: 300.0 + 3000.0 * noise(),
                    errors: (10.0 * noise()) as u64,
                    replicas_desired: 10 + (5.0 * noise()) as u32,
                    replicas_ready: 10 + (5.0 * noise()) as u32,
                    pods_pending: (3.0 * noise()) as u32,
                    nodes: [("a".to_owned(), 3), ("b".to_owned(), 2)].into(),
                    gpus_allocated: 12,
                    gpu_util: noise(),
                    queue_depth: (100.0 * noise()) as u32,
                    cost_usd: f64::from(w) * 0.01,
                    ..TimelineSample::default()
                })
                .collect();
            r.setups.push(s);
        }
        let html = render_html(&r);
        assert!(html.len() < 3_000_000, "{} bytes", html.len());
        assert!(
            !html.contains("downsampled"),
            "2000 windows are plotted whole"
        );
    }

    fn setup() -> SetupReport {
        let setup_json = r#"{"name":"load","rank":1,"policy":"none",
            "requests":{"scheduled":10,"sent":10,"ok":10,"failed":0,"rejected":0,"timed_out":0,"not_sent":0},
            "latency_ms":{"p50":1,"p90":1,"p95":1,"p99":1,"p999":1,"max":1,"mean":1},
            "slo":{"attainment":1,"met":true,"violation_s":0,"recoveries":[]},
            "cost":{"total_usd":0,"per_1k_requests_usd":0,"gpu_hours":0,"by_pool":{},"idle_fraction":0},
            "scaling":{"max_replicas":0,"cold_starts":0,"scale_up_reaction_s":null,"max_nodes":{}},
            "classes":[],"faults":[],"timeline":[]}"#;
        serde_json::from_str(setup_json).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_load_report_hides_the_charts_it_has_no_data_for() {
        let mut r = report();
        let mut s = setup();
        s.timeline = (1..=10)
            .map(|i| TimelineSample {
                t_s: f64::from(i),
                rps: 100.0,
                p50_ms: 3.0,
                p95_ms: 5.0,
                p99_ms: 9.0,
                ..TimelineSample::default()
            })
            .collect();
        r.setups.push(s);
        let html = render_html(&r);
        assert!(html.contains(r#"data-chart="traffic""#));
        assert!(html.contains(r#"data-chart="latency""#));
        assert!(!html.contains(r#"data-chart="replicas""#));
        assert!(html.contains("Not charted"));
    }
}
