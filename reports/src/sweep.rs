//! A sweep's outputs: the terminal summary (the Pareto front and the cheapest setting that meets
//! the SLO), `sweep.csv` (every setting and setup, one row each, with the token figures when
//! some setup has them), `sweep.json` and `sweep.html`.

use std::io::Write;

use scalebench_core::report::{TokenLatency, TokenReport};
use scalebench_core::sweep::{Row, Sweep};
use tabled::builder::Builder;
use tabled::settings::Alignment;
use tabled::settings::object::Columns;

use crate::WriteError;
use crate::format::{ms, or_dash, pct_floor, percentile, usd};
use crate::table::{finish, render, token_bounds};

mod html;
pub use html::sweep_html;

/// The columns of `sweep.csv` after the setting index and the keys; stable names, documented in
/// docs/reports.md.
pub const CSV_COLUMNS: [&str; 21] = [
    "setup",
    "policy",
    "rank",
    "pareto",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "slo_attainment",
    "slo_met",
    "error_rate",
    "cost_usd",
    "cost_per_1k_usd",
    "gpu_hours",
    "idle_fraction",
    "max_replicas",
    "cold_starts",
    "scale_up_reaction_s",
    "violation_s",
    "simulation",
    "eligible",
];

/// The columns of `sweep.csv` after [`CSV_COLUMNS`] when some setup has token figures (an LLM
/// endpoint); empty cells for a setup without, or a figure nothing measured.
pub const TOKEN_CSV_COLUMNS: [&str; 8] = [
    "ttft_p50_ms",
    "ttft_p99_ms",
    "itl_p99_ms",
    "tpot_p99_ms",
    "tokens_per_s",
    "output_tokens",
    "goodput",
    "goodput_rps",
];

/// Renders `sweep.csv`: `setting`, one column per key, then [`CSV_COLUMNS`] (and
/// [`TOKEN_CSV_COLUMNS`] when some setup has token figures); one row per setup of every
/// setting, in grid order.
pub fn render_sweep_csv(sweep: &Sweep, out: &mut dyn Write) -> Result<(), WriteError> {
    let mut csv = csv::Writer::from_writer(out);
    let tokens = sweep
        .settings
        .iter()
        .any(|s| s.setups.iter().any(|s| s.tokens.is_some()));
    let header = std::iter::once("setting".to_owned())
        .chain(sweep.keys.iter().cloned())
        .chain(CSV_COLUMNS.iter().map(|c| (*c).to_owned()))
        .chain(
            TOKEN_CSV_COLUMNS
                .iter()
                .filter(|_| tokens)
                .map(|c| (*c).to_owned()),
        );
    csv.write_record(header)?;
    for row in sweep.rows() {
        let s = row.setup;
        let mut record: Vec<String> = vec![row.setting.to_string()];
        record.extend(row.values.iter().cloned());
        record.extend([
            s.name.clone(),
            s.policy.clone(),
            s.rank.to_string(),
            row.pareto.to_string(),
            s.latency_ms.p50.to_string(),
            s.latency_ms.p95.to_string(),
            s.latency_ms.p99.to_string(),
            s.latency_ms.p999.to_string(),
            s.slo.attainment.to_string(),
            s.slo.met.to_string(),
            s.requests.error_rate().to_string(),
            cell(s.cost.total_usd),
            cell(s.cost.per_1k_requests_usd),
            cell(s.cost.gpu_hours),
            cell(s.cost.idle_fraction),
            cell(s.scaling.max_replicas),
            cell(s.scaling.cold_starts),
            s.scaling
                .scale_up_reaction_s
                .map_or_else(String::new, |v| v.to_string()),
            s.slo.violation_s.to_string(),
            row.simulation.to_string(),
            row.eligible.to_string(),
        ]);
        if tokens {
            let t = s.tokens.as_ref();
            let ms = |f: fn(&TokenReport) -> Option<TokenLatency>, p: fn(TokenLatency) -> f64| {
                cell(t.and_then(f).map(p))
            };
            record.extend([
                ms(|t| t.ttft_ms, |l| l.p50),
                ms(|t| t.ttft_ms, |l| l.p99),
                ms(|t| t.itl_ms, |l| l.p99),
                ms(|t| t.tpot_ms, |l| l.p99),
                cell(t.map(|t| t.output_tokens_per_s)),
                cell(t.map(|t| t.output_tokens)),
                cell(t.map(|t| t.goodput.share)),
                cell(t.map(|t| t.goodput.rps)),
            ]);
        }
        csv.write_record(record)?;
    }
    csv.flush()?;
    Ok(())
}

/// The sweep for a terminal: a header line, the Pareto front of cost against p99 (cheapest
/// first), and the cheapest setting that meets the SLO. Ends with a newline.
pub fn sweep_table(sweep: &Sweep) -> String {
    let rows = sweep.rows();
    let setups = sweep.settings.first().map_or(0, |s| s.setups.len());
    let mut out = format!(
        "sweep {} | seed {} | {} settings x {} setups | {} distinct simulations | SLO {} <= {}{}{}\n",
        sweep.scenario,
        sweep.seed,
        sweep.settings.len(),
        setups,
        sweep.simulations,
        percentile(sweep.slo.percentile),
        ms(sweep.slo.latency_ms),
        token_bounds(&sweep.slo, "<="),
        if sweep.interrupted {
            " | INTERRUPTED: partial"
        } else {
            ""
        },
    );
    let front = front(&rows);
    let shed = rows.iter().filter(|r| !r.eligible).count();
    out.push_str(&format!(
        "\nPareto front: cost against p99 ({} distinct runs of {} rows; * = any value; every row is in sweep.csv)\n",
        front.len(),
        rows.len()
    ));
    if shed > 0 {
        out.push_str(&format!(
            "{shed} rows failed more than the SLO's error budget ({}) and are left off the front: p99 counts only answered requests\n",
            pct_floor(sweep.error_budget())
        ));
    }
    let mut b = Builder::default();
    let mut header: Vec<String> = sweep.keys.clone();
    header.extend(FRONT_COLUMNS.map(str::to_owned));
    b.push_record(header);
    for r in &front {
        let mut cells: Vec<String> = shared_values(&rows, r.simulation)
            .into_iter()
            .map(|v| v.unwrap_or_else(|| "*".to_owned()))
            .collect();
        cells.extend(result_cells(r));
        b.push_record(cells);
    }
    let mut table = b.build();
    let k = sweep.keys.len();
    table.modify(Columns::new(k + 1..), Alignment::right());
    out.push_str(&render(finish(table, k)));
    out.push('\n');
    out.push_str(&cheapest_line(sweep));
    out
}

/// A value in Rust's shortest round-trip form, or an empty cell when nothing measured it.
fn cell<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The rows on the Pareto front, one per distinct simulation (settings that leave a setup
/// unchanged share its run), cheapest first.
pub fn front<'a, 'r>(rows: &'r [Row<'a>]) -> Vec<&'r Row<'a>> {
    let mut front: Vec<&Row<'_>> = Vec::new();
    for r in rows.iter().filter(|r| r.pareto) {
        if !front.iter().any(|f| f.simulation == r.simulation) {
            front.push(r);
        }
    }
    front.sort_by(|a, b| {
        scalebench_core::score::known_first(a.setup.cost.total_usd, b.setup.cost.total_usd)
            .then_with(|| a.setting.cmp(&b.setting))
    });
    front
}

/// The value of each key that every row of `simulation` shares, `None` for a key whose value
/// does not matter to it (the rows differ there).
pub fn shared_values(rows: &[Row<'_>], simulation: usize) -> Vec<Option<String>> {
    let mut same = rows.iter().filter(|r| r.simulation == simulation);
    let Some(first) = same.next() else {
        return Vec::new();
    };
    let mut shared: Vec<Option<String>> = first.values.iter().cloned().map(Some).collect();
    for r in same {
        for (v, own) in shared.iter_mut().zip(r.values) {
            if v.as_ref().is_some_and(|v| v != own) {
                *v = None;
            }
        }
    }
    shared
}

/// The front table's columns after the keys, in the terminal and in sweep.html.
pub(crate) const FRONT_COLUMNS: [&str; 8] = [
    "setup", "p99", "SLO att", "met", "errors", "cost", "$/1k req", "max repl",
];

/// The result cells of a row in the front table, after its key values.
pub(crate) fn result_cells(r: &Row<'_>) -> Vec<String> {
    let s = r.setup;
    vec![
        s.name.clone(),
        ms(s.latency_ms.p99),
        pct_floor(s.slo.attainment),
        if s.slo.met { "yes" } else { "no" }.to_owned(),
        pct_floor(s.requests.error_rate()),
        or_dash(s.cost.total_usd, usd),
        or_dash(s.cost.per_1k_requests_usd, usd),
        or_dash(s.scaling.max_replicas, |n| n.to_string()),
    ]
}

/// `cheapest setting that meets the SLO: ...`, or that none does. Ends with a newline.
pub fn cheapest_line(sweep: &Sweep) -> String {
    match sweep.cheapest_meeting_slo() {
        Some(r) => format!(
            "cheapest setting that meets the SLO: {} with {}: {} ({}/1k requests), p99 {}, SLO attainment {}\n",
            r.setup.name,
            describe(sweep, &shared_values(&sweep.rows(), r.simulation)),
            or_dash(r.setup.cost.total_usd, usd),
            or_dash(r.setup.cost.per_1k_requests_usd, usd),
            ms(r.setup.latency_ms.p99),
            pct_floor(r.setup.slo.attainment),
        ),
        None => format!(
            "no setting meets the SLO ({} <= {}{}); the best attainment is {}\n",
            percentile(sweep.slo.percentile),
            ms(sweep.slo.latency_ms),
            token_bounds(&sweep.slo, "<="),
            sweep
                .rows()
                .iter()
                .map(|r| r.setup.slo.attainment)
                .fold(None, |m: Option<f64>, a| Some(m.map_or(a, |m| m.max(a))))
                .map_or_else(|| "-".to_owned(), pct_floor)
        ),
    }
}

/// `key=value key=value (any key3)` for a setting's values, `None` for those that do not
/// matter.
pub fn describe(sweep: &Sweep, values: &[Option<String>]) -> String {
    let set: Vec<String> = sweep
        .keys
        .iter()
        .zip(values)
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    let any: Vec<&str> = sweep
        .keys
        .iter()
        .zip(values)
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    match (set.is_empty(), any.is_empty()) {
        (true, true) => "the scenario as written".to_owned(),
        (true, false) => format!("any {}", any.join(", ")),
        (false, true) => set.join(" "),
        (false, false) => format!("{} (any {})", set.join(" "), any.join(", ")),
    }
}
