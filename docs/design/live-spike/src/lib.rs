//! Shared pieces of the live-ingest spike: FLV re-serialisation, a channel-backed `Read`,
//! and a demux thread that feeds ffmpeg-next through `StreamIo` (custom AVIOContext, no unsafe).
use ffmpeg_next as ff;
use std::io::Read;
use std::sync::{mpsc, Arc, Mutex};

/// Bytes as received from the socket, with their arrival wall-clock time.
pub type Chunk = (SystemTime, Vec<u8>);
use std::time::{Instant, SystemTime};

/// A `Read` over a channel of byte chunks: EOF when every sender is dropped.
pub struct ChannelReader {
    rx: mpsc::Receiver<Chunk>,
    /// (byte offset of a chunk in the stream, wall-clock time the chunk arrived on the socket)
    pub arrivals: Arc<Mutex<Vec<(u64, SystemTime)>>>,
    offset: u64,
    cur: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Chunk>) -> Self {
        ChannelReader { rx, arrivals: Arc::default(), offset: 0, cur: Vec::new(), pos: 0 }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            match self.rx.recv() {
                Ok((at, chunk)) => {
                    self.arrivals.lock().unwrap().push((self.offset, at));
                    self.offset += chunk.len() as u64;
                    self.cur = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// FLV file header (audio+video flags) followed by PreviousTagSize0.
pub fn flv_header() -> Vec<u8> {
    vec![b'F', b'L', b'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0]
}

/// One FLV tag: 8 = audio, 9 = video, 18 = script data. `data` is the RTMP message body,
/// which is byte-for-byte the FLV tag body.
pub fn flv_tag(tag_type: u8, timestamp_ms: u32, data: &[u8]) -> Vec<u8> {
    let len = data.len() as u32;
    let mut v = Vec::with_capacity(data.len() + 15);
    v.push(tag_type);
    v.extend_from_slice(&len.to_be_bytes()[1..]);
    v.extend_from_slice(&(timestamp_ms & 0x00ff_ffff).to_be_bytes()[1..]);
    v.push((timestamp_ms >> 24) as u8);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(data);
    v.extend_from_slice(&(len + 11).to_be_bytes());
    v
}

pub fn wall() -> String {
    chrono::Local::now().format("%H:%M:%S%.3f").to_string()
}

/// Demux a live container arriving through `rx` and print video packet pts/keyframe flags.
/// `whitelist` restricts the probed demuxer (e.g. "flv" or "mpegts") as pufa does for uploads.
pub fn demux_thread(label: String, whitelist: &str, rx: mpsc::Receiver<Chunk>) {
    let started = Instant::now();
    let reader = ChannelReader::new(rx);
    let arrivals = reader.arrivals.clone();
    let io = match ff::format::context::StreamIo::from_read(reader) {
        Ok(io) => io,
        Err(e) => {
            eprintln!("[{label}] StreamIo: {e}");
            return;
        }
    };
    let mut opts = ff::Dictionary::new();
    opts.set("format_whitelist", whitelist);
    // Live: do not sit on 5 s of media before the first packet comes out.
    opts.set("analyzeduration", "1000000");
    opts.set("probesize", "500000");
    let mut ictx = match ff::format::input_from_stream(io, None, Some(opts)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("[{label}] open: {e}");
            return;
        }
    };
    println!(
        "[{label}] {} demuxer={} opened after {:?}",
        wall(),
        ictx.format().name(),
        started.elapsed()
    );
    for s in ictx.streams() {
        let p = s.parameters();
        println!(
            "[{label}]   stream {} {:?} codec={:?} tb={}",
            s.index(),
            p.medium(),
            p.id(),
            s.time_base()
        );
    }
    let video = ictx.streams().best(ff::media::Type::Video).map(|s| s.index());
    let (mut nv, mut na, mut nk) = (0u64, 0u64, 0u64);
    let mut last_pts = None;
    for (stream, packet) in ictx.packets() {
        if Some(stream.index()) == video {
            nv += 1;
            if packet.is_key() {
                nk += 1;
            }
            last_pts = packet.pts();
            if nv <= 3 || packet.is_key() {
                // Arrival of the packet's first byte: the chunk containing packet.pos.
                let arrived = {
                    let a = arrivals.lock().unwrap();
                    let pos = packet.position().max(0) as u64;
                    let i = a.partition_point(|(off, _)| *off <= pos).saturating_sub(1);
                    a.get(i).map(|(_, t)| chrono::DateTime::<chrono::Local>::from(*t).format("%H:%M:%S%.3f").to_string())
                };
                println!(
                    "[{label}] demuxed {} arrived {} video pts={:?} dts={:?} key={} pos={} size={} (t+{:.2}s)",
                    wall(),
                    arrived.unwrap_or_default(),
                    packet.pts(),
                    packet.dts(),
                    packet.is_key(),
                    packet.position(),
                    packet.size(),
                    started.elapsed().as_secs_f64()
                );
            }
        } else {
            na += 1;
        }
    }
    let _ = SystemTime::now();
    println!(
        "[{label}] {} EOF: video packets={nv} keyframes={nk} last video pts={last_pts:?} other packets={na}",
        wall()
    );
}
