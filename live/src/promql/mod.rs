//! The timeline's service side from a Prometheus server, after the run: on a real cluster the
//! replicas, the queue and the GPUs are in Prometheus, not in an endpoint the engine can
//! scrape each window. Each timeline field with a query (see
//! [`scalebench_core::prometheus::PrometheusSpec`]) is read with one `GET
//! /api/v1/query_range` whose step is the window's real length and whose start lines up
//! with the run's start, so each window gets the value Prometheus evaluates at the window's
//! end (its newest sample at or before that instant). What Prometheus has no value for stays
//! `None` (null), never 0.
//!
//! The client is [`HttpClient`], the observers' (rustls, no proxy, connections kept alive),
//! with a longer timeout, and a bearer token from an environment variable when it is set;
//! the token is never logged. A failed query costs only its field: its status goes to the
//! report.

mod parse;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use scalebench_core::prometheus::{PrometheusSpec, set_field};
use scalebench_core::report::{PrometheusReport, QueryReport};
use scalebench_core::run::SetupRun;

use crate::observe::{self, HttpClient, ObserveError};
use crate::tls::TlsOptions;

pub use parse::{Grid, Point, parse_matrix};

/// How long one query may take.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most points asked for in one query (Prometheus refuses more than 11,000 per series).
pub const MAX_POINTS: usize = 10_000;

/// How often the last windows are asked for again while their samples have not come.
const POLL: Duration = Duration::from_millis(500);

/// Why a query gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// The client could not be built or the URL is not one.
    #[error("the Prometheus client: {0}")]
    Client(#[source] ObserveError),
    /// No answer: no connection, a timeout, a broken answer.
    #[error("query {query:?}: {source}")]
    Request {
        /// The PromQL.
        query: String,
        /// What failed.
        #[source]
        source: ObserveError,
    },
    /// An answer that is not Prometheus' JSON (with its HTTP status).
    #[error("query {query:?}: status {status} and not Prometheus' JSON: {why}")]
    Status {
        /// The PromQL.
        query: String,
        /// The HTTP status.
        status: u16,
        /// Why the body could not be read.
        why: String,
    },
    /// Prometheus answered `status: "error"`.
    #[error("query {query:?}: Prometheus refused it ({error_type}): {error}")]
    Refused {
        /// The PromQL.
        query: String,
        /// Prometheus' `errorType` (`bad_data`, `timeout`, `execution`...).
        error_type: String,
        /// Prometheus' `error`.
        error: String,
    },
    /// The answer is JSON but not a `query_range` answer.
    #[error("query {query:?}: unexpected answer: {why}")]
    Decode {
        /// The PromQL.
        query: String,
        /// What was wrong.
        why: String,
    },
    /// The query returned more than one series.
    #[error(
        "query {query:?} returned {count} series ({labels}...), not one: aggregate it with sum() or avg()"
    )]
    Series {
        /// The PromQL.
        query: String,
        /// How many series.
        count: usize,
        /// The labels of the first few.
        labels: String,
    },
}

impl PromError {
    /// Asking again may help (no connection, a server error), unlike a refused query.
    fn transient(&self) -> bool {
        match self {
            PromError::Request { .. } => true,
            PromError::Status { status, .. } => *status >= 500,
            PromError::Refused { error_type, .. } => {
                matches!(error_type.as_str(), "timeout" | "unavailable" | "internal")
            }
            _ => false,
        }
    }
}

/// A Prometheus server's HTTP API.
pub struct Prometheus {
    client: HttpClient,
    query_range: Url,
    token: Option<String>,
}

impl std::fmt::Debug for Prometheus {
    /// Without the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus")
            .field("query_range", &observe::shown(&self.query_range))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Prometheus {
    /// A client of the server at `url` (its base: `http://prometheus:9090`, or with a path
    /// prefix), sending the bearer token in the environment variable `token_env` when it is
    /// set and not empty. Call it outside async code.
    pub fn new(url: &str, token_env: &str, tls: &TlsOptions) -> Result<Self, PromError> {
        let base = observe::parse_url(url).map_err(PromError::Client)?;
        let mut query_range = base.clone();
        let path = format!("{}/api/v1/query_range", base.path().trim_end_matches('/'));
        query_range.set_path(&path);
        query_range.set_query(None);
        let token = std::env::var(token_env).ok().filter(|t| !t.is_empty());
        if token.is_some() {
            tracing::debug!(token_env, "sending a bearer token to Prometheus");
        }
        Ok(Prometheus {
            client: HttpClient::with_timeout(tls, QUERY_TIMEOUT).map_err(PromError::Client)?,
            query_range,
            token,
        })
    }

    /// `query` evaluated from `start_ms` to `end_ms` every `step_ms` (Unix milliseconds): its
    /// one series' points (none when the result is empty).
    pub fn query_range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<Point>, PromError> {
        let mut url = self.query_range.clone();
        url.query_pairs_mut()
            .append_pair("query", query)
            .append_pair("start", &parse::seconds(start_ms))
            .append_pair("end", &parse::seconds(end_ms))
            .append_pair("step", &parse::seconds(step_ms.max(1)));
        let (status, body) = self
            .client
            .send(
                reqwest::Method::GET,
                &url,
                None,
                Some("application/json"),
                self.token.as_deref(),
            )
            .map_err(|source| PromError::Request {
                query: query.to_string(),
                source,
            })?;
        parse_matrix(query, &body).map_err(|e| match e {
            PromError::Decode { query, why } if status != 200 => {
                PromError::Status { query, status, why }
            }
            e => e,
        })
    }

    /// Each window's value of `query`, at most [`MAX_POINTS`] per request.
    pub fn windows(&self, query: &str, grid: &Grid) -> Result<Vec<Option<f64>>, PromError> {
        let mut points = Vec::new();
        let mut first = 0;
        while first < grid.windows {
            let last = (first + MAX_POINTS).min(grid.windows) - 1;
            points.extend(self.query_range(
                query,
                grid.end_ms(first),
                grid.end_ms(last),
                grid.step_ms,
            )?);
            first = last + 1;
        }
        Ok(grid.assign(&points))
    }
}

/// Where and when a run's timeline lies in real time.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    /// The wall-clock instant of scenario time zero.
    pub started: SystemTime,
    /// A window's length in real time (the scenario's window over the time scale).
    pub window: Duration,
}

impl RunClock {
    /// The clock of a live run at `time_scale` with windows of `window` (scenario time): its
    /// start as the load engine recorded it, else `before` (taken by the caller just before
    /// the run).
    pub fn of(
        run: &SetupRun,
        window: scalebench_core::Duration,
        time_scale: f64,
        before: SystemTime,
    ) -> RunClock {
        let scale = if time_scale > 0.0 && time_scale.is_finite() {
            time_scale
        } else {
            1.0
        };
        RunClock {
            started: run
                .load
                .as_ref()
                .and_then(|l| l.started_at)
                .unwrap_or(before),
            window: Duration::from_secs_f64(window.as_secs_f64() / scale),
        }
    }
}

/// Fills the fields of `run`'s timeline that `spec` has queries for from Prometheus, over
/// the run's time range, and records how in `run.prometheus`. Waits, up to `spec.settle`
/// after the run's end, for the last window's samples; what has not come then stays null
/// with a warning. A query that fails leaves its field as the run's own observer saw it
/// and records the error; nothing here fails the run. Call it outside async code.
#[tracing::instrument(skip_all)]
pub fn fill(run: &mut SetupRun, spec: &PrometheusSpec, clock: RunClock, tls: &TlsOptions) {
    let mut report = PrometheusReport {
        url: spec.url.clone(),
        ..PrometheusReport::default()
    };
    if let Ok(u) = observe::parse_url(&spec.url) {
        report.url = observe::shown(&u);
    }
    let grid = Grid {
        start_ms: clock
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
        step_ms: (clock.window.as_millis() as i64).max(1),
        windows: run.timeline.len(),
    };
    report.start_unix_s = grid.start_ms as f64 / 1000.0;
    report.step_s = grid.step_ms as f64 / 1000.0;
    let results = match Prometheus::new(&spec.url, &spec.token_env, tls) {
        Ok(prom) => query_all(&prom, spec, &grid, &mut report.warnings),
        Err(e) => spec
            .queries
            .keys()
            .map(|f| (f.clone(), Err(e.to_string())))
            .collect(),
    };
    for (field, result) in results {
        let query = spec.queries.get(&field).cloned().unwrap_or_default();
        let entry = match result {
            Ok(values) => {
                for (sample, v) in run.timeline.iter_mut().zip(&values) {
                    set_field(sample, &field, *v);
                }
                QueryReport {
                    field,
                    query,
                    windows: values.iter().filter(|v| v.is_some()).count() as u64,
                    error: None,
                }
            }
            Err(error) => {
                tracing::warn!("Prometheus: {field} not filled: {error}");
                QueryReport {
                    field,
                    query,
                    windows: 0,
                    error: Some(error),
                }
            }
        };
        report.queries.push(entry);
    }
    if run.max_ready.is_none() {
        run.max_ready = run.timeline.iter().filter_map(|s| s.replicas_ready).max();
    }
    run.prometheus = Some(report);
}

/// A query's value in each window, or why it gave none.
type Answer = Result<Vec<Option<f64>>, String>;

/// How long after the run's end the first query waits: a scrape that began just before the
/// end is stored by then.
const MARGIN: Duration = Duration::from_secs(1);

/// Every query's values (or why it gave none), in field order, polling until each has a
/// value for the last window or the settle time is over.
fn query_all(
    prom: &Prometheus,
    spec: &PrometheusSpec,
    grid: &Grid,
    warnings: &mut Vec<String>,
) -> Vec<(String, Answer)> {
    if grid.windows == 0 {
        warnings.push("the run has no timeline window: nothing was queried".into());
        return Vec::new();
    }
    let end = UNIX_EPOCH + Duration::from_millis(grid.last_ms().max(0) as u64);
    let settle = Duration::from(spec.settle);
    let deadline = end + settle;
    let until = |t: SystemTime| t.duration_since(SystemTime::now()).unwrap_or_default();
    std::thread::sleep(until(end + MARGIN.min(settle)));
    let mut pending: Vec<&String> = spec.queries.keys().collect();
    let mut done = Vec::new();
    while !pending.is_empty() {
        let over = SystemTime::now() >= deadline;
        pending.retain(|&field| {
            let r = prom.windows(&spec.queries[field], grid);
            let settled = match &r {
                Ok(v) => v.last().is_some_and(Option::is_some),
                Err(e) => !e.transient(),
            };
            if settled || over {
                done.push((field.clone(), r));
            }
            !(settled || over)
        });
        if !pending.is_empty() {
            std::thread::sleep(POLL.min(until(deadline)));
        }
    }
    done.sort_by(|a, b| a.0.cmp(&b.0));
    done.into_iter()
        .map(|(field, r)| {
            if let Ok(v) = &r
                && v.last().is_some_and(Option::is_none)
            {
                let newest = v.iter().rposition(Option::is_some);
                let w = format!(
                    "{field}: no sample for the last window {} after the run's end \
                         (settle); null from {}",
                    spec.settle,
                    newest.map_or("the first window".to_string(), |i| format!(
                        "window {}",
                        i + 2
                    )),
                );
                tracing::warn!("Prometheus: {w}");
                warnings.push(w);
            }
            (field, r.map_err(|e| e.to_string()))
        })
        .collect()
}
