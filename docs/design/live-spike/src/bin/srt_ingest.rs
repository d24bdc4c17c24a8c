//! SRT ingest spike: `srt_ingest PORT [--demux]`. Listener mode; each connection request's
//! streamid is inspected before the handshake completes; "good"/"good2" accepted, the rest and a
//! second publisher on a live key are rejected with an SRT reject code.
use anyhow::Result;
use futures::StreamExt;
use spike_live::{demux_thread, wall, Chunk};
use std::time::SystemTime;
use srt_tokio::access::{RejectReason, ServerRejectReason};
use srt_tokio::{ConnectionRequest, SrtListener};
use std::collections::HashSet;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

type Live = Arc<Mutex<HashSet<String>>>;

async fn handle(req: ConnectionRequest, live: Live, demux: bool) -> Result<()> {
    let peer = req.remote();
    let sid = req.stream_id().map(|s| s.to_string()).unwrap_or_default();
    let verdict = if !["good", "good2"].contains(&sid.as_str()) {
        Err(("unknown or rotated stream key", ServerRejectReason::Forbidden))
    } else if !live.lock().unwrap().insert(sid.clone()) {
        Err(("a publisher is already live on this key", ServerRejectReason::Conflict))
    } else {
        Ok(())
    };
    if let Err((why, code)) = verdict {
        println!("{} {peer}: streamid={sid:?} REFUSED ({code:?}): {why}", wall());
        req.reject(RejectReason::Server(code)).await?;
        return Ok(());
    }
    println!("{} {peer}: streamid={sid:?} ACCEPTED", wall());
    let mut sock = req.accept(None).await?;
    let (tx, rx) = mpsc::sync_channel::<Chunk>(1024);
    let label = format!("srt:{sid}");
    let join = demux.then(|| std::thread::spawn(move || demux_thread(label, "mpegts", rx)));
    let (mut bytes, mut msgs) = (0u64, 0u64);
    while let Some(item) = sock.next().await {
        match item {
            Ok((_instant, data)) => {
                bytes += data.len() as u64;
                msgs += 1;
                if demux && tx.send((SystemTime::now(), data.to_vec())).is_err() {
                    break;
                }
            }
            Err(e) => {
                println!("{} {peer}: read error {e}", wall());
                break;
            }
        }
    }
    println!("{} {peer}: streamid={sid:?} ended: {msgs} messages, {bytes} bytes", wall());
    drop(tx);
    if let Some(j) = join {
        tokio::task::spawn_blocking(move || j.join()).await.ok();
    }
    live.lock().unwrap().remove(&sid);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(9710);
    let demux = args.iter().any(|a| a == "--demux");
    if demux {
        ffmpeg_next::init()?;
    }
    let (_listener, mut incoming) = SrtListener::builder()
        .latency(Duration::from_millis(120))
        .bind(format!("127.0.0.1:{port}").as_str())
        .await?;
    println!("{} listening on srt://127.0.0.1:{port} demux={demux}", wall());
    let live: Live = Arc::default();
    while let Some(req) = incoming.incoming().next().await {
        let live = live.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(req, live, demux).await {
                println!("{} srt error: {e:#}", wall());
            }
        });
    }
    Ok(())
}
