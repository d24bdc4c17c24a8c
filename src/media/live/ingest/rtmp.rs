//! The RTMP listener (rml_rtmp, live.md §1): handshake, `connect`, then the `publish` command
//! with the stream key (`rtmp://host/live/{key}`) is the admission point. rml_rtmp drops any
//! audio/video sent before a publish is accepted, so a refused publisher delivers no media.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context};
use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{timeout, timeout_at, Instant};

use super::stream::Chunk;
use super::{
    flv, key_label, log_refusal, Admission, ChannelReader, IncomingStream, IngestLimits, Protocol,
    PublishRequest, Refusal, Refused, StreamFormat, Ticket,
};

/// The RTMP application publishers must use: `rtmp://host:port/live/{key}`.
pub const APP_NAME: &str = "live";

/// A bound RTMP listener; [`RtmpIngest::run`] serves it.
pub struct RtmpIngest {
    listener: TcpListener,
}

impl RtmpIngest {
    /// Bind the TCP listener (port 0 picks a free port; see [`RtmpIngest::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Ok(RtmpIngest {
            listener: TcpListener::bind(addr).await?,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accept publishers until `shutdown` completes, then close every connection (their
    /// readers see EOF) and return. Each admitted publisher's [`IncomingStream`] is sent to
    /// `sink`; a closed sink refuses publishers with [`Refusal::Unavailable`].
    pub async fn run(
        self,
        admission: Arc<dyn Admission>,
        sink: mpsc::Sender<IncomingStream>,
        limits: IngestLimits,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let local = self.listener.local_addr().ok();
        tracing::info!(addr = ?local, "live RTMP ingest listening");
        let ctx = Arc::new(Ctx {
            admission,
            sink,
            limits,
        });
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let mut tasks = JoinSet::new();
        let mut shutdown = pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((conn, peer)) => {
                        let Ok(slot) = slots.clone().try_acquire_owned() else {
                            tracing::warn!(%peer, "live RTMP: too many connections, closing");
                            continue;
                        };
                        let ctx = ctx.clone();
                        tasks.spawn(async move {
                            if let Err(e) = handle(conn, peer, &ctx).await {
                                tracing::info!(%peer, "live RTMP connection ended: {e:#}");
                            }
                            drop(slot);
                        });
                    }
                    Err(e) => {
                        // EMFILE and friends: do not spin.
                        tracing::warn!("live RTMP accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
            }
        }
        tasks.shutdown().await;
        tracing::info!(addr = ?local, "live RTMP ingest stopped");
    }
}

struct Ctx {
    admission: Arc<dyn Admission>,
    sink: mpsc::Sender<IncomingStream>,
    limits: IngestLimits,
}

/// An admitted publisher on this connection.
/// Field order is drop order: the claim is released before the reader sees EOF.
struct Publishing {
    /// Held until the connection ends: the session stays claimed while we stream.
    ticket: Ticket,
    tx: mpsc::Sender<Chunk>,
    media_bytes: u64,
}

async fn handle(mut conn: TcpStream, peer: SocketAddr, ctx: &Ctx) -> anyhow::Result<()> {
    conn.set_nodelay(true)?;
    let limits = ctx.limits;
    let deadline = Instant::now() + limits.publish_deadline;
    let mut buf = vec![0u8; 64 * 1024];

    // Handshake.
    let mut hs = Handshake::new(PeerType::Server);
    let remaining = loop {
        let n = timeout_at(deadline, conn.read(&mut buf))
            .await
            .context("handshake timed out")??;
        if n == 0 {
            bail!("closed during handshake");
        }
        match hs.process_bytes(&buf[..n])? {
            HandshakeProcessResult::InProgress { response_bytes } => {
                write(&mut conn, &response_bytes, &limits).await?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                write(&mut conn, &response_bytes, &limits).await?;
                break remaining_bytes;
            }
        }
    };

    let (mut session, initial) = ServerSession::new(ServerSessionConfig::new())?;
    let mut queue: VecDeque<ServerSessionResult> = initial.into();
    queue.extend(session.handle_input(&remaining)?);
    let mut publishing: Option<Publishing> = None;
    let mut arrived = SystemTime::now();
    loop {
        while let Some(result) = queue.pop_front() {
            let event = match result {
                ServerSessionResult::OutboundResponse(p) => {
                    write(&mut conn, &p.bytes, &limits).await?;
                    continue;
                }
                ServerSessionResult::RaisedEvent(ev) => ev,
                ServerSessionResult::UnhandleableMessageReceived(_) => continue,
            };
            match event {
                ServerSessionEvent::ConnectionRequested { request_id, .. } => {
                    queue.extend(session.accept_request(request_id)?);
                }
                ServerSessionEvent::PublishStreamRequested {
                    request_id,
                    app_name,
                    stream_key,
                    ..
                } => {
                    let request = PublishRequest {
                        key: stream_key,
                        protocol: Protocol::Rtmp,
                        remote: peer,
                    };
                    let verdict = if publishing.is_some() {
                        Err(Refused::bare(Refusal::AlreadyLive))
                    } else if app_name != APP_NAME {
                        Err(Refused::bare(Refusal::WrongPath))
                    } else {
                        admit(ctx, &request).await
                    };
                    match verdict {
                        Ok((ticket, tx)) => {
                            tracing::info!(
                                %peer, key = %key_label(&request.key), session_id = ticket.session_id,
                                "live RTMP publisher admitted"
                            );
                            publishing = Some(Publishing {
                                tx,
                                ticket,
                                media_bytes: 0,
                            });
                            queue.extend(session.accept_request(request_id)?);
                        }
                        Err(refused) => {
                            log_refusal(&request, &refused);
                            let text = refused.publisher_text();
                            for r in session.reject_request(
                                request_id,
                                "NetStream.Publish.BadName",
                                &text,
                            )? {
                                if let ServerSessionResult::OutboundResponse(p) = r {
                                    write(&mut conn, &p.bytes, &limits).await?;
                                }
                            }
                            conn.flush().await.ok();
                            conn.shutdown().await.ok();
                            return Ok(());
                        }
                    }
                }
                ServerSessionEvent::PlayStreamRequested { request_id, .. } => {
                    for r in session.reject_request(
                        request_id,
                        "NetStream.Play.Failed",
                        "此地址只接受推流 (publish only)",
                    )? {
                        if let ServerSessionResult::OutboundResponse(p) = r {
                            write(&mut conn, &p.bytes, &limits).await?;
                        }
                    }
                    conn.shutdown().await.ok();
                    return Ok(());
                }
                ServerSessionEvent::VideoDataReceived {
                    data, timestamp, ..
                } => {
                    if let Some(p) = publishing.as_mut() {
                        if !flv::video_supported(&data) {
                            tracing::warn!(
                                %peer, session_id = p.ticket.session_id,
                                "live RTMP: enhanced-RTMP video (HEVC/AV1) is not supported; \
                                 closing (publish H.264)"
                            );
                            return Ok(());
                        }
                        if !forward(p, flv::TAG_VIDEO, timestamp.value, &data, arrived).await {
                            return Ok(());
                        }
                    }
                }
                ServerSessionEvent::AudioDataReceived {
                    data, timestamp, ..
                } => {
                    if let Some(p) = publishing.as_mut() {
                        if !forward(p, flv::TAG_AUDIO, timestamp.value, &data, arrived).await {
                            return Ok(());
                        }
                    }
                }
                ServerSessionEvent::PublishStreamFinished { .. } => {
                    if let Some(p) = &publishing {
                        tracing::info!(
                            %peer, session_id = p.ticket.session_id, media_bytes = p.media_bytes,
                            "live RTMP publisher finished"
                        );
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        let read = conn.read(&mut buf);
        let n = match &publishing {
            None => timeout_at(deadline, read)
                .await
                .context("no publish before the deadline")??,
            Some(_) => timeout(limits.idle_timeout, read)
                .await
                .context("publisher idle")??,
        };
        if n == 0 {
            if let Some(p) = &publishing {
                tracing::info!(
                    %peer, session_id = p.ticket.session_id, media_bytes = p.media_bytes,
                    "live RTMP publisher disconnected"
                );
            }
            return Ok(());
        }
        arrived = SystemTime::now();
        queue.extend(session.handle_input(&buf[..n])?);
    }
}

/// Ask the admission; on a ticket, hand the packager its stream (FLV header first).
async fn admit(
    ctx: &Ctx,
    request: &PublishRequest,
) -> Result<(Ticket, mpsc::Sender<Chunk>), Refused> {
    let ticket = ctx.admission.admit(request).await?;
    let (tx, reader) = ChannelReader::channel(ctx.limits.channel_chunks);
    let unavailable = || Refused {
        session_id: Some(ticket.session_id),
        ..Refused::bare(Refusal::Unavailable)
    };
    tx.try_send((SystemTime::now(), flv::header()))
        .map_err(|_| unavailable())?;
    let stream = IncomingStream {
        format: StreamFormat::Flv,
        arrivals: reader.arrivals(),
        reader,
        session_id: ticket.session_id,
        protocol: Protocol::Rtmp,
        remote: request.remote,
        admitted_at: SystemTime::now(),
    };
    if ctx.sink.send(stream).await.is_err() {
        return Err(unavailable());
    }
    Ok((ticket, tx))
}

/// Pass one media message on as an FLV tag; false when the reader is gone.
async fn forward(p: &mut Publishing, tag_type: u8, ts: u32, data: &Bytes, at: SystemTime) -> bool {
    let Some(tag) = flv::tag(tag_type, ts, data) else {
        return true;
    };
    p.media_bytes += data.len() as u64;
    if p.tx.send((at, tag)).await.is_err() {
        tracing::info!(
            session_id = p.ticket.session_id,
            "live RTMP: stream reader closed; disconnecting"
        );
        return false;
    }
    true
}

async fn write(conn: &mut TcpStream, bytes: &[u8], limits: &IngestLimits) -> anyhow::Result<()> {
    timeout(limits.idle_timeout, conn.write_all(bytes))
        .await
        .context("write timed out")??;
    Ok(())
}
