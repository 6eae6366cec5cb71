//! The requests a run sends, prepared once: HTTP/1.1 requests as the bytes that go on the wire
//! (or as the request hyper's HTTP/1.1 client writes, when it is the one chosen), HTTP/2
//! requests for hyper's multiplexing client; the target's address resolved and its TLS
//! configured before the first request is due. A body that sends the request's service time
//! (`{{service_ms}}`) gets its arrival's. With `[traffic.openai]` every request is an
//! OpenAI-compatible completion built per request (a prompt of exactly the arrival's prompt
//! tokens, `max_tokens` its output tokens) whose answer is read as it comes
//! ([`crate::answer::Reading`]).

use std::future::Future;
use std::net::ToSocketAddrs;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::answer::{Reading, Sink, Skip, is_event_stream};
use crate::collect::Outcome;
use crate::engine::Clock;
use crate::h1::{Conn, Dest, H1Client, Message, Stream};
use crate::target::{Target, TargetError};
use crate::tls;
use scalebench_core::Plan;
use scalebench_core::arrivals::Arrival;
use scalebench_core::llm::Tokens;

/// The HTTP/2 client of one shard.
pub(crate) type H2Client = Client<Connector, Full<Bytes>>;

/// How a request ended: its outcome, the connection when it may carry another request, and
/// an OpenAI request's answer as read.
pub(crate) type Exchanged = (Outcome, Option<Conn>, Option<Box<Reading>>);

/// What every request of a run is, ready to send.
pub(crate) struct Requests {
    /// Per request class.
    classes: Vec<Prepared>,
    seed: u64,
    dest: Dest,
    http2: bool,
    /// `[traffic.openai]`: every body is an OpenAI request.
    openai: Option<OpenAi>,
}

/// The OpenAI request settings of a run.
struct OpenAi {
    spec: openai::RequestSpec,
    prompts: openai::Prompts,
    /// The lengths of an arrival that has none (a trace row without token counts): the
    /// scenario's means.
    fallback: Tokens,
}

impl OpenAi {
    /// The OpenAI requests of `plan`, if it has `[traffic.openai]`.
    fn of(plan: &Plan) -> Option<OpenAi> {
        let spec = plan.traffic.openai.clone()?;
        let prompts = openai::Prompts::new(spec.encoding);
        // The vocabulary and the tokenizer load on first use (tens to hundreds of ms): now,
        // before the first request is due, not on its way out.
        let _ = prompts.prompt(1, 0);
        let means = match (plan.trace.and_then(|t| t.mean_tokens), plan.traffic.tokens) {
            (Some(means), _) => means,
            (None, Some(t)) => (t.prompt.mean(), t.output.mean()),
            (None, None) => (0.0, 1.0),
        };
        Some(OpenAi {
            prompts,
            spec,
            fallback: Tokens {
                prompt: means.0.round() as u32,
                output: (means.1.round() as u32).max(1),
            },
        })
    }

    /// The arrival's lengths.
    fn tokens(&self, a: &Arrival) -> Tokens {
        a.tokens.unwrap_or(self.fallback)
    }

    /// The body of request `seq` (arrival `a`): a prompt of its prompt tokens whose words are
    /// picked by the seed and `seq` (so that no two requests of a run share a prefix), and
    /// `max_tokens` its output tokens.
    fn body(&self, seed: u64, seq: u64, a: &Arrival) -> Bytes {
        let t = self.tokens(a);
        // A bijection of `seq` for a given seed: every request of a run gets its own prompt.
        let key = seq ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        let prompt = self.prompts.prompt(t.prompt, key);
        Bytes::from(self.spec.body(&prompt, t.output))
    }

    /// A reading of the answer of arrival `a`, on `clock`.
    fn reading(&self, a: &Arrival, clock: Clock) -> Box<Reading> {
        Box::new(Reading::new(
            self.spec.api,
            self.spec.encoding,
            clock,
            self.tokens(a).prompt,
        ))
    }
}

/// The target of an OpenAI run: POST, a JSON body, and the API's path unless the URL gives a
/// path other than `/`.
fn openai_target(target: &Target, api: openai::Api) -> Result<Target, TargetError> {
    let mut t = target.clone();
    let bare = t
        .uri
        .path_and_query()
        .is_none_or(|pq| pq.path() == "/" && pq.query().is_none());
    if bare {
        let spec = scalebench_core::template::RequestSpec {
            path: Some(api.path().to_string()),
            ..Default::default()
        };
        t = t.for_class(&spec, |_| None)?;
    }
    t.method = Method::POST;
    t.body = Bytes::new();
    t.template = None;
    if !t
        .headers
        .iter()
        .any(|(n, _)| n == http::header::CONTENT_TYPE)
    {
        t.headers.push((
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        ));
    }
    Ok(t)
}

/// One request class's request.
struct Prepared {
    name: String,
    target: Target,
    /// The HTTP/1.1 request as sent, when its body has no per-request fields.
    wire: Option<Arc<[u8]>>,
    head: bool,
    /// The HTTP/1.1 request for hyper's client (the body and its length aside): the same
    /// request line and headers as `wire`.
    parts: http::request::Parts,
}

impl Prepared {
    /// A class's request; `per_request`: its body is made for each request (OpenAI), so no
    /// wire bytes are prepared.
    fn new(name: &str, target: Target, per_request: bool) -> Prepared {
        Prepared {
            name: name.to_string(),
            wire: (target.template.is_none() && !per_request).then(|| target.wire().into()),
            head: target.method == Method::HEAD,
            parts: h1_parts(&target),
            target,
        }
    }

    /// The request for hyper's HTTP/1.1 client with `body`.
    fn hyper_request(&self, body: Bytes) -> Request<Full<Bytes>> {
        let mut parts = self.parts.clone();
        let wants_body = matches!(
            self.target.method,
            Method::POST | Method::PUT | Method::PATCH
        );
        if (!body.is_empty() || wants_body)
            && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
        {
            parts
                .headers
                .insert(http::header::CONTENT_LENGTH, body.len().into());
        }
        Request::from_parts(parts, Full::new(body))
    }

    /// The body of request `seq`, the arrival `a` of the schedule.
    fn body(&self, seed: u64, seq: u64, a: &Arrival) -> Bytes {
        match &self.target.template {
            Some(t) => {
                let service_s = Some(a.service_s);
                let mut out = String::with_capacity(self.target.body.len() + 64);
                t.render_arrival(seed, seq, &self.name, service_s, &mut out);
                Bytes::from(out)
            }
            None => self.target.body.clone(),
        }
    }
}

impl Requests {
    /// Resolves the target's address, sets up TLS for it, and prepares each request class of
    /// `plan` (a class's `[traffic.class.request]` refines the target).
    pub fn new(
        target: &Target,
        plan: &Plan,
        http2: bool,
        h1: H1Client,
    ) -> Result<Requests, TargetError> {
        let env = |v: &str| std::env::var(v).ok();
        let openai = OpenAi::of(plan);
        let base = match &openai {
            Some(o) => openai_target(target, o.spec.api)?,
            None => target.clone(),
        };
        let per_request = openai.is_some();
        let classes = if plan.traffic.classes.is_empty() {
            vec![Prepared::new("default", base, per_request)]
        } else {
            plan.traffic
                .classes
                .iter()
                .map(|c| {
                    let t = match &c.request {
                        Some(spec) => base.for_class(spec, env)?,
                        None => base.clone(),
                    };
                    Ok(Prepared::new(&c.name, t, per_request))
                })
                .collect::<Result<_, TargetError>>()?
        };
        let host = target.uri.host().unwrap_or_default();
        let https = target.uri.scheme_str() == Some("https");
        let port = target
            .uri
            .port_u16()
            .unwrap_or(if https { 443 } else { 80 });
        let bad = |why: String| TargetError::Url {
            url: target.uri.to_string(),
            why,
        };
        let addr = (host.trim_start_matches('[').trim_end_matches(']'), port)
            .to_socket_addrs()
            .map_err(|e| bad(format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| bad(format!("{host} has no address")))?;
        let tls = if https {
            let alpn: &[&[u8]] = if http2 { &[b"h2"] } else { &[b"http/1.1"] };
            let config = tls::client_config(&target.tls, alpn).map_err(|e| bad(e.to_string()))?;
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| bad(format!("{host} is not a TLS server name: {e}")))?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Requests {
            classes,
            seed: plan.seed,
            dest: Dest {
                addr,
                tls,
                client: h1,
            },
            http2,
            openai,
        })
    }

    /// True when every request is an OpenAI request whose answer is read as it comes.
    pub fn is_openai(&self) -> bool {
        self.openai.is_some()
    }

    /// True when requests go over HTTP/2.
    pub fn is_http2(&self) -> bool {
        self.http2
    }

    /// Where the target is.
    pub fn dest(&self) -> Dest {
        self.dest.clone()
    }

    /// A client for HTTP/2 runs, for one shard (its connections live on the shard's runtime).
    pub fn h2_client(&self) -> Option<H2Client> {
        self.http2.then(|| {
            Client::builder(TokioExecutor::new())
                .http2_only(true)
                // A load test counts a broken connection; it does not hide it behind a retry.
                .retry_canceled_requests(false)
                .pool_idle_timeout(Duration::from_secs(30))
                .build(Connector {
                    dest: self.dest.clone(),
                })
        })
    }

    /// Sends request `seq` of the schedule, arrival `a`, on `conn` and reads its answer; gives
    /// back the connection when it may carry another request.
    pub fn exchange_h1(
        &self,
        a: &Arrival,
        seq: u64,
        mut conn: Conn,
    ) -> impl Future<Output = Exchanged> + 'static {
        let p = self.class(a.class);
        let msg = match (self.dest.client, &p.wire) {
            (H1Client::Own, Some(w)) => Message::Wire(Arc::clone(w), p.head),
            (H1Client::Own, None) => Message::Wire(
                p.target.wire_with(&p.body(self.seed, seq, a)).into(),
                p.head,
            ),
            (H1Client::Hyper, _) => {
                Message::Hyper(Box::new(p.hyper_request(p.body(self.seed, seq, a))))
            }
        };
        async move {
            match conn.exchange(msg, &mut Skip).await {
                Ok(a) => (Outcome::Status(a.status), a.reusable.then_some(conn), None),
                Err(o) => (o, None, None),
            }
        }
    }

    /// [`Requests::exchange_h1`] for an OpenAI request: its body made for it, its answer read
    /// as it comes, each read stamped on `clock`.
    pub fn exchange_h1_openai(
        &self,
        a: &Arrival,
        seq: u64,
        mut conn: Conn,
        clock: Clock,
    ) -> impl Future<Output = Exchanged> + 'static {
        let p = self.class(a.class);
        let (body, mut reading) = self.openai_body(p, seq, a, clock);
        let msg = match self.dest.client {
            H1Client::Own => Message::Wire(p.target.wire_with(&body).into(), false),
            H1Client::Hyper => Message::Hyper(Box::new(p.hyper_request(body))),
        };
        async move {
            let answer = match reading.as_deref_mut() {
                Some(r) => conn.exchange(msg, r).await,
                None => conn.exchange(msg, &mut Skip).await,
            };
            match answer {
                Ok(a) => (
                    Outcome::Status(a.status),
                    a.reusable.then_some(conn),
                    reading,
                ),
                Err(o) => (o, None, None),
            }
        }
    }

    /// Sends request `seq` of the schedule, arrival `a`, through the HTTP/2 client and reads
    /// its answer.
    pub fn exchange_h2(
        &self,
        a: &Arrival,
        seq: u64,
        client: &H2Client,
    ) -> impl Future<Output = Exchanged> + 'static {
        let p = self.class(a.class);
        let req = http_request(&p.target, p.body(self.seed, seq, a));
        let client = client.clone();
        async move { (send_h2(&client, req, &mut Skip).await, None, None) }
    }

    /// [`Requests::exchange_h2`] for an OpenAI request: its body made for it, each data frame
    /// of its answer read as it comes, stamped on `clock`.
    pub fn exchange_h2_openai(
        &self,
        a: &Arrival,
        seq: u64,
        client: &H2Client,
        clock: Clock,
    ) -> impl Future<Output = Exchanged> + 'static {
        let p = self.class(a.class);
        let (body, mut reading) = self.openai_body(p, seq, a, clock);
        let req = http_request(&p.target, body);
        let client = client.clone();
        async move {
            let outcome = match reading.as_deref_mut() {
                Some(r) => send_h2(&client, req, r).await,
                None => send_h2(&client, req, &mut Skip).await,
            };
            let reading = reading.filter(|_| matches!(outcome, Outcome::Status(_)));
            (outcome, None, reading)
        }
    }

    fn class(&self, class: u16) -> &Prepared {
        &self.classes[usize::from(class).min(self.classes.len() - 1)]
    }

    /// The body of an OpenAI request and the reader of its answer, stamped on `clock` (the
    /// class's own body and no reader when the run has no `[traffic.openai]`).
    fn openai_body(
        &self,
        p: &Prepared,
        seq: u64,
        a: &Arrival,
        clock: Clock,
    ) -> (Bytes, Option<Box<Reading>>) {
        match &self.openai {
            Some(o) => (o.body(self.seed, seq, a), Some(o.reading(a, clock))),
            None => (p.body(self.seed, seq, a), None),
        }
    }
}

/// The HTTP/2 request for `t` with `body`.
fn http_request(t: &Target, body: Bytes) -> Option<Request<Full<Bytes>>> {
    let mut req = Request::builder()
        .method(t.method.clone())
        .uri(t.uri.clone());
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    req.body(Full::new(body)).ok()
}

/// Sends one HTTP/2 request and reads its answer to the end, through `sink` (each data frame
/// a read) or dropped.
async fn send_h2<S: Sink>(
    client: &H2Client,
    req: Option<Request<Full<Bytes>>>,
    sink: &mut S,
) -> Outcome {
    let Some(req) = req else {
        return Outcome::Io;
    };
    match client.request(req).await {
        Ok(resp) if S::READS => {
            let status = resp.status().as_u16();
            let ct = resp.headers().get(http::header::CONTENT_TYPE);
            sink.head(status, ct.is_some_and(|v| is_event_stream(v.as_bytes())));
            let mut body = resp.into_body();
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => {
                        sink.read();
                        if let Some(data) = frame.data_ref() {
                            sink.data(data);
                        }
                    }
                    Err(e) => return classify(&e),
                }
            }
            Outcome::Status(status)
        }
        Ok(resp) => {
            let status = resp.status().as_u16();
            match resp.into_body().collect().await {
                Ok(_) => Outcome::Status(status),
                Err(e) => classify(&e),
            }
        }
        Err(e) if e.is_connect() => match classify(&e) {
            Outcome::Tls => Outcome::Tls,
            _ => Outcome::Connect,
        },
        Err(e) => classify(&e),
    }
}

/// The HTTP/1.1 request line and headers of `t` as [`Target::wire`] writes them, for hyper's
/// client (which writes the URI as given, so it gets the origin form, and adds no `host`).
fn h1_parts(t: &Target) -> http::request::Parts {
    let mut req = Request::builder().method(t.method.clone());
    if let Some(pq) = t.uri.path_and_query() {
        req = req.uri(pq.as_str());
    }
    let has = |name: &http::HeaderName| t.headers.iter().any(|(n, _)| n == name);
    if !has(&http::header::HOST)
        && let Some(authority) = t.uri.authority()
    {
        req = req.header(http::header::HOST, authority.as_str());
    }
    if !has(&http::header::USER_AGENT) {
        req = req.header(
            http::header::USER_AGENT,
            concat!("scalebench/", env!("CARGO_PKG_VERSION")),
        );
    }
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    // Every part was valid in the target; an empty request stands in should one not be.
    req.body(())
        .unwrap_or_else(|_| Request::new(()))
        .into_parts()
        .0
}

/// A broken connection or another failure, from an error's chain of sources.
pub(crate) fn classify(e: &(dyn std::error::Error + 'static)) -> Outcome {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::InvalidData {
                crate::h1::tls_failed(io);
                return Outcome::Tls;
            }
            return crate::h1::io_class(io);
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_closed() || h.is_canceled())
        {
            return Outcome::Reset;
        }
        cur = err.source();
    }
    Outcome::Io
}

/// Opens the target's connections for hyper's client: TCP, and TLS with ALPN for https.
#[derive(Clone)]
pub(crate) struct Connector {
    dest: Dest,
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<TokioIo<Stream>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let dest = self.dest.clone();
        Box::pin(async move { Ok(TokioIo::new(crate::h1::open(&dest).await?)) })
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Tls(s) if s.get_ref().1.alpn_protocol() == Some(b"h2") => {
                Connected::new().negotiated_h2()
            }
            _ => Connected::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let src = r#"
name = "service-times"
duration = "20s"
seed = 11
[slo]
latency = "1s"
[traffic]
arrival = "poisson"
[[traffic.shape]]
kind = "steady"
rate = 50
[[traffic.class]]
name = "a"
[traffic.class.request]
body = '{"seq": {{seq}}, "service_ms": {{service_ms}}}'
[[traffic.class]]
name = "b"
service = { dist = "exponential", mean = "2s" }
[service]
time = { dist = "lognormal", median = "80ms", p99 = "300ms" }
[cluster]
billing = "replica"
price_per_replica_hour = 1
[[setup]]
name = "x"
[setup.fixed]
replicas = 1
"#;
        Plan::parse(std::path::Path::new("service-times.toml"), src)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Each request's body carries its own arrival's service time, to the nanosecond.
    #[test]
    fn bodies_send_the_service_time_of_their_own_arrival() {
        let plan = plan();
        let target = Target::new("http://127.0.0.1:9/predict", None, &[], None, |_| None)
            .unwrap_or_else(|e| panic!("{e}"));
        let requests =
            Requests::new(&target, &plan, false, H1Client::Own).unwrap_or_else(|e| panic!("{e}"));
        let arrivals: Vec<_> = scalebench_core::arrivals::ArrivalStream::new(&plan).collect();
        assert!(arrivals.len() > 900, "{}", arrivals.len());
        let mut checked = 0;
        for (seq, a) in arrivals.iter().enumerate().filter(|(_, a)| a.class == 0) {
            let p = requests.class(a.class);
            let v: serde_json::Value =
                serde_json::from_slice(&p.body(requests.seed, seq as u64, a))
                    .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(v["seq"], seq as u64);
            // To the nanosecond, as the simulator serves it.
            let ns = v["service_ms"].as_f64().map(|ms| (ms * 1e6).round());
            assert_eq!(ns, Some((a.service_s * 1e9).round()), "{v}");
            checked += 1;
        }
        assert!(checked > 100, "{checked}");
        // Class b's body is the target's, which has no fields.
        assert_eq!(requests.class(1).target.template, None);
    }
}
