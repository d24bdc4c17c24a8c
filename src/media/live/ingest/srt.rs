//! The SRT listener (srt-tokio, live.md §2): each connection request's `streamid` is checked
//! with the admission before the handshake completes; a refusal is an SRT reject code
//! (`Conflict` for a key already live, `Forbidden` for the other key and time refusals). The
//! MPEG-TS bytes of an accepted caller are passed on unchanged.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::StreamExt;
use srt_tokio::access::{RejectReason, ServerRejectReason};
use srt_tokio::{ConnectionRequest, SrtListener};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::{
    key_label, log_refusal, Admission, ChannelReader, IncomingStream, IngestLimits, Protocol,
    PublishRequest, Refusal, Refused, StreamFormat,
};

/// A bound SRT listener (UDP); [`SrtIngest::run`] serves it.
pub struct SrtIngest {
    socket: UdpSocket,
}

impl SrtIngest {
    /// Bind the UDP socket (port 0 picks a free port; see [`SrtIngest::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Ok(SrtIngest {
            socket: UdpSocket::bind(addr).await?,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serve callers until `shutdown` completes, then close every connection (their readers
    /// see EOF) and the listener. Admitted streams go to `sink` as in
    /// [`super::rtmp::RtmpIngest::run`].
    pub async fn run(
        self,
        admission: Arc<dyn Admission>,
        sink: mpsc::Sender<IncomingStream>,
        limits: IngestLimits,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let local = self.socket.local_addr()?;
        let (mut listener, mut incoming) = SrtListener::builder()
            .latency(limits.srt_latency)
            .socket(self.socket)
            .bind(local)
            .await?;
        tracing::info!(addr = %local, "live SRT ingest listening");
        let ctx = Arc::new(Ctx {
            admission,
            sink,
            limits,
        });
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let mut tasks = JoinSet::new();
        let mut shutdown = pin!(shutdown);
        let result = loop {
            tokio::select! {
                () = &mut shutdown => break Ok(()),
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                request = incoming.incoming().next() => {
                    let Some(request) = request else {
                        break Err(io::Error::other("SRT listener stopped"));
                    };
                    let remote = request.remote();
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tracing::warn!(%remote, "live SRT: too many connections, rejecting");
                        let _ = request.reject(RejectReason::Server(ServerRejectReason::Overload)).await;
                        continue;
                    };
                    let ctx = ctx.clone();
                    tasks.spawn(async move {
                        if let Err(e) = handle(request, &ctx).await {
                            tracing::info!(%remote, "live SRT connection ended: {e}");
                        }
                        drop(slot);
                    });
                }
            }
        };
        tasks.shutdown().await;
        listener.close().await;
        tracing::info!(addr = %local, "live SRT ingest stopped");
        result
    }
}

struct Ctx {
    admission: Arc<dyn Admission>,
    sink: mpsc::Sender<IncomingStream>,
    limits: IngestLimits,
}

/// The stream key in an SRT `streamid`: the whole streamid, or in the access-control syntax
/// (`#!::r=KEY,m=publish`) the `r` value; a leading `live/` is ignored in both. A caller that
/// asks for a mode other than `publish`, or no key, is refused with [`Refusal::WrongPath`].
pub fn key_from_stream_id(stream_id: Option<&str>) -> Result<String, Refusal> {
    let sid = stream_id.unwrap_or("").trim();
    let resource = if let Some(fields) = sid.strip_prefix("#!::") {
        let mut resource = None;
        for field in fields.split(',') {
            match field.split_once('=') {
                Some(("r", v)) => resource = Some(v),
                Some(("m", m)) if m != "publish" => return Err(Refusal::WrongPath),
                _ => {}
            }
        }
        resource.unwrap_or("")
    } else {
        sid
    };
    let key = resource.strip_prefix("live/").unwrap_or(resource);
    if key.is_empty() {
        return Err(Refusal::WrongPath);
    }
    Ok(key.to_string())
}

/// The SRT reject code a refusal is sent as.
pub fn reject_code(reason: Refusal) -> ServerRejectReason {
    match reason {
        Refusal::AlreadyLive => ServerRejectReason::Conflict,
        Refusal::WrongPath => ServerRejectReason::BadRequest,
        Refusal::Unavailable => ServerRejectReason::Down,
        Refusal::UnknownKey
        | Refusal::RotatedKey
        | Refusal::Cancelled
        | Refusal::Unplaced
        | Refusal::TooEarly { .. }
        | Refusal::TooLate { .. } => ServerRejectReason::Forbidden,
    }
}

async fn handle(request: ConnectionRequest, ctx: &Ctx) -> io::Result<()> {
    let remote = request.remote();
    let sid = request.stream_id().map(|s| s.to_string());
    let publish = match key_from_stream_id(sid.as_deref()) {
        Ok(key) => PublishRequest {
            key,
            protocol: Protocol::Srt,
            remote,
        },
        Err(reason) => {
            let req = PublishRequest {
                key: sid.unwrap_or_default(),
                protocol: Protocol::Srt,
                remote,
            };
            return refuse(request, &req, Refused::bare(reason)).await;
        }
    };
    let ticket = match ctx.admission.admit(&publish).await {
        Ok(ticket) => ticket,
        Err(refused) => return refuse(request, &publish, refused).await,
    };
    let (tx, reader) = ChannelReader::channel(ctx.limits.channel_chunks);
    let stream = IncomingStream {
        format: StreamFormat::MpegTs,
        arrivals: reader.arrivals(),
        reader,
        session_id: ticket.session_id,
        protocol: Protocol::Srt,
        remote,
        admitted_at: SystemTime::now(),
    };
    if ctx.sink.send(stream).await.is_err() {
        let refused = Refused {
            session_id: Some(ticket.session_id),
            ..Refused::bare(Refusal::Unavailable)
        };
        return refuse(request, &publish, refused).await;
    }
    let mut socket = request.accept(None).await?;
    tracing::info!(
        %remote, key = %key_label(&publish.key), session_id = ticket.session_id,
        "live SRT publisher admitted"
    );
    let mut media_bytes = 0u64;
    while let Some(item) = socket.next().await {
        let (_, data) = match item {
            Ok(item) => item,
            Err(e) => {
                tracing::info!(%remote, session_id = ticket.session_id, "live SRT read: {e}");
                break;
            }
        };
        media_bytes += data.len() as u64;
        if tx.send((SystemTime::now(), data)).await.is_err() {
            tracing::info!(
                session_id = ticket.session_id,
                "live SRT: stream reader closed; disconnecting"
            );
            break;
        }
    }
    tracing::info!(
        %remote, session_id = ticket.session_id, media_bytes, "live SRT publisher disconnected"
    );
    // Release the claim before the reader sees EOF.
    drop(ticket);
    drop(tx);
    Ok(())
}

async fn refuse(
    request: ConnectionRequest,
    publish: &PublishRequest,
    refused: Refused,
) -> io::Result<()> {
    log_refusal(publish, &refused);
    request
        .reject(RejectReason::Server(reject_code(refused.reason)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids() {
        assert_eq!(key_from_stream_id(Some("abc")), Ok("abc".into()));
        assert_eq!(key_from_stream_id(Some("live/abc")), Ok("abc".into()));
        assert_eq!(
            key_from_stream_id(Some("#!::r=abc,m=publish")),
            Ok("abc".into())
        );
        assert_eq!(
            key_from_stream_id(Some("#!::m=publish,r=live/abc")),
            Ok("abc".into())
        );
        assert_eq!(
            key_from_stream_id(Some("#!::r=abc,m=request")),
            Err(Refusal::WrongPath)
        );
        assert_eq!(
            key_from_stream_id(Some("#!::m=publish")),
            Err(Refusal::WrongPath)
        );
        assert_eq!(key_from_stream_id(None), Err(Refusal::WrongPath));
        assert_eq!(key_from_stream_id(Some("")), Err(Refusal::WrongPath));
    }

    #[test]
    fn reject_codes() {
        assert_eq!(
            reject_code(Refusal::AlreadyLive),
            ServerRejectReason::Conflict
        );
        assert_eq!(
            reject_code(Refusal::UnknownKey),
            ServerRejectReason::Forbidden
        );
        assert_eq!(
            reject_code(Refusal::RotatedKey),
            ServerRejectReason::Forbidden
        );
    }
}
