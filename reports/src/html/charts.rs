//! The charts of `report.html`: per setup, six charts on one time axis (traffic, latency,
//! replicas, capacity, queue, cost; with token figures, two more beside latency: see
//! `tokens.rs`) with the faults marked on each, and the overlays that put every setup on shared
//! charts. A window whose figure nothing measured is left out of its line (no point, never a
//! 0); a chart no window of any setup measured says "not observed".

use scalebench_core::report::{Report, SetupReport, TimelineSample};

use crate::format::{duration, ms};
use crate::svg::{LineChart, Series, color};

/// Timelines longer than this are downsampled (min and max per bucket, so peaks survive).
pub(crate) const MAX_POINTS: usize = 2000;

/// Fixed colours of the per-setup charts' series.
pub(crate) const BLUE: &str = "#4e79a7";
pub(crate) const RED: &str = "#e15759";
pub(crate) const ORANGE: &str = "#f28e2b";
pub(crate) const GREEN: &str = "#59a14f";
const GREY: &str = "#9c755f";
pub(crate) const PURPLE: &str = "#b07aa1";
/// Colours of the node pools' lines, apart from the other series of their chart.
const POOL_COLORS: [&str; 4] = ["#59a14f", "#9c755f", "#76b7b2", "#e15759"];

/// One chart ready to render.
pub(crate) struct Chart {
    /// Its `data-chart` id.
    pub id: &'static str,
    /// The chart.
    pub chart: LineChart,
}

/// Every known value of `f` over the timeline as (t, value), downsampled to at most
/// [`MAX_POINTS`]; windows where `f` is unknown are left out.
pub(crate) fn points(
    timeline: &[TimelineSample],
    f: impl Fn(&TimelineSample) -> Option<f64>,
) -> Vec<(f64, f64)> {
    downsample(
        timeline
            .iter()
            .filter_map(|t| f(t).map(|v| (t.t_s, v)))
            .collect(),
    )
}

/// Like [`points`], leaving out the windows where `f` is 0 too: latencies of windows in which
/// no request finished, as reports written before they were `null` have them.
pub(crate) fn latency_points(
    timeline: &[TimelineSample],
    f: impl Fn(&TimelineSample) -> Option<f64>,
) -> Vec<(f64, f64)> {
    points(timeline, |t| f(t).filter(|v| *v > 0.0))
}

/// At most [`MAX_POINTS`] of `all`: the lowest and highest of each group of points.
fn downsample(all: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if all.len() <= MAX_POINTS {
        return all;
    }
    let per = all.len().div_ceil(MAX_POINTS / 2);
    let mut out = Vec::with_capacity(MAX_POINTS);
    for bucket in all.chunks(per) {
        let lo = bucket.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        let hi = bucket.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(lo), Some(hi)) = (lo, hi) {
            let (a, b) = if lo.0 <= hi.0 { (lo, hi) } else { (hi, lo) };
            out.push(*a);
            if b.0 != a.0 {
                out.push(*b);
            }
        }
    }
    out
}

/// The faults of a setup as (time, label): its fault events, and the timeline's fault markers
/// no event accounts for.
pub(crate) fn faults(setup: &SetupReport, window_s: f64) -> Vec<(f64, String)> {
    let mut out: Vec<(f64, String)> = setup
        .faults
        .iter()
        .map(|f| (f.t_s, format!("{} {}", f.kind, f.target)))
        .collect();
    for t in &setup.timeline {
        for marker in &t.faults {
            let kind = marker.split('@').next().unwrap_or(marker);
            let known = setup
                .faults
                .iter()
                .any(|f| f.kind == kind && f.t_s > t.t_s - window_s - 1e-9 && f.t_s <= t.t_s);
            if !known {
                out.push((t.t_s - window_s, marker.clone()));
            }
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Whether a latency chart over these values reads better on a log axis: when its largest
/// value is over 20 times its smallest positive one.
pub(crate) fn wants_log(values: impl Iterator<Item = f64>) -> bool {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    lo.is_finite() && hi / lo > 20.0
}

/// A chart on the report's time axis, with its fault markers.
pub(crate) fn base(report: &Report, id: &str, title: &str, markers: &[(f64, String)]) -> LineChart {
    let mut c = LineChart::new(id, title)
        .x_range(0.0, report.duration_s.max(report.window_s))
        .x_axis("time into the run", crate::svg::XFormat::Duration);
    for (t, label) in markers {
        c = c.marker(*t, label);
    }
    c
}

/// Whether any sample of any setup has a non-zero `f`.
pub(crate) fn any(report: &Report, f: impl Fn(&TimelineSample) -> Option<f64>) -> bool {
    report
        .setups
        .iter()
        .any(|s| s.timeline.iter().any(|t| f(t).is_some_and(|v| v != 0.0)))
}

/// Whether any sample of any setup measured `f` at all.
pub(crate) fn observed(report: &Report, f: impl Fn(&TimelineSample) -> bool) -> bool {
    report.setups.iter().any(|s| s.timeline.iter().any(&f))
}

/// The sum of the known values, `None` when none is known.
fn sum(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    values.into_iter().flatten().reduce(|a, b| a + b)
}

/// What the per-setup charts of a report leave out: those nothing measured (`not_observed`,
/// shown as a "not observed" box in each setup's place) and those zero throughout (`zero`,
/// named in a note).
#[derive(Debug, Default)]
pub(crate) struct Left {
    /// `(id, title)` of each chart no window of any setup measured.
    pub not_observed: Vec<(&'static str, &'static str)>,
    /// Names of the charts whose every measured value is 0.
    pub zero: Vec<&'static str>,
}

/// The six charts of one setup, leaving out those no setup of the report has data for: those
/// nothing measured, and those zero throughout.
pub(crate) fn setup_charts(report: &Report, s: &SetupReport) -> (Vec<Chart>, Left) {
    let tl = &s.timeline;
    let marks = faults(s, report.window_s);
    let mut charts = Vec::new();
    let mut left = Left::default();
    let mut leave = |id, title, name, seen: bool| {
        if seen {
            left.zero.push(name);
        } else {
            left.not_observed.push((id, title));
        }
    };
    let b = |id, title| base(report, id, title, &marks).attr("data-setup", &s.name);
    let errors_label = format!("errors per {} window", duration(report.window_s));
    charts.push(Chart {
        id: "traffic",
        chart: b("traffic", "Request rate and errors")
            .y_label("requests / s")
            .right_axis(&errors_label)
            .series(Series::new("rps", BLUE, points(tl, |t| Some(t.rps))).label("arrivals/s"))
            .series(
                Series::new("errors", RED, points(tl, |t| Some(t.errors as f64)))
                    .label("errors (right axis)")
                    .right(),
            ),
    });
    let lat = tl.iter().flat_map(|t| [t.p50_ms, t.p99_ms]).flatten();
    let log = wants_log(lat.chain([report.slo.latency_ms]));
    charts.push(Chart {
        id: "latency",
        chart: b("latency", "Latency per window")
            .y_label(if log { "ms (log scale)" } else { "ms" })
            .y_log(log)
            .reference(
                report.slo.latency_ms,
                &format!("SLO {}", ms(report.slo.latency_ms)),
            )
            .series(Series::new("p50", GREEN, latency_points(tl, |t| t.p50_ms)))
            .series(Series::new("p95", ORANGE, latency_points(tl, |t| t.p95_ms)))
            .series(Series::new("p99", RED, latency_points(tl, |t| t.p99_ms))),
    });
    if report.has_tokens() {
        match super::tokens::charts(report, s, b) {
            Some(token_charts) => charts.extend(token_charts),
            None => {
                for (id, title) in super::tokens::CHARTS {
                    leave(id, title, id, false);
                }
            }
        }
    }
    let replicas = |t: &TimelineSample| {
        sum([t.replicas_desired, t.replicas_ready, t.pods_pending].map(|v| v.map(f64::from)))
    };
    if any(report, replicas) {
        charts.push(Chart {
            id: "replicas",
            chart: b("replicas", "Replicas")
                .y_label("replicas")
                .series(
                    Series::new(
                        "replicas_desired",
                        GREY,
                        points(tl, |t| t.replicas_desired.map(f64::from)),
                    )
                    .label("desired")
                    .dashed(),
                )
                .series(
                    Series::new(
                        "replicas_ready",
                        BLUE,
                        points(tl, |t| t.replicas_ready.map(f64::from)),
                    )
                    .label("ready"),
                )
                .series(
                    Series::new(
                        "pods_pending",
                        ORANGE,
                        points(tl, |t| t.pods_pending.map(f64::from)),
                    )
                    .label("pending"),
                ),
        });
    } else {
        leave(
            "replicas",
            "Replicas",
            "replicas",
            observed(report, |t| replicas(t).is_some()),
        );
    }
    let capacity_of = |t: &TimelineSample| {
        sum(std::iter::once(t.gpus_allocated.map(f64::from))
            .chain(t.nodes.values().map(|n| Some(f64::from(*n)))))
    };
    if any(report, capacity_of) {
        charts.push(Chart {
            id: "capacity",
            chart: capacity(b("capacity", "Nodes and GPUs"), s),
        });
    } else {
        leave(
            "capacity",
            "Nodes and GPUs",
            "nodes and GPUs",
            observed(report, |t| capacity_of(t).is_some()),
        );
    }
    if any(report, |t| t.queue_depth.map(f64::from)) {
        charts.push(Chart {
            id: "queue",
            chart: b("queue", "Queue depth")
                .y_label("requests waiting")
                .series(
                    Series::new(
                        "queue_depth",
                        PURPLE,
                        points(tl, |t| t.queue_depth.map(f64::from)),
                    )
                    .label("queued"),
                ),
        });
    } else {
        leave(
            "queue",
            "Queue depth",
            "queue depth",
            observed(report, |t| t.queue_depth.is_some()),
        );
    }
    if any(report, |t| t.cost_usd) {
        charts.push(Chart {
            id: "cost",
            chart: b("cost", "Cumulative cost").y_label("USD").series(
                Series::new("cost_usd", GREEN, points(tl, |t| t.cost_usd)).label("cost so far"),
            ),
        });
    } else {
        leave(
            "cost",
            "Cumulative cost",
            "cost",
            observed(report, |t| t.cost_usd.is_some()),
        );
    }
    (charts, left)
}

/// Nodes per pool and GPUs allocated; GPU utilisation on a right axis where it is known.
fn capacity(mut c: LineChart, s: &SetupReport) -> LineChart {
    let tl = &s.timeline;
    let mut pools: Vec<&String> = s.scaling.max_nodes.keys().collect();
    for t in tl {
        for p in t.nodes.keys() {
            if !pools.contains(&p) {
                pools.push(p);
            }
        }
    }
    pools.sort();
    c = c.y_label("nodes, GPUs");
    for (i, pool) in pools.iter().enumerate() {
        let pts = points(tl, |t| t.nodes.get(*pool).map(|n| f64::from(*n)));
        let name = format!("nodes:{pool}");
        c = c.series(
            Series::new(&name, POOL_COLORS[i % POOL_COLORS.len()], pts)
                .label(&format!("nodes {pool}")),
        );
    }
    c = c.series(
        Series::new(
            "gpus_allocated",
            BLUE,
            points(tl, |t| t.gpus_allocated.map(f64::from)),
        )
        .label("GPUs allocated"),
    );
    if tl.iter().any(|t| t.gpu_util.is_some_and(|u| u > 0.0)) {
        c = c.right_axis("GPU utilisation (%)").series(
            Series::new(
                "gpu_util",
                ORANGE,
                points(tl, |t| t.gpu_util.map(|u| u * 100.0)),
            )
            .label("GPU util % (right axis)")
            .right(),
        );
    }
    c
}

/// The overlays: p99 per window against the SLO, replicas ready and cumulative cost, one
/// colour per setup (in the report's order).
pub(crate) fn overlays(report: &Report) -> Vec<LineChart> {
    let all_marks: Vec<(f64, String)> = {
        let mut m: Vec<(f64, String)> = report
            .setups
            .iter()
            .flat_map(|s| faults(s, report.window_s))
            .collect();
        m.sort_by(|a, b| a.0.total_cmp(&b.0));
        m.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9 && a.1 == b.1);
        m
    };
    let lat = report
        .setups
        .iter()
        .flat_map(|s| s.timeline.iter().filter_map(|t| t.p99_ms));
    let log = wants_log(lat.chain([report.slo.latency_ms]));
    let mut p99 = base(report, "cmp-p99", "p99 per window, all setups", &all_marks)
        .y_label(if log { "ms (log scale)" } else { "ms" })
        .y_log(log)
        .reference(
            report.slo.latency_ms,
            &format!("SLO {}", ms(report.slo.latency_ms)),
        );
    let mut ready = base(
        report,
        "cmp-replicas",
        "Replicas ready, all setups",
        &all_marks,
    )
    .y_label("replicas");
    let mut cost = base(
        report,
        "cmp-cost",
        "Cumulative cost, all setups",
        &all_marks,
    )
    .y_label("USD");
    for (i, s) in report.setups.iter().enumerate() {
        let c = color(i);
        let series = |f: &dyn Fn(&TimelineSample) -> Option<f64>| {
            Series::new(&s.name, c, points(&s.timeline, f)).setup(&s.name)
        };
        let p = latency_points(&s.timeline, |t| t.p99_ms);
        p99 = p99.series(Series::new(&s.name, c, p).setup(&s.name));
        ready = ready.series(series(&|t| t.replicas_ready.map(f64::from)));
        cost = cost.series(series(&|t| t.cost_usd));
    }
    let mut out = vec![p99];
    out.extend(super::tokens::overlay(report, &all_marks));
    if any(report, |t| t.replicas_ready.map(f64::from)) {
        out.push(ready);
    }
    if any(report, |t| t.cost_usd) {
        out.push(cost);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_timelines_are_downsampled_keeping_peaks() {
        let tl: Vec<TimelineSample> = (0..10_000)
            .map(|i| TimelineSample {
                t_s: f64::from(i),
                p99_ms: Some(if i == 5001 { 9999.0 } else { 1.0 }),
                ..TimelineSample::default()
            })
            .collect();
        let p = points(&tl, |t| t.p99_ms);
        assert!(p.len() <= MAX_POINTS, "{}", p.len());
        assert!(p.iter().any(|&(t, v)| t == 5001.0 && v == 9999.0));
        assert!(p.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
