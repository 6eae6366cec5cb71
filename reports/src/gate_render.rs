//! A gate result for people and machines: the terminal table (stable column names) and JSON
//! (`scalebench.gate/v1`). JUnit XML is in `junit.rs`.

use std::io::Write;

use scalebench_core::figure::{Figure, Unit};
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Style};

use crate::WriteError;
use crate::format::{ms, pct_floor, secs, sig3, trim, usd};
use crate::gate::{CheckKind, GateResult, Verdict};
use crate::table::render;

/// The columns of the gate table, in order.
pub const GATE_COLUMNS: [&str; 8] = [
    "setup", "check", "actual", "limit", "baseline", "CI", "verdict", "reason",
];

/// A figure's value in its unit, the way tables and reasons show it: `1.23 s`, `0.52%`,
/// `$0.0248`, `14`.
pub fn value_text(figure: Figure, v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    match figure.unit() {
        Unit::Millis => ms(v),
        Unit::Seconds => format!("{} s", secs(v)),
        // Rounded down past 0.01% (as the ranked table does), so 98.996% never shows as 99%.
        Unit::Fraction if v.abs() >= 1e-4 => {
            format!("{}%", trim(pct_floor(v).trim_end_matches('%').to_string()))
        }
        Unit::Fraction => format!("{}%", trim(sig3(v * 100.0))),
        Unit::Usd => usd(v),
        Unit::Hours => format!("{} GPU-h", sig3(v)),
        Unit::Count if v.fract() == 0.0 => format!("{v:.0}"),
        Unit::Count => sig3(v),
        Unit::PerSecond => crate::format::per_s(v),
    }
}

/// The gate for a terminal: a summary line, then one row per check (columns
/// [`GATE_COLUMNS`]). Ends with a newline.
pub fn gate_table(result: &GateResult) -> String {
    let mut b = Builder::default();
    b.push_record(GATE_COLUMNS);
    for c in &result.checks {
        let figure = Figure::from_name(&c.figure);
        let show = |v: Option<f64>| match (v, figure) {
            (Some(v), Some(f)) => value_text(f, v),
            (Some(v), None) => sig3(v),
            (None, _) => "-".to_string(),
        };
        let check = match c.kind {
            CheckKind::Threshold => c.check.clone(),
            CheckKind::Regression => format!("{} vs baseline", c.check),
            CheckKind::Generator => c.check.clone(),
        };
        b.push_record([
            c.setup.clone(),
            check,
            show(c.actual),
            show(c.limit),
            show(c.baseline),
            c.ci.map_or_else(
                || "-".to_string(),
                |[lo, hi]| format!("{}-{}", show(Some(lo)), show(Some(hi))),
            ),
            match c.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "FAIL",
            }
            .to_string(),
            c.reason.clone(),
        ]);
    }
    let mut table = b.build();
    table.modify(Columns::new(2..6), Alignment::right());
    let total = result.checks.len();
    let mut out = format!(
        "Gate of {}{}: {} of {total} checks failed (confidence {}%)\n",
        result.scenario,
        result
            .baseline
            .as_ref()
            .map_or_else(String::new, |b| format!(" against baseline {b}")),
        result.failed,
        trim(format!("{:.1}", result.confidence * 100.0)),
    );
    // Not wrapped to the terminal like the ranked tables: a reason cut over two lines is harder
    // to read and to grep in a CI log than a long line.
    table.with(Style::psql());
    out.push_str(&render(table));
    out.push_str(if result.passed {
        "gate: PASS\n"
    } else {
        "gate: FAIL\n"
    });
    out
}

/// The gate result as pretty JSON with a trailing newline.
pub fn write_gate_json(result: &GateResult, out: &mut dyn Write) -> Result<(), WriteError> {
    serde_json::to_writer_pretty(&mut *out, result)?;
    out.write_all(b"\n")?;
    Ok(())
}
