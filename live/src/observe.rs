//! The service side of each timeline window: replicas, pods pending, nodes per pool, GPUs,
//! queue depth and cost, from whatever can tell (a Prometheus text endpoint such as the
//! testbed's `/metrics`), and markers of faults injected while the window was open.
//!
//! HTTP goes through reqwest's blocking client ([`HttpClient`]): http or https (rustls with
//! the aws-lc-rs provider, trusting what [`TlsOptions`] say), host names or addresses, no
//! proxy, every request bounded by [`TIMEOUT`]. A blocking client runs a small runtime on a
//! thread of its own; build, use and drop it on plain threads (the collector thread, a fault
//! injector, `main`), never inside async code, where reqwest panics.
//!
//! The exposition is read by [`parse`], which follows the text format (0.0.4) as Prometheus's
//! own scraper reads it. No parser crate fitted: `prometheus-parse` splits label values at
//! commas and keeps their escapes, `nom-openmetrics` rejects a whole exposition when a sample
//! has a timestamp, `prom_text_format_parser` keeps label values escaped (one release, 2023),
//! and `openmetrics-parser`, correct and maintained, is LGPL-3.0.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::Url;
use reqwest::blocking::Client;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::tls::{self, TlsError, TlsOptions};

/// How long one request may take, connecting included: observers answer within a window.
pub const TIMEOUT: Duration = Duration::from_millis(500);

/// The largest body read (16 MiB); a larger one is an error.
pub const MAX_BODY: usize = 16 << 20;

/// The content type asked of a metrics endpoint: the text format, not OpenMetrics or protobuf.
const TEXT_FORMAT: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

/// What an observer saw of the service at one instant. Each figure is `None` when the
/// observer did not see it (an exposition without that metric): unknown, not zero.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Replicas asked for.
    pub replicas_desired: Option<u32>,
    /// Replicas ready.
    pub replicas_ready: Option<u32>,
    /// Pods waiting for a node or starting.
    pub pods_pending: Option<u32>,
    /// Nodes per pool (empty when no pool was seen).
    pub nodes: BTreeMap<String, u32>,
    /// GPUs held by pods.
    pub gpus_allocated: Option<u32>,
    /// GPU utilisation, 0-1.
    pub gpu_util: Option<f64>,
    /// Requests waiting.
    pub queue_depth: Option<u32>,
    /// Cost so far.
    pub cost_usd: Option<f64>,
}

/// Something that can tell the service's state; called from the collector thread at every
/// window's end, so it must answer quickly.
pub trait Observer: Sync {
    /// The state now, or `None` when it cannot be read (the window's service side is then
    /// unknown: `null` in the report).
    fn observe(&self) -> Option<Observed>;

    /// Markers of what happened since the last call (e.g. `pod-eviction@6m`).
    fn markers(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Sees nothing: plain load against an endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&self) -> Option<Observed> {
        None
    }
}

/// Why an observer or an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The URL does not parse, is not http or https, or has no host.
    #[error("bad URL {url:?}: {why}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The method is not a valid HTTP method.
    #[error("bad HTTP method {0:?}")]
    Method(String),
    /// The client's TLS could not be set up (e.g. an unreadable CA file).
    #[error("the HTTP client's TLS: {0}")]
    Tls(#[from] TlsError),
    /// reqwest could not build the client.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The request failed: no connection, TLS refused, timed out, broken answer.
    #[error("{method} {url}: {why}")]
    Request {
        /// The method.
        method: String,
        /// The URL (without a password).
        url: String,
        /// What went wrong, with its causes.
        why: String,
    },
    /// The answer's body is larger than [`MAX_BODY`].
    #[error("{method} {url}: the body is larger than {} bytes", MAX_BODY)]
    TooLarge {
        /// The method.
        method: String,
        /// The URL (without a password).
        url: String,
    },
    /// A metrics endpoint answered with a status other than 200.
    #[error("GET {url}: status {status}")]
    Status {
        /// The URL (without a password).
        url: String,
        /// The status.
        status: u16,
    },
}

/// A blocking HTTP client for small requests (observers, admin APIs; not for load): HTTP/1.1
/// over http or https, no proxy, each request bounded by [`TIMEOUT`], connections kept alive
/// between requests. Clones share the connections.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client,
}

impl HttpClient {
    /// A client trusting the bundled web roots and `tls.ca_file`, or any certificate when
    /// `tls.insecure`. Call it outside async code.
    pub fn new(tls: &TlsOptions) -> Result<Self, ObserveError> {
        Self::with_timeout(tls, TIMEOUT)
    }

    /// [`new`](Self::new), each request bounded by `timeout` instead (connecting by at most
    /// [`TIMEOUT`]): for slower answers, such as a Prometheus query over a long run.
    pub fn with_timeout(tls: &TlsOptions, timeout: Duration) -> Result<Self, ObserveError> {
        let config = tls::client_config(tls, &[b"http/1.1".as_slice()])?;
        let client = Client::builder()
            .tls_backend_preconfigured(config)
            .connect_timeout(TIMEOUT.min(timeout))
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| ObserveError::Client(causes(&e.without_url())))?;
        Ok(HttpClient { client })
    }

    /// `method url`, with `json` as an `application/json` body if given. Returns the status
    /// (any, 4xx and 5xx included) and the body.
    pub fn request(
        &self,
        url: &str,
        method: &str,
        json: Option<&str>,
    ) -> Result<(u16, Vec<u8>), ObserveError> {
        let url = parse_url(url)?;
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| ObserveError::Method(method.to_string()))?;
        self.send(method, &url, json, None, None)
    }

    /// `method url` with `json` as the body, an `accept` header and a bearer token if given
    /// (the token is never logged nor put in an error); the status and the body, read up to
    /// [`MAX_BODY`].
    pub(crate) fn send(
        &self,
        method: reqwest::Method,
        url: &Url,
        json: Option<&str>,
        accept: Option<&str>,
        bearer: Option<&str>,
    ) -> Result<(u16, Vec<u8>), ObserveError> {
        let mut request = self.client.request(method.clone(), url.clone());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        if let Some(json) = json {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(json.to_string());
        }
        let (method, url) = (method.to_string(), shown(url));
        let failed = |why: String| ObserveError::Request {
            method: method.clone(),
            url: url.clone(),
            why,
        };
        let response = request
            .send()
            .map_err(|e| failed(causes(&e.without_url())))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        response
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| failed(format!("reading the body: {}", causes(&e))))?;
        if body.len() > MAX_BODY {
            return Err(ObserveError::TooLarge { method, url });
        }
        Ok((status, body))
    }
}

/// One small request through a client shared by the whole process (built on first use,
/// trusting the web roots): for admin APIs, not for load. `method url`, with `json` as an
/// `application/json` body if given; returns the status and the body. Call it outside async
/// code.
pub fn request(
    url: &str,
    method: &str,
    json: Option<&str>,
) -> Result<(u16, Vec<u8>), ObserveError> {
    static SHARED: OnceLock<HttpClient> = OnceLock::new();
    let client = match SHARED.get() {
        Some(c) => c,
        None => {
            let c = HttpClient::new(&TlsOptions::default())?;
            SHARED.get_or_init(|| c)
        }
    };
    client.request(url, method, json)
}

/// Reads `scalebench_*` metrics in Prometheus text format from a URL (the testbed's names),
/// and hands on markers pushed with [`PrometheusObserver::mark`]. Its client is built once,
/// so successive observations reuse one connection.
#[derive(Debug)]
pub struct PrometheusObserver {
    url: Url,
    client: HttpClient,
    markers: Mutex<Vec<String>>,
}

impl PrometheusObserver {
    /// An observer of `url` (e.g. `http://127.0.0.1:9090/metrics`, `https://svc:8443/metrics`),
    /// trusting the bundled web roots. Call it outside async code.
    pub fn new(url: &str) -> Result<Self, ObserveError> {
        Self::with_tls(url, &TlsOptions::default())
    }

    /// An observer of `url` trusting what `tls` says (a private CA, or any certificate).
    pub fn with_tls(url: &str, tls: &TlsOptions) -> Result<Self, ObserveError> {
        Ok(PrometheusObserver {
            url: parse_url(url)?,
            client: HttpClient::new(tls)?,
            markers: Mutex::new(Vec::new()),
        })
    }

    /// The URL observed.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Reads the metrics now: [`observe`](Observer::observe), with the reason when it fails.
    /// A body that is not UTF-8 is decoded lossily (see [`parse_bytes`]).
    pub fn scrape(&self) -> Result<Observed, ObserveError> {
        let (status, body) = self.client.send(
            reqwest::Method::GET,
            &self.url,
            None,
            Some(TEXT_FORMAT),
            None,
        )?;
        if status != 200 {
            return Err(ObserveError::Status {
                url: shown(&self.url),
                status,
            });
        }
        Ok(parse_bytes(&body))
    }

    /// Adds a marker for the open window.
    pub fn mark(&self, marker: String) {
        if let Ok(mut m) = self.markers.lock() {
            m.push(marker);
        }
    }
}

impl Observer for PrometheusObserver {
    fn observe(&self) -> Option<Observed> {
        self.scrape()
            .inspect_err(|e| tracing::debug!(error = %e, "no observation"))
            .ok()
    }

    fn markers(&self) -> Vec<String> {
        self.markers
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }
}

/// `url` parsed: http or https, with a host.
pub(crate) fn parse_url(url: &str) -> Result<Url, ObserveError> {
    let bad = |why: String| ObserveError::Url {
        url: url.to_string(),
        why,
    };
    let parsed = Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(format!(
            "the scheme is {:?}, not http or https",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    Ok(parsed)
}

/// `url` for messages: without its password.
pub(crate) fn shown(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// An error and its causes, `a: b: c`.
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    // A cause that the message already ends with (`{0}` in its format) is not repeated.
    for cause in std::iter::successors(e.source(), |s| s.source()).take(16) {
        let cause = format!(": {cause}");
        if !out.ends_with(&cause) {
            out.push_str(&cause);
        }
    }
    out
}

/// The `scalebench_*` samples of a Prometheus text exposition, as bytes: decoded as UTF-8,
/// lossily (the format is UTF-8; an invalid byte becomes U+FFFD where it stands, so a label
/// value holding one still names a pool, and every other sample reads as sent).
pub fn parse_bytes(body: &[u8]) -> Observed {
    parse(&String::from_utf8_lossy(body))
}

/// The `scalebench_*` samples of a Prometheus text exposition (format 0.0.4): comments and
/// lines that are not samples are skipped, a sample's timestamp is read past, label values
/// are unescaped (`\\`, `\"`, `\n`; another escape stays as written, as in Prometheus), and
/// labels are matched by their exact name. When a series appears twice, the last one counts.
/// A metric the exposition lacks stays `None`.
pub fn parse(text: &str) -> Observed {
    let mut o = Observed::default();
    for s in text.lines().filter_map(sample) {
        let v = s.value;
        let n = v.max(0.0).round() as u32;
        match s.name {
            "scalebench_replicas_desired" => o.replicas_desired = Some(n),
            "scalebench_replicas_ready" => o.replicas_ready = Some(n),
            "scalebench_pods_pending" => o.pods_pending = Some(n),
            "scalebench_gpus_allocated" => o.gpus_allocated = Some(n),
            "scalebench_gpu_utilization" => o.gpu_util = Some(v),
            "scalebench_queue_depth" => o.queue_depth = Some(n),
            "scalebench_cost_usd_total" => o.cost_usd = Some(v),
            "scalebench_nodes" => {
                if let Some(pool) = s.label("pool") {
                    o.nodes.insert(pool.to_string(), n);
                }
            }
            _ => {}
        }
    }
    o
}

/// Label names and their unescaped values, in the order written.
type Labels<'a> = Vec<(&'a str, String)>;

/// One sample line: `name{label="value",...} value [timestamp]`.
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    labels: Labels<'a>,
    value: f64,
}

impl Sample<'_> {
    /// The value of the label named exactly `key`.
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What separates tokens on a line.
const BLANK: [char; 2] = [' ', '\t'];

/// The sample on `line`, or `None` for a comment, an empty line or one that is not a sample.
fn sample(line: &str) -> Option<Sample<'_>> {
    let line = line.trim_matches([' ', '\t', '\r']);
    if line.starts_with('#') {
        return None;
    }
    let (name, rest) = name(line, true)?;
    let (labels, rest) = match rest.trim_start_matches(BLANK).strip_prefix('{') {
        Some(inner) => labels(inner)?,
        None if rest.starts_with(BLANK) => (Vec::new(), rest),
        None => return None,
    };
    let mut tokens = rest.split(BLANK).filter(|t| !t.is_empty());
    let value = tokens.next()?.parse::<f64>().ok()?;
    if let Some(timestamp) = tokens.next() {
        timestamp.parse::<i64>().ok()?;
    }
    if tokens.next().is_some() {
        return None;
    }
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// A metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) or, without `colon`, a label name at the start
/// of `s`, and what follows it.
fn name(s: &str, colon: bool) -> Option<(&str, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':')))
        .unwrap_or(s.len());
    let (name, rest) = s.split_at(end);
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some((name, rest))
}

/// The labels after a `{`, up to and past its `}`, and what follows.
fn labels(mut s: &str) -> Option<(Labels<'_>, &str)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches(BLANK);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((out, rest));
        }
        let (key, rest) = name(s, false)?;
        let rest = rest.trim_start_matches(BLANK).strip_prefix('=')?;
        let rest = rest.trim_start_matches(BLANK).strip_prefix('"')?;
        let (value, rest) = label_value(rest)?;
        out.push((key, value));
        s = rest.trim_start_matches(BLANK);
        match s.strip_prefix(',') {
            Some(rest) => s = rest,
            None => return Some((out, s.strip_prefix('}')?)),
        }
    }
}

/// A label value after its opening quote, unescaped, and what follows its closing quote.
fn label_value(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_testbeds_metrics() {
        let text = "# HELP scalebench_replicas_ready Ready replicas.\n\
            # TYPE scalebench_replicas_ready gauge\n\
            scalebench_replicas_ready 3\n\
            scalebench_replicas_desired 5\n\
            scalebench_nodes{pool=\"gpu-spot\"} 2\n\
            scalebench_nodes{pool=\"od \\\"x\\\"\"} 1\n\
            scalebench_gpu_utilization 0.625\n\
            scalebench_cost_usd_total 1.5e-2\n\
            scalebench_requests_total{outcome=\"ok\"} 12\n";
        let o = parse(text);
        assert_eq!((o.replicas_ready, o.replicas_desired), (Some(3), Some(5)));
        assert_eq!(o.nodes.get("gpu-spot"), Some(&2));
        assert_eq!(o.nodes.get("od \"x\""), Some(&1));
        assert_eq!((o.gpu_util, o.cost_usd), (Some(0.625), Some(0.015)));
        // Not in the exposition: unknown, not zero.
        assert_eq!(
            (o.pods_pending, o.gpus_allocated, o.queue_depth),
            (None, None, None)
        );
    }

    #[test]
    fn an_exposition_with_some_metrics_gives_only_those() {
        let o = parse("scalebench_queue_depth 0\nother_metric 4\n");
        assert_eq!(
            o,
            Observed {
                queue_depth: Some(0),
                ..Observed::default()
            }
        );
        assert_eq!(parse("# nothing here\n"), Observed::default());
    }

    #[test]
    fn samples_follow_the_text_format() {
        let s = |name, labels: &[(&'static str, &str)], value| Sample {
            name,
            labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            value,
        };
        let cases: &[(&str, Option<Sample>)] = &[
            ("up 1", Some(s("up", &[], 1.0))),
            ("  up\t1  ", Some(s("up", &[], 1.0))),
            ("up 1 1700000000000", Some(s("up", &[], 1.0))),
            ("up 1 -5", Some(s("up", &[], 1.0))),
            ("up 1\r", Some(s("up", &[], 1.0))),
            ("ns:up 2", Some(s("ns:up", &[], 2.0))),
            ("up{} 1", Some(s("up", &[], 1.0))),
            ("up{a=\"x\"}1", Some(s("up", &[("a", "x")], 1.0))),
            (
                "up { a = \"x\" , b=\"y\", } 1 17",
                Some(s("up", &[("a", "x"), ("b", "y")], 1.0)),
            ),
            (
                r#"up{a="1,b=\"2\"}",c="}{"} 4"#,
                Some(s("up", &[("a", "1,b=\"2\"}"), ("c", "}{")], 4.0)),
            ),
            (
                r#"up{a="l\nr\\s\"q\x"} 1"#,
                Some(s("up", &[("a", "l\nr\\s\"q\\x")], 1.0)),
            ),
            ("up{a=\"#\"} 1", Some(s("up", &[("a", "#")], 1.0))),
            ("up 1e3", Some(s("up", &[], 1000.0))),
            ("up +Inf", Some(s("up", &[], f64::INFINITY))),
            ("up -Inf", Some(s("up", &[], f64::NEG_INFINITY))),
            ("# TYPE up gauge", None),
            ("#up 1", None),
            ("", None),
            ("up", None),
            ("up x", None),
            ("up 1 2 3", None),
            ("up 1 1.5", None),
            ("up-1 2", None),
            ("1up 2", None),
            ("up{a=\"x\" 1", None),
            ("up{a=\"x\"b=\"y\"} 1", None),
            ("up{a=x} 1", None),
            ("up{1a=\"x\"} 1", None),
            ("up{a=\"x} 1", None),
            ("up{a:b=\"x\"} 1", None),
        ];
        for (line, want) in cases {
            assert_eq!(&sample(line), want, "{line:?}");
        }
        let nan = sample("up NaN").map(|s| s.value);
        assert!(nan.is_some_and(f64::is_nan), "{nan:?}");
    }

    #[test]
    fn labels_match_by_exact_name_and_bad_lines_cost_only_themselves() {
        let text = "scalebench_nodes{xpool=\"a\",pool=\"b\",pool_x=\"c\"} 2\n\
            scalebench_nodes{pool=\"c\" 9\n\
            scalebench_queue_depth 4 1700000000000\n\
            scalebench_nodes{xpool=\"d\"} 7\n";
        let o = parse(text);
        assert_eq!(o.nodes, [("b".to_string(), 2)].into_iter().collect());
        assert_eq!(o.queue_depth, Some(4));
    }

    #[test]
    fn a_body_that_is_not_utf8_is_read_lossily() {
        let mut body = b"scalebench_nodes{pool=\"a".to_vec();
        body.extend([0xff, 0xfe]);
        body.extend(b"\"} 1\nscalebench_replicas_ready 3\n");
        let o = parse_bytes(&body);
        assert_eq!(o.replicas_ready, Some(3));
        assert_eq!(o.nodes.get("a\u{fffd}\u{fffd}"), Some(&1));
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        for bad in [
            "",
            "localhost:9090/metrics",
            "ftp://h/m",
            "file:///m",
            "http://",
        ] {
            let e = parse_url(bad).map(|u| u.to_string());
            assert!(matches!(e, Err(ObserveError::Url { .. })), "{bad:?}: {e:?}");
        }
        for good in [
            "http://localhost:1/metrics",
            "https://[::1]:2/m",
            "http://10.0.0.1/",
        ] {
            assert!(parse_url(good).is_ok(), "{good}");
        }
        let u = parse_url("http://me:secret@h/m").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(shown(&u), "http://me:***@h/m");
    }

    #[test]
    fn errors_name_their_causes() {
        // Each message ends with its cause's: nothing is repeated.
        let e = ObserveError::Tls(TlsError::Config(rustls::Error::General("x".into())));
        assert_eq!(
            causes(&e),
            "the HTTP client's TLS: TLS configuration: unexpected error: x"
        );
        let e = Wrap(Some(Box::new(Wrap(Some(Box::new(Wrap(None)))))));
        assert_eq!(causes(&e), "wrapped: wrapped: innermost");
    }

    /// An error with an optional cause, whose message does not include it.
    #[derive(Debug)]
    struct Wrap(Option<Box<Wrap>>);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(if self.0.is_some() {
                "wrapped"
            } else {
                "innermost"
            })
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.0.as_deref().map(|w| w as _)
        }
    }
}
