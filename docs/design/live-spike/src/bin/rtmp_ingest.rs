//! RTMP ingest spike: `rtmp_ingest PORT [--demux]`. Keys "good" and "good2" are valid; anything
//! else is refused before any media; a second publisher on a live key is refused.
use anyhow::{bail, Context, Result};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult};
use spike_live::{demux_thread, flv_header, flv_tag, wall, Chunk};
use std::time::SystemTime;
use std::collections::{HashSet, VecDeque};
use std::sync::{mpsc, Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Live = Arc<Mutex<HashSet<String>>>;

/// Removes the key from the live set when the connection ends, however it ends.
struct LiveGuard(Live, String);
impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.lock().unwrap().remove(&self.1);
        println!("{} key {:?} no longer live", wall(), self.1);
    }
}

fn check_key(live: &Live, app: &str, key: &str) -> Result<(), String> {
    if app != "live" {
        return Err(format!("unknown application {app:?}"));
    }
    if !["good", "good2"].contains(&key) {
        return Err("unknown or rotated stream key".into());
    }
    if !live.lock().unwrap().insert(key.to_string()) {
        return Err("a publisher is already live on this key".into());
    }
    Ok(())
}

async fn handle(mut conn: TcpStream, live: Live, demux: bool) -> Result<()> {
    let peer = conn.peer_addr()?;
    conn.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut hs = Handshake::new(PeerType::Server);
    let remaining = loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            bail!("closed during handshake");
        }
        match hs.process_bytes(&buf[..n])? {
            HandshakeProcessResult::InProgress { response_bytes } => conn.write_all(&response_bytes).await?,
            HandshakeProcessResult::Completed { response_bytes, remaining_bytes } => {
                conn.write_all(&response_bytes).await?;
                break remaining_bytes;
            }
        }
    };
    println!("{} {peer}: handshake done", wall());
    let (mut session, initial) = ServerSession::new(ServerSessionConfig::new())?;
    let mut queue: VecDeque<ServerSessionResult> = initial.into();
    queue.extend(session.handle_input(&remaining)?);
    let mut guard: Option<LiveGuard> = None;
    let mut media_tx: Option<tokio::sync::mpsc::Sender<Chunk>> = None;
    let mut demux_join = None;
    let mut media_bytes = 0u64;
    loop {
        while let Some(r) = queue.pop_front() {
            match r {
                ServerSessionResult::OutboundResponse(p) => conn.write_all(&p.bytes).await?,
                ServerSessionResult::RaisedEvent(ev) => match ev {
                    ServerSessionEvent::ConnectionRequested { request_id, app_name } => {
                        println!("{} {peer}: connect app={app_name:?}", wall());
                        queue.extend(session.accept_request(request_id)?);
                    }
                    ServerSessionEvent::PublishStreamRequested { request_id, app_name, stream_key, .. } => {
                        match check_key(&live, &app_name, &stream_key) {
                            Ok(()) => {
                                println!("{} {peer}: publish {app_name}/{stream_key} ACCEPTED", wall());
                                guard = Some(LiveGuard(live.clone(), stream_key.clone()));
                                queue.extend(session.accept_request(request_id)?);
                                // Media path: tokio channel (backpressure to the socket) →
                                // feeder thread → std channel → demux thread (StreamIo).
                                let (tx, mut arx) = tokio::sync::mpsc::channel::<Chunk>(256);
                                let (stx, srx) = mpsc::sync_channel::<Chunk>(64);
                                stx.send((SystemTime::now(), flv_header()))?;
                                let label = format!("rtmp:{stream_key}");
                                if demux {
                                    std::thread::spawn(move || {
                                        while let Some(chunk) = arx.blocking_recv() {
                                            if stx.send(chunk).is_err() {
                                                break;
                                            }
                                        }
                                    });
                                    demux_join = Some(std::thread::spawn(move || demux_thread(label, "flv", srx)));
                                } else {
                                    tokio::spawn(async move { while arx.recv().await.is_some() {} });
                                }
                                media_tx = Some(tx);
                            }
                            Err(reason) => {
                                // The log line pufa needs: who, which key (redacted in pufa), why.
                                println!("{} {peer}: publish {app_name}/{stream_key} REFUSED: {reason}", wall());
                                for r in session.reject_request(request_id, "NetStream.Publish.BadName", &reason)? {
                                    if let ServerSessionResult::OutboundResponse(p) = r {
                                        conn.write_all(&p.bytes).await?;
                                    }
                                }
                                conn.flush().await?;
                                conn.shutdown().await.ok();
                                println!("{} {peer}: closed after refusal, media bytes seen = {media_bytes}", wall());
                                return Ok(());
                            }
                        }
                    }
                    ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                        println!("{} {peer}: metadata {}x{} {:?}fps vcodec={:?} acodec={:?}", wall(),
                            metadata.video_width.unwrap_or(0), metadata.video_height.unwrap_or(0),
                            metadata.video_frame_rate, metadata.video_codec_id, metadata.audio_codec_id);
                    }
                    ServerSessionEvent::VideoDataReceived { data, timestamp, .. } => {
                        media_bytes += data.len() as u64;
                        if let Some(tx) = &media_tx {
                            let _ = tx.send((SystemTime::now(), flv_tag(9, timestamp.value, &data))).await;
                        }
                    }
                    ServerSessionEvent::AudioDataReceived { data, timestamp, .. } => {
                        media_bytes += data.len() as u64;
                        if let Some(tx) = &media_tx {
                            let _ = tx.send((SystemTime::now(), flv_tag(8, timestamp.value, &data))).await;
                        }
                    }
                    ServerSessionEvent::PublishStreamFinished { stream_key, .. } => {
                        println!("{} {peer}: publish finished {stream_key}", wall());
                    }
                    other => println!("{} {peer}: event {other:?}", wall()),
                },
                ServerSessionResult::UnhandleableMessageReceived(m) => {
                    println!("{} {peer}: unhandled {m:?}", wall());
                }
            }
        }
        let n = conn.read(&mut buf).await.context("read")?;
        if n == 0 {
            break;
        }
        queue.extend(session.handle_input(&buf[..n])?);
    }
    println!("{} {peer}: disconnected, media bytes = {media_bytes}", wall());
    drop(media_tx);
    if let Some(j) = demux_join {
        tokio::task::spawn_blocking(move || j.join()).await.ok();
    }
    drop(guard);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(19350);
    let demux = args.iter().any(|a| a == "--demux");
    if demux {
        ffmpeg_next::init()?;
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("{} listening on rtmp://127.0.0.1:{port}/live/<key> demux={demux}", wall());
    let live: Live = Arc::default();
    loop {
        let (conn, _) = listener.accept().await?;
        let live = live.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(conn, live, demux).await {
                println!("{} connection error: {e:#}", wall());
            }
        });
    }
}
