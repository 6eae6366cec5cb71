//! report.html and the compare page in a real headless browser (Debian's chromium): they
//! render, their script runs without console errors, a screenshot comes out, and the charts'
//! pixels invert back to the report's numbers.
//!
//! `SCALEBENCH_SCREENSHOT=docs/report.png cargo test --test html` also copies the screenshot
//! of the spot-fallback report to that path (relative to the repository root): that is how
//! the screenshot in the README and docs/reports.md is made.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use scalebench_core::report::{
    ClusterRun, RefusalRecord, Report, SetupReport, TimelineSample, UndoRecord, WatchErrorRecord,
};

mod common;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The longest any one chromium run may take before it is killed and the test fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

fn chromium() -> &'static str {
    assert!(
        Path::new(CHROMIUM).exists(),
        "chromium not found: install it with `sudo apt-get install chromium`"
    );
    CHROMIUM
}

/// Runs headless chromium on `url` with `extra` flags and a fresh profile; returns its stdout
/// and stderr. Killed (and the test failed) after [`BROWSER_TIMEOUT`].
fn browse(extra: &[String], url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > BROWSER_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within {BROWSER_TIMEOUT:?} on {url}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("waiting for chromium: {e}"),
        }
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    assert!(
        status.success(),
        "chromium failed ({status}) on {url}:\n{err}"
    );
    (out, err)
}

/// The page's console messages and uncaught errors, from chromium's log on stderr. Chromium
/// logs every console message at INFO (`:INFO:CONSOLE...] "message", source: ...`) whatever
/// its level, and our pages log nothing, so any console message counts.
fn console_errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_owned)
        .collect()
}

fn url(path: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", path.display())
}

fn scalebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start scalebench: {e}"))
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workloads/scenarios")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs `scenario` into `out` and reads its report back.
fn run(name: &str, out: &Path, extra: &[&str]) -> Report {
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec!["run", &scenario(name), "--out", &out_s]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = scalebench(&args);
    assert!(
        o.status.success(),
        "run {name} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    common::read_report(out)
}

/// An element of the dumped DOM: its attributes and, for `<svg>`, its inner markup.
struct Element {
    attrs: HashMap<String, String>,
    inner: String,
}

impl Element {
    fn get(&self, name: &str) -> &str {
        self.attrs.get(name).map_or("", String::as_str)
    }

    fn num(&self, name: &str) -> f64 {
        self.get(name)
            .parse()
            .unwrap_or_else(|_| panic!("attribute {name}={:?} is not a number", self.get(name)))
    }
}

/// The attributes of the start tag beginning at `tag` (`<name a="1" b="2">`).
fn attributes(tag: &str) -> HashMap<String, String> {
    let end = tag.find('>').unwrap_or(tag.len());
    let mut rest = &tag[..end];
    rest = rest.split_once(char::is_whitespace).map_or("", |x| x.1);
    let mut out = HashMap::new();
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim().trim_start_matches('/').to_owned();
        let after = &rest[eq + 2..];
        let close = after.find('"').unwrap_or(after.len());
        let value = after[..close]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        out.insert(name, value);
        rest = after.get(close + 1..).unwrap_or("");
    }
    out
}

/// Every `<name ...>` element in `html`, with the markup up to its closing tag.
fn elements(html: &str, name: &str) -> Vec<Element> {
    let open = format!("<{name} ");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = html[at..].find(&open) {
        let start = at + i;
        let tag_end = html[start..]
            .find('>')
            .map_or(html.len(), |j| start + j + 1);
        let end = html[tag_end..]
            .find(&close)
            .map_or(tag_end, |j| tag_end + j);
        out.push(Element {
            attrs: attributes(&html[start..]),
            inner: html[tag_end..end].to_owned(),
        });
        at = tag_end;
    }
    out
}

/// A chart's mapping from pixels back to data.
struct Axes {
    x0: f64,
    x1: f64,
    px0: f64,
    px1: f64,
    y0: f64,
    y1: f64,
    py0: f64,
    py1: f64,
    log: bool,
}

impl Axes {
    fn of(svg: &Element) -> Axes {
        Axes {
            x0: svg.num("data-x0"),
            x1: svg.num("data-x1"),
            px0: svg.num("data-px0"),
            px1: svg.num("data-px1"),
            y0: svg.num("data-y0"),
            y1: svg.num("data-y1"),
            py0: svg.num("data-py0"),
            py1: svg.num("data-py1"),
            log: svg.get("data-yscale") == "log",
        }
    }

    fn t(&self, px: f64) -> f64 {
        self.x0 + (px - self.px0) / (self.px1 - self.px0) * (self.x1 - self.x0)
    }

    /// Data units per pixel in x.
    fn t_per_px(&self) -> f64 {
        (self.x1 - self.x0) / (self.px1 - self.px0)
    }

    /// The value at pixel `py`, in the axis's own space (log10 for a log axis).
    fn v(&self, py: f64) -> f64 {
        let (y0, y1) = self.space();
        y0 + (py - self.py0) / (self.py1 - self.py0) * (y1 - y0)
    }

    fn space(&self) -> (f64, f64) {
        if self.log {
            (self.y0.log10(), self.y1.log10())
        } else {
            (self.y0, self.y1)
        }
    }

    /// `value` in the axis's own space.
    fn project(&self, value: f64) -> f64 {
        if self.log {
            value.max(self.y0).log10()
        } else {
            value
        }
    }

    /// Data units per pixel in y (axis space).
    fn v_per_px(&self) -> f64 {
        let (y0, y1) = self.space();
        (y1 - y0).abs() / (self.py0 - self.py1).abs()
    }
}

fn polyline_points(svg: &Element, series: &str) -> Vec<(f64, f64)> {
    let lines: Vec<Element> = elements(&svg.inner, "polyline")
        .into_iter()
        .filter(|p| p.get("data-series") == series)
        .collect();
    assert_eq!(lines.len(), 1, "one polyline {series:?}");
    lines[0]
        .get("points")
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap_or(("nan", "nan"));
            (x.parse().unwrap_or(f64::NAN), y.parse().unwrap_or(f64::NAN))
        })
        .collect()
}

/// Checks that polyline `series` of `svg` is `f` at every window (where `keep` holds), within
/// a pixel.
fn check_series(
    svg: &Element,
    series: &str,
    timeline: &[TimelineSample],
    f: impl Fn(&TimelineSample) -> Option<f64>,
    keep: impl Fn(f64) -> bool,
) {
    let axes = Axes::of(svg);
    // A window whose figure nothing measured has no point.
    let expected: Vec<(f64, f64)> = timeline
        .iter()
        .filter_map(|t| f(t).map(|v| (t.t_s, v)))
        .filter(|p| keep(p.1))
        .collect();
    let got = polyline_points(svg, series);
    let chart = format!(
        "{}/{}/{series}",
        svg.get("data-setup"),
        svg.get("data-chart")
    );
    assert_eq!(got.len(), expected.len(), "{chart}: one point per window");
    for ((px, py), (t, v)) in got.iter().zip(&expected) {
        let (gt, gv) = (axes.t(*px), axes.v(*py));
        assert!(
            (gt - t).abs() <= axes.t_per_px(),
            "{chart}: point at {gt} s, window ends at {t} s"
        );
        assert!(
            (gv - axes.project(*v)).abs() <= axes.v_per_px(),
            "{chart} at {t} s: chart shows {gv}, report has {v} (axis space {})",
            axes.project(*v)
        );
    }
}

#[test]
fn console_error_detection_catches_a_throwing_page() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bad = dir.path().join("bad.html");
    let good = dir.path().join("good.html");
    let _ = std::fs::write(
        &bad,
        "<!DOCTYPE html><html><head><link rel=\"icon\" href=\"data:,\"></head><body><script>console.error('deliberate console error');throw new Error('deliberate throw');</script></body></html>",
    );
    let _ = std::fs::write(
        &good,
        "<!DOCTYPE html><html><head><link rel=\"icon\" href=\"data:,\"></head><body><script>document.body.setAttribute('data-ready','1');</script></body></html>",
    );
    let (_, stderr) = browse(&["--dump-dom".to_owned()], &url(&bad, ""));
    let errors = console_errors(&stderr);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("deliberate console error")),
        "console.error not detected:\n{stderr}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Uncaught") && e.contains("deliberate throw")),
        "uncaught exception not detected:\n{stderr}"
    );
    let (dom, stderr) = browse(&["--dump-dom".to_owned()], &url(&good, ""));
    assert!(dom.contains("data-ready=\"1\""), "{dom}");
    assert_eq!(console_errors(&stderr), Vec::<String>::new());
}

/// Checks that the page rendered: the script ran to its end and nothing was logged.
fn assert_clean(dom: &str, stderr: &str, what: &str) {
    let body = elements(dom, "body");
    assert!(
        body.first().is_some_and(|b| b.get("data-ready") == "1"),
        "{what}: the page's script did not finish (no <body data-ready=\"1\">)"
    );
    assert!(
        !dom.contains("data-error="),
        "{what}: a script error was caught"
    );
    let errors = console_errors(stderr);
    assert!(
        errors.is_empty(),
        "{what}: console messages:\n{}",
        errors.join("\n")
    );
}

/// PNG signature, size, and the width and height in its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32, usize) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 24,
        "{} is too short for a PNG",
        path.display()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20), bytes.len())
}

/// The setup charts the spot-fallback report must have for every setup.
const SETUP_CHARTS: [&str; 6] = [
    "traffic", "latency", "replicas", "capacity", "queue", "cost",
];

#[test]
fn report_html_renders_in_chromium_and_its_charts_match_the_report() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = dir.path().join("out");
    let report = run("spot-fallback.toml", &out, &[]);
    let page = out.join("report.html");
    let size = std::fs::metadata(&page).map_or(0, |m| m.len());
    assert!(
        size > 10_000 && size < 3_000_000,
        "report.html is {size} bytes"
    );

    let (dom, stderr) = browse(&["--dump-dom".to_owned()], &url(&page, ""));
    assert_clean(&dom, &stderr, "report.html");
    for s in &report.setups {
        assert!(dom.contains(&format!("data-setup=\"{}\"", s.name)));
    }
    check_cold_start_tables(&dom, &report);
    assert!(
        !dom.contains("<h2>Cluster</h2>"),
        "the simulator has no cluster section"
    );
    check_cluster_tables(dir.path(), &report);
    assert!(dom.contains("spot-fallback.toml"), "the scenario's path");
    assert!(dom.contains("started at"), "the environment");
    // A malformed address fragment (a bad percent escape) must not stop the script.
    let (bad, stderr) = browse(&["--dump-dom".to_owned()], &url(&page, "#setup=%E0%A4%A"));
    assert_clean(&bad, &stderr, "report.html#setup=%E0%A4%A");

    let svgs = elements(&dom, "svg");
    let chart = |setup: &str, id: &str| -> &Element {
        let found: Vec<&Element> = svgs
            .iter()
            .filter(|e| e.get("data-chart") == id && e.get("data-setup") == setup)
            .collect();
        assert_eq!(found.len(), 1, "chart {id} of {setup}");
        found[0]
    };
    let mut with_faults = 0;
    for s in &report.setups {
        let tl = &s.timeline;
        check_series(
            chart(&s.name, "latency"),
            "p99",
            tl,
            |t| t.p99_ms,
            |v| v > 0.0,
        );
        check_series(
            chart(&s.name, "latency"),
            "p50",
            tl,
            |t| t.p50_ms,
            |v| v > 0.0,
        );
        check_series(
            chart(&s.name, "traffic"),
            "rps",
            tl,
            |t| Some(t.rps),
            |_| true,
        );
        let ready = |t: &TimelineSample| t.replicas_ready.map(f64::from);
        check_series(
            chart(&s.name, "replicas"),
            "replicas_ready",
            tl,
            ready,
            |_| true,
        );
        check_series(
            chart(&s.name, "cost"),
            "cost_usd",
            tl,
            |t| t.cost_usd,
            |_| true,
        );
        let slo = elements(&chart(&s.name, "latency").inner, "g")
            .into_iter()
            .filter(|g| g.get("class") == "ref")
            .map(|g| g.num("data-y"))
            .collect::<Vec<_>>();
        assert_eq!(slo, vec![report.slo.latency_ms], "{}: the SLO line", s.name);
        with_faults += usize::from(!s.faults.is_empty());
        check_markers(s, &SETUP_CHARTS.map(|id| chart(&s.name, id)));
    }
    assert!(with_faults > 0, "spot-fallback injects a pool outage");

    // The overlays: one polyline per setup.
    for id in ["cmp-p99", "cmp-replicas", "cmp-cost"] {
        let found: Vec<&Element> = svgs.iter().filter(|e| e.get("data-chart") == id).collect();
        assert_eq!(found.len(), 1, "overlay {id}");
        for s in &report.setups {
            assert!(
                !polyline_points(found[0], &s.name).is_empty(),
                "{id}: {}",
                s.name
            );
        }
    }
    let cmp = svgs.iter().find(|e| e.get("data-chart") == "cmp-cost");
    if let Some(cmp) = cmp {
        for s in &report.setups {
            check_series(cmp, &s.name, &s.timeline, |t| t.cost_usd, |_| true);
        }
    }

    check_readouts(&page, &report, &svgs);

    let shot = dir.path().join("report.png");
    let (_, stderr) = browse(
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,2300".to_owned(),
            "--hide-scrollbars".to_owned(),
        ],
        &url(&page, "#setup=spot-then-on-demand"),
    );
    assert!(console_errors(&stderr).is_empty(), "{stderr}");
    let (w, h, bytes) = png_size(&shot);
    assert_eq!((w, h), (1400, 2300));
    assert!(bytes > 50_000, "a screenshot of {bytes} bytes is blank");
    if let Ok(dest) = std::env::var("SCALEBENCH_SCREENSHOT") {
        let dest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dest);
        std::fs::copy(&shot, &dest).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
    }
}

/// The "Cold starts" section: one table per setup whose caption gives the report's count and
/// unfinished, with a row per phase and `-` exactly where the report has null.
fn check_cold_start_tables(dom: &str, report: &Report) {
    let tables = elements(dom, "table");
    for s in &report.setups {
        let found: Vec<&Element> = tables
            .iter()
            .filter(|t| t.get("class") == "cold-start" && t.get("data-cold-start") == s.name)
            .collect();
        assert_eq!(found.len(), 1, "the cold-start table of {}", s.name);
        let c = s
            .cold_start
            .as_ref()
            .unwrap_or_else(|| panic!("{}: the simulator observes its pods", s.name));
        let caption = format!(
            "{}: {} cold start{}, {} unfinished",
            s.name,
            c.count,
            if c.count == 1 { "" } else { "s" },
            c.unfinished
        );
        let inner = &found[0].inner;
        assert!(inner.contains(&caption), "{caption}: {inner}");
        for phase in ["pending", "creating", "loading", "total"] {
            assert!(
                inner.contains(&format!("<td class=\"l\">{phase}</td>")),
                "{}: {phase}",
                s.name
            );
        }
        let dashes = inner.matches("<td>-</td>").count();
        let nulls = [&c.pending_ms, &c.creating_ms, &c.loading_ms, &c.total_ms]
            .iter()
            .flat_map(|p| [p.p50, p.p95, p.max])
            .filter(Option::is_none)
            .count();
        assert_eq!(dashes, nulls, "{}: a dash for each null", s.name);
    }
}

/// What a real cluster did to a setup: with `troubled`, watch errors (one before the run's
/// start), a relist, a budget's refusal and an undo that failed; otherwise a clean dry run.
fn cluster_run(troubled: bool) -> ClusterRun {
    let mut c = ClusterRun {
        context: None,
        namespace: "bench".to_owned(),
        deployment: "llm".to_owned(),
        synced: true,
        api_calls: 6,
        dry_run: true,
        ..ClusterRun::default()
    };
    if troubled {
        c.context = Some("kind-scalebench".to_owned());
        c.synced = false;
        c.relists = 1;
        c.watch_errors = vec![
            WatchErrorRecord {
                t_s: -2.5,
                resource: "nodes".to_owned(),
                kind: "initial-list-failed".to_owned(),
                message: "error trying to connect: connection refused".to_owned(),
            },
            WatchErrorRecord {
                t_s: 125.0,
                resource: "pods".to_owned(),
                kind: "watch-error-410".to_owned(),
                message: "too old resource version".to_owned(),
            },
        ];
        c.stale_s = Some(4.5);
        c.eviction_refusals = vec![RefusalRecord {
            t_s: 420.0,
            pod: "llm-7d9f8-x2k4q".to_owned(),
            message: "Cannot evict pod as it would violate the pod's disruption budget.".to_owned(),
        }];
        c.dry_run = false;
        c.undo = Some(UndoRecord {
            undone: 2,
            failed: vec!["cordon gpu-spot-1: 403 Forbidden".to_owned()],
        });
    }
    c
}

/// The "Cluster" section, which only a run on a real cluster has: `report` with a section per
/// setup (the best troubled, the others clean) written by `reports::write_all` (its report.json
/// conforms to the schema) and opened in the browser: one table per setup with its rows in
/// order, a list item per watch error and refusal, and the synced and undo cells marked.
fn check_cluster_tables(dir: &Path, report: &Report) {
    let mut report = report.clone();
    for s in &mut report.setups {
        s.cluster = Some(cluster_run(s.rank == 1));
    }
    let out = dir.join("cluster");
    reports::write_all(&report, &out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(common::read_report(&out), report);
    let (dom, stderr) = browse(
        &["--dump-dom".to_owned()],
        &url(&out.join("report.html"), ""),
    );
    assert_clean(&dom, &stderr, "report.html with a cluster section");
    assert!(dom.contains("<h2>Cluster</h2>"));
    let tables = elements(&dom, "table");
    for s in &report.setups {
        let Some(c) = &s.cluster else { continue };
        let found: Vec<&Element> = tables
            .iter()
            .filter(|t| t.get("class") == "cluster" && t.get("data-cluster") == s.name)
            .collect();
        assert_eq!(found.len(), 1, "the cluster table of {}", s.name);
        let rows = elements(&found[0].inner, "tr");
        let ids: Vec<&str> = rows.iter().map(|r| r.get("data-row")).collect();
        assert_eq!(
            ids,
            [
                "synced",
                "relists",
                "stale",
                "watch-errors",
                "refusals",
                "api-calls",
                "undo"
            ],
            "{}",
            s.name
        );
        let cell = |id: &str| {
            let row = rows.iter().find(|r| r.get("data-row") == id);
            let td = row.map(|r| elements(&r.inner, "td")).unwrap_or_default();
            assert_eq!(td.len(), 1, "{}: {id}", s.name);
            (td[0].get("class").to_owned(), td[0].inner.clone())
        };
        let items = |html: &str| html.matches("<li>").count();
        let (class, synced) = cell("synced");
        assert_eq!(synced, if c.synced { "yes" } else { "no" }, "{}", s.name);
        assert_eq!(class, format!("l {synced}"));
        assert_eq!(cell("relists").1, c.relists.to_string());
        let (_, errors) = cell("watch-errors");
        assert!(
            errors.starts_with(&c.watch_errors.len().to_string()),
            "{errors}"
        );
        assert_eq!(items(&errors), c.watch_errors.len(), "{}", s.name);
        for e in &c.watch_errors {
            assert!(errors.contains(&e.kind), "{}: {errors}", s.name);
        }
        let (_, refusals) = cell("refusals");
        assert_eq!(items(&refusals), c.eviction_refusals.len(), "{}", s.name);
        let (class, undo) = cell("undo");
        match &c.undo {
            Some(u) if !u.failed.is_empty() => {
                assert_eq!(class, "l no");
                assert_eq!(items(&undo), u.failed.len());
            }
            _ => assert_eq!((class.as_str(), undo.as_str()), ("l", "nothing to undo")),
        }
    }
    let troubled = report.setups.iter().find(|s| s.rank == 1);
    let name = troubled.map_or("", |s| s.name.as_str());
    let table = tables
        .iter()
        .find(|t| t.get("data-cluster") == name)
        .map_or("", |t| t.inner.as_str());
    // The times, from the run's start: before it, and past a minute.
    assert!(
        table.contains("<li>-2.5s nodes initial-list-failed: "),
        "{table}"
    );
    assert!(
        table.contains("<li>2m05s pods watch-error-410: "),
        "{table}"
    );
    assert!(table.contains("<li>7m llm-7d9f8-x2k4q: "), "{table}");
}

/// The hover readout, run by the page's script in the browser (`#hover=T` shows every chart's
/// readout at T s): it reads the values back from the polylines, and they must agree with the
/// report's timeline near T.
fn check_readouts(page: &Path, report: &Report, svgs: &[Element]) {
    let at = 1500.0;
    let (dom, stderr) = browse(&["--dump-dom".to_owned()], &url(page, "#hover=1500"));
    assert_clean(&dom, &stderr, "report.html#hover=1500");
    let mut checked = 0;
    let mut rest = dom.as_str();
    while let Some(i) = rest.find("<div class=\"readout\"") {
        rest = &rest[i..];
        let start = rest.find('>').map_or(0, |j| j + 1);
        let end = rest.find("</div>").unwrap_or(start);
        let text = rest[start..end].to_owned();
        let svg_at = rest.find("<svg ").unwrap_or(0);
        let attrs = attributes(&rest[svg_at..]);
        rest = &rest[end..];
        let get = |k: &str| attrs.get(k).map_or("", String::as_str);
        let (id, setup) = (get("data-chart"), get("data-setup"));
        let (series, f): (&str, fn(&TimelineSample) -> Option<f64>) = match id {
            "cost" => ("cost_usd", |t| t.cost_usd),
            "replicas" => ("replicas_ready", |t| t.replicas_ready.map(f64::from)),
            _ => continue,
        };
        assert!(text.starts_with("25m00s"), "{id}/{setup}: readout {text:?}");
        let shown: f64 = text
            .split("  \u{b7}  ")
            .filter_map(|part| part.rsplit_once(' '))
            .find(|(name, _)| *name == series)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("{id}/{setup}: no {series} in readout {text:?}"));
        let svg = svgs
            .iter()
            .find(|e| e.get("data-chart") == id && e.get("data-setup") == setup)
            .unwrap_or_else(|| panic!("no chart {id} of {setup}"));
        let tolerance = Axes::of(svg).v_per_px() + 0.01 * shown.abs();
        let s = report.setups.iter().find(|s| s.name == setup);
        let near: Vec<f64> = s
            .map(|s| s.timeline.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|t| (t.t_s - at).abs() <= 2.0 * report.window_s)
            .filter_map(f)
            .collect();
        assert!(
            near.iter().any(|v| (v - shown).abs() <= tolerance),
            "{id}/{setup}: the readout shows {series} {shown}, the report has {near:?} near {at} s"
        );
        checked += 1;
    }
    assert_eq!(
        checked,
        2 * report.setups.len(),
        "a readout per cost and replicas chart"
    );
}

/// Every chart of a setup with faults marks each fault at its time.
fn check_markers(s: &SetupReport, charts: &[&Element]) {
    for f in &s.faults {
        for svg in charts {
            let axes = Axes::of(svg);
            let markers: Vec<Element> = elements(&svg.inner, "g")
                .into_iter()
                .filter(|g| g.get("class") == "marker")
                .collect();
            let hit = markers.iter().any(|m| {
                let line = elements(&m.inner, "line");
                let px = line.first().map_or(f64::NAN, |l| l.num("x1"));
                (m.num("data-t") - f.t_s).abs() < 1e-6
                    && (axes.t(px) - f.t_s).abs() <= axes.t_per_px()
                    && m.inner.contains(&f.kind)
            });
            assert!(
                hit,
                "{}/{}: no marker for {} at {} s",
                s.name,
                svg.get("data-chart"),
                f.kind,
                f.t_s
            );
        }
    }
}

#[test]
fn the_compare_page_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run("spike-5x.toml", &a, &[]);
    run(
        "spike-5x.toml",
        &b,
        &["--seed", "7", "--setup", "hpa-default"],
    );
    let page = dir.path().join("compare.html");
    let o = scalebench(&[
        "compare",
        &a.join("report.json").to_string_lossy(),
        &b.join("report.json").to_string_lossy(),
        "--html",
        &page.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (dom, stderr) = browse(&["--dump-dom".to_owned()], &url(&page, ""));
    assert_clean(&dom, &stderr, "compare.html");
    let svgs = elements(&dom, "svg");
    assert!(svgs.iter().any(|e| e.get("data-chart") == "cmp-cost-p99"));
    let p99 = svgs
        .iter()
        .find(|e| e.get("data-chart") == "cmp-p99" && e.get("data-setup") == "hpa-default");
    let p99 = p99.unwrap_or_else(|| panic!("no p99 overlay for hpa-default"));
    let a_label = format!("[1] {}", a.join("report.json").display());
    let b_label = format!("[2] {}", b.join("report.json").display());
    assert!(!polyline_points(p99, &a_label).is_empty());
    assert!(!polyline_points(p99, &b_label).is_empty());
}

#[test]
fn the_sweep_page_renders_in_chromium_and_marks_the_pareto_front() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = dir.path().join("sweep");
    let o = scalebench(&[
        "sweep",
        &scenario("spike-5x.toml"),
        "--vary",
        "warm_pool=0,2",
        "--vary",
        "keda.target=1,4",
        "--vary",
        "hpa.target=1,3",
        "--setup",
        "hpa-default",
        "--setup",
        "keda-warm2",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("sweep.json")).unwrap_or_default();
    let sweep: scalebench_core::sweep::Sweep =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("sweep.json: {e}"));
    let rows = sweep.rows();

    let (dom, stderr) = browse(
        &["--dump-dom".to_owned()],
        &url(&out.join("sweep.html"), ""),
    );
    assert_clean(&dom, &stderr, "sweep.html");
    let svgs = elements(&dom, "svg");
    let chart = svgs
        .iter()
        .find(|e| e.get("data-chart") == "sweep-cost-p99")
        .unwrap_or_else(|| panic!("no cost/p99 scatter in sweep.html"));
    let axes = Axes::of(chart);
    let circles = elements(&chart.inner, "circle");
    // One point per distinct simulation, outlined when on the front.
    let mut distinct: Vec<&scalebench_core::sweep::Row<'_>> = Vec::new();
    for r in &rows {
        if !distinct.iter().any(|d| d.simulation == r.simulation) {
            distinct.push(r);
        }
    }
    assert_eq!(circles.len(), distinct.len());
    for (c, r) in circles.iter().zip(&distinct) {
        let cost = r.setup.cost.total_usd.unwrap_or(f64::NAN);
        let p99 = r.setup.latency_ms.p99;
        assert!((c.num("data-x") - cost).abs() <= 1e-3 * cost.abs().max(1.0));
        assert!((c.num("data-y") - p99).abs() <= 1e-3 * p99.abs().max(1.0));
        assert!((axes.t(c.num("cx")) - cost).abs() <= axes.t_per_px());
        assert!((axes.v(c.num("cy")) - p99).abs() <= axes.v_per_px());
        assert_eq!(c.get("class").contains("hi"), r.pareto, "front flag");
    }
    let front = distinct.iter().filter(|r| r.pareto).count();
    assert!(front >= 1);
    assert_eq!(polyline_points(chart, "front").len(), front);
    let rows_html = elements(&dom, "tr")
        .iter()
        .filter(|t| !t.get("data-simulation").is_empty())
        .count();
    assert_eq!(
        rows_html, front,
        "the front table has one row per front point"
    );
    match sweep.cheapest_meeting_slo() {
        Some(r) => assert!(dom.contains(&format!(
            "cheapest setting that meets the SLO: {}",
            r.setup.name
        ))),
        None => assert!(dom.contains("no setting meets the SLO")),
    }
}
