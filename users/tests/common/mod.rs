//! A real HTTP server on 127.0.0.1 for the users' tests, counting what it serves, and plans
//! with closed-loop users.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use scalebench_core::Plan;
use tokio::net::TcpListener;

/// A test server, the requests it has received and answered, and the runtime it runs on
/// (dropped with it).
pub struct Server {
    pub addr: SocketAddr,
    pub received: Arc<AtomicU64>,
    pub served: Arc<AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Paths: `/ok` answers 200 after 2 ms; `/status/N` answers N; `/slow` answers after 10 s;
/// `/classes` answers by the request body's class: `flaky` 503, `broken` 500, any other 200.
pub fn server() -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let received = Arc::new(AtomicU64::new(0));
    let served = Arc::new(AtomicU64::new(0));
    let counts = (Arc::clone(&received), Arc::clone(&served));
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let counts = counts.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    counts.0.fetch_add(1, Ordering::Relaxed);
                    handle(req, Arc::clone(&counts.1))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server {
        addr,
        received,
        served,
        _rt: rt,
    }
}

async fn handle(
    req: Request<Incoming>,
    served: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = |code: u16| {
        served.fetch_add(1, Ordering::Relaxed);
        let mut r = Response::new(Full::new(Bytes::from_static(b"{\"ok\":true}")));
        *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Ok(r)
    };
    if let Some(code) = path.strip_prefix("/status/") {
        return reply(code.parse().unwrap_or(500));
    }
    match path.as_str() {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            reply(200)
        }
        "/classes" => {
            let class = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("class")?.as_str().map(str::to_string))
                .unwrap_or_default();
            match class.as_str() {
                "flaky" => reply(503),
                "broken" => reply(500),
                _ => reply(200),
            }
        }
        _ => {
            tokio::time::sleep(Duration::from_millis(2)).await;
            reply(200)
        }
    }
}

/// A scenario of `duration` with closed-loop users; `users` is the `[traffic.users]` table's
/// body and `extra` is appended to `[traffic]` (classes).
pub fn plan(duration: &str, users: &str, extra: &str) -> Plan {
    let src = format!(
        r#"name = "users-test"
duration = "{duration}"
seed = 7
[slo]
latency = "500ms"
[traffic]
executor = "users"
timeout = "5s"
{extra}
[traffic.users]
{users}
[service]
time = "10ms"
[[setup]]
name = "fixed"
billing = "replica"
price_per_replica_hour = 1.0
[setup.fixed]
replicas = 2
"#
    );
    Plan::parse(Path::new("users-test.toml"), &src).unwrap_or_else(|e| panic!("{e}"))
}
