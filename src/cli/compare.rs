//! `scalebench compare REPORT...`: two or more report.json files side by side (runs from
//! different drivers, clouds or dates), with each figure's change against the first report.

use std::path::PathBuf;

use anyhow::anyhow;

use super::{Failure, Stdout};

/// Arguments of `compare`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The reports (report.json), the first being the baseline.
    #[arg(required = true, num_args = 2.., value_name = "REPORT")]
    reports: Vec<PathBuf>,
    /// A label for each report, in order (repeatable; default: the report's path).
    #[arg(long = "label", value_name = "LABEL")]
    labels: Vec<String>,
    /// Print the comparison as JSON (schema `scalebench.compare/v1`) on stdout; the tables go
    /// to stderr.
    #[arg(long)]
    json: bool,
    /// Also write the comparison as a self-contained HTML page with charts.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Reads the reports, prints the comparison and writes the HTML page if asked.
pub fn cmd(args: Args) -> Result<(), Failure> {
    if args.labels.len() > args.reports.len() {
        return Err(Failure::input(anyhow!(
            "{} labels for {} reports: give at most one --label per report",
            args.labels.len(),
            args.reports.len()
        )));
    }
    let mut inputs = Vec::with_capacity(args.reports.len());
    for (i, path) in args.reports.iter().enumerate() {
        let report = reports::read_json(path).map_err(Failure::input)?;
        let shown = path.display().to_string();
        let label = args.labels.get(i).cloned().unwrap_or_else(|| shown.clone());
        inputs.push((label, shown, report));
    }
    let comparison = reports::compare::compare(&inputs);
    let stdout = Stdout::from_flag(args.json);
    stdout.human(&reports::compare::compare_table(&comparison));
    stdout.json(&comparison)?;
    if let Some(path) = &args.html {
        let runs: Vec<_> = inputs.into_iter().map(|(_, _, r)| r).collect();
        let page = reports::compare::compare_html(&comparison, &runs);
        std::fs::write(path, page).map_err(|e| {
            Failure::env(anyhow!(
                "failed to write the comparison HTML to {}: {e}",
                path.display()
            ))
        })?;
        stdout.human(&format!("wrote {}\n", path.display()));
    }
    Ok(())
}
