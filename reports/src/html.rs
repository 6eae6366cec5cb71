//! `report.html`: one self-contained page per report (inline CSS, inline SVG rendered here, a
//! little inline script; nothing fetched), so it opens offline in any browser: the ranked table,
//! each setup's timeline as charts on one time axis with the faults marked, the setups overlaid
//! on shared charts, and where the report came from. A banner near the top names each setup
//! whose load engine, not the target, limited the run; a figure nothing measured shows as `-`
//! in tables and as "not observed" in place of its chart. A run on a real cluster adds what
//! the Kubernetes side did to each setup (`cluster`); an LLM endpoint's token figures add a
//! table and charts (`tokens`).

use std::fmt::Write as _;
use std::io::Write;

use scalebench_core::report::{Report, Requests, SetupReport};

use crate::format::{duration, ms, or_dash, pct_floor, pct1, percentile, secs, sig3, usd};
use crate::svg::{LineChart, escape};
use crate::{FileOutput, WriteError};

mod assets;
mod charts;
mod cluster;
mod cold_start;
pub(crate) mod compare;
mod tokens;

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
    b.push_str(&limited_banners(report));
    b.push_str("<h2>Setups, best first</h2>\n");
    b.push_str(&ranked_table(report));
    b.push_str(&load_table(report));
    b.push_str(&tokens::section(report));
    b.push_str(&cold_start::section(report));
    b.push_str(&cluster::section(report));
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

/// A warning banner per setup whose load engine, not the target, limited the run, with each
/// reason and what to change; empty when there is none.
fn limited_banners(report: &Report) -> String {
    let mut setups: Vec<&SetupReport> = report.setups.iter().collect();
    setups.sort_by_key(|s| s.rank);
    let mut b = String::new();
    for s in setups {
        let lines = crate::table::limit_lines(s);
        if lines.is_empty() {
            continue;
        }
        let _ = write!(
            b,
            "<div class=\"banner limited\" data-limited=\"{}\"><b>The load engine, not the target, limited setup {}:</b> its figures are the load engine's, not the target's.<ul>",
            escape(&s.name),
            escape(&s.name)
        );
        for line in lines {
            let _ = write!(b, "<li>{}</li>", escape(&line));
        }
        b.push_str("</ul></div>\n");
    }
    b
}

/// How the live load engine kept its schedule, per setup (live runs only; empty otherwise).
fn load_table(report: &Report) -> String {
    let mut setups: Vec<&SetupReport> = report.setups.iter().filter(|s| s.load.is_some()).collect();
    if setups.is_empty() {
        return String::new();
    }
    setups.sort_by_key(|s| s.rank);
    let mut t = String::from(
        "<h2>Load engine</h2>\n<p class=\"small\">Schedule lag: actual minus intended send time, the sum of the pacing lag (a sending thread took the request late) and the connection wait.</p>\n<div class=\"scroll\"><table class=\"load\"><thead><tr>",
    );
    for (h, left) in [
        ("setup", true),
        ("lag p50", false),
        ("lag p99", false),
        ("lag max", false),
        ("pacing p99", false),
        ("conn wait p99", false),
        ("shards", false),
        ("conns", false),
        ("busy", false),
        ("limited", true),
    ] {
        let _ = write!(t, "<th{}>{h}</th>", if left { " class=\"l\"" } else { "" });
    }
    t.push_str("</tr></thead><tbody>\n");
    for s in setups {
        let Some(l) = &s.load else { continue };
        let _ = write!(t, "<tr><td class=\"l\">{}</td>", escape(&s.name));
        for v in crate::format::load_cells(l) {
            let _ = write!(t, "<td>{}</td>", escape(&v));
        }
        let limited = match &l.generator_limited {
            Some(g) => {
                let r: Vec<&str> = g.reasons.iter().map(|r| r.reason.as_str()).collect();
                format!("<td class=\"l no\">{}</td>", escape(&r.join(", ")))
            }
            None => "<td class=\"l\">no</td>".to_owned(),
        };
        t.push_str(&limited);
        t.push_str("</tr>\n");
    }
    t.push_str("</tbody></table></div>\n");
    t
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
            or_dash(c.total_usd, usd),
            or_dash(c.per_1k_requests_usd, usd),
            or_dash(c.gpu_hours, sig3),
            or_dash(c.idle_fraction, pct1),
            or_dash(sc.max_replicas, |n| n.to_string()),
            or_dash(sc.cold_starts, |n| n.to_string()),
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
    let mut zero_note = None;
    for (i, s) in report.setups.iter().enumerate() {
        let (charts, left) = charts::setup_charts(report, s);
        if !left.zero.is_empty() {
            zero_note = Some(left.zero);
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
        for (id, title) in left.not_observed {
            let _ = writeln!(
                b,
                "<div class=\"not-observed\" data-chart=\"{id}\" data-setup=\"{}\"><b>{title}</b>: not observed (driver {} had nothing that measured it)</div>",
                escape(&s.name),
                escape(&report.driver)
            );
        }
        b.push_str("</div></section>\n");
    }
    if let Some(zero) = zero_note {
        let _ = writeln!(
            b,
            "<p class=\"small\">Not charted, zero in every window: {}.</p>",
            escape(&zero.join(", "))
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
            "{} \u{2264} {}{}, timeout {}",
            percentile(slo.percentile),
            ms(slo.latency_ms),
            crate::table::token_bounds(slo, "\u{2264}"),
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

/// A report of one empty setup per name, ranked in that order: what the sections' tests fill.
#[cfg(test)]
pub(crate) fn bare_report(driver: &str, names: &[&str]) -> Report {
    let mut r: Report = serde_json::from_str(&format!(
        r#"{{"schema":"scalebench.report/v1","scenario":"s","driver":"{driver}","seed":1,
        "duration_s":1,"window_s":1,"slo":{{"latency_ms":1,"percentile":99,"timeout_ms":1}},
        "setups":[]}}"#
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    for (i, name) in names.iter().enumerate() {
        let mut s: SetupReport = serde_json::from_str(
            r#"{"name":"x","rank":1,"policy":"fixed",
            "requests":{"scheduled":0,"sent":0,"ok":0,"failed":0,"rejected":0,"timed_out":0,"not_sent":0},
            "latency_ms":{"p50":0,"p90":0,"p95":0,"p99":0,"p999":0,"max":0,"mean":0},
            "slo":{"attainment":1,"met":true,"violation_s":0,"recoveries":[]},
            "cost":{"total_usd":null,"per_1k_requests_usd":null,"gpu_hours":null,"by_pool":{},"idle_fraction":null},
            "scaling":{"max_replicas":null,"cold_starts":null,"scale_up_reaction_s":null,"max_nodes":{}},
            "classes":[],"faults":[],"timeline":[]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        s.name = (*name).to_owned();
        s.rank = i as u32 + 1;
        r.setups.push(s);
    }
    r
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
            ttft_ms: None,
            tpot_ms: None,
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
                    p50_ms: Some(80.0 + 5.0 * noise()),
                    p95_ms: Some(200.0 + 30.0 * noise()),
                    p99_ms: Some(300.0 + 3000.0 * noise()),
                    errors: (10.0 * noise()) as u64,
                    replicas_desired: Some(10 + (5.0 * noise()) as u32),
                    replicas_ready: Some(10 + (5.0 * noise()) as u32),
                    pods_pending: Some((3.0 * noise()) as u32),
                    nodes: [("a".to_owned(), 3), ("b".to_owned(), 2)].into(),
                    gpus_allocated: Some(12),
                    gpu_util: Some(noise()),
                    queue_depth: Some((100.0 * noise()) as u32),
                    cost_usd: Some(f64::from(w) * 0.01),
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
            "cost":{"total_usd":null,"per_1k_requests_usd":null,"gpu_hours":null,"by_pool":{},"idle_fraction":null},
            "scaling":{"max_replicas":null,"cold_starts":null,"scale_up_reaction_s":null,"max_nodes":{}},
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
                p50_ms: Some(3.0),
                p95_ms: Some(5.0),
                p99_ms: Some(9.0),
                ..TimelineSample::default()
            })
            .collect();
        r.setups.push(s);
        let html = render_html(&r);
        assert!(html.contains(r#"data-chart="traffic""#));
        assert!(html.contains(r#"data-chart="latency""#));
        // Nothing observed the service: no flat zero line, a "not observed" box instead.
        for id in ["replicas", "capacity", "queue", "cost"] {
            assert!(
                html.contains(&format!(
                    r#"<div class="not-observed" data-chart="{id}" data-setup="load">"#
                )),
                "{id}"
            );
            assert!(
                !html.contains(&format!(r#"data-chart="{id}" data-x0"#)),
                "{id}"
            );
        }
        assert!(html.contains("not observed"));
        assert!(!html.contains("Not charted"), "nothing is zero throughout");
        // The ranked table: unknown cost and scaling are `-`, never `$0` or 0.
        assert!(!html.contains("<td>$0</td>"), "unknown cost shows as $0");
        assert!(html.contains("<td>-</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>"));
    }

    #[test]
    fn a_measured_zero_is_named_in_the_note_not_called_unobserved() {
        let mut r = report();
        let mut s = setup();
        s.timeline = (1..=3)
            .map(|i| TimelineSample {
                t_s: f64::from(i),
                rps: 10.0,
                queue_depth: Some(0),
                replicas_ready: Some(2),
                ..TimelineSample::default()
            })
            .collect();
        r.setups.push(s);
        let html = render_html(&r);
        assert!(html.contains("Not charted, zero in every window: queue depth."));
        assert!(!html.contains(r#"class="not-observed" data-chart="queue""#));
        assert!(html.contains(r#"class="not-observed" data-chart="cost""#));
        assert!(html.contains(r#"data-chart="replicas""#));
    }

    #[test]
    fn a_limited_setup_gets_a_banner_with_its_reasons_and_the_load_table() {
        use scalebench_core::report::{GeneratorLimited, LimitReason, LoadReport};
        let mut r = report();
        let mut s = setup();
        s.load = Some(LoadReport {
            schedule_lag_ms: Default::default(),
            pacing_lag_ms: scalebench_core::report::Latency {
                p99: 12.3,
                ..Default::default()
            },
            connection_wait_ms: Default::default(),
            outcomes: Default::default(),
            shards: Some(2),
            max_connections: Some(64),
            peak_busy: None,
            generator_limited: Some(GeneratorLimited {
                reasons: vec![LimitReason {
                    reason: "pacing_lag".into(),
                    value: 12.3,
                    bound: 1.0,
                    unit: "ms".into(),
                    advice: "raise --shards <x>".into(),
                }],
            }),
        });
        r.setups.push(s.clone());
        let html = render_html(&r);
        let banner = html.find(r#"<div class="banner limited" data-limited="load">"#);
        let table = html.find("<h2>Setups, best first</h2>");
        assert!(
            banner.is_some() && banner < table,
            "a banner above the tables"
        );
        assert!(
            html.contains(
                "pacing lag p99 12.3 ms &gt; 1 ms bound \u{2014} raise --shards &lt;x&gt;"
            )
        );
        assert!(html.contains("<h2>Load engine</h2>"));
        assert!(html.contains("<td>12.3 ms</td>"), "pacing p99");
        assert!(html.contains("<td class=\"l no\">pacing_lag</td>"));
        // A setup that kept up: the table, no banner.
        s.name = "kept-up".into();
        if let Some(l) = &mut s.load {
            l.generator_limited = None;
        }
        r.setups = vec![s];
        let html = render_html(&r);
        assert!(!html.contains("banner limited"));
        assert!(html.contains("<h2>Load engine</h2>"));
    }
}
