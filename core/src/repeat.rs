//! Repeated runs of a scenario (`run --repeat N`): every figure of the catalogue
//! (`crate::figure`) over the runs, with its mean and confidence interval
//! ([`repeat_report`], [`join_repeats`]), and the value a gate or a comparison judges for a
//! setup, with or without repeats ([`judged`], [`samples`]). A figure's value in one report is
//! [`SetupReport::figure`].

use std::collections::BTreeMap;

use crate::figure::Figure;

use crate::report::{FigureSamples, RepeatReport, SetupReport};
use crate::stats;

/// The value a gate or a comparison judges: the mean over the repeats when the setup has
/// them, else its one value; with the confidence interval of the mean (repeats only) and the
/// number of runs.
pub fn judged(setup: &SetupReport, figure: Figure) -> Option<(f64, Option<[f64; 2]>, usize)> {
    if let Some(s) = setup
        .repeat
        .as_ref()
        .and_then(|r| r.figures.get(figure.name()))
    {
        return Some((s.mean, Some([s.ci_low, s.ci_high]), s.values.len()));
    }
    setup.figure(figure).map(|v| (v, None, 1))
}

/// The samples of `figure` in a setup's repeats, or its single value when it has none.
pub fn samples(setup: &SetupReport, figure: Figure) -> Vec<f64> {
    match setup
        .repeat
        .as_ref()
        .and_then(|r| r.figures.get(figure.name()))
    {
        Some(s) => s.values.clone(),
        None => setup.figure(figure).into_iter().collect(),
    }
}

/// The repeats of one setup: `runs[i]` is its report from the run with `seeds[i]`. Each figure
/// every run has gets its values, mean and confidence interval at `confidence`; a figure some
/// run lacks (no spike in that run) is left out.
pub fn repeat_report(runs: &[&SetupReport], seeds: &[u64], confidence: f64) -> RepeatReport {
    let mut figures = BTreeMap::new();
    for figure in Figure::ALL {
        let values: Option<Vec<f64>> = runs.iter().map(|s| s.figure(figure)).collect();
        let Some(values) = values else { continue };
        if values.is_empty() {
            continue;
        }
        let (ci_low, ci_high) = stats::mean_ci(&values, confidence);
        figures.insert(
            figure.name().to_string(),
            FigureSamples {
                mean: stats::mean(&values),
                ci_low,
                ci_high,
                values,
            },
        );
    }
    RepeatReport {
        seeds: seeds.to_vec(),
        confidence,
        figures,
    }
}

/// Joins the reports of repeated runs of one scenario (`runs[i]` ran with `seeds[i]`) into the
/// first run's report, with every setup's [`RepeatReport`] filled from the runs that have that
/// setup. Everything else (headline figures, timelines, ranks) stays the first run's. Runs
/// cut short by an interrupt are left out of the repeats and mark the report interrupted.
pub fn join_repeats(
    runs: Vec<crate::report::Report>,
    seeds: &[u64],
    confidence: f64,
) -> Option<crate::report::Report> {
    let mut runs = runs.into_iter().enumerate();
    let (_, mut first) = runs.next()?;
    // A run cut short by an interrupt is not a sample of the same thing: it is left out of the
    // repeats, and the joined report says it was interrupted.
    let mut rest = Vec::new();
    for (i, r) in runs {
        if r.interrupted {
            first.interrupted = true;
        } else {
            rest.push((seeds.get(i).copied().unwrap_or(r.seed), r));
        }
    }
    for setup in &mut first.setups {
        let mut same: Vec<&SetupReport> = vec![&*setup];
        let mut used = vec![seeds.first().copied().unwrap_or(first.seed)];
        for (seed, r) in &rest {
            if let Some(s) = r.setups.iter().find(|s| s.name == setup.name) {
                same.push(s);
                used.push(*seed);
            }
        }
        let repeat = repeat_report(&same, &used, confidence);
        setup.repeat = Some(repeat);
    }
    Some(first)
}
