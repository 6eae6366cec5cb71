//! Prometheus' answer to `query_range`, read, and its points laid on the timeline's windows.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::PromError;

/// One evaluation: its Unix time in seconds and its value, `None` for NaN and infinities
/// (not observed, never 0).
pub type Point = (f64, Option<f64>);

/// `{"status": ..., "data": ..., "errorType": ..., "error": ...}`.
#[derive(Debug, Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `data`: a result of some type.
#[derive(Debug, Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: serde_json::Value,
}

/// One series of a matrix.
#[derive(Debug, Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// The one series of a `query_range` answer for `query`, as points: an empty result is no
/// point at all; several series, an answer with `status: "error"` or one that is not a
/// matrix are errors naming the query.
pub fn parse_matrix(query: &str, body: &[u8]) -> Result<Vec<Point>, PromError> {
    let decode = |why: String| PromError::Decode {
        query: query.to_string(),
        why,
    };
    let r: Response = serde_json::from_slice(body).map_err(|e| decode(e.to_string()))?;
    if r.status != "success" {
        return Err(PromError::Refused {
            query: query.to_string(),
            error_type: r.error_type.unwrap_or_else(|| "unknown".into()),
            error: r.error.unwrap_or_else(|| format!("status {:?}", r.status)),
        });
    }
    let data = r.data.ok_or_else(|| decode("no data".into()))?;
    if data.result_type != "matrix" {
        return Err(decode(format!(
            "expected a matrix, found a {}",
            data.result_type
        )));
    }
    let mut series: Vec<Series> =
        serde_json::from_value(data.result).map_err(|e| decode(e.to_string()))?;
    match series.len() {
        0 => return Ok(Vec::new()),
        1 => {}
        n => {
            return Err(PromError::Series {
                query: query.to_string(),
                count: n,
                labels: series
                    .iter()
                    .take(3)
                    .map(|s| labels(&s.metric))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let one = series.swap_remove(0);
    Ok(one
        .values
        .into_iter()
        .map(|(t, v)| (t, v.parse::<f64>().ok().filter(|v| v.is_finite())))
        .collect())
}

/// `{a="x", b="y"}`.
fn labels(metric: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = metric.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// The instants a run's windows are read at, in Unix milliseconds: window `i` covers
/// `(start + i*step, start + (i+1)*step]` and is read at its end, `start + (i+1)*step`, which
/// is where `query_range` evaluates with that start and step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// The run's start.
    pub start_ms: i64,
    /// The window's length in real time (at least 1 ms).
    pub step_ms: i64,
    /// How many windows.
    pub windows: usize,
}

impl Grid {
    /// The end of window `i`.
    pub fn end_ms(&self, i: usize) -> i64 {
        self.start_ms + (i as i64 + 1) * self.step_ms
    }

    /// The end of the last window: the run's end.
    pub fn last_ms(&self) -> i64 {
        self.start_ms + self.windows as i64 * self.step_ms
    }

    /// Each window's value: the point evaluated at its end (within half a step), `None`
    /// where there is none. Points outside the run are ignored.
    pub fn assign(&self, points: &[Point]) -> Vec<Option<f64>> {
        let mut out = vec![None; self.windows];
        for &(t, v) in points {
            let ms = (t * 1000.0).round() as i64;
            let k = (ms - self.start_ms) as f64 / self.step_ms as f64 - 1.0;
            let i = k.round();
            if i < 0.0 || i >= self.windows as f64 || (k - i).abs() >= 0.5 {
                continue;
            }
            if let Some(slot) = out.get_mut(i as usize) {
                *slot = v;
            }
        }
        out
    }
}

/// Unix milliseconds as Prometheus reads a time: seconds with a fraction.
pub fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}
