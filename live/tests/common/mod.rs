//! A real HTTP server on 127.0.0.1 for the engine's tests, with paths that answer, fail, stall
//! or break the connection, and helpers to build plans and run the engine.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use live::{LoadConfig, Progress, Target};
use scalebench_core::Plan;
use scalebench_core::run::SetupRun;
use tokio::net::TcpListener;

/// The tests that send load in real time and judge how well it kept its schedule run one at
/// a time: two at once on a 2-core machine would make each other late.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A test server and the runtime it runs on (dropped with it).
pub struct Server {
    pub addr: SocketAddr,
    /// Connections accepted so far ([`server`] only).
    pub accepted: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

/// Paths: `/ok` 200 at once; `/status/N` answers N; `/delay/MS` 200 after MS ms; `/slow`
/// answers after 2 s; `/stall`
/// answers at once except that a request arriving between 1 s and 2 s after the first `/stall`
/// request waits until 2 s (a one-second stall).
pub fn server() -> Server {
    let (rt, listener, addr) = listen(2);
    let first = Arc::new(OnceLock::<Instant>::new());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let first = Arc::clone(&first);
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(req, Arc::clone(&first)));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server {
        addr,
        accepted,
        _rt: rt,
    }
}

/// A runtime of `workers` threads and a listener on a free port of 127.0.0.1.
pub fn listen(workers: usize) -> (tokio::runtime::Runtime, TcpListener, SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    (rt, listener, addr)
}

async fn handle(
    req: Request<Incoming>,
    first: Arc<OnceLock<Instant>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let reply = |code: u16| {
        let mut r = Response::new(Full::new(Bytes::from_static(b"{}")));
        *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Ok(r)
    };
    if let Some(code) = path.strip_prefix("/status/") {
        return reply(code.parse().unwrap_or(500));
    }
    if let Some(ms) = path.strip_prefix("/delay/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        return reply(200);
    }
    match path.as_str() {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            reply(200)
        }
        "/stall" => {
            let t = first.get_or_init(Instant::now).elapsed();
            if t >= Duration::from_secs(1) && t < Duration::from_secs(2) {
                tokio::time::sleep(Duration::from_secs(2) - t).await;
            }
            reply(200)
        }
        _ => reply(200),
    }
}

/// [`server`]'s paths over TLS through `acceptor` (HTTP/1.1 or HTTP/2, as ALPN chooses).
pub fn serve_tls(acceptor: tokio_rustls::TlsAcceptor) -> Server {
    let (rt, listener, addr) = listen(2);
    let first = Arc::new(OnceLock::<Instant>::new());
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (first, acceptor) = (Arc::clone(&first), acceptor.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = service_fn(move |req| handle(req, Arc::clone(&first)));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    Server {
        addr,
        accepted: Arc::default(),
        _rt: rt,
    }
}

/// A server that accepts connections and closes them without answering.
pub fn resetting_server() -> Server {
    let (rt, listener, addr) = listen(1);
    rt.spawn(async move {
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        }
    });
    Server {
        addr,
        accepted: Arc::default(),
        _rt: rt,
    }
}

/// An address where nothing listens (bound, then released).
pub fn refused() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    l.local_addr().unwrap_or_else(|e| panic!("{e}"))
}

/// `rate` rps of constant arrivals for `duration`, with a client timeout (SLO p99 <= 500 ms).
pub fn plan(rate: f64, duration: &str, timeout: &str) -> Plan {
    let d = |s: &str| s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
    live::Steady {
        rate,
        duration: d(duration),
        poisson: false,
        timeout: d(timeout),
        slo: d("500ms"),
        percentile: 99.0,
        seed: 1,
    }
    .plan()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the plan against `url` with `max_in_flight`, cancelling after `cancel_after` if given.
pub fn load(
    plan: &Plan,
    url: &str,
    max_in_flight: u64,
    cancel_after: Option<Duration>,
) -> SetupRun {
    let mut config = LoadConfig::new(target(url));
    config.max_in_flight = max_in_flight;
    run_config(plan, &config, cancel_after)
}

/// A target at `url`: no headers, no body template, no TLS options.
pub fn target(url: &str) -> Target {
    Target::new(url, None, &[], None, |_| None).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the engine on `plan` with `config`, cancelled after `cancel_after` if given, and
/// checks that every scheduled request was counted once.
pub fn run_config(plan: &Plan, config: &LoadConfig, cancel_after: Option<Duration>) -> SetupRun {
    let cancel = AtomicBool::new(false);
    let progress = Progress::default();
    let run = std::thread::scope(|s| {
        if let Some(after) = cancel_after {
            let cancel = &cancel;
            s.spawn(move || {
                std::thread::sleep(after);
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            });
        }
        live::run(plan, "load", config, &cancel, &progress)
    });
    let run = run.unwrap_or_else(|e| panic!("{e}"));
    let r = run.requests();
    assert!(r.identity_holds(), "{r:?}");
    run
}

/// How many requests of the run ended as `class` (`http_200`, `timeout`, ...): 0 when none did.
pub fn outcome(run: &SetupRun, class: &str) -> u64 {
    run.load
        .as_ref()
        .and_then(|l| l.outcomes.get(class).copied())
        .unwrap_or(0)
}
