//! The HTTP/1.1 client against hand-written answers (chunked bodies with trailers, interim
//! answers, HTTP/1.0, `Connection: close`, garbage), per-class requests with templated bodies,
//! and https with a self-signed certificate. Every server listens on 127.0.0.1; every run
//! lasts a second or less.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{plan, target};
use live::{H1Client, LoadConfig, Target, TlsOptions};
use scalebench_core::Plan;
use scalebench_core::run::SetupRun;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the raw server read it.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: String,
}

/// A server that answers every request with `answer`, closing the connection after it when
/// `close` is true; it records the requests and counts connections.
struct Raw {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

fn raw(answer: &'static [u8], close: bool) -> Raw {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (s, c) = (Arc::clone(&seen), Arc::clone(&connections));
    rt.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::Relaxed);
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(req) = read_request(&mut stream, &mut buf).await else {
                        return;
                    };
                    s.lock().unwrap_or_else(|e| e.into_inner()).push(req);
                    if stream.write_all(answer).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    Raw {
        addr,
        seen,
        connections,
        _rt: rt,
    }
}

/// Reads one request (head and a `content-length` body) from `stream`.
async fn read_request(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<Seen> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
            buf.drain(..end + 4 + len);
            return Some(Seen { head, body });
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Both HTTP/1.1 clients: every case holds for each.
const CLIENTS: [H1Client; 2] = [H1Client::Own, H1Client::Hyper];

fn run(plan: &Plan, target: Target, http2: bool, client: H1Client) -> SetupRun {
    let mut config = LoadConfig::new(target);
    config.http2 = http2;
    config.h1_client = client;
    common::run_config(plan, &config, None)
}

fn outcomes(run: &SetupRun) -> Vec<(String, u64)> {
    run.load
        .as_ref()
        .map(|l| l.outcomes.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

#[test]
fn answers_of_every_framing_are_read_to_the_end() {
    for client in CLIENTS {
        answers_of_every_framing_are_read_to_the_end_by(client);
    }
}

fn answers_of_every_framing_are_read_to_the_end_by(client: H1Client) {
    let p = plan(40.0, "500ms", "2s");
    for (answer, close, reuse) in [
        (
            &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n"[..],
            false,
            true,
        ),
        (
            &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"[..],
            false,
            true,
        ),
        (&b"HTTP/1.1 204 No Content\r\n\r\n"[..], false, true),
        (&b"HTTP/1.0 200 OK\r\n\r\nuntil the end"[..], true, false),
        (
            &b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"[..],
            true,
            false,
        ),
    ] {
        let s = raw(answer, close);
        let r = run(&p, target(&format!("http://{}/", s.addr)), false, client);
        let what = format!("{client:?}: {}", String::from_utf8_lossy(answer));
        let status = if what.contains("204") { "http_204" } else { "http_200" };
        assert_eq!(outcomes(&r), vec![(status.to_string(), 20)], "{what}");
        let conns = s.connections.load(Ordering::Relaxed);
        if reuse {
            assert!(conns < 10, "{what}: kept alive, yet {conns} connections");
        } else {
            // One per answer, and the few the pool keeps open ahead of the next requests.
            assert!(
                (20..=28).contains(&conns),
                "{what}: one connection per answer, yet {conns} connections"
            );
        }
    }
    let garbage = raw(b"NOT HTTP AT ALL\r\n\r\n", true);
    let r = run(
        &p,
        target(&format!("http://{}/", garbage.addr)),
        false,
        client,
    );
    assert_eq!(outcomes(&r), vec![("io".to_string(), 20)], "{client:?}");
}

const CLASSES: &str = r#"
name = "classes"
duration = "1s"
seed = 5
[slo]
latency = "500ms"
[traffic]
arrival = "constant"
timeout = "2s"
[[traffic.shape]]
kind = "steady"
rate = 60
[[traffic.class]]
name = "chat"
weight = 2
[traffic.class.request]
path = "/v1/chat?x=1"
headers = { "x-user" = "${HOME}", "x-model" = "small" }
body = '{"id": {{seq}}, "max_tokens": {{int 16 64}}, "prompt": "{{words 2 4}}", "c": "{{class}}"}'
[[traffic.class]]
name = "health"
weight = 1
[traffic.class.request]
method = "GET"
path = "/healthz"
[service]
time = "1ms"
[cluster]
billing = "replica"
price_per_replica_hour = 0
[[setup]]
name = "x"
[setup.fixed]
replicas = 1
"#;

#[test]
fn each_class_sends_its_own_request_with_fields_filled_per_request() {
    for client in CLIENTS {
        each_class_sends_its_own_request_by(client);
    }
}

fn each_class_sends_its_own_request_by(client: H1Client) {
    let s = raw(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false);
    let p = Plan::parse(Path::new("classes.toml"), CLASSES).unwrap_or_else(|e| panic!("{e}"));
    let base = Target::new(
        &format!("http://{}/predict", s.addr),
        None,
        &["x-model: big".into()],
        None,
        |_| None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(&p, base, false, client);
    assert_eq!(r.requests().ok, 60, "{client:?}");
    let seen = s.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let chat: Vec<&Seen> = seen
        .iter()
        .filter(|r| r.head.starts_with("POST /v1/chat?x=1 "))
        .collect();
    let health = seen
        .iter()
        .filter(|r| r.head.starts_with("GET /healthz "))
        .count();
    assert_eq!(chat.len() + health, 60, "{seen:?}");
    assert!(chat.len() > 30 && health > 10, "{} {health}", chat.len());
    let home = std::env::var("HOME").unwrap_or_default();
    let mut ids = std::collections::BTreeSet::new();
    for r in &chat {
        let head = r.head.to_ascii_lowercase();
        assert!(
            head.contains(&format!("x-user: {}", home.to_ascii_lowercase())),
            "{head}"
        );
        assert!(
            head.contains("x-model: small") && !head.contains("x-model: big"),
            "{head}"
        );
        assert!(head.contains("content-type: application/json"), "{head}");
        let v: serde_json::Value =
            serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body));
        assert_eq!(v["c"], "chat");
        let n = v["max_tokens"].as_i64().unwrap_or(0);
        assert!((16..=64).contains(&n), "{v}");
        let words = v["prompt"].as_str().map_or(0, |p| p.split(' ').count());
        assert!((2..=4).contains(&words), "{v}");
        ids.insert(v["id"].as_u64().unwrap_or(u64::MAX));
    }
    assert_eq!(ids.len(), chat.len(), "every request has its own id");
    // The same scenario sends the same bodies again.
    let again = raw(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false);
    let base = target(&format!("http://{}/predict", again.addr));
    run(&p, base, false, client);
    let bodies = |v: &[Seen]| {
        let mut b: Vec<String> = v.iter().map(|r| r.body.clone()).collect();
        b.sort();
        b
    };
    let second = again.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(bodies(&seen), bodies(&second));
}

/// A second of Poisson arrivals with lognormal service times; the body sends each request's.
const SERVICE_TIMES: &str = r#"
name = "service-times"
duration = "1s"
seed = 9
[slo]
latency = "500ms"
[traffic]
arrival = "poisson"
timeout = "2s"
[[traffic.shape]]
kind = "steady"
rate = 150
[service]
time = { dist = "lognormal", median = "80ms", p99 = "300ms" }
[cluster]
billing = "replica"
price_per_replica_hour = 0
[[setup]]
name = "x"
[setup.fixed]
replicas = 1
"#;

#[test]
fn each_request_sends_its_own_arrival_s_service_time_from_every_shard() {
    for client in CLIENTS {
        each_request_sends_its_own_service_time_by(client);
    }
}

fn each_request_sends_its_own_service_time_by(client: H1Client) {
    let p = Plan::parse(Path::new("service-times.toml"), SERVICE_TIMES)
        .unwrap_or_else(|e| panic!("{e}"));
    let arrivals: Vec<_> = scalebench_core::arrivals::ArrivalStream::new(&p).collect();
    let s = raw(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false);
    let body = br#"{"seq": {{seq}}, "service_ms": {{service_ms}}}"#;
    let t = Target::new(
        &format!("http://{}/predict", s.addr),
        None,
        &[],
        Some(bytes::Bytes::from_static(body)),
        |_| None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut config = LoadConfig::new(t);
    // Three shards send every third arrival each, each from its own thread.
    config.workers = Some(3);
    config.h1_client = client;
    let r = common::run_config(&p, &config, None);
    assert_eq!(r.requests().ok, arrivals.len() as u64, "{:?}", r.requests());
    let seen = s.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen.len(), arrivals.len());
    for req in &seen {
        let v: serde_json::Value =
            serde_json::from_str(&req.body).unwrap_or_else(|e| panic!("{e}: {}", req.body));
        let seq = v["seq"].as_u64().unwrap_or(u64::MAX) as usize;
        // To the nanosecond, as the simulator serves it.
        let ns = v["service_ms"].as_f64().map(|ms| (ms * 1e6).round());
        let want = arrivals.get(seq).map(|a| (a.service_s * 1e9).round());
        assert_eq!(ns, want, "{}", req.body);
    }
}

/// An https server (HTTP/1.1 and HTTP/2 by ALPN) with a self-signed certificate for
/// 127.0.0.1; the certificate's PEM is written to `ca`.
fn https_server(ca: &Path) -> common::Server {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
    let mut f = std::fs::File::create(ca).unwrap_or_else(|e| panic!("{e}"));
    f.write_all(cert.cert.pem().as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(live::tls::provider())
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![cert.cert.der().clone()], key)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    common::serve_tls(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[test]
fn https_verifies_the_server_and_speaks_both_protocols() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ca = dir.path().join("ca.pem");
    let s = https_server(&ca);
    let url = format!("https://{}/ok", s.addr);
    let p = plan(40.0, "500ms", "2s");
    let trusted = |insecure: bool, ca: Option<&Path>| {
        let mut t = target(&url);
        t.tls = TlsOptions {
            ca_file: ca.map(Path::to_path_buf),
            insecure,
        };
        t
    };
    let r = run(&p, trusted(false, Some(&ca)), true, H1Client::Own);
    assert_eq!(outcomes(&r), vec![("http_200".to_string(), 20)], "http2");
    for client in CLIENTS {
        let r = run(&p, trusted(false, Some(&ca)), false, client);
        assert_eq!(
            outcomes(&r),
            vec![("http_200".to_string(), 20)],
            "{client:?}"
        );
        let r = run(&p, trusted(true, None), false, client);
        assert_eq!(
            outcomes(&r),
            vec![("http_200".to_string(), 20)],
            "{client:?} insecure"
        );
        let r = run(&p, trusted(false, None), false, client);
        assert_eq!(
            outcomes(&r),
            vec![("tls".to_string(), 20)],
            "{client:?}: an unknown issuer fails as tls"
        );
    }
}
