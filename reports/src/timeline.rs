//! `timeline.csv`: every setup's timeline in long format (one row per setup and window), ready
//! for pandas, R or a spreadsheet.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use scalebench_core::report::{Report, TimelineSample};

use crate::{FileOutput, ReportError, WriteError};

/// `timeline.csv`: one row per (setup, window), one `nodes_<pool>` column per node pool seen in
/// any setup (0 where a setup has no such pool), and the token columns (`ttft_p50_ms` to
/// `good_share`) last when some setup has token figures (an LLM endpoint). A figure nothing
/// measured in a window (the service side of a live run without an observer, the latency of a
/// window in which no request finished, the token figures of a setup without any) is an empty
/// cell, never 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimelineCsv;

/// Columns before the per-pool node counts.
const LEADING: [&str; 11] = [
    "setup",
    "t_s",
    "rps",
    "ok",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "errors",
    "replicas_desired",
    "replicas_ready",
    "pods_pending",
];

/// Columns after the per-pool node counts.
const TRAILING: [&str; 8] = [
    "gpus_allocated",
    "gpu_util",
    "queue_depth",
    "cost_usd",
    "faults",
    "budget_held_back",
    "running",
    "kv_cache_usage",
];

/// The token figures' columns, last, in reports where some setup has token figures.
pub(crate) const TOKEN_COLUMNS: [&str; 7] = [
    "ttft_p50_ms",
    "ttft_p99_ms",
    "itl_p99_ms",
    "tpot_p99_ms",
    "tokens_per_s",
    "goodput_rps",
    "good_share",
];

impl FileOutput for TimelineCsv {
    fn file_name(&self) -> &'static str {
        "timeline.csv"
    }

    fn what(&self) -> &'static str {
        "timeline CSV"
    }

    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), WriteError> {
        let pools = pools(report);
        let tokens = report.has_tokens();
        let mut csv = csv::Writer::from_writer(out);
        let header = LEADING
            .iter()
            .map(|c| (*c).to_owned())
            .chain(pools.iter().map(|p| format!("nodes_{p}")))
            .chain(TRAILING.iter().map(|c| (*c).to_owned()))
            .chain(
                TOKEN_COLUMNS
                    .iter()
                    .filter(|_| tokens)
                    .map(|c| (*c).to_owned()),
            );
        csv.write_record(header)?;
        for setup in &report.setups {
            for sample in &setup.timeline {
                let mut row = row(&setup.name, sample, &pools);
                if tokens {
                    row.extend([
                        cell(sample.ttft_p50_ms),
                        cell(sample.ttft_p99_ms),
                        cell(sample.itl_p99_ms),
                        cell(sample.tpot_p99_ms),
                        cell(sample.tokens_per_s),
                        cell(sample.goodput_rps),
                        cell(sample.good_share),
                    ]);
                }
                csv.write_record(row)?;
            }
        }
        csv.flush()?;
        Ok(())
    }
}

/// Writes every setup's timeline to `path` as CSV (header always written).
pub fn write_timeline_csv(report: &Report, path: &Path) -> Result<(), ReportError> {
    TimelineCsv.write_file(report, path)
}

/// Every node pool any setup reports, in name order.
fn pools(report: &Report) -> BTreeSet<&str> {
    report
        .setups
        .iter()
        .flat_map(|s| {
            let sampled = s.timeline.iter().flat_map(|t| t.nodes.keys());
            sampled.chain(s.scaling.max_nodes.keys())
        })
        .map(String::as_str)
        .collect()
}

/// A value in Rust's shortest round-trip form, or an empty cell when unknown.
fn cell<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// One CSV row; floats in Rust's shortest round-trip form.
fn row(setup: &str, t: &TimelineSample, pools: &BTreeSet<&str>) -> Vec<String> {
    let mut row = vec![
        setup.to_owned(),
        t.t_s.to_string(),
        t.rps.to_string(),
        t.ok.to_string(),
        cell(t.p50_ms),
        cell(t.p95_ms),
        cell(t.p99_ms),
        t.errors.to_string(),
        cell(t.replicas_desired),
        cell(t.replicas_ready),
        cell(t.pods_pending),
    ];
    row.extend(
        pools
            .iter()
            .map(|p| t.nodes.get(*p).copied().unwrap_or(0).to_string()),
    );
    row.extend([
        cell(t.gpus_allocated),
        cell(t.gpu_util),
        cell(t.queue_depth),
        cell(t.cost_usd),
        t.faults.join(";"),
        t.budget_held_back.to_string(),
        cell(t.running),
        cell(t.kv_cache_usage),
    ]);
    row
}
