//! Live ladder throughput: how much faster than real time pufa's live packager turns a
//! recorded publish (an FLV file, as the RTMP ingest delivers it) into its ladder — the source
//! H.264 copied as the top rung, 720p and 360p encoded with x264 veryfast (CRF 23 under the
//! ladder's rate caps) with IDRs at the source keyframes, AAC 48 kHz stereo, fMP4 segments.
//!
//! `CLIP=path/to/source.flv OUT=dir cargo bench --bench live_ladder`
//! prints one line: media seconds, wall seconds, CPU seconds and the speed factor (media/wall),
//! plus the rate caps it used, so `benches/live_ladder.sh` can run the ffmpeg CLI on equal
//! settings as the baseline. The input is read as fast as the packager takes it: the factor
//! is the headroom over a real-time publish.
#![allow(clippy::unwrap_used)]

use pufa::media::ladder::max_bitrate;
use pufa::media::live::packager::{
    ArrivalLog, InputFormat, LivePackager, PackagerOptions, TimedReader,
};
use std::time::Instant;

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, clock ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // the command name may hold spaces: fields are counted after its closing parenthesis
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / 100.0
}

fn main() {
    let clip = std::env::var("CLIP").expect("CLIP=path to an FLV publish");
    let out = std::path::PathBuf::from(
        std::env::var("OUT").unwrap_or_else(|_| "target/live-bench".into()),
    );
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let packager = LivePackager::new(
        &out,
        PackagerOptions {
            lag_guard: None,
            window: None,
            ..PackagerOptions::default()
        },
    )
    .unwrap();
    let log = ArrivalLog::new();
    let input = TimedReader::new(std::fs::File::open(&clip).unwrap(), log.clone());
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let summary = packager
        .run(input, InputFormat::Flv, log, &mut |_| {})
        .unwrap();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "pufa live packager: media={:.1}s wall={:.1}s cpu={:.1}s speed={:.2}x cpu_per_media_s={:.3} maxrate_720={} maxrate_360={}",
        summary.duration_s,
        wall,
        cpu,
        summary.duration_s / wall,
        cpu / summary.duration_s,
        max_bitrate(1280, 720, 30.0),
        max_bitrate(640, 360, 30.0),
    );
}
