//! The HTTP server: hyper 1, HTTP/1.1, on 127.0.0.1 only.

mod discovery;
pub mod error;
mod objects;
pub mod route;
pub mod table;
mod watch;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{Method, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch as signal};
use tokio::task::JoinHandle;

use crate::handle::Handle;
use error::ApiError;
use route::Target;

type Body = BoxBody<Bytes, Infallible>;

const MAX_BODY: usize = 3 * 1024 * 1024;

/// A response on its way out.
pub(crate) struct Reply(http::Response<Body>);

impl Reply {
    fn bytes(code: StatusCode, body: Bytes) -> Reply {
        let mut res = http::Response::new(Full::new(body).boxed());
        *res.status_mut() = code;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        Reply(res)
    }

    fn stream(rx: mpsc::Receiver<Bytes>) -> Reply {
        let frames = stream::unfold(rx, |mut rx| async move {
            let line = rx.recv().await?;
            Some((Ok::<_, Infallible>(Frame::data(line)), rx))
        });
        let mut res = http::Response::new(BodyExt::boxed(StreamBody::new(frames)));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        Reply(res)
    }

    fn table(mut self) -> Reply {
        self.0.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(table::CONTENT_TYPE),
        );
        self
    }
}

fn json_reply(code: StatusCode, body: &impl Serialize) -> Reply {
    Reply::bytes(
        code,
        Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
    )
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_reply(code, &e.status())
    }
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// How often a watch that allows bookmarks gets one (default 5 s).
    pub bookmark_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bookmark_interval: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Ctx {
    handle: Handle,
    config: Config,
    shutdown: signal::Receiver<bool>,
}

/// The Kubernetes API server over a [`Handle`].
#[derive(Debug)]
pub struct Server;

/// Stops a running server; dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct Shutdown {
    tx: signal::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Shutdown {
    /// Stops accepting, ends every watch, lets the requests in flight finish, and waits.
    pub async fn shutdown(mut self) {
        let _ = self.tx.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        let _ = self.tx.send(true);
    }
}

impl Server {
    /// Serves the store on `127.0.0.1` at a free port, with the default [`Config`].
    pub async fn start(handle: Handle) -> std::io::Result<(SocketAddr, Shutdown)> {
        Server::start_with(handle, Config::default()).await
    }

    /// Serves the store on `127.0.0.1` at a free port.
    #[tracing::instrument(skip_all, err)]
    pub async fn start_with(
        handle: Handle,
        config: Config,
    ) -> std::io::Result<(SocketAddr, Shutdown)> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = signal::channel(false);
        let ctx = Ctx {
            handle,
            config,
            shutdown: rx,
        };
        let task = tokio::spawn(accept(listener, ctx));
        tracing::info!(%addr, "kubeapi serving");
        Ok((
            addr,
            Shutdown {
                tx,
                task: Some(task),
            },
        ))
    }
}

async fn accept(listener: TcpListener, ctx: Ctx) {
    let mut shutdown = ctx.shutdown.clone();
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let ctx = ctx.clone();
        conns.spawn(async move {
            let mut shutdown = ctx.shutdown.clone();
            let svc = hyper::service::service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(handle(&ctx, req).await.0) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => if let Err(e) = r { tracing::debug!(error = %e, "connection ended") },
                _ = shutdown.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        });
    }
    while conns.join_next().await.is_some() {}
}

async fn handle(ctx: &Ctx, req: http::Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    tracing::debug!(method = %parts.method, uri = %parts.uri, "request");
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return ApiError::bad_request(format!("reading the body: {e}")).into(),
    };
    let Some(target) = route::parse(&path) else {
        return ApiError::no_route(&path).into();
    };
    let doc = match (&target, &parts.method) {
        (Target::Resource(_), _) => None,
        (_, &Method::GET) => Some(match &target {
            Target::Version => Some(discovery::version()),
            Target::CoreVersions => Some(discovery::core_versions()),
            Target::Groups => Some(discovery::groups()),
            Target::Group(g) => discovery::api_group(g),
            Target::Resources(gv) => discovery::resources(gv),
            Target::Resource(_) => None,
        }),
        (_, m) => return ApiError::method_not_allowed(m, &path).into(),
    };
    if let Some(doc) = doc {
        return match doc {
            Some(doc) => json_reply(StatusCode::OK, &doc),
            None => ApiError::no_route(&path).into(),
        };
    }
    let Target::Resource(res) = target else {
        return ApiError::no_route(&path).into();
    };
    let call = objects::Call {
        method: parts.method.clone(),
        res,
        query: route::query(parts.uri.query()),
        headers: &parts.headers,
        body,
    };
    match objects::serve(ctx, call).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::debug!(method = %parts.method, %path, error = %e, "request failed");
            e.into()
        }
    }
}
