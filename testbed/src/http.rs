//! The HTTP side of the testbed: the accept loop (HTTP/1.1 and HTTP/2 on one port, with a
//! graceful stop) and the routes: `/predict` holds a replica slot for the request's service
//! time (the one its body sends, else a draw), `/metrics` renders the state for Prometheus,
//! `/admin/*` injects faults and reports.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::bed::Reply;
use crate::metrics;
use crate::shared::Shared;
use crate::{FaultError, FaultEvent};
use model::Dropped;

/// The largest request body read.
const MAX_BODY: usize = 1 << 20;

/// The longest service time a request may ask for, in (scenario) milliseconds: a day.
pub(crate) const MAX_SERVICE_MS: f64 = 86_400_000.0;

pub(crate) type Resp = Response<Full<Bytes>>;

/// An answer: a whole body, or a stream of server-sent events (an LLM's tokens).
pub(crate) type Answer = Response<Either<Full<Bytes>, crate::llm::EventStream>>;

/// Accepts connections until `stop` turns true, then waits for the open ones to finish
/// (each is told to stop gracefully; the caller bounds the wait).
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    let stopping = stopped(stop.clone());
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            _ = &mut stopping => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(connection(stream, shared.clone(), stop.clone()));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn connection(stream: TcpStream, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let builder = auto::Builder::new(TokioExecutor::new());
    let svc = service_fn(move |req| route(req, shared.clone()));
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        _ = stopped(stop) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

async fn route(req: Request<Incoming>, shared: Arc<Shared>) -> Result<Answer, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let api = match path.as_str() {
        "/v1/completions" => Some(openai::Api::Completions),
        "/v1/chat/completions" => Some(openai::Api::Chat),
        _ => None,
    };
    if let Some(api) = api {
        if method != Method::POST {
            return Ok(not_allowed("POST").map(Either::Left));
        }
        return Ok(crate::llm::complete(req, &shared, api).await);
    }
    let resp = match (&method, path.as_str()) {
        (&Method::GET, "/v1/models") => crate::llm::models(&shared),
        (&Method::POST, "/predict") => predict(req, &shared).await,
        (&Method::GET, "/metrics") => {
            let text = metrics::render(&snapshot(&shared));
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(metrics::CONTENT_TYPE),
            );
            r
        }
        (&Method::POST, "/admin/faults") => inject(req, &shared).await,
        (&Method::GET, "/admin/faults") => reply(StatusCode::OK, json!(snapshot(&shared).faults)),
        (&Method::GET, "/admin/snapshot") => reply(StatusCode::OK, json!(snapshot(&shared))),
        (&Method::GET, "/healthz") => reply(StatusCode::OK, json!({"status": "ok"})),
        (_, "/predict") => not_allowed("POST"),
        (_, "/metrics" | "/admin/snapshot" | "/healthz" | "/v1/models") => not_allowed("GET"),
        (_, "/admin/faults") => not_allowed("GET, POST"),
        _ => error(StatusCode::NOT_FOUND, format!("no route for {path}")),
    };
    Ok(resp.map(Either::Left))
}

/// Why a request was not served, as its answer says.
pub(crate) fn dropped_message(why: Dropped) -> &'static str {
    match why {
        Dropped::Rejected => "queue full",
        Dropped::Shed => "shed from the full queue for a higher-priority request",
        Dropped::Expired => "waited in the queue past the client timeout",
        Dropped::Killed => "the replica was killed while serving the request",
    }
}

/// The status a request that was not served is answered with.
pub(crate) fn dropped_status(why: Dropped) -> StatusCode {
    match why {
        Dropped::Rejected | Dropped::Shed => StatusCode::SERVICE_UNAVAILABLE,
        Dropped::Expired => StatusCode::GATEWAY_TIMEOUT,
        Dropped::Killed => StatusCode::BAD_GATEWAY,
    }
}

fn snapshot(shared: &Shared) -> crate::Snapshot {
    shared.now().snapshot()
}

/// Serves one inference request: it waits for a slot, holds it for its service time (the end
/// of service is an event of the model's, so a client that hangs up does not free the slot
/// early), and is answered with what happened.
async fn predict(req: Request<Incoming>, shared: &Shared) -> Resp {
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Asked { class, service_s } = match asked(&body) {
        Ok(a) => a,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    let answer = shared.now().admit(class.as_deref(), service_s);
    let ms = |ns: u64| shared.clock.real(ns).as_secs_f64() * 1000.0;
    match answer.await {
        Ok(Reply::Served {
            pod,
            queued_ns,
            service_ns,
        }) => reply(
            StatusCode::OK,
            json!({
                "replica": pod,
                "queued_ms": ms(queued_ns),
                "service_ms": ms(service_ns),
                "class": class,
            }),
        ),
        Ok(Reply::Dropped(why)) => error(dropped_status(why), dropped_message(why)),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the testbed is stopping"),
    }
}

/// What a `/predict` body asks for.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Asked {
    /// Its class (its priority, its service time when it sends none, echoed back).
    pub(crate) class: Option<String>,
    /// Its service time on a speed-1 replica, in scenario seconds.
    pub(crate) service_s: Option<f64>,
}

/// Reads a `/predict` body. Any body is served; a JSON object may name its `"class"` and send
/// its `"service_ms"`: the service time in scenario milliseconds on a speed-1 replica (the
/// testbed driver sends each arrival's own, the simulator's draw), which the setup's and the
/// pod's speeds then divide, as in the simulator. `null` or no `service_ms` gets a draw from the
/// class's service time. A `service_ms` that is not a number from 0 to [`MAX_SERVICE_MS`], or
/// in a body that is not JSON, is an error.
pub(crate) fn asked(body: &[u8]) -> Result<Asked, String> {
    let v = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v,
        Err(e) if body.windows(12).any(|w| w == b"\"service_ms\"") => {
            return Err(format!(
                "the body sends \"service_ms\" but is not JSON ({e}); send a number of \
                 milliseconds, e.g. {{\"service_ms\": 180.5}} (JSON has no NaN or infinity)"
            ));
        }
        Err(_) => return Ok(Asked::default()),
    };
    let class = v.get("class").and_then(Value::as_str).map(str::to_string);
    let service_s = match v.get("service_ms") {
        None | Some(Value::Null) => None,
        Some(ms) => match ms.as_f64() {
            Some(x) if x.is_finite() && (0.0..=MAX_SERVICE_MS).contains(&x) => Some(x / 1000.0),
            _ => {
                return Err(format!(
                    "\"service_ms\" must be a number of milliseconds from 0 to {MAX_SERVICE_MS} \
                     (a day), found {ms}"
                ));
            }
        },
    };
    Ok(Asked { class, service_s })
}

/// Injects `fault` now.
pub(crate) fn inject_now(
    shared: &Shared,
    fault: &scalebench_core::fault::Fault,
) -> Result<FaultEvent, FaultError> {
    shared.now().inject(fault)
}

/// Injects one fault given as JSON.
async fn inject(req: Request<Incoming>, shared: &Shared) -> Resp {
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let fault = match parse_fault(&body) {
        Ok(f) => f,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    match inject_now(shared, &fault) {
        Ok(record) => reply(StatusCode::OK, json!(record)),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// A `scalebench_core::fault::Fault` from JSON, read as the scenario's `[[faults]]` entries are (through TOML
/// values, so counts, shares and durations follow the same rules); `at` may be left out.
pub(crate) fn parse_fault(body: &[u8]) -> Result<scalebench_core::fault::Fault, String> {
    const EXAMPLE: &str = r#"e.g. {"kind":"pod-eviction","at":"0s","pods":2}"#;
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not JSON ({e}); send one fault, {EXAMPLE}"))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(format!("expected one fault as a JSON object, {EXAMPLE}"));
    };
    obj.entry("at").or_insert_with(|| json!("0s"));
    let t =
        toml::Value::try_from(&v).map_err(|e| format!("unsupported value in the fault: {e}"))?;
    t.try_into::<scalebench_core::fault::Fault>().map_err(|e| {
        format!(
            "not a fault (kind spot-interruption, pod-eviction or pool-outage): {}; {EXAMPLE}",
            e.message().trim()
        )
    })
}

pub(crate) async fn read_body(req: Request<Incoming>) -> Result<Bytes, Resp> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("failed to read the request body (at most {MAX_BODY} bytes): {e}"),
        )),
    }
}

pub(crate) fn reply(status: StatusCode, body: Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub(crate) fn error(status: StatusCode, msg: impl Into<String>) -> Resp {
    reply(status, json!({ "error": msg.into() }))
}

fn not_allowed(allow: &'static str) -> Resp {
    let mut r = error(StatusCode::METHOD_NOT_ALLOWED, format!("allowed: {allow}"));
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_predict_body_may_send_its_service_time_in_milliseconds() {
        let ok = |body: &str| asked(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
        let a = ok(r#"{"class": "chat", "service_ms": 180.5}"#);
        assert_eq!(a.class.as_deref(), Some("chat"));
        assert_eq!(a.service_s, Some(0.1805));
        assert_eq!(ok(r#"{"service_ms": 0}"#).service_s, Some(0.0));
        assert_eq!(ok(r#"{"service_ms": 86400000}"#).service_s, Some(86_400.0));
        // Without it (or null): drawn from the class's service time, as before.
        for body in [
            r#"{"class": "chat"}"#,
            r#"{"service_ms": null}"#,
            "{}",
            "[1]",
            "raw",
        ] {
            assert_eq!(ok(body).service_s, None, "{body}");
        }
        assert_eq!(ok("raw bytes"), Asked::default());
        for (body, want) in [
            (r#"{"service_ms": -1}"#, "found -1"),
            (r#"{"service_ms": 86400000.5}"#, "from 0 to 86400000"),
            (r#"{"service_ms": "200"}"#, r#"found "200""#),
            (r#"{"service_ms": true}"#, "found true"),
            (r#"{"service_ms": 1e999}"#, "not JSON"),
            (r#"{"service_ms": NaN}"#, "not JSON"),
        ] {
            let e = asked(body.as_bytes());
            assert!(e.as_ref().is_err_and(|e| e.contains(want)), "{body}: {e:?}");
        }
    }

    /// What the testbed driver sends for an arrival reaches the model as the simulator's
    /// service time: the same nanoseconds on a speed-1 replica, within one at other speeds.
    #[test]
    fn the_driver_s_service_times_arrive_as_the_simulator_s_nanoseconds() {
        let template = scalebench_core::template::Template::parse(crate::driver::DEFAULT_BODY)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Log-uniform from 10 µs to 1000 s.
            let s = 1e-5 * 10f64.powf(8.0 * (x >> 11) as f64 / (1u64 << 53) as f64);
            let mut body = String::new();
            template.render_arrival(3, i, "chat", Some(s), &mut body);
            let got = asked(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(got.class.as_deref(), Some("chat"));
            let sent = got.service_s.unwrap_or(f64::NAN);
            assert_eq!(model::secs_to_ns(sent), model::secs_to_ns(s), "{body}");
            for speed in [0.7, 2.0, 3.0] {
                let (a, b) = (
                    model::secs_to_ns(sent / speed),
                    model::secs_to_ns(s / speed),
                );
                assert!(a.abs_diff(b) <= 1, "{body} at {speed}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn faults_parse_from_json_with_counts_shares_and_without_at() {
        let f = parse_fault(br#"{"kind":"pod-eviction","at":"0s","pods":2}"#);
        assert!(matches!(
            f,
            Ok(scalebench_core::fault::Fault::PodEviction {
                pods: scalebench_core::fault::Count::N(2),
                ..
            })
        ));
        let f = parse_fault(br#"{"kind":"spot-interruption","pool":"s","nodes":"50%"}"#);
        assert!(
            matches!(
                f,
                Ok(scalebench_core::fault::Fault::SpotInterruption { .. })
            ),
            "{f:?}"
        );
        let f = parse_fault(br#"{"kind":"pool-outage","pool":"s","for":"5m"}"#);
        assert!(
            matches!(f, Ok(scalebench_core::fault::Fault::PoolOutage { .. })),
            "{f:?}"
        );
        for bad in [
            &b"{not json"[..],
            b"[1]",
            br#"{"kind":"meteor"}"#,
            br#"{"kind":"pod-eviction"}"#,
        ] {
            assert!(parse_fault(bad).is_err());
        }
    }

    /// What the testbed driver sends (a plan's fault serialized) reads back as the same fault.
    #[test]
    fn serialized_faults_parse_back_as_the_same_fault() {
        use scalebench_core::Duration;
        use scalebench_core::fault::{Count, Fault};
        let faults = [
            Fault::SpotInterruption {
                pool: "spot".into(),
                at: Duration::from_secs(600),
                nodes: Count::Share(0.5),
                notice: Duration::from_secs(120),
            },
            Fault::PodEviction {
                at: Duration::from_secs(90),
                pods: Count::Share(0.125),
                max_unavailable: Some(Count::N(1)),
            },
            Fault::PodEviction {
                at: Duration::ZERO,
                pods: Count::N(3),
                max_unavailable: None,
            },
            Fault::PoolOutage {
                pool: "gpu".into(),
                at: Duration::from_secs(900),
                length: Duration::from_secs(120),
            },
        ];
        let mut bodies = Vec::new();
        for f in faults {
            let body = serde_json::to_string(&f).unwrap_or_default();
            assert_eq!(parse_fault(body.as_bytes()), Ok(f), "{body}");
            bodies.push(body);
        }
        // In the shape they are written in the scenario.
        assert_eq!(
            bodies,
            [
                r#"{"kind":"spot-interruption","pool":"spot","at":"10m","nodes":"50%","notice":"2m"}"#,
                r#"{"kind":"pod-eviction","at":"1m30s","pods":"12.5%","max_unavailable":1}"#,
                r#"{"kind":"pod-eviction","at":"0s","pods":3}"#,
                r#"{"kind":"pool-outage","pool":"gpu","at":"15m","for":"2m"}"#,
            ]
        );
    }
}
