//! LL-HLS parts through ffmpeg-next: `frag_parts INPUT OUTDIR [PART_MS]`.
//! Remuxes the input's video (passthrough, as pufa's top rung) into the `mp4` muxer with
//! `movflags=frag_custom+empty_moov+default_base_moof+skip_trailer` on a custom in-memory
//! AVIOContext (ffmpeg-next 9 `StreamIo`), flushing a fragment every PART_MS and at each
//! segment boundary (first keyframe at or after n × 2 s). Every flushed fragment is a part file;
//! a segment file is the concatenation of its parts. Writes an LL-HLS media playlist.
#![allow(unsafe_code)]
use anyhow::{Context, Result};
use ffmpeg_next as ff;
use ff::Rescale;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Sink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Cut the current fragment now: av_write_frame(ctx, NULL) with frag_custom. The one FFI call
/// ffmpeg-next lacks (pufa would keep it next to transcode/hls.rs).
fn flush_fragment(octx: &mut ff::format::context::Output) -> Result<()> {
    // SAFETY: a valid output context whose header has been written; NULL packet = flush request.
    let r = unsafe { ff::ffi::av_write_frame(octx.as_mut_ptr(), std::ptr::null_mut()) };
    if r < 0 {
        anyhow::bail!("flush: {}", ff::Error::from(r));
    }
    Ok(())
}

struct Part {
    seg: u32,
    idx: u32,
    dur: f64,
    independent: bool,
    bytes: usize,
}

fn main() -> Result<()> {
    ff::init()?;
    let args: Vec<String> = std::env::args().collect();
    let input = args.get(1).context("INPUT")?;
    let out = std::path::PathBuf::from(args.get(2).context("OUTDIR")?);
    let part_ms: i64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(500);
    std::fs::create_dir_all(&out)?;
    let mut ictx = ff::format::input(input)?;
    let vin = ictx.streams().best(ff::media::Type::Video).context("no video")?;
    let vidx = vin.index();
    let in_tb = vin.time_base();
    let sink = Sink::default();
    let io = ff::format::context::StreamIo::from_write(sink.clone())?;
    let mut octx = ff::format::output_to_stream(io, None, Some("mp4"))?;
    {
        let mut os = octx.add_stream(ff::encoder::find(ff::codec::Id::None))?;
        os.set_parameters(vin.parameters());
        // SAFETY: codec_tag must be reset when remuxing between containers.
        unsafe { (*os.parameters().as_mut_ptr()).codec_tag = 0 };
        os.set_time_base(ff::Rational(1, 90000));
    }
    let mut opts = ff::Dictionary::new();
    opts.set("movflags", "frag_custom+empty_moov+default_base_moof+skip_trailer");
    opts.set("flush_packets", "1");
    octx.write_header_with(opts)?;
    let out_tb = octx.stream(0).context("stream")?.time_base();
    let init = sink.take();
    std::fs::write(out.join("init.mp4"), &init)?;
    println!("init.mp4: {} bytes (moov written at write_header: {})", init.len(), init.windows(4).any(|w| w == b"moov"));

    let seg_ts = ff::Rational(1, 1000);
    let (mut seg, mut idx) = (0u32, 0u32);
    let mut part_start: Option<i64> = None; // ms
    let mut part_key = false;
    let mut seg_bytes: Vec<u8> = Vec::new();
    let mut parts: Vec<Part> = Vec::new();
    let mut seg_durs: Vec<f64> = Vec::new();
    let mut seg_start_ms = 0i64;
    let mut flush_time = std::time::Duration::ZERO;
    let mut last_end = 0i64;
    let t0 = Instant::now();
    let write_part = |seg: u32, idx: u32, bytes: Vec<u8>, dur: f64, independent: bool, seg_bytes: &mut Vec<u8>, parts: &mut Vec<Part>| -> Result<()> {
        std::fs::write(out.join(format!("seg{seg}.{idx}.m4s")), &bytes)?;
        seg_bytes.extend_from_slice(&bytes);
        parts.push(Part { seg, idx, dur, independent, bytes: bytes.len() });
        Ok(())
    };
    for (stream, mut pkt) in ictx.packets() {
        if stream.index() != vidx {
            continue;
        }
        let pts_ms = pkt.dts().unwrap_or(0).rescale(in_tb, seg_ts);
        let ps = *part_start.get_or_insert(pts_ms);
        let key_pts_ms = pkt.pts().unwrap_or(0).rescale(in_tb, seg_ts);
        let new_segment = pkt.is_key() && key_pts_ms >= (seg as i64 + 1) * 2000;
        last_end = pts_ms + pkt.duration().rescale(in_tb, seg_ts);
        let new_part = new_segment || pts_ms - ps >= part_ms;
        if new_part && pts_ms > ps {
            let f = Instant::now();
            flush_fragment(&mut octx)?;
            flush_time += f.elapsed();
            let bytes = sink.take();
            write_part(seg, idx, bytes, (pts_ms - ps) as f64 / 1000.0, part_key, &mut seg_bytes, &mut parts)?;
            idx += 1;
            part_start = Some(pts_ms);
            part_key = false;
            if new_segment {
                std::fs::write(out.join(format!("seg{seg}.m4s")), std::mem::take(&mut seg_bytes))?;
                seg_durs.push((pts_ms - seg_start_ms) as f64 / 1000.0);
                seg_start_ms = pts_ms;
                seg += 1;
                idx = 0;
            }
        }
        if pkt.is_key() && part_start == Some(pts_ms) {
            part_key = true;
        }
        pkt.rescale_ts(in_tb, out_tb);
        pkt.set_stream(0);
        pkt.set_position(-1);
        pkt.write(&mut octx)?;
    }
    flush_fragment(&mut octx)?;
    let last = sink.take();
    if !last.is_empty() {
        let ps = part_start.unwrap_or(last_end);
        write_part(seg, idx, last, (last_end - ps) as f64 / 1000.0, part_key, &mut seg_bytes, &mut parts)?;
        seg_durs.push((last_end - seg_start_ms) as f64 / 1000.0);
        std::fs::write(out.join(format!("seg{seg}.m4s")), std::mem::take(&mut seg_bytes))?;
    }
    octx.write_trailer()?;
    println!(
        "{} segments, {} parts in {:?}; total flush time {:?} ({:.1} µs/flush)",
        seg_durs.len(),
        parts.len(),
        t0.elapsed(),
        flush_time,
        flush_time.as_micros() as f64 / parts.len() as f64
    );
    // An LL-HLS media playlist as pufa would write it (static snapshot; last segment open).
    let mut m3u = String::from("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n");
    let _ = writeln!(m3u, "#EXT-X-PART-INF:PART-TARGET={:.3}", part_ms as f64 / 1000.0);
    m3u.push_str("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    let nseg = seg_durs.len() as u32;
    for s in nseg.saturating_sub(2)..=nseg.min(seg) {
        if s + 2 < nseg { continue; }
        for p in parts.iter().filter(|p| p.seg == s) {
            let _ = writeln!(m3u, "#EXT-X-PART:DURATION={:.3},URI=\"seg{}.{}.m4s\"{}", p.dur, p.seg, p.idx, if p.independent { ",INDEPENDENT=YES" } else { "" });
        }
        if let Some(d) = seg_durs.get(s as usize) {
            let _ = writeln!(m3u, "#EXTINF:{d:.3},\nseg{s}.m4s");
        }
    }
    std::fs::write(out.join("index.m3u8"), &m3u)?;
    for p in parts.iter().take(6) {
        println!("  part seg{}.{} dur={:.3} independent={} bytes={}", p.seg, p.idx, p.dur, p.independent, p.bytes);
    }
    println!("segment durations: {:?}", &seg_durs[..seg_durs.len().min(8)]);
    Ok(())
}
