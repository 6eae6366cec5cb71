//! What the Kubernetes side did to each setup of a run on a real cluster, in `report.html`: a
//! small table per setup (whether the watchers were synced, relists, watch errors with their
//! times, how stale the figures may have been, budget refusals of evictions, the writes made,
//! the undoing of taints and cordons). Only a report with a `cluster` section has it.

use std::fmt::Write as _;

use scalebench_core::report::{ClusterRun, Report, SetupReport};

use crate::format::duration;
use crate::svg::escape;

/// The most watch errors or refusals listed per setup; report.json has them all.
const MAX_LISTED: usize = 20;

/// The "Cluster" section: one table per setup, best first, and a line for a setup without the
/// section; empty when no setup has one (every driver but the cluster's).
pub(crate) fn section(report: &Report) -> String {
    if report.setups.iter().all(|s| s.cluster.is_none()) {
        return String::new();
    }
    let mut setups: Vec<&SetupReport> = report.setups.iter().collect();
    setups.sort_by_key(|s| s.rank);
    let mut b = String::from(
        "<h2>Cluster</h2>\n<p class=\"small\">What the Kubernetes side did to the measurement. Watch errors and relists: the observer may have missed events, so its figures (replicas, pods, nodes, cost) may have been stale for a while. Eviction refusals: a PodDisruptionBudget held a fault's eviction back (it was retried). Undo: the faults' taints and cordons put back at the end. Times are from the run's start.</p>\n<div class=\"clusters\">\n",
    );
    for s in setups {
        let name = escape(&s.name);
        match &s.cluster {
            Some(c) => table(&mut b, &name, c),
            None => {
                let _ = writeln!(
                    b,
                    "<div class=\"not-observed\" data-cluster=\"{name}\"><b>{name}</b>: no cluster section</div>"
                );
            }
        }
    }
    b.push_str("</div>\n");
    b
}

/// One setup's table (`name` already escaped).
fn table(b: &mut String, name: &str, c: &ClusterRun) {
    let context = c
        .context
        .as_deref()
        .map_or_else(|| "current context".to_owned(), |c| format!("context {c}"));
    let _ = writeln!(
        b,
        "<div class=\"scroll\"><table class=\"cluster\" data-cluster=\"{name}\"><caption>{name}: {}/{} ({}){}</caption><tbody>",
        escape(&c.namespace),
        escape(&c.deployment),
        escape(&context),
        if c.dry_run { ", dry run" } else { "" }
    );
    let synced = if c.synced { "yes" } else { "no" };
    row(b, "synced", "synced before the load", synced, synced);
    row(b, "relists", "relists", "", &c.relists.to_string());
    let stale = c.stale_s.map_or_else(|| "never".to_owned(), duration);
    row(b, "stale", "figures stale at most", "", &escape(&stale));
    let errors: Vec<String> = c
        .watch_errors
        .iter()
        .map(|e| {
            format!(
                "{} {} {}: {}",
                duration(e.t_s),
                e.resource,
                e.kind,
                e.message
            )
        })
        .collect();
    row(
        b,
        "watch-errors",
        "watch errors",
        if errors.is_empty() { "" } else { "no" },
        &listed(&errors),
    );
    let refusals: Vec<String> = c
        .eviction_refusals
        .iter()
        .map(|r| format!("{} {}: {}", duration(r.t_s), r.pod, r.message))
        .collect();
    row(b, "refusals", "eviction refusals", "", &listed(&refusals));
    let calls = if c.dry_run {
        format!("{} (dry run: recorded, not sent)", c.api_calls)
    } else {
        c.api_calls.to_string()
    };
    row(b, "api-calls", "API writes", "", &escape(&calls));
    let (class, undo) = match &c.undo {
        None => ("", "nothing to undo".to_owned()),
        Some(u) if u.failed.is_empty() => ("", format!("{} undone", u.undone)),
        Some(u) => (
            "no",
            format!(
                "{} undone, {} failed (put back with <code>scalebench cluster undo JOURNAL</code>){}",
                u.undone,
                u.failed.len(),
                list(&u.failed)
            ),
        ),
    };
    row(b, "undo", "undo", class, &undo);
    b.push_str("</tbody></table></div>\n");
}

/// A row: its name, and its value as HTML (`class` adds `yes` or `no` to the cell).
fn row(b: &mut String, id: &str, label: &str, class: &str, html: &str) {
    let class = if class.is_empty() {
        "l".to_owned()
    } else {
        format!("l {class}")
    };
    let _ = writeln!(
        b,
        "<tr data-row=\"{id}\"><th class=\"l\">{label}</th><td class=\"{class}\">{html}</td></tr>"
    );
}

/// The count of `items`, then the items as a list (the first [`MAX_LISTED`]).
fn listed(items: &[String]) -> String {
    format!("{}{}", items.len(), list(items))
}

/// `items` as an escaped `<ul>`, the first [`MAX_LISTED`] and a line for the rest; empty when
/// there are none.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut b = String::from("<ul>");
    for item in items.iter().take(MAX_LISTED) {
        let _ = write!(b, "<li>{}</li>", escape(item));
    }
    if items.len() > MAX_LISTED {
        let _ = write!(
            b,
            "<li>and {} more (report.json has them all)</li>",
            items.len() - MAX_LISTED
        );
    }
    b.push_str("</ul>");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalebench_core::report::{RefusalRecord, UndoRecord, WatchErrorRecord};

    fn report(setups: Vec<(&str, Option<ClusterRun>)>) -> Report {
        let names: Vec<&str> = setups.iter().map(|(name, _)| *name).collect();
        let mut r = crate::html::bare_report("sim", &names);
        for (s, (_, cluster)) in r.setups.iter_mut().zip(setups) {
            s.cluster = cluster;
        }
        r
    }

    fn troubled() -> ClusterRun {
        ClusterRun {
            context: Some("kind<1>".to_owned()),
            namespace: "bench".to_owned(),
            deployment: "llm".to_owned(),
            synced: false,
            relists: 2,
            watch_errors: vec![
                WatchErrorRecord {
                    t_s: -3.25,
                    resource: "nodes".to_owned(),
                    kind: "initial-list-failed".to_owned(),
                    message: "connection <refused>".to_owned(),
                },
                WatchErrorRecord {
                    t_s: 125.0,
                    resource: "pods".to_owned(),
                    kind: "watch-error-410".to_owned(),
                    message: "too old resource version".to_owned(),
                },
            ],
            stale_s: Some(4.5),
            eviction_refusals: vec![RefusalRecord {
                t_s: 300.0,
                pod: "llm-abc".to_owned(),
                message: "would violate the pod's disruption budget".to_owned(),
            }],
            api_calls: 14,
            dry_run: false,
            undo: Some(UndoRecord {
                undone: 3,
                failed: vec!["cordon node-2: 403 Forbidden".to_owned()],
            }),
        }
    }

    #[test]
    fn no_section_without_a_cluster_run() {
        assert_eq!(section(&report(vec![("a", None), ("b", None)])), "");
    }

    #[test]
    fn each_setup_gets_its_table_with_times_refusals_and_undo() {
        let quiet = ClusterRun {
            namespace: "bench".to_owned(),
            deployment: "llm-b".to_owned(),
            synced: true,
            api_calls: 5,
            dry_run: true,
            ..ClusterRun::default()
        };
        let html = section(&report(vec![
            ("kube<1>", Some(troubled())),
            ("quiet", Some(quiet)),
            ("other", None),
        ]));
        assert!(html.starts_with("<h2>Cluster</h2>"), "{html}");
        assert!(html.contains(
            r#"<table class="cluster" data-cluster="kube&lt;1&gt;"><caption>kube&lt;1&gt;: bench/llm (context kind&lt;1&gt;)</caption>"#
        ), "{html}");
        for row in [
            r#"<tr data-row="synced"><th class="l">synced before the load</th><td class="l no">no</td></tr>"#,
            r#"<tr data-row="relists"><th class="l">relists</th><td class="l">2</td></tr>"#,
            r#"<tr data-row="stale"><th class="l">figures stale at most</th><td class="l">4.5s</td></tr>"#,
            r#"<tr data-row="watch-errors"><th class="l">watch errors</th><td class="l no">2<ul><li>-3.25s nodes initial-list-failed: connection &lt;refused&gt;</li><li>2m05s pods watch-error-410: too old resource version</li></ul></td></tr>"#,
            r#"<tr data-row="refusals"><th class="l">eviction refusals</th><td class="l">1<ul><li>5m llm-abc: would violate the pod&#39;s disruption budget</li></ul></td></tr>"#,
            r#"<tr data-row="api-calls"><th class="l">API writes</th><td class="l">14</td></tr>"#,
            r#"<tr data-row="undo"><th class="l">undo</th><td class="l no">3 undone, 1 failed (put back with <code>scalebench cluster undo JOURNAL</code>)<ul><li>cordon node-2: 403 Forbidden</li></ul></td></tr>"#,
        ] {
            assert!(html.contains(row), "{row}\n{html}");
        }
        // A clean dry run: nothing listed, nothing to undo.
        for row in [
            r#"<caption>quiet: bench/llm-b (current context), dry run</caption>"#,
            r#"<td class="l yes">yes</td>"#,
            r#"<td class="l">never</td>"#,
            r#"<th class="l">watch errors</th><td class="l">0</td>"#,
            r#"<th class="l">eviction refusals</th><td class="l">0</td>"#,
            r#"<td class="l">5 (dry run: recorded, not sent)</td>"#,
            r#"<th class="l">undo</th><td class="l">nothing to undo</td>"#,
        ] {
            assert!(html.contains(row), "{row}\n{html}");
        }
        assert!(html.contains(r#"<div class="not-observed" data-cluster="other">"#));
        // Best first.
        let at = |needle: &str| html.find(needle).unwrap_or(usize::MAX);
        assert!(at("data-cluster=\"kube") < at("data-cluster=\"quiet"));
        assert!(at("data-cluster=\"quiet") < at("data-cluster=\"other"));
    }

    #[test]
    fn a_long_list_is_cut_and_says_where_the_rest_is() {
        let mut c = troubled();
        c.watch_errors = (0..25)
            .map(|i| WatchErrorRecord {
                t_s: f64::from(i),
                resource: "pods".to_owned(),
                kind: "watch-failed".to_owned(),
                message: format!("error {i}"),
            })
            .collect();
        let html = section(&report(vec![("a", Some(c))]));
        assert_eq!(html.matches("watch-failed").count(), MAX_LISTED);
        assert!(html.contains(">25<ul>"), "the count is all of them");
        assert!(html.contains("<li>and 5 more (report.json has them all)</li>"));
    }
}
