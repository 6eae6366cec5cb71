//! The time-series [`LineChart`] and its [`Series`].

use std::fmt::Write as _;

use super::axis::{Map, YAxis, axes, coord, num, tick, x_ticks};
use super::{BOTTOM, LEFT, RIGHT, TOP, WIDTH, XFormat, escape};
use crate::format::duration;

/// One line of a [`LineChart`].
#[derive(Debug, Clone)]
pub struct Series {
    name: String,
    label: String,
    color: String,
    points: Vec<(f64, f64)>,
    dashed: bool,
    right: bool,
    setup: Option<String>,
}

impl Series {
    /// A series named `name` (its `data-series`, and its legend label unless [`Series::label`]
    /// sets another) drawn through `points` (x, y); non-finite points are left out.
    pub fn new(name: &str, color: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_owned(),
            label: name.to_owned(),
            color: color.to_owned(),
            points,
            dashed: false,
            right: false,
            setup: None,
        }
    }

    /// The legend's label.
    pub fn label(mut self, label: &str) -> Series {
        self.label = label.to_owned();
        self
    }

    /// Draws the line dashed.
    pub fn dashed(mut self) -> Series {
        self.dashed = true;
        self
    }

    /// Plots the series against the right axis.
    pub fn right(mut self) -> Series {
        self.right = true;
        self
    }

    /// Tags the polyline with `data-setup` (for overlays that toggle setups).
    pub fn setup(mut self, setup: &str) -> Series {
        self.setup = Some(setup.to_owned());
        self
    }
}

/// A time-series line chart; see the module doc for its data attributes.
#[derive(Debug, Clone)]
pub struct LineChart {
    id: String,
    title: String,
    height: f64,
    x: (f64, f64),
    x_label: String,
    x_format: XFormat,
    y_label: String,
    y_log: bool,
    right_label: Option<String>,
    series: Vec<Series>,
    references: Vec<(f64, String)>,
    markers: Vec<(f64, String)>,
    attrs: Vec<(String, String)>,
    note: Option<String>,
}

impl LineChart {
    /// A chart with id `id` (its `data-chart`) and a title; 220 units tall, x from 0 to 1.
    pub fn new(id: &str, title: &str) -> LineChart {
        LineChart {
            id: id.to_owned(),
            title: title.to_owned(),
            height: 220.0,
            x: (0.0, 1.0),
            x_label: "time".to_owned(),
            x_format: XFormat::Duration,
            y_label: String::new(),
            y_log: false,
            right_label: None,
            series: Vec::new(),
            references: Vec::new(),
            markers: Vec::new(),
            attrs: Vec::new(),
            note: None,
        }
    }

    /// The height in SVG units (the width is always [`WIDTH`]).
    pub fn height(mut self, height: f64) -> LineChart {
        self.height = height;
        self
    }

    /// The x axis's domain: the same for every chart that should line up.
    pub fn x_range(mut self, min: f64, max: f64) -> LineChart {
        self.x = (min, if max > min { max } else { min + 1.0 });
        self
    }

    /// The x axis's title and tick format.
    pub fn x_axis(mut self, label: &str, format: XFormat) -> LineChart {
        self.x_label = label.to_owned();
        self.x_format = format;
        self
    }

    /// The left axis's title, with its unit (e.g. `latency (ms)`).
    pub fn y_label(mut self, label: &str) -> LineChart {
        self.y_label = label.to_owned();
        self
    }

    /// A logarithmic left axis (values at or below zero are drawn at its bottom).
    pub fn y_log(mut self, log: bool) -> LineChart {
        self.y_log = log;
        self
    }

    /// Adds a right axis with this title, for the series marked [`Series::right`].
    pub fn right_axis(mut self, label: &str) -> LineChart {
        self.right_label = Some(label.to_owned());
        self
    }

    /// Adds a series.
    pub fn series(mut self, series: Series) -> LineChart {
        self.series.push(series);
        self
    }

    /// Adds a horizontal reference line at `y` (left axis), e.g. an SLO.
    pub fn reference(mut self, y: f64, label: &str) -> LineChart {
        self.references.push((y, label.to_owned()));
        self
    }

    /// Adds a labelled vertical marker at `x`, e.g. a fault.
    pub fn marker(mut self, x: f64, label: &str) -> LineChart {
        self.markers.push((x, label.to_owned()));
        self
    }

    /// Adds an attribute to the `<svg>` element (e.g. `data-setup`).
    pub fn attr(mut self, name: &str, value: &str) -> LineChart {
        self.attrs.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A note shown under the title (e.g. that the series were downsampled).
    pub fn note(mut self, note: &str) -> LineChart {
        self.note = Some(note.to_owned());
        self
    }

    /// The `<svg>` element.
    pub fn render(&self) -> String {
        let (h, px0, px1) = (self.height, LEFT, WIDTH - RIGHT);
        let (py0, py1) = (h - BOTTOM, TOP);
        let left = self.series.iter().filter(|s| !s.right);
        let left_vals = left.flat_map(|s| s.points.iter().map(|p| p.1));
        let refs = self.references.iter().map(|r| r.0);
        let ly = YAxis::fit(left_vals.chain(refs), self.y_log);
        let right_vals = self
            .series
            .iter()
            .filter(|s| s.right)
            .flat_map(|s| s.points.iter().map(|p| p.1));
        let ry = self
            .right_label
            .as_ref()
            .map(|_| YAxis::fit(right_vals, false));
        let xs = Map::new(self.x, (px0, px1), false);
        let ys = Map::new((ly.min, ly.max), (py0, py1), ly.log);
        let rys = ry
            .as_ref()
            .map(|a| Map::new((a.min, a.max), (py0, py1), false));

        let mut o = String::new();
        let _ = write!(
            o,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {h}" xmlns="http://www.w3.org/2000/svg" role="img" data-chart="{}" data-x0="{}" data-x1="{}" data-px0="{px0}" data-px1="{px1}" data-y0="{}" data-y1="{}" data-py0="{py0}" data-py1="{py1}" data-yscale="{}""#,
            escape(&self.id),
            num(self.x.0),
            num(self.x.1),
            num(ly.min),
            num(ly.max),
            if ly.log { "log" } else { "linear" },
        );
        if let Some(a) = &ry {
            let _ = write!(o, r#" data-ry0="{}" data-ry1="{}""#, num(a.min), num(a.max));
        }
        for (k, v) in &self.attrs {
            let _ = write!(o, r#" {}="{}""#, escape(k), escape(v));
        }
        let _ = write!(o, "><title>{}</title>", escape(&self.title));
        let _ = write!(
            o,
            r#"<text class="title" x="{px0}" y="16">{}</text>"#,
            escape(&self.title)
        );
        if let Some(note) = &self.note {
            let _ = write!(
                o,
                r#"<text class="note" x="{px1}" y="16" text-anchor="end">{}</text>"#,
                escape(note)
            );
        }
        legend(&mut o, &self.series, px0);
        // Grid and left ticks.
        for t in ly.ticks() {
            let y = ys.px(t);
            let _ = write!(
                o,
                r#"<line class="grid" x1="{px0}" x2="{px1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                px0 - 5.0,
                y + 3.5,
                tick(t)
            );
        }
        if let (Some(a), Some(m)) = (&ry, &rys) {
            for t in a.ticks() {
                let _ = write!(
                    o,
                    r#"<text class="tick" x="{}" y="{:.1}">{}</text>"#,
                    px1 + 5.0,
                    m.px(t) + 3.5,
                    tick(t)
                );
            }
        }
        for t in x_ticks(self.x, self.x_format) {
            let x = xs.px(t);
            let label = match self.x_format {
                XFormat::Duration => duration(t),
                XFormat::Number => tick(t),
            };
            let _ = write!(
                o,
                r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{py1}" y2="{py0}"/><text class="tick" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                py0 + 14.0,
                escape(&label)
            );
        }
        axes(
            &mut o,
            (px0, px1, py0, py1),
            &self.x_label,
            &self.y_label,
            self.right_label.as_deref(),
            h,
        );
        for (y, label) in &self.references {
            let py = ys.px(*y);
            let _ = write!(
                o,
                r#"<g class="ref" data-y="{}"><line x1="{px0}" x2="{px1}" y1="{py:.1}" y2="{py:.1}"/><text x="{}" y="{:.1}" text-anchor="end">{}</text></g>"#,
                num(*y),
                px1 - 4.0,
                py - 4.0,
                escape(label)
            );
        }
        for s in &self.series {
            let m = if s.right {
                rys.as_ref().unwrap_or(&ys)
            } else {
                &ys
            };
            polyline(&mut o, s, &xs, m);
        }
        for (i, (x, label)) in self.markers.iter().enumerate() {
            let px = xs.px(*x).clamp(px0, px1);
            // Stagger labels of nearby markers so they stay readable.
            let ly = py1 + 10.0 + 11.0 * (i % 3) as f64;
            let _ = write!(
                o,
                r#"<g class="marker" data-t="{}"><line x1="{px:.1}" x2="{px:.1}" y1="{py1}" y2="{py0}"/><text x="{:.1}" y="{ly:.1}">{}</text></g>"#,
                num(*x),
                px + 3.0,
                escape(label)
            );
        }
        let _ = write!(
            o,
            r#"<line class="cursor" x1="0" x2="0" y1="{py1}" y2="{py0}" visibility="hidden"/></svg>"#
        );
        o
    }
}

/// The legend: one swatch and label per series, in a row under the title.
fn legend(o: &mut String, series: &[Series], x0: f64) {
    let mut x = x0;
    for s in series {
        let dash = if s.dashed {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        let _ = write!(
            o,
            r#"<g class="legend-item" data-legend="{}"><line x1="{x:.1}" x2="{:.1}" y1="31" y2="31" stroke="{}" stroke-width="3"{dash}/><text x="{:.1}" y="35">{}</text></g>"#,
            escape(&s.name),
            x + 18.0,
            escape(&s.color),
            x + 22.0,
            escape(&s.label)
        );
        // An estimate of the label's width at 11px.
        x += 34.0 + 6.2 * s.label.chars().count() as f64;
    }
}

/// One series as a polyline.
fn polyline(o: &mut String, s: &Series, xs: &Map, ys: &Map) {
    let _ = write!(
        o,
        r#"<polyline data-series="{}" stroke="{}" fill="none""#,
        escape(&s.name),
        escape(&s.color)
    );
    if s.dashed {
        o.push_str(r#" stroke-dasharray="5 3""#);
    }
    if s.right {
        o.push_str(r#" data-axis="right""#);
    }
    if let Some(setup) = &s.setup {
        let _ = write!(o, r#" data-setup="{}""#, escape(setup));
    }
    o.push_str(r#" points=""#);
    let mut first = true;
    for &(x, y) in &s.points {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        if !first {
            o.push(' ');
        }
        first = false;
        let _ = write!(o, "{},{}", coord(xs.px(x)), coord(ys.px(y)));
    }
    o.push_str(r#""/>"#);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'a>(svg: &'a str, name: &str) -> &'a str {
        let key = format!(" {name}=\"");
        let start = svg.find(&key).map_or(0, |i| i + key.len());
        let end = svg[start..].find('"').map_or(start, |i| start + i);
        &svg[start..end]
    }

    #[test]
    fn a_line_chart_inverts_back_to_its_values() {
        let svg = LineChart::new("c", "T <1>")
            .x_range(0.0, 100.0)
            .series(Series::new(
                "s",
                "#000",
                vec![(0.0, 0.0), (50.0, 37.0), (100.0, 80.0)],
            ))
            .reference(60.0, "SLO")
            .marker(25.0, "fault")
            .render();
        assert!(svg.contains("T &lt;1&gt;"));
        let f = |n: &str| attr(&svg, n).parse::<f64>().unwrap_or(f64::NAN);
        let (px0, px1, py0, py1) = (f("data-px0"), f("data-px1"), f("data-py0"), f("data-py1"));
        let (y0, y1) = (f("data-y0"), f("data-y1"));
        assert_eq!((f("data-x0"), f("data-x1")), (0.0, 100.0));
        assert!(y0 <= 0.0 && y1 >= 80.0);
        let points = attr(&svg, "points");
        let values: Vec<(f64, f64)> = points
            .split(' ')
            .filter_map(|p| p.split_once(','))
            .map(|(x, y)| {
                let (x, y): (f64, f64) = (x.parse().unwrap_or(0.0), y.parse().unwrap_or(0.0));
                (
                    (x - px0) / (px1 - px0) * 100.0,
                    y0 + (y - py0) / (py1 - py0) * (y1 - y0),
                )
            })
            .collect();
        assert_eq!(values.len(), 3);
        for ((x, y), (ex, ey)) in values.iter().zip([(0.0, 0.0), (50.0, 37.0), (100.0, 80.0)]) {
            assert!((x - ex).abs() < 0.2 && (y - ey).abs() < 0.5, "{x},{y}");
        }
        assert!(svg.contains(r#"class="marker" data-t="25""#));
    }
}
