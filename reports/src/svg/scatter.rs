//! The [`Scatter`] chart and its [`Point`]s.

use std::fmt::Write as _;

use super::axis::{Map, YAxis, axes, coord, num, tick};
use super::{BOTTOM, LEFT, PALETTE, RIGHT, TOP, WIDTH, escape};

/// One point of a [`Scatter`].
#[derive(Debug, Clone)]
pub struct Point {
    x: f64,
    y: f64,
    label: Option<String>,
    tip: Option<String>,
    highlight: bool,
    color: Option<String>,
}

impl Point {
    /// A point at (x, y).
    pub fn new(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            label: None,
            tip: None,
            highlight: false,
            color: None,
        }
    }

    /// A label drawn beside the point (and its tooltip).
    pub fn label(mut self, label: &str) -> Point {
        self.label = Some(label.to_owned());
        self
    }

    /// A tooltip only, without a drawn label (for many points, where labels would pile up).
    pub fn tip(mut self, tip: &str) -> Point {
        self.tip = Some(tip.to_owned());
        self
    }

    /// Draws the point larger and outlined (e.g. on the Pareto front).
    pub fn highlight(mut self, on: bool) -> Point {
        self.highlight = on;
        self
    }

    /// Its colour (default: the first of [`PALETTE`]).
    pub fn color(mut self, color: &str) -> Point {
        self.color = Some(color.to_owned());
        self
    }
}

/// A scatter chart, e.g. cost against p99 per setup, with its Pareto front highlighted.
#[derive(Debug, Clone)]
pub struct Scatter {
    id: String,
    title: String,
    height: f64,
    x_label: String,
    y_label: String,
    points: Vec<Point>,
    connect: bool,
    references: Vec<(f64, String)>,
}

impl Scatter {
    /// A scatter chart with id `id` (its `data-chart`) and a title, 360 units tall.
    pub fn new(id: &str, title: &str) -> Scatter {
        Scatter {
            id: id.to_owned(),
            title: title.to_owned(),
            height: 360.0,
            x_label: String::new(),
            y_label: String::new(),
            points: Vec::new(),
            connect: false,
            references: Vec::new(),
        }
    }

    /// The height in SVG units.
    pub fn height(mut self, height: f64) -> Scatter {
        self.height = height;
        self
    }

    /// The axes' titles, with units.
    pub fn labels(mut self, x: &str, y: &str) -> Scatter {
        self.x_label = x.to_owned();
        self.y_label = y.to_owned();
        self
    }

    /// Adds a point.
    pub fn point(mut self, point: Point) -> Scatter {
        self.points.push(point);
        self
    }

    /// Joins the highlighted points in x order with a line (`data-series="front"`).
    pub fn connect_highlighted(mut self) -> Scatter {
        self.connect = true;
        self
    }

    /// Adds a horizontal reference line at `y`, e.g. an SLO.
    pub fn reference(mut self, y: f64, label: &str) -> Scatter {
        self.references.push((y, label.to_owned()));
        self
    }

    /// The `<svg>` element; each point is a `<circle data-x data-y>`.
    pub fn render(&self) -> String {
        let (h, px0, px1) = (self.height, LEFT, WIDTH - RIGHT);
        let (py0, py1) = (h - BOTTOM, TOP);
        let pts = || {
            self.points
                .iter()
                .filter(|p| p.x.is_finite() && p.y.is_finite())
        };
        let xa = YAxis::fit(pts().map(|p| p.x), false);
        let refs = self.references.iter().map(|r| r.0);
        let ya = YAxis::fit(pts().map(|p| p.y).chain(refs), false);
        let xs = Map::new((xa.min, xa.max), (px0, px1), false);
        let ys = Map::new((ya.min, ya.max), (py0, py1), false);
        let mut o = String::new();
        let _ = write!(
            o,
            r#"<svg class="chart scatter" viewBox="0 0 {WIDTH} {h}" xmlns="http://www.w3.org/2000/svg" role="img" data-chart="{}" data-x0="{}" data-x1="{}" data-px0="{px0}" data-px1="{px1}" data-y0="{}" data-y1="{}" data-py0="{py0}" data-py1="{py1}" data-yscale="linear"><title>{}</title><text class="title" x="{px0}" y="16">{}</text>"#,
            escape(&self.id),
            num(xa.min),
            num(xa.max),
            num(ya.min),
            num(ya.max),
            escape(&self.title),
            escape(&self.title),
        );
        for t in ya.ticks() {
            let y = ys.px(t);
            let _ = write!(
                o,
                r#"<line class="grid" x1="{px0}" x2="{px1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                px0 - 5.0,
                y + 3.5,
                tick(t)
            );
        }
        for t in xa.ticks() {
            let x = xs.px(t);
            let _ = write!(
                o,
                r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{py1}" y2="{py0}"/><text class="tick" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                py0 + 14.0,
                tick(t)
            );
        }
        axes(
            &mut o,
            (px0, px1, py0, py1),
            &self.x_label,
            &self.y_label,
            None,
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
        if self.connect {
            let mut front: Vec<&Point> = pts().filter(|p| p.highlight).collect();
            front.sort_by(|a, b| a.x.total_cmp(&b.x));
            let coords: Vec<String> = front
                .iter()
                .map(|p| format!("{},{}", coord(xs.px(p.x)), coord(ys.px(p.y))))
                .collect();
            let _ = write!(
                o,
                r#"<polyline class="front" data-series="front" fill="none" points="{}"/>"#,
                coords.join(" ")
            );
        }
        let mut placed: Vec<(f64, f64)> = Vec::new();
        for p in pts() {
            let (x, y) = (xs.px(p.x), ys.px(p.y));
            let color = p.color.as_deref().unwrap_or(PALETTE[0]);
            let r = if p.highlight { 6.5 } else { 4.5 };
            let class = if p.highlight { "pt hi" } else { "pt" };
            let tip = p
                .tip
                .as_deref()
                .or(p.label.as_deref())
                .map(escape)
                .unwrap_or_default();
            let _ = write!(
                o,
                r#"<circle class="{class}" cx="{}" cy="{}" r="{r}" fill="{}" data-x="{}" data-y="{}"><title>{tip}</title></circle>"#,
                coord(x),
                coord(y),
                escape(color),
                num(p.x),
                num(p.y),
            );
            if let Some(label) = &p.label {
                // Labels of points close together go one under the other.
                // A label that would run past the plot's right edge ends at its point instead.
                let end = x + 8.0 + label.chars().count() as f64 * 6.5 > px1;
                let (lx, mut ly) = (if end { x - 8.0 } else { x + 8.0 }, y - 6.0);
                while placed
                    .iter()
                    .any(|&(px, py)| (px - lx).abs() < 90.0 && (py - ly).abs() < 12.0)
                {
                    ly += 12.0;
                }
                placed.push((lx, ly));
                let _ = write!(
                    o,
                    r#"<text class="pt-label" x="{lx:.1}" y="{ly:.1}" text-anchor="{}">{}</text>"#,
                    if end { "end" } else { "start" },
                    escape(label)
                );
            }
        }
        o.push_str("</svg>");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scatter_highlights_and_joins_its_front() {
        let svg = Scatter::new("p", "front")
            .labels("cost ($)", "p99 (ms)")
            .point(Point::new(1.0, 900.0).label("a").highlight(true))
            .point(Point::new(2.0, 950.0).label("b"))
            .point(Point::new(3.0, 300.0).label("c&d").highlight(true))
            .connect_highlighted()
            .render();
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches(r#"class="pt hi""#).count(), 2);
        assert!(svg.contains(r#"data-series="front""#));
        assert!(svg.contains("c&amp;d"));
    }
}
