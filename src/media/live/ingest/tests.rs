//! Loopback tests of both listeners with the ffmpeg CLI as the publisher: admitted bytes
//! demux with libavformat; refused publishers deliver nothing; a duplicate is refused while
//! the first keeps streaming; two keys stream at once.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use ffmpeg_next as ff;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use super::admission::MemoryAdmission;
use super::rtmp::RtmpIngest;
use super::srt::SrtIngest;
use super::{new_stream_key, IncomingStream, IngestLimits, Protocol, SessionFacts};

/// What the demux thread saw of one admitted stream.
#[derive(Debug)]
struct Demuxed {
    session_id: i64,
    format: String,
    video_packets: usize,
    video_keyframes: usize,
    arrivals_known: bool,
}

struct Harness {
    addr: SocketAddr,
    admission: Arc<MemoryAdmission>,
    /// Session ids of streams handed to the sink, in order.
    started: mpsc::UnboundedReceiver<i64>,
    demuxed: mpsc::UnboundedReceiver<Demuxed>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start(protocol: Protocol) -> Harness {
        crate::media::transcode::init();
        // The ingest's log lines appear with `--nocapture`.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("pufa=info")
            .try_init();
        let admission = Arc::new(MemoryAdmission::new(Utc::now));
        let (sink, mut streams) = mpsc::channel::<IncomingStream>(8);
        let (started_tx, started) = mpsc::unbounded_channel();
        let (demuxed_tx, demuxed) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(stream) = streams.recv().await {
                started_tx.send(stream.session_id).unwrap();
                let tx = demuxed_tx.clone();
                std::thread::spawn(move || {
                    let _ = tx.send(demux(stream));
                });
            }
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stop_rx.await;
        };
        let adm: Arc<dyn super::Admission> = admission.clone();
        let limits = IngestLimits::default();
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (addr, task) = match protocol {
            Protocol::Rtmp => {
                let ingest = RtmpIngest::bind(loopback).await.unwrap();
                let addr = ingest.local_addr().unwrap();
                (addr, tokio::spawn(ingest.run(adm, sink, limits, shutdown)))
            }
            Protocol::Srt => {
                let ingest = SrtIngest::bind(loopback).await.unwrap();
                let addr = ingest.local_addr().unwrap();
                let task = tokio::spawn(async move {
                    ingest.run(adm, sink, limits, shutdown).await.unwrap();
                });
                (addr, task)
            }
        };
        Harness {
            addr,
            admission,
            started,
            demuxed,
            stop: Some(stop_tx),
            task,
        }
    }

    /// A session live now (started a minute ago, 90 minutes long) with a fresh key.
    fn session(&self, id: i64) -> String {
        let key = new_stream_key();
        self.admission.insert(SessionFacts {
            session_id: id,
            current_key: key.clone(),
            previous_keys: vec![],
            cancelled: false,
            starts_at: Some(Utc::now() - chrono::Duration::minutes(1)),
            minutes: 90,
            tz: crate::schedule::DEFAULT_TZ,
        });
        key
    }

    fn url(&self, protocol: Protocol, key: &str) -> String {
        match protocol {
            Protocol::Rtmp => format!("rtmp://{}/live/{key}", self.addr),
            Protocol::Srt => format!("srt://{}?streamid={key}", self.addr),
        }
    }

    async fn next_started(&mut self) -> i64 {
        tokio::time::timeout(Duration::from_secs(15), self.started.recv())
            .await
            .unwrap()
            .unwrap()
    }

    async fn next_demuxed(&mut self) -> Demuxed {
        tokio::time::timeout(Duration::from_secs(20), self.demuxed.recv())
            .await
            .unwrap()
            .unwrap()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// Open the stream with libavformat as the packager will, count video packets.
fn demux(stream: IncomingStream) -> Demuxed {
    let session_id = stream.session_id;
    let arrivals = stream.arrivals.clone();
    let io = ff::format::context::StreamIo::from_read(stream.reader).unwrap();
    let mut opts = ff::Dictionary::new();
    opts.set("format_whitelist", stream.format.demuxer());
    opts.set("analyzeduration", "1000000");
    opts.set("probesize", "500000");
    let mut ictx = ff::format::input_from_stream(io, None, Some(opts)).unwrap();
    let format = ictx.format().name().to_string();
    let video = ictx
        .streams()
        .best(ff::media::Type::Video)
        .map(|s| s.index());
    let (mut video_packets, mut video_keyframes, mut arrivals_known) = (0, 0, true);
    for (s, packet) in ictx.packets() {
        if Some(s.index()) == video {
            video_packets += 1;
            if packet.is_key() {
                video_keyframes += 1;
            }
            let pos = u64::try_from(packet.position()).unwrap_or(0);
            arrivals_known &= arrivals.arrival_of(pos).is_some();
        }
    }
    Demuxed {
        session_id,
        format,
        video_packets,
        video_keyframes,
        arrivals_known,
    }
}

/// A publisher: the ffmpeg CLI sending `secs` seconds of test video and audio in real time.
/// Killed if the test drops it.
fn publish(protocol: Protocol, url: &str, secs: u32) -> Child {
    let container = match protocol {
        Protocol::Rtmp => "flv",
        Protocol::Srt => "mpegts",
    };
    Command::new("nice")
        .args([
            "-n",
            "10",
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "info",
            "-re",
        ])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-c:a", "aac",
        ])
        .args(["-t", &secs.to_string(), "-f", container, url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg CLI")
}

/// Wait for a publisher to exit: (success, stderr, how long it took).
async fn finish(child: Child, limit: Duration) -> (bool, String, Duration) {
    let t0 = Instant::now();
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t0.elapsed(),
    )
}

async fn good_key_streams(protocol: Protocol) {
    let mut h = Harness::start(protocol).await;
    let key = h.session(1);
    let child = publish(protocol, &h.url(protocol, &key), 4);
    assert_eq!(h.next_started().await, 1);
    let (ok, stderr, _) = finish(child, Duration::from_secs(20)).await;
    assert!(ok, "publisher failed: {stderr}");
    let d = h.next_demuxed().await;
    let expected = match protocol {
        Protocol::Rtmp => "flv",
        Protocol::Srt => "mpegts",
    };
    assert_eq!(d.session_id, 1);
    assert_eq!(d.format, expected);
    // 4 s at 25 fps = 100 frames; allow for a lost tail.
    assert!(d.video_packets >= 90, "{d:?}");
    assert!(d.video_keyframes >= 2, "{d:?}");
    assert!(d.arrivals_known, "{d:?}");
    assert!(
        h.admission.live().live_sessions().is_empty(),
        "claim released at disconnect"
    );
    h.stop().await;
}

async fn wrong_key_refused(protocol: Protocol) {
    let mut h = Harness::start(protocol).await;
    let _key = h.session(1);
    let child = publish(protocol, &h.url(protocol, &new_stream_key()), 4);
    let (ok, stderr, took) = finish(child, Duration::from_secs(10)).await;
    assert!(!ok, "a wrong key must fail: {stderr}");
    assert!(
        took < Duration::from_secs(5),
        "refused quickly, took {took:?}"
    );
    if protocol == Protocol::Rtmp {
        // ffmpeg prints the description of our error status.
        assert!(stderr.contains("unknown stream key"), "{stderr}");
        assert!(stderr.contains("推流码无效"), "{stderr}");
    }
    // Nothing reached the sink: no media bytes delivered.
    assert!(h.started.try_recv().is_err());
    assert!(h.admission.live().live_sessions().is_empty());
    h.stop().await;
}

async fn duplicate_refused_and_two_keys_concurrent(protocol: Protocol) {
    let mut h = Harness::start(protocol).await;
    let key_a = h.session(1);
    let key_b = h.session(2);
    let first_a = publish(protocol, &h.url(protocol, &key_a), 6);
    let first_b = publish(protocol, &h.url(protocol, &key_b), 6);
    let mut started = [h.next_started().await, h.next_started().await];
    started.sort_unstable();
    assert_eq!(started, [1, 2]);
    assert_eq!(h.admission.live().live_sessions(), [1, 2]);

    // A second publisher on the live key A is refused while the first continues.
    let dup = publish(protocol, &h.url(protocol, &key_a), 4);
    let (ok, stderr, took) = finish(dup, Duration::from_secs(10)).await;
    assert!(!ok, "the duplicate must fail: {stderr}");
    assert!(
        took < Duration::from_secs(5),
        "refused quickly, took {took:?}"
    );
    if protocol == Protocol::Rtmp {
        assert!(stderr.contains("already live"), "{stderr}");
    }

    for child in [first_a, first_b] {
        let (ok, stderr, _) = finish(child, Duration::from_secs(20)).await;
        assert!(ok, "first publishers run to the end: {stderr}");
    }
    let mut seen = [h.next_demuxed().await, h.next_demuxed().await];
    seen.sort_by_key(|d| d.session_id);
    for (d, id) in seen.iter().zip([1, 2]) {
        assert_eq!(d.session_id, id);
        // 6 s at 25 fps = 150 frames.
        assert!(d.video_packets >= 140, "{d:?}");
    }
    assert!(
        h.started.try_recv().is_err(),
        "the duplicate never reached the sink"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmp_good_key_is_admitted_and_demuxes() {
    good_key_streams(Protocol::Rtmp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmp_wrong_key_is_refused_before_media() {
    wrong_key_refused(Protocol::Rtmp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmp_duplicate_refused_while_two_keys_stream() {
    duplicate_refused_and_two_keys_concurrent(Protocol::Rtmp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_good_key_is_admitted_and_demuxes() {
    good_key_streams(Protocol::Srt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_wrong_key_is_refused_before_media() {
    wrong_key_refused(Protocol::Srt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_duplicate_refused_while_two_keys_stream() {
    duplicate_refused_and_two_keys_concurrent(Protocol::Srt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_live_stream_with_eof() {
    let mut h = Harness::start(Protocol::Rtmp).await;
    let key = h.session(1);
    let child = publish(Protocol::Rtmp, &h.url(Protocol::Rtmp, &key), 10);
    assert_eq!(h.next_started().await, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = Instant::now();
    let demuxed = {
        let Harness {
            stop,
            task,
            mut demuxed,
            ..
        } = h;
        let _ = stop.map(|s| s.send(()));
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), demuxed.recv())
            .await
            .unwrap()
            .unwrap()
    };
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(demuxed.video_packets > 0, "{demuxed:?}");
    drop(child);
}
