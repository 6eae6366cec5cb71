//! The Prometheus observer and the admin helper against real HTTP servers: https with a private
//! CA, a host name, a body that is not UTF-8, samples with timestamps, a label whose name ends
//! with another's, timeouts, connection reuse, and the real call sites (the engine's collector
//! thread, a plain thread posting JSON). Every server listens on 127.0.0.1 only; every request
//! is bounded by the client's timeout.

mod common;

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use live::observe::{self, HttpClient, ObserveError, Observer as _, PrometheusObserver};
use live::{LoadConfig, Progress, Target, TlsOptions};

/// What the testbed exports, with a timestamp on two samples (as a federating Prometheus or a
/// pushgateway would send them).
const METRICS: &[u8] = b"# HELP scalebench_replicas_ready Replicas ready to serve.\n\
    # TYPE scalebench_replicas_ready gauge\n\
    scalebench_replicas_ready 3 1700000000000\n\
    scalebench_replicas_desired 5\n\
    scalebench_queue_depth 7 1700000000000\n\
    # TYPE scalebench_nodes gauge\n\
    scalebench_nodes{pool=\"gpu-spot\"} 2\n\
    scalebench_cost_usd_total 0.25\n";

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    content_type: Option<String>,
    accept: Option<String>,
    body: Vec<u8>,
}

/// A server on 127.0.0.1: `GET /metrics` answers `metrics`; `/slow` answers after 2 s;
/// `/admin` echoes the request's body; anything else is a 404. It records every request and
/// counts connections.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn serve(metrics: &[u8], tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
    let (rt, listener, addr) = common::listen(1);
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let metrics = Bytes::copy_from_slice(metrics);
    let (c, s) = (Arc::clone(&connections), Arc::clone(&seen));
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::Relaxed);
            let (s, metrics, tls) = (Arc::clone(&s), metrics.clone(), tls.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(req, metrics.clone(), Arc::clone(&s)));
                let builder = auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                }
            });
        }
    });
    Server {
        addr,
        connections,
        seen,
        _rt: rt,
    }
}

async fn handle(
    req: Request<Incoming>,
    metrics: Bytes,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (content_type, accept) = (
        header(hyper::header::CONTENT_TYPE),
        header(hyper::header::ACCEPT),
    );
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
        method,
        path: path.clone(),
        content_type,
        accept,
        body: body.clone(),
    });
    let (status, body) = match path.as_str() {
        "/metrics" => (StatusCode::OK, metrics),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            (StatusCode::OK, metrics)
        }
        "/admin" => (StatusCode::OK, Bytes::from(body)),
        _ => (StatusCode::NOT_FOUND, Bytes::from_static(b"no such path")),
    };
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    Ok(r)
}

/// A TLS acceptor with a certificate for 127.0.0.1 and localhost, issued by a fresh CA whose
/// certificate is written to `ca`.
fn tls_acceptor(ca: &Path) -> tokio_rustls::TlsAcceptor {
    let fail = |e: &dyn std::fmt::Display| -> ! { panic!("{e}") };
    let ca_key = rcgen::KeyPair::generate().unwrap_or_else(|e| fail(&e));
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail(&e));
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap_or_else(|e| fail(&e));
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| fail(&e));
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .and_then(|p| p.signed_by(&key, &issuer))
        .unwrap_or_else(|e| fail(&e));
    let mut f = std::fs::File::create(ca).unwrap_or_else(|e| fail(&e));
    f.write_all(ca_cert.pem().as_bytes())
        .unwrap_or_else(|e| fail(&e));
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(live::tls::provider())
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![cert.der().clone()], key)
        })
        .unwrap_or_else(|e| fail(&e));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn observer(url: &str) -> PrometheusObserver {
    PrometheusObserver::new(url).unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn scrape(o: &PrometheusObserver) -> live::Observed {
    o.scrape().unwrap_or_else(|e| panic!("{}: {e}", o.url()))
}

#[test]
fn https_with_a_private_ca_is_observed_and_an_unknown_issuer_is_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ca = dir.path().join("ca.pem");
    let s = serve(METRICS, Some(tls_acceptor(&ca)));
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{}/metrics", s.addr.port());
        let trusting = TlsOptions {
            ca_file: Some(ca.clone()),
            insecure: false,
        };
        let o = PrometheusObserver::with_tls(&url, &trusting).unwrap_or_else(|e| panic!("{e}"));
        let seen = scrape(&o);
        assert_eq!(
            (seen.replicas_ready, seen.replicas_desired),
            (Some(3), Some(5)),
            "{url}"
        );

        let e = observer(&url).scrape().map(|_| ());
        let text = e.as_ref().map_err(ToString::to_string);
        assert!(
            matches!(e, Err(ObserveError::Request { .. }))
                && text.as_ref().is_err_and(|t| t.contains("certificate")),
            "an unknown issuer: {text:?}"
        );

        let insecure = TlsOptions {
            ca_file: None,
            insecure: true,
        };
        let o = PrometheusObserver::with_tls(&url, &insecure).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scrape(&o).replicas_ready, Some(3), "insecure");
    }
    let missing = TlsOptions {
        ca_file: Some(dir.path().join("none.pem")),
        insecure: false,
    };
    let e = PrometheusObserver::with_tls("https://localhost:1/metrics", &missing);
    assert!(matches!(e, Err(ObserveError::Tls(_))), "{e:?}");
}

#[test]
fn a_host_name_resolves_to_a_server_on_127_0_0_1() {
    let s = serve(METRICS, None);
    let o = observer(&format!("http://localhost:{}/metrics", s.addr.port()));
    let seen = o.observe();
    assert_eq!(seen.and_then(|o| o.replicas_ready), Some(3));
}

#[test]
fn a_body_that_is_not_utf8_still_gives_its_valid_samples() {
    let mut body = b"scalebench_replicas_ready 4\nscalebench_nodes{pool=\"od-".to_vec();
    body.extend([0xff, 0xc3, 0x28]);
    body.extend(b"\"} 1\nscalebench_nodes{pool=\"spot\"} 2\nscalebench_queue_depth 9\n");
    let s = serve(&body, None);
    let seen = scrape(&observer(&format!("http://{}/metrics", s.addr)));
    assert_eq!((seen.replicas_ready, seen.queue_depth), (Some(4), Some(9)));
    // Not in this exposition: unknown, not zero.
    assert_eq!((seen.replicas_desired, seen.cost_usd), (None, None));
    let nodes: Vec<(&str, u32)> = seen.nodes.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    // The invalid bytes become U+FFFD where they stand; the line still counts.
    assert_eq!(nodes, vec![("od-\u{fffd}\u{fffd}(", 1), ("spot", 2)]);
}

#[test]
fn samples_with_a_timestamp_are_read() {
    let s = serve(METRICS, None);
    let seen = scrape(&observer(&format!("http://{}/metrics", s.addr)));
    assert_eq!((seen.replicas_ready, seen.queue_depth), (Some(3), Some(7)));
    assert_eq!(seen.cost_usd, Some(0.25));
    assert_eq!(seen.gpu_util, None, "not exported");
}

#[test]
fn the_pool_label_is_matched_by_its_exact_name() {
    let body = b"scalebench_nodes{xpool=\"a\",pool=\"b\"} 2\n\
        scalebench_nodes{pool=\"c\",pool_id=\"d\"} 3\n\
        scalebench_nodes{xpool=\"e\"} 4\n";
    let s = serve(body, None);
    let seen = scrape(&observer(&format!("http://{}/metrics", s.addr)));
    let nodes: Vec<(&str, u32)> = seen.nodes.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(nodes, vec![("b", 2), ("c", 3)]);
}

#[test]
fn successive_observations_reuse_one_connection_and_ask_for_the_text_format() {
    let s = serve(METRICS, None);
    let o = observer(&format!("http://{}/metrics", s.addr));
    for _ in 0..5 {
        assert_eq!(o.observe().and_then(|o| o.replicas_desired), Some(5));
    }
    assert_eq!(s.connections.load(Ordering::Relaxed), 1);
    assert_eq!(s.seen().len(), 5);
    assert!(
        s.seen().iter().all(|r| r.method == "GET"
            && r.path == "/metrics"
            && r.accept
                .as_deref()
                .is_some_and(|a| a.starts_with("text/plain;version=0.0.4"))),
        "{:?}",
        s.seen()
    );
}

#[test]
fn slow_missing_and_absent_endpoints_fail_quickly_with_their_reason() {
    let s = serve(METRICS, None);
    let t = Instant::now();
    let e = observer(&format!("http://{}/slow", s.addr)).scrape();
    assert!(matches!(e, Err(ObserveError::Request { .. })), "{e:?}");
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );

    let o = observer(&format!("http://{}/nothing", s.addr));
    let e = o.scrape();
    assert!(
        matches!(e, Err(ObserveError::Status { status: 404, .. })),
        "{e:?}"
    );
    assert_eq!(o.observe(), None);

    let url = format!("http://{}/metrics", common::refused());
    let t = Instant::now();
    let e = observer(&url).scrape();
    let text = e.as_ref().map(|_| ()).map_err(ToString::to_string);
    assert!(
        text.as_ref()
            .is_err_and(|t| t.starts_with(&format!("GET {url}: "))),
        "{text:?}"
    );
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );

    for bad in [
        "127.0.0.1:9090/metrics",
        "ftp://localhost/metrics",
        "http://",
    ] {
        let e = PrometheusObserver::new(bad);
        assert!(matches!(e, Err(ObserveError::Url { .. })), "{bad}: {e:?}");
    }
}

#[test]
fn the_collector_thread_observes_every_window_with_its_markers() {
    let metrics = serve(METRICS, None);
    let target = common::server();
    let o = observer(&format!("http://localhost:{}/metrics", metrics.addr.port()));
    let plan = common::plan(20.0, "2s", "1s");
    let t = Target::new(
        &format!("http://{}/ok", target.addr),
        None,
        &[],
        None,
        |_| None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config = LoadConfig::new(t);
    let cancel = AtomicBool::new(false);
    let progress = Progress::default();
    o.mark("pod-eviction@0s".into());
    let run = live::run_observed(&plan, "observed", &config, &cancel, &progress, &o)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.timeline.len(), 2);
    // The first window closes while the load runs, with what the collector thread observed;
    // the last may close after every shard is done, unobserved (the engine's way).
    let w = &run.timeline[0];
    assert_eq!(
        (w.replicas_ready, w.replicas_desired),
        (Some(3), Some(5)),
        "{w:?}"
    );
    // The exposition has no GPU figures: unknown in every window, not zero.
    assert!(run.timeline.iter().all(|w| w.gpu_util.is_none()), "{w:?}");
    assert_eq!(w.nodes.get("gpu-spot"), Some(&2), "{w:?}");
    let w = &run.timeline[1];
    assert!(
        w.replicas_ready.is_none() || w.replicas_ready == Some(3),
        "an unobserved window is unknown, not 0: {w:?}"
    );
    assert_eq!(run.max_ready, Some(3));
    assert_eq!(
        (run.pools, run.cold_starts),
        (None, None),
        "nothing billed it"
    );
    assert_eq!(run.timeline[0].faults, vec!["pod-eviction@0s".to_string()]);
    assert!(run.timeline[1].faults.is_empty());
    assert_eq!(metrics.connections.load(Ordering::Relaxed), 1);
}

#[test]
fn admin_requests_from_a_plain_thread_send_json_and_read_any_status() {
    let s = serve(METRICS, None);
    let admin = format!("http://localhost:{}/admin", s.addr.port());
    let json = r#"{"kind": "pod-eviction", "at": "1m"}"#;
    let (posted, missing) = std::thread::scope(|scope| {
        let posted = scope.spawn(|| observe::request(&admin, "POST", Some(json)));
        let missing =
            scope.spawn(|| observe::request(&format!("http://{}/x", s.addr), "GET", None));
        (posted.join(), missing.join())
    });
    let posted = posted.unwrap_or_else(|_| panic!("the posting thread panicked"));
    assert_eq!(posted.ok(), Some((200, json.as_bytes().to_vec())));
    let missing = missing.unwrap_or_else(|_| panic!("the getting thread panicked"));
    assert_eq!(missing.ok().map(|(status, _)| status), Some(404));
    let post = s.seen().into_iter().find(|r| r.method == "POST");
    assert!(
        post.is_some_and(|r| r.path == "/admin"
            && r.content_type.as_deref() == Some("application/json")
            && r.body == json.as_bytes()),
        "{:?}",
        s.seen()
    );

    let e = observe::request(&admin, "NOT A METHOD", None);
    assert!(matches!(e, Err(ObserveError::Method(_))), "{e:?}");
    let e = observe::request("localhost/admin", "GET", None);
    assert!(matches!(e, Err(ObserveError::Url { .. })), "{e:?}");

    // A client of one's own, for many requests: one connection.
    let client = HttpClient::new(&TlsOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let before = s.connections.load(Ordering::Relaxed);
    for i in 0..3 {
        let body = format!("{{\"i\": {i}}}");
        let r = client.request(&admin, "PUT", Some(&body));
        assert_eq!(r.ok(), Some((200, body.into_bytes())));
    }
    assert_eq!(s.connections.load(Ordering::Relaxed), before + 1);
}
