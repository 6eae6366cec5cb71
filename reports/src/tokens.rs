//! The token figures of an LLM endpoint's answers (`setups[].tokens`) as the terminal and
//! report.html show them: one row per setup, `-` for a figure nothing measured and for a setup
//! whose driver recorded no token (a report without any token figure shows no such table).

use scalebench_core::report::{Report, SetupReport, TokenLatency, TokenReport};
use tabled::builder::Builder;
use tabled::settings::Alignment;
use tabled::settings::object::Columns;

use crate::format::{ms, or_dash, pct_floor, per_s};
use crate::table::{by_rank, finish, render};

/// The columns of the token tables, after the setup's name.
pub(crate) const TOKEN_COLUMNS: [&str; 9] = [
    "TTFT p50",
    "TTFT p99",
    "ITL p99",
    "TPOT p99",
    "tokens/s",
    "output tok",
    "prompt tok",
    "goodput",
    "good share",
];

/// A setup's cells under [`TOKEN_COLUMNS`]; every one `-` for a setup without token figures.
pub(crate) fn token_cells(t: Option<&TokenReport>) -> [String; 9] {
    let Some(t) = t else {
        return std::array::from_fn(|_| "-".to_owned());
    };
    let pct = |l: Option<TokenLatency>, p: fn(&TokenLatency) -> f64| or_dash(l, |l| ms(p(&l)));
    [
        pct(t.ttft_ms, |l| l.p50),
        pct(t.ttft_ms, |l| l.p99),
        pct(t.itl_ms, |l| l.p99),
        pct(t.tpot_ms, |l| l.p99),
        per_s(t.output_tokens_per_s),
        t.output_tokens.to_string(),
        or_dash(t.prompt_tokens, |n| n.to_string()),
        per_s(t.goodput.rps),
        pct_floor(t.goodput.share),
    ]
}

/// The TTFT p99 and goodput share of a setup, as the latency table shows them (`-` without
/// token figures).
pub(crate) fn ranked_cells(s: &SetupReport) -> [String; 2] {
    let t = s.tokens.as_ref();
    [
        or_dash(t.and_then(|t| t.ttft_ms), |l| ms(l.p99)),
        or_dash(t, |t| pct_floor(t.goodput.share)),
    ]
}

/// The token figures of every setup in rank order, or `None` when no setup has any. Ends
/// with a newline.
pub fn token_table(report: &Report) -> Option<String> {
    if !report.has_tokens() {
        return None;
    }
    let mut b = Builder::default();
    b.push_record(std::iter::once("setup").chain(TOKEN_COLUMNS));
    for s in by_rank(report) {
        let mut row = vec![s.name.clone()];
        row.extend(token_cells(s.tokens.as_ref()));
        b.push_record(row);
    }
    let mut table = b.build();
    table.modify(Columns::new(1..), Alignment::right());
    Some(render(finish(table, 0)))
}
