//! The cold-start breakdown of each setup in `report.html`: a small table per setup, the phases
//! against p50/p95/max, with the count of cold starts and of those that never finished.

use std::fmt::Write as _;

use scalebench_core::report::{PhaseMs, Report, SetupReport};

use crate::format::{ms, or_dash};
use crate::svg::escape;

/// The "Cold starts" section: one table per setup, best first; `-` for a percentile nothing
/// measured, and a "not observed" line for a setup whose driver observed no pods.
pub(crate) fn section(report: &Report) -> String {
    let mut setups: Vec<&SetupReport> = report.setups.iter().collect();
    setups.sort_by_key(|s| s.rank);
    let mut b = String::from(
        "<h2>Cold starts</h2>\n<p class=\"small\">Replicas started during the run, from creation to ready: pending (waiting for a node, its provisioning included), creating (scheduled to container started: image pull, container start), loading (the model loads until the readiness probe passes). Unfinished: started but never ready (deleted before, or still starting at the end).</p>\n<div class=\"cold-starts\">\n",
    );
    for s in setups {
        let name = escape(&s.name);
        let Some(c) = &s.cold_start else {
            let _ = writeln!(
                b,
                "<div class=\"not-observed\" data-cold-start=\"{name}\"><b>{name}</b>: not observed (driver {} had nothing that observed the pods)</div>",
                escape(&report.driver)
            );
            continue;
        };
        let _ = writeln!(
            b,
            "<div class=\"scroll\"><table class=\"cold-start\" data-cold-start=\"{name}\"><caption>{name}: {} cold start{}, {} unfinished</caption><thead><tr><th class=\"l\">phase</th><th>p50</th><th>p95</th><th>max</th></tr></thead><tbody>",
            c.count,
            if c.count == 1 { "" } else { "s" },
            c.unfinished
        );
        for (phase, p) in [
            ("pending", &c.pending_ms),
            ("creating", &c.creating_ms),
            ("loading", &c.loading_ms),
            ("total", &c.total_ms),
        ] {
            let _ = write!(b, "<tr><td class=\"l\">{phase}</td>");
            for v in cells(p) {
                let _ = write!(b, "<td>{}</td>", escape(&v));
            }
            b.push_str("</tr>\n");
        }
        b.push_str("</tbody></table></div>\n");
    }
    b.push_str("</div>\n");
    b
}

/// p50, p95 and max of a phase, `-` where null.
fn cells(p: &PhaseMs) -> [String; 3] {
    [p.p50, p.p95, p.max].map(|v| or_dash(v, ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalebench_core::report::ColdStartReport;
    use scalebench_core::run::{ColdStartSample, ColdStarts};

    fn report(setups: Vec<(&str, Option<ColdStartReport>)>) -> Report {
        let names: Vec<&str> = setups.iter().map(|(name, _)| *name).collect();
        let mut r = crate::html::bare_report("load", &names);
        for (s, (_, cold_start)) in r.setups.iter_mut().zip(setups) {
            s.cold_start = cold_start;
        }
        r
    }

    #[test]
    fn each_setup_gets_its_table_with_dashes_for_null_and_a_box_when_not_observed() {
        let mut c = ColdStarts::new();
        c.push(ColdStartSample {
            pending_ns: 130_000_000_000,
            creating_ns: 21_000_000_000,
            loading_ns: 40_000_000_000,
        });
        c.add_unfinished(2);
        let mut unfinished_only = ColdStarts::new();
        unfinished_only.add_unfinished(1);
        let html = section(&report(vec![
            ("warm<1>", Some(c.report())),
            ("none", Some(unfinished_only.report())),
            ("blind", None),
        ]));
        assert!(html.contains(
            r#"<table class="cold-start" data-cold-start="warm&lt;1&gt;"><caption>warm&lt;1&gt;: 1 cold start, 2 unfinished</caption>"#
        ));
        for row in [
            "<td class=\"l\">pending</td><td>130 s</td><td>130 s</td><td>130 s</td>",
            "<td class=\"l\">creating</td><td>21.0 s</td><td>21.0 s</td><td>21.0 s</td>",
            "<td class=\"l\">loading</td><td>40.0 s</td><td>40.0 s</td><td>40.0 s</td>",
            "<td class=\"l\">total</td><td>191 s</td><td>191 s</td><td>191 s</td>",
        ] {
            assert!(html.contains(row), "{row}\n{html}");
        }
        assert!(html.contains("none: 0 cold starts, 1 unfinished"));
        assert!(html.contains("<td class=\"l\">total</td><td>-</td><td>-</td><td>-</td>"));
        assert!(html.contains(r#"<div class="not-observed" data-cold-start="blind">"#));
        assert!(!html.contains(r#"data-cold-start="blind"><caption>"#));
    }
}
