//! Axes: fitting a domain to the data, ticks, and mapping values to pixels.

use std::fmt::Write as _;

use super::{WIDTH, XFormat, escape};
use crate::format::{sig3, trim};

/// The axis lines and their titles.
pub(super) fn axes(
    o: &mut String,
    (px0, px1, py0, py1): (f64, f64, f64, f64),
    x_label: &str,
    y_label: &str,
    right_label: Option<&str>,
    h: f64,
) {
    let _ = write!(
        o,
        r#"<line class="axis" x1="{px0}" x2="{px1}" y1="{py0}" y2="{py0}"/><line class="axis" x1="{px0}" x2="{px0}" y1="{py1}" y2="{py0}"/><text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="axis-title" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (px0 + px1) / 2.0,
        h - 4.0,
        escape(x_label),
        (py0 + py1) / 2.0,
        escape(y_label),
    );
    if let Some(label) = right_label {
        let _ = write!(
            o,
            r#"<line class="axis" x1="{px1}" x2="{px1}" y1="{py1}" y2="{py0}"/><text class="axis-title" transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle">{}</text>"#,
            WIDTH - 12.0,
            (py0 + py1) / 2.0,
            escape(label),
        );
    }
}

/// A pixel coordinate with one decimal, without a trailing `.0`.
pub(super) fn coord(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0")
        .map_or_else(|| s.clone(), str::to_owned)
}

/// A domain bound for a data attribute: shortest round-trip form.
pub(super) fn num(v: f64) -> String {
    format!("{v}")
}

/// A tick label: a few significant digits, `k` and `M` for large numbers.
pub(super) fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(sig3(v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(sig3(v / 1e3)))
    } else {
        trim(sig3(v))
    }
}

/// Data values to pixels, linear or logarithmic.
pub(super) struct Map {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
    log: bool,
}

impl Map {
    pub(super) fn new((d0, d1): (f64, f64), (p0, p1): (f64, f64), log: bool) -> Map {
        if log {
            Map {
                d0: d0.log10(),
                d1: d1.log10(),
                p0,
                p1,
                log,
            }
        } else {
            Map {
                d0,
                d1,
                p0,
                p1,
                log,
            }
        }
    }

    pub(super) fn px(&self, v: f64) -> f64 {
        let v = if self.log {
            v.max(10f64.powf(self.d0)).log10()
        } else {
            v
        };
        let span = self.d1 - self.d0;
        let f = if span > 0.0 {
            (v - self.d0) / span
        } else {
            0.0
        };
        (self.p0 + f * (self.p1 - self.p0)).clamp(self.p0.min(self.p1), self.p0.max(self.p1))
    }
}

/// A value axis's domain, fitted to the data with round bounds.
pub(super) struct YAxis {
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) log: bool,
}

impl YAxis {
    /// From 0 (or the data's minimum when negative) to a round number above the maximum; a log
    /// axis spans whole decades (or fewer when the data spans less than a decade).
    pub(super) fn fit(values: impl Iterator<Item = f64>, log: bool) -> YAxis {
        let (mut lo, mut hi, mut lo_pos) = (0.0f64, f64::NEG_INFINITY, f64::INFINITY);
        for v in values.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
            if v > 0.0 {
                lo_pos = lo_pos.min(v);
            }
        }
        if log && lo_pos.is_finite() {
            let d0 = 10f64.powf(lo_pos.log10().floor());
            let d1 = 10f64.powf(hi.log10().ceil()).max(d0 * 10.0);
            return YAxis {
                min: d0,
                max: d1,
                log: true,
            };
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        let step = nice_step(hi - lo, 5.0);
        YAxis {
            min: (lo / step).floor() * step,
            max: (hi / step).ceil() * step,
            log: false,
        }
    }

    pub(super) fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (
                self.min.log10().round() as i32,
                self.max.log10().round() as i32,
            );
            let decades = (a..=b).map(|e| 10f64.powi(e));
            if b - a <= 2 {
                return decades
                    .flat_map(|d| [d, 2.0 * d, 5.0 * d])
                    .filter(|t| *t <= self.max * 1.0001)
                    .collect();
            }
            return decades.collect();
        }
        let step = nice_step(self.max - self.min, 5.0);
        let n = ((self.max - self.min) / step).round() as i64;
        (0..=n).map(|i| self.min + i as f64 * step).collect()
    }
}

/// A step of 1, 2 or 5 times a power of ten giving about `count` intervals over `span`.
pub(super) fn nice_step(span: f64, count: f64) -> f64 {
    let raw = span / count;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let f = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    f * mag
}

/// Ticks for the x axis: round spans of time, or round numbers.
pub(super) fn x_ticks((x0, x1): (f64, f64), format: XFormat) -> Vec<f64> {
    let span = x1 - x0;
    let step = match format {
        XFormat::Number => nice_step(span, 8.0),
        XFormat::Duration => {
            const STEPS: [f64; 20] = [
                1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
                7200.0, 10800.0, 21600.0, 43200.0, 86400.0, 172_800.0, 604_800.0,
            ];
            STEPS
                .iter()
                .copied()
                .find(|s| span / s <= 12.0)
                .unwrap_or_else(|| nice_step(span, 10.0))
        }
    };
    let first = (x0 / step).ceil() as i64;
    let last = (x1 / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_span_decades() {
        let a = YAxis::fit([80.0, 260.0, 30_000.0].into_iter(), true);
        assert_eq!((a.min, a.max), (10.0, 100_000.0));
        assert_eq!(a.ticks().len(), 5);
        let b = YAxis::fit([0.0, 7.3].into_iter(), false);
        assert_eq!((b.min, b.max), (0.0, 8.0));
    }
}
