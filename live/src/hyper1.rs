//! hyper's HTTP/1.1 client (`hyper::client::conn::http1`) on one of the engine's connections:
//! one `SendRequest` per connection, kept alive and reused, and its `Connection` polled by the
//! request in flight rather than spawned as a task. The shard's one task polls every request
//! (so tokio's cooperative budget and a wake-up per socket event across tasks stay out of the
//! hot path, as with [`crate::h1`]'s own client); an idle connection is polled once when it is
//! checked before reuse, which is when the own client looks at its socket too.

use std::pin::{Pin, pin};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{Either, select};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest, handshake};
use hyper_util::rt::TokioIo;

use crate::answer::{Sink, is_event_stream};
use crate::collect::Outcome;
use crate::h1::{Answer, Stream};
use crate::request::classify;

/// A connection under hyper's client.
pub(crate) struct HyperConn {
    sender: SendRequest<Full<Bytes>>,
    conn: Connection<TokioIo<Stream>, Full<Bytes>>,
}

impl HyperConn {
    /// Starts hyper's client on `io` (no I/O happens before the first request).
    pub async fn handshake(io: Stream) -> Result<HyperConn, Outcome> {
        let (sender, conn) = handshake(TokioIo::new(io))
            .await
            .map_err(|e| classify(&e))?;
        Ok(HyperConn { sender, conn })
    }

    /// True when the server closed this idle connection: hyper reads the end of the stream
    /// when it is polled idle, and ends.
    pub fn closed_while_idle(&mut self) -> bool {
        (&mut self.conn).now_or_never().is_some() || self.sender.is_closed()
    }

    /// Sends `req` and reads its answer's body to the end, through `sink` (each frame a read)
    /// or dropped. The connection is
    /// reusable unless it ended (the server closed it, an answer said `Connection: close`, an
    /// error) while or right after it carried this request.
    pub async fn exchange<S: Sink>(
        &mut self,
        req: Request<Full<Bytes>>,
        sink: &mut S,
    ) -> Result<Answer, Outcome> {
        let HyperConn { sender, conn } = self;
        let (status, mut ended) = {
            let work = pin!(async {
                sender.ready().await?;
                let resp = sender.send_request(req).await?;
                let status = resp.status().as_u16();
                if S::READS {
                    let ct = resp.headers().get(http::header::CONTENT_TYPE);
                    sink.head(status, ct.is_some_and(|v| is_event_stream(v.as_bytes())));
                }
                let mut body = resp.into_body();
                while let Some(frame) = body.frame().await {
                    let frame = frame?;
                    if S::READS {
                        sink.read();
                        if let Some(data) = frame.data_ref() {
                            sink.data(data);
                        }
                    }
                }
                Ok::<u16, hyper::Error>(status)
            });
            match select(work, Pin::new(&mut *conn)).await {
                Either::Left((status, _)) => (status, false),
                // The connection ended first: what it read is in the answer's channels.
                Either::Right((_, work)) => (work.await, true),
            }
        };
        let status = status.map_err(|e| classify(&e))?;
        // A last poll lets hyper act on the end of the answer (a close it asked for).
        ended = ended || (&mut *conn).now_or_never().is_some() || sender.is_closed();
        Ok(Answer {
            status,
            reusable: !ended,
        })
    }
}
