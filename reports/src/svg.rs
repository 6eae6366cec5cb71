//! Inline SVG charts rendered in Rust, for pages that must open offline: a time-series
//! [`LineChart`] (several series, an optional right axis, horizontal reference lines, vertical
//! markers) and a [`Scatter`] (highlighted points, labels, an optional line through the
//! highlighted ones, e.g. a Pareto front). Both are builders whose `render` returns the `<svg>`
//! element as a `String`; every text is escaped.
//!
//! The charts are checkable: the `<svg>` carries `data-chart` (its id) and its axis mapping,
//! `data-x0`/`data-x1` (the data domain of the x axis) drawn from pixel `data-px0` to `data-px1`,
//! `data-y0`/`data-y1` (the left axis's domain) drawn from pixel `data-py0` (the bottom) up to
//! `data-py1`, `data-yscale` (`linear`, or `log` when values map through log10), and, with a
//! right axis, `data-ry0`/`data-ry1`. Each series is one `<polyline data-series="NAME">` (with
//! `data-axis="right"` on the right axis) holding one point per sample, so a test or a script
//! can invert the pixels back into values. All charts of one width share the same plot margins,
//! so charts stacked on one page line up on one time axis.

mod axis;
mod line;
mod scatter;

pub use line::{LineChart, Series};
pub use scatter::{Point, Scatter};

/// The chart width in SVG user units (the page scales it to its container).
pub const WIDTH: f64 = 1000.0;
/// Left plot margin: room for the left axis's tick labels and title.
pub const LEFT: f64 = 64.0;
/// Right plot margin: room for a right axis.
pub const RIGHT: f64 = 64.0;
/// Top margin: the title and the legend.
pub(crate) const TOP: f64 = 44.0;
/// Bottom margin: the x axis's tick labels and title.
pub(crate) const BOTTOM: f64 = 34.0;

/// A palette of distinguishable colours (Tableau 10), for series and setups.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// The `i`-th colour of [`PALETTE`], wrapping around.
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

pub use crate::markup::escape;

/// How the x axis's tick labels read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XFormat {
    /// Seconds as a span: `30s`, `10m`, `1h30m`.
    Duration,
    /// Plain numbers.
    Number,
}
