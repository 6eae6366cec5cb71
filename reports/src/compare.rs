//! `scalebench compare`: two or more reports side by side (runs from different drivers, clouds
//! or dates), setups matched by name, every figure with its change against the first report
//! (the baseline), and which direction is better; the token figures too when some report has
//! them (an LLM endpoint). One [`Comparison`] renders as a terminal table ([`compare_table`]), a
//! stable JSON document ([`Comparison`] serialized, schema [`COMPARE_SCHEMA`]) and a
//! self-contained HTML page ([`compare_html`]).

use scalebench_core::figure::{self, Figure, Unit};
use scalebench_core::repeat::judged;
use scalebench_core::report::{Report, SetupReport};
use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Style};

use crate::format::{duration, ms, pct_floor, per_s, secs, sig3, trim, usd};

pub use crate::html::compare::compare_html;

/// The schema identifier of the comparison JSON.
pub const COMPARE_SCHEMA: &str = "scalebench.compare/v1";

/// Which way a compared figure should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Lower is better (latency, cost, errors).
    Lower,
    /// Higher is better (SLO attainment).
    Higher,
    /// Neither: informational (the most replicas, which a gate may bound but a comparison
    /// does not judge).
    Neither,
}

/// How a value compares with the baseline's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It moved the better way.
    Better,
    /// It moved the worse way.
    Worse,
    /// It did not move.
    Same,
}

/// One compared figure: a figure of the catalogue that gates and repeats use
/// (`scalebench_core::figure`), its label in tables and the way it should move.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Compared {
    /// The figure; serialized as its canonical name (`p99`, `cost_per_1k`), its `key`.
    #[serde(rename = "key", serialize_with = "figure_name")]
    pub figure: Figure,
    /// Its label in tables (`p99`, `$/1k requests`).
    pub label: &'static str,
    /// Its unit, serialized by name (`ms`, `fraction`, `usd`, `hours`, `count`, `seconds`).
    #[serde(serialize_with = "unit_name")]
    pub unit: Unit,
    /// Which way is better.
    pub better: Better,
}

fn figure_name<S: serde::Serializer>(f: &Figure, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.name())
}

fn unit_name<S: serde::Serializer>(u: &Unit, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(u.name())
}

/// The figures compared in every comparison, in table order.
pub const FIGURES: [Compared; 16] = [
    fig(Figure::P50, "p50"),
    fig(Figure::P95, "p95"),
    fig(Figure::P99, "p99"),
    fig(Figure::P999, "p99.9"),
    fig(Figure::SloAttainment, "SLO attainment"),
    fig(Figure::ErrorRate, "error rate"),
    fig(Figure::Cost, "cost"),
    fig(Figure::CostPer1k, "$/1k requests"),
    fig(Figure::GpuHours, "GPU-hours"),
    fig(Figure::IdleFraction, "idle"),
    Compared {
        better: Better::Neither,
        ..fig(Figure::MaxReplicas, "max replicas")
    },
    fig(Figure::ColdStarts, "cold starts"),
    fig(Figure::ScaleUpReactionS, "scale-up reaction"),
    fig(Figure::ColdStartP95, "cold start p95"),
    // Whether a live measurement can be trusted beside a prediction: `-` for the simulator.
    fig(Figure::LagP99, "schedule lag p99"),
    fig(Figure::GeneratorLimited, "engine limits"),
];

/// The token figures, compared after [`FIGURES`] when some report has token figures (`-` for a
/// setup without).
pub const TOKEN_FIGURES: [Compared; 7] = [
    fig(Figure::TtftP50, "TTFT p50"),
    fig(Figure::TtftP99, "TTFT p99"),
    fig(Figure::ItlP99, "ITL p99"),
    fig(Figure::TpotP99, "TPOT p99"),
    fig(Figure::TokensPerS, "tokens/s"),
    fig(Figure::GoodputRps, "goodput/s"),
    fig(Figure::Goodput, "goodput share"),
];

/// `figure` compared the way the catalogue says it improves.
const fn fig(figure: Figure, label: &'static str) -> Compared {
    Compared {
        figure,
        label,
        unit: figure.unit(),
        better: match figure.better() {
            figure::Better::Lower => Better::Lower,
            figure::Better::Higher => Better::Higher,
        },
    }
}

/// One report of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// Its label (`--label`, else its path).
    pub label: String,
    /// The file it was read from.
    pub path: String,
    /// The scenario's name.
    pub scenario: String,
    /// The driver (`sim`, `testbed`, `load`, ...).
    pub driver: String,
    /// The seed.
    pub seed: u64,
    /// Seconds of traffic.
    pub duration_s: f64,
    /// When the run started (from the report's environment), if recorded.
    pub started_at: Option<String>,
    /// The scalebench version that wrote it, if recorded.
    pub scalebench: Option<String>,
    /// The runs behind its figures: more than 1 for a `run --repeat` report, whose figures
    /// are compared as the means of its runs.
    pub runs: usize,
}

/// One value against the baseline's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cell {
    /// The value; `null` when the report has none.
    pub value: Option<f64>,
    /// `value - baseline`; `null` in the baseline or without both values.
    pub delta: Option<f64>,
    /// The delta in percent of the baseline; `null` also when the baseline is 0.
    pub delta_pct: Option<f64>,
    /// Whether the change is for the better; `null` where there is no delta or no better way.
    pub verdict: Option<Verdict>,
}

/// One figure of one setup across the reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureRow {
    /// The figure, serialized as its canonical name (see [`FIGURES`]).
    #[serde(rename = "key", serialize_with = "figure_name")]
    pub figure: Figure,
    /// One cell per report; `null` where the report has no such setup.
    pub cells: Vec<Option<Cell>>,
}

/// One setup across the reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetupRow {
    /// Its name (setups are matched by name).
    pub name: String,
    /// Whether each report has it.
    pub present: Vec<bool>,
    /// Its figures, in the order of [`Comparison::figures`].
    pub figures: Vec<FigureRow>,
}

/// Reports side by side; serializes as the `scalebench.compare/v1` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Always [`COMPARE_SCHEMA`].
    pub schema: &'static str,
    /// The label of the baseline (the first report).
    pub baseline: String,
    /// The reports, baseline first.
    pub reports: Vec<RunInfo>,
    /// The figures compared: [`FIGURES`], then [`TOKEN_FIGURES`] when some report has token
    /// figures.
    pub figures: Vec<Compared>,
    /// Every setup of any report: the baseline's in rank order, then the others' new ones.
    pub setups: Vec<SetupRow>,
}

/// Compares `reports` (label, path, report), the first being the baseline.
pub fn compare(reports: &[(String, String, Report)]) -> Comparison {
    let tokens = reports.iter().any(|(_, _, r)| r.has_tokens());
    let compared: Vec<Compared> = FIGURES
        .iter()
        .chain(TOKEN_FIGURES.iter().filter(|_| tokens))
        .copied()
        .collect();
    let mut names: Vec<String> = Vec::new();
    for (_, _, r) in reports {
        let mut setups: Vec<&SetupReport> = r.setups.iter().collect();
        setups.sort_by_key(|s| s.rank);
        for s in setups {
            if !names.contains(&s.name) {
                names.push(s.name.clone());
            }
        }
    }
    let setups = names
        .into_iter()
        .map(|name| {
            let found: Vec<Option<&SetupReport>> = reports
                .iter()
                .map(|(_, _, r)| r.setups.iter().find(|s| s.name == name))
                .collect();
            let figures = compared
                .iter()
                .map(|f| {
                    let base = found[0].and_then(|s| mean(s, f.figure));
                    let cells = found
                        .iter()
                        .enumerate()
                        .map(|(i, s)| s.map(|s| cell(mean(s, f.figure), base, i == 0, f.better)))
                        .collect();
                    FigureRow {
                        figure: f.figure,
                        cells,
                    }
                })
                .collect();
            SetupRow {
                present: found.iter().map(Option::is_some).collect(),
                name,
                figures,
            }
        })
        .collect();
    Comparison {
        schema: COMPARE_SCHEMA,
        baseline: reports.first().map(|r| r.0.clone()).unwrap_or_default(),
        reports: reports
            .iter()
            .map(|(label, path, r)| RunInfo {
                label: label.clone(),
                path: path.clone(),
                scenario: r.scenario.clone(),
                driver: r.driver.clone(),
                seed: r.seed,
                duration_s: r.duration_s,
                started_at: r.environment.as_ref().map(|e| e.started_at.clone()),
                scalebench: r.environment.as_ref().map(|e| e.scalebench.clone()),
                runs: r
                    .setups
                    .iter()
                    .filter_map(|s| s.repeat.as_ref().map(|x| x.seeds.len()))
                    .max()
                    .unwrap_or(1),
            })
            .collect(),
        figures: compared,
        setups,
    }
}

/// A setup's figure as compared: the mean of its repeats when it has them, like the gate.
fn mean(s: &SetupReport, f: Figure) -> Option<f64> {
    judged(s, f).map(|(v, _, _)| v)
}

/// A value against the baseline's.
fn cell(value: Option<f64>, base: Option<f64>, is_base: bool, better: Better) -> Cell {
    let delta = match (value, base) {
        (Some(v), Some(b)) if !is_base => Some(v - b),
        _ => None,
    };
    let delta_pct = match (delta, base) {
        (Some(d), Some(b)) if b != 0.0 => Some(100.0 * d / b),
        _ => None,
    };
    let verdict = delta.and_then(|d| match better {
        _ if d.abs() <= 1e-12 => Some(Verdict::Same),
        Better::Lower => Some(if d < 0.0 {
            Verdict::Better
        } else {
            Verdict::Worse
        }),
        Better::Higher => Some(if d > 0.0 {
            Verdict::Better
        } else {
            Verdict::Worse
        }),
        Better::Neither => None,
    });
    Cell {
        value,
        delta,
        delta_pct,
        verdict,
    }
}

/// A value in its unit: `1.45 s`, `99.12%`, `$0.0248`, `16.0`, `3`, `42 s`; `-` for none.
pub(crate) fn show(unit: Unit, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "-".to_owned();
    };
    match unit {
        Unit::Millis => ms(v),
        Unit::Fraction => pct_floor(v),
        Unit::Usd => usd(v),
        Unit::Hours => sig3(v),
        Unit::Count => format!("{v:.0}"),
        Unit::Seconds => format!("{} s", secs(v)),
        Unit::PerSecond => per_s(v),
    }
}

/// A cell's change: `+250 ms (+20.8%) worse`; empty without a delta.
pub(crate) fn show_delta(unit: Unit, c: &Cell) -> String {
    let Some(d) = c.delta else {
        return String::new();
    };
    let sign = if d > 0.0 { "+" } else { "-" };
    let a = d.abs();
    if a == 0.0 {
        return "\u{b1}0".to_owned();
    }
    let abs = match unit {
        Unit::Millis => ms(a),
        Unit::Fraction if a >= 0.0001 => format!("{:.2} pp", a * 100.0),
        Unit::Fraction => format!("{} pp", sig3(a * 100.0)),
        Unit::Usd => usd(a),
        Unit::Hours => sig3(a),
        Unit::Count => format!("{a:.0}"),
        Unit::Seconds => format!("{} s", secs(a)),
        Unit::PerSecond => format!("{}/s", trim(sig3(a))),
    };
    let mut out = format!("{sign}{abs}");
    if let Some(p) = c.delta_pct {
        if p.abs() >= 0.05 {
            out.push_str(&format!(" ({p:+.1}%)"));
        } else {
            out.push_str(&format!(" ({p:+.2}%)"));
        }
    }
    match c.verdict {
        Some(Verdict::Better) => out.push_str(" better"),
        Some(Verdict::Worse) => out.push_str(" worse"),
        _ => {}
    }
    out
}

/// The reports, one line each: `[2] label: path | scenario s | driver sim | seed 1 | 30m | ...`.
pub(crate) fn run_line(i: usize, r: &RunInfo) -> String {
    let mut line = format!("[{}] {}", i + 1, r.label);
    if r.label != r.path {
        line.push_str(&format!(": {}", r.path));
    }
    line.push_str(&format!(
        " | scenario {} | driver {} | seed {} | {}",
        r.scenario,
        r.driver,
        r.seed,
        duration(r.duration_s)
    ));
    if let Some(at) = &r.started_at {
        line.push_str(&format!(" | started {at}"));
    }
    if r.runs > 1 {
        line.push_str(&format!(" | means of {} runs", r.runs));
    }
    if i == 0 {
        line.push_str(" | baseline");
    }
    line
}

/// The comparison for a terminal: the reports, then one table per setup with a column per
/// report and the change against the baseline. Ends with a newline.
pub fn compare_table(c: &Comparison) -> String {
    let mut out = String::from("Reports\n");
    for (i, r) in c.reports.iter().enumerate() {
        out.push_str(&run_line(i, r));
        out.push('\n');
    }
    for s in &c.setups {
        out.push_str(&format!("\nsetup {}", s.name));
        let missing: Vec<String> = (0..s.present.len())
            .filter(|i| !s.present[*i])
            .map(|i| format!("[{}]", i + 1))
            .collect();
        if !missing.is_empty() {
            out.push_str(&format!(" (not in {})", missing.join(" ")));
        }
        out.push('\n');
        let mut b = Builder::default();
        let mut head = vec!["figure".to_owned(), "better".to_owned()];
        for (i, _) in c.reports.iter().enumerate() {
            head.push(format!("[{}]", i + 1));
            if i > 0 {
                head.push(format!("[{}] vs [1]", i + 1));
            }
        }
        b.push_record(head);
        for (f, row) in c.figures.iter().zip(&s.figures) {
            let better = match f.better {
                Better::Lower => "lower",
                Better::Higher => "higher",
                Better::Neither => "-",
            };
            let mut rec = vec![f.label.to_owned(), better.to_owned()];
            for (i, cell) in row.cells.iter().enumerate() {
                rec.push(cell.map_or_else(|| "-".to_owned(), |c| show(f.unit, c.value)));
                if i > 0 {
                    rec.push(cell.map(|c| show_delta(f.unit, &c)).unwrap_or_default());
                }
            }
            b.push_record(rec);
        }
        let mut table = b.build();
        table.with(Style::psql());
        table.modify(Columns::new(2..), Alignment::right());
        for line in table.to_string().lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_and_verdicts_follow_the_better_direction() {
        let c = cell(Some(1450.0), Some(1200.0), false, Better::Lower);
        assert_eq!(c.delta, Some(250.0));
        assert!((c.delta_pct.unwrap_or(0.0) - 20.8333).abs() < 1e-3);
        assert_eq!(c.verdict, Some(Verdict::Worse));
        assert_eq!(show_delta(Unit::Millis, &c), "+250 ms (+20.8%) worse");
        let a = cell(Some(0.995), Some(0.99), false, Better::Higher);
        assert_eq!(a.verdict, Some(Verdict::Better));
        assert_eq!(show_delta(Unit::Fraction, &a), "+0.50 pp (+0.5%) better");
        let base = cell(Some(1.0), Some(1.0), true, Better::Lower);
        assert_eq!((base.delta, base.verdict), (None, None));
        let zero = cell(Some(3.0), Some(0.0), false, Better::Lower);
        assert_eq!((zero.delta, zero.delta_pct), (Some(3.0), None));
        assert_eq!(cell(None, Some(1.0), false, Better::Lower).delta, None);
    }
}
