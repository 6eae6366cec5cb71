//! The HTTP/1.1 hot path: one request at a time on a kept-alive connection, the request written
//! from bytes prepared once, the answer parsed in place (httparse) and its body read to the end
//! and dropped; or, for an OpenAI request, handed read by read (de-chunked) to its
//! [`crate::answer::Reading`]. It stays this small because a load generator's client must cost less than the
//! server it measures; general HTTP needs (redirects, cookies, compression) are not its job.
//! The same connection can instead carry hyper's HTTP/1.1 client ([`crate::hyper1`]), the
//! measured alternative ([`H1Client`]).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::answer::{Sink, is_event_stream};
use crate::collect::Outcome;
use crate::hyper1::HyperConn;

/// The largest response head read before the answer counts as broken.
const MAX_HEAD: usize = 64 * 1024;

/// A plain or TLS byte stream.
pub(crate) enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Which HTTP/1.1 client speaks on the connections (a benchmark switch: see
/// docs/fidelity-and-speed.md, "HTTP/1.1 client").
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum H1Client {
    /// This module's client.
    #[default]
    Own,
    /// hyper's `client::conn::http1`.
    Hyper,
}

impl std::str::FromStr for H1Client {
    type Err = String;

    fn from_str(s: &str) -> Result<H1Client, String> {
        match s {
            "own" => Ok(H1Client::Own),
            "hyper" => Ok(H1Client::Hyper),
            _ => Err(format!("expected own or hyper, found {s:?}")),
        }
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub(crate) struct Dest {
    /// The resolved address.
    pub addr: SocketAddr,
    /// TLS, with the server name to verify.
    pub tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    /// The HTTP/1.1 client.
    pub client: H1Client,
}

/// Opens a TCP connection, and a TLS session over it for https.
pub(crate) async fn open(dest: &Dest) -> io::Result<Stream> {
    let tcp = TcpStream::connect(dest.addr).await?;
    let _ = tcp.set_nodelay(true);
    Ok(match &dest.tls {
        None => Stream::Tcp(tcp),
        Some((connector, name)) => {
            Stream::Tls(Box::new(connector.connect(name.clone(), tcp).await?))
        }
    })
}

/// A kept-alive connection and the client that speaks on it.
pub(crate) struct Conn {
    client: Client,
    /// When it last finished an answer.
    pub idle_since: std::time::Instant,
}

enum Client {
    Own(Own),
    /// Boxed: hyper's connection state is large and a `Conn` moves with every request.
    Hyper(Box<HyperConn>),
}

/// A request as the connection's client takes it.
pub(crate) enum Message {
    /// The bytes on the wire, and whether it is a HEAD (for [`H1Client::Own`]).
    Wire(std::sync::Arc<[u8]>, bool),
    /// The request (for [`H1Client::Hyper`]).
    Hyper(Box<http::Request<http_body_util::Full<bytes::Bytes>>>),
}

/// A finished exchange: the status and whether the connection may carry another request.
pub(crate) struct Answer {
    pub status: u16,
    pub reusable: bool,
}

impl Conn {
    /// Opens a connection (and its TLS session).
    pub async fn connect(dest: &Dest) -> Result<Conn, Outcome> {
        let io = open(dest).await.map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => {
                tls_failed(&e);
                Outcome::Tls
            }
            _ => match io_class(&e) {
                Outcome::Reset | Outcome::Io => Outcome::Connect,
                other => other,
            },
        })?;
        let client = match dest.client {
            H1Client::Own => Client::Own(Own {
                io,
                buf: BytesMut::with_capacity(8 * 1024),
            }),
            H1Client::Hyper => Client::Hyper(Box::new(HyperConn::handshake(io).await?)),
        };
        Ok(Conn {
            client,
            idle_since: std::time::Instant::now(),
        })
    }

    /// True when the server closed this idle connection.
    pub fn closed_while_idle(&mut self) -> bool {
        match &mut self.client {
            Client::Own(c) => c.closed_while_idle(),
            Client::Hyper(c) => c.closed_while_idle(),
        }
    }

    /// Sends `msg` and reads its answer to the end, its body through `sink`.
    pub async fn exchange<S: Sink>(
        &mut self,
        msg: Message,
        sink: &mut S,
    ) -> Result<Answer, Outcome> {
        let answer = match (&mut self.client, msg) {
            (Client::Own(c), Message::Wire(wire, head)) => c.exchange(&wire, head, sink).await,
            (Client::Hyper(c), Message::Hyper(req)) => c.exchange(*req, sink).await,
            // `Requests` builds the message for the connection's client.
            _ => Err(Outcome::Io),
        }?;
        self.idle_since = std::time::Instant::now();
        Ok(answer)
    }
}

/// This module's client on one connection, and what it read past the last answer.
struct Own {
    io: Stream,
    buf: BytesMut,
}

impl Own {
    /// True when the server closed this idle connection (it answers an empty read at once).
    fn closed_while_idle(&mut self) -> bool {
        let Stream::Tcp(tcp) = &self.io else {
            return false;
        };
        let mut probe = [0u8; 1];
        !matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Writes `request` and reads its answer to the end, its body through `sink` (skipped
    /// when the sink does not read); `head` says the request was a HEAD (its answer has no
    /// body whatever its headers say).
    async fn exchange<S: Sink>(
        &mut self,
        request: &[u8],
        head: bool,
        sink: &mut S,
    ) -> Result<Answer, Outcome> {
        self.io.write_all(request).await.map_err(|e| io_class(&e))?;
        self.io.flush().await.map_err(|e| io_class(&e))?;
        loop {
            let parsed = {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut resp = httparse::Response::new(&mut headers);
                match resp.parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => Some((n, Head::of::<S>(&resp))),
                    Ok(httparse::Status::Partial) => None,
                    Err(_) => return Err(Outcome::Io),
                }
            };
            let Some((n, h)) = parsed else {
                if self.buf.len() > MAX_HEAD {
                    return Err(Outcome::Io);
                }
                self.fill().await?;
                sink.read();
                continue;
            };
            self.buf.advance(n);
            if (100..200).contains(&h.status) {
                // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                continue;
            }
            let mut reusable = !h.close;
            if S::READS {
                sink.head(h.status, h.event_stream);
            }
            if head || h.status == 204 || h.status == 304 {
            } else if S::READS {
                reusable &= self.read_body(&h, sink).await?;
            } else if h.chunked {
                self.skip_chunked().await?;
            } else if let Some(len) = h.length {
                self.skip(len).await?;
            } else {
                // Delimited by the end of the connection.
                while self.fill_or_eof().await? {
                    self.buf.clear();
                }
                reusable = false;
            }
            return Ok(Answer {
                status: h.status,
                reusable,
            });
        }
    }

    /// Reads the body that `h` announces through `sink`, as each read brings it: chunked
    /// (de-chunked incrementally), of a length, or up to the end of the connection (then the
    /// connection is not reusable: false).
    async fn read_body<S: Sink>(&mut self, h: &Head, sink: &mut S) -> Result<bool, Outcome> {
        if h.chunked {
            loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((n, 0))) => {
                        self.buf.advance(n);
                        self.skip_trailers().await?;
                        return Ok(true);
                    }
                    Ok(httparse::Status::Complete((n, size))) => {
                        self.buf.advance(n);
                        self.read_len(size, sink, true).await?;
                        // The CRLF after the chunk's data.
                        self.read_len(2, sink, false).await?;
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => {
                        return Err(Outcome::Io);
                    }
                    Ok(httparse::Status::Partial) => {
                        self.fill().await?;
                        sink.read();
                    }
                    Err(_) => return Err(Outcome::Io),
                }
            }
        }
        if let Some(len) = h.length {
            self.read_len(len, sink, true).await?;
            return Ok(true);
        }
        loop {
            if !self.buf.is_empty() {
                sink.data(&self.buf);
                self.buf.clear();
            }
            if !self.fill_or_eof().await? {
                return Ok(false);
            }
            sink.read();
        }
    }

    /// Reads `len` body bytes, through `sink` when `feed`, stamping every read.
    async fn read_len<S: Sink>(
        &mut self,
        mut len: u64,
        sink: &mut S,
        feed: bool,
    ) -> Result<(), Outcome> {
        loop {
            let have = (self.buf.len() as u64).min(len) as usize;
            if feed && have > 0 {
                sink.data(&self.buf[..have]);
            }
            self.buf.advance(have);
            len -= have as u64;
            if len == 0 {
                return Ok(());
            }
            self.fill().await?;
            sink.read();
        }
    }

    /// Reads more; the end of the stream here is a broken answer.
    async fn fill(&mut self) -> Result<(), Outcome> {
        if self.fill_or_eof().await? {
            Ok(())
        } else {
            Err(Outcome::Reset)
        }
    }

    /// Reads more; false at the end of the stream.
    async fn fill_or_eof(&mut self) -> Result<bool, Outcome> {
        self.buf.reserve(8 * 1024);
        match self.io.read_buf(&mut self.buf).await {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) => Err(io_class(&e)),
        }
    }

    /// Skips `len` body bytes.
    async fn skip(&mut self, mut len: u64) -> Result<(), Outcome> {
        loop {
            let have = (self.buf.len() as u64).min(len);
            self.buf.advance(have as usize);
            len -= have;
            if len == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// Skips a chunked body and its trailers.
    async fn skip_chunked(&mut self) -> Result<(), Outcome> {
        loop {
            match httparse::parse_chunk_size(&self.buf) {
                Ok(httparse::Status::Complete((n, 0))) => {
                    self.buf.advance(n);
                    return self.skip_trailers().await;
                }
                Ok(httparse::Status::Complete((n, size))) => {
                    self.buf.advance(n);
                    self.skip(size + 2).await?;
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(_) => return Err(Outcome::Io),
            }
        }
    }

    /// Skips trailer lines up to the empty line that ends the message.
    async fn skip_trailers(&mut self) -> Result<(), Outcome> {
        loop {
            match self.buf.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.buf.advance(2);
                    return Ok(());
                }
                Some(at) => self.buf.advance(at + 2),
                None if self.buf.len() > MAX_HEAD => return Err(Outcome::Io),
                None => self.fill().await?,
            }
        }
    }
}

/// What the head of an answer says about its body.
struct Head {
    status: u16,
    length: Option<u64>,
    chunked: bool,
    close: bool,
    /// `Content-Type: text/event-stream` (only looked at for a sink that reads).
    event_stream: bool,
}

impl Head {
    /// The head of `resp`; its content type is read only for a sink that reads the body, so
    /// that the plain path compares no more headers than it did.
    fn of<S: Sink>(resp: &httparse::Response<'_, '_>) -> Head {
        let mut h = Head {
            status: resp.code.unwrap_or(0),
            length: None,
            chunked: false,
            // HTTP/1.0 closes unless asked to keep alive.
            close: resp.version == Some(0),
            event_stream: false,
        };
        for header in resp.headers.iter() {
            let value = std::str::from_utf8(header.value).unwrap_or("").trim();
            if header.name.eq_ignore_ascii_case("content-length") {
                h.length = value.parse().ok();
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                h.chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
            } else if header.name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        h.close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        h.close = false;
                    }
                }
            } else if S::READS && header.name.eq_ignore_ascii_case("content-type") {
                h.event_stream = is_event_stream(header.value);
            }
        }
        h
    }
}

/// Says why the first TLS handshake of the process failed (the outcome class `tls` alone does
/// not): an unknown issuer, a name mismatch, a CA certificate used as the server's own.
pub(crate) fn tls_failed(e: &io::Error) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!("TLS handshake failed: {e} (further failures are counted as `tls`)");
    }
}

/// The outcome class of an I/O error.
pub(crate) fn io_class(e: &io::Error) -> Outcome {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | AddrNotAvailable | NotConnected | HostUnreachable
        | NetworkUnreachable => Outcome::Connect,
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => Outcome::Reset,
        TimedOut => Outcome::Timeout,
        _ => Outcome::Io,
    }
}
