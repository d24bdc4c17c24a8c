//! Ladder planning: which renditions (size, frame rate, bitrate) to produce for a source.
//!
//! Pure functions over plain types (no FFmpeg), so every rule is unit- and property-tested:
//!
//! * A rung height is taken on the **short** side of the *displayed* picture: a 1080 rung of a
//!   portrait phone clip is 1080x1920, not 608x1080. Display size is the coded size with the
//!   rotation (90/270) applied.
//! * Never upscale: only rungs `<=` the source short side are kept. A source smaller than the
//!   lowest requested rung gets exactly one rung at its own (even-rounded) size.
//! * Dimensions are even (4:2:0 chroma) and never exceed the source's display size.
//! * One constant output frame rate for every rung (required for aligned keyframes).
//! * Bitrates follow PeerTube's bits-per-pixel idea (see [`average_bitrate`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Default rung heights (short side), highest first.
pub const DEFAULT_LADDER: [u32; 4] = [1080, 720, 480, 360];
/// Highest frame rate we encode; faster sources are decimated.
pub const MAX_FPS: f64 = 30.0;
/// Below this, decimating a fast source (60 -> 30, 50 -> 25) would look choppy, so we use 30.
const MIN_DECIMATED_FPS: f64 = 24.0;
/// Highest rung a caller may ask for (8K short side).
pub const MAX_RUNG: u32 = 4320;
/// AAC-LC bitrate, channels and sample rate of the audio rendition.
pub const AUDIO_BITRATE: u64 = 128_000;
pub const AUDIO_CHANNELS: u32 = 2;
pub const AUDIO_SAMPLE_RATE: u32 = 48_000;
/// Floor for the video bitrate cap: tiny or very low bitrate sources still get a sane budget.
pub const MIN_VIDEO_BITRATE: u64 = 64_000;

/// A frame rate as an exact fraction (`30000/1001` stays exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRate {
    pub num: u32,
    pub den: u32,
}

impl FrameRate {
    pub const fn new(num: u32, den: u32) -> Self {
        Self { num, den }
    }

    /// The rate in frames per second (0 for a degenerate fraction).
    pub fn as_f64(self) -> f64 {
        if self.den == 0 {
            0.0
        } else {
            f64::from(self.num) / f64::from(self.den)
        }
    }

    fn is_valid(self) -> bool {
        self.num > 0 && self.den > 0 && self.as_f64().is_finite()
    }
}

impl fmt::Display for FrameRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// What the planner needs to know about the source video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceVideo {
    /// Coded width in (square) pixels; pass the SAR-corrected width for anamorphic sources.
    pub width: u32,
    /// Coded height in pixels.
    pub height: u32,
    /// Clockwise rotation the player must apply (the phone "rotate" tag): 0, 90, 180 or 270.
    /// Other values are rounded to the nearest multiple of 90.
    pub rotation: i32,
    /// Nominal frame rate for constant-rate sources, average frame rate for VFR sources.
    pub fps: FrameRate,
    /// Variable frame rate source: the average rate is rounded to whole frames per second.
    pub vfr: bool,
    /// Video bitrate of the source in bits/s when known (caps the rung bitrates).
    pub bitrate_bps: Option<u64>,
    /// Whether the source has a usable audio stream.
    pub has_audio: bool,
}

/// One planned video rendition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    /// Directory / display name, e.g. `"720p"` (named after the short side).
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub fps: FrameRate,
    /// Target average video bitrate in bits/s.
    pub video_bitrate: u64,
    /// VBV max rate in bits/s (x264 `maxrate`; `bufsize` is twice this).
    pub max_video_bitrate: u64,
}

impl Rendition {
    pub fn short_side(&self) -> u32 {
        self.width.min(self.height)
    }
}

/// The planned audio rendition (AAC-LC).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioPlan {
    pub bitrate: u64,
    pub channels: u32,
    pub sample_rate: u32,
}

impl Default for AudioPlan {
    fn default() -> Self {
        Self {
            bitrate: AUDIO_BITRATE,
            channels: AUDIO_CHANNELS,
            sample_rate: AUDIO_SAMPLE_RATE,
        }
    }
}

/// The full plan: video renditions (highest first) plus the audio rendition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub renditions: Vec<Rendition>,
    pub audio: Option<AudioPlan>,
    /// Displayed (rotation applied) source size.
    pub display_width: u32,
    pub display_height: u32,
    /// Output frame rate shared by all renditions.
    pub fps: FrameRate,
    /// Rotation that must be applied to decoded frames (0, 90, 180, 270; clockwise).
    pub rotation: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LadderError {
    #[error("invalid source size {0}x{1} (both sides must be at least 2 pixels)")]
    InvalidSize(u32, u32),
    #[error("the ladder is empty")]
    Empty,
    #[error("invalid rung {0:?}: expected a height between 2 and {MAX_RUNG}")]
    InvalidRung(String),
}

/// Parse a ladder such as `"1080,720,480,360"` (spaces and a trailing `p` are tolerated:
/// `"720p, 360p"`). The result is deduplicated and sorted highest first.
pub fn parse_ladder(text: &str) -> Result<Vec<u32>, LadderError> {
    let mut rungs = Vec::new();
    for part in text.split(',') {
        let token = part.trim();
        if token.is_empty() {
            if text.trim().is_empty() {
                return Err(LadderError::Empty);
            }
            return Err(LadderError::InvalidRung(part.to_string()));
        }
        let digits = token.strip_suffix(['p', 'P']).unwrap_or(token);
        let value: u32 = digits
            .parse()
            .map_err(|_| LadderError::InvalidRung(token.to_string()))?;
        if !(2..=MAX_RUNG).contains(&value) {
            return Err(LadderError::InvalidRung(token.to_string()));
        }
        rungs.push(value);
    }
    normalize_rungs(&rungs)
}

/// Deduplicate, validate and sort rungs highest first; odd rungs are rounded down to even.
fn normalize_rungs(rungs: &[u32]) -> Result<Vec<u32>, LadderError> {
    let mut out: Vec<u32> = Vec::with_capacity(rungs.len());
    for &r in rungs {
        if !(2..=MAX_RUNG).contains(&r) {
            return Err(LadderError::InvalidRung(r.to_string()));
        }
        out.push(r & !1);
    }
    if out.is_empty() {
        return Err(LadderError::Empty);
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    Ok(out)
}

/// Normalise any angle to one of 0, 90, 180, 270 (clockwise), rounding to the nearest quarter.
pub fn normalize_rotation(degrees: i32) -> u32 {
    let quarter = (f64::from(degrees) / 90.0).round() as i64;
    (quarter.rem_euclid(4) * 90) as u32
}

/// The constant output frame rate for a source.
///
/// * Invalid/unknown rates fall back to 25; anything below 1 fps becomes 1 fps.
/// * VFR sources: the average rate rounded to whole frames per second (at least 1).
/// * Faster than [`MAX_FPS`]: decimate by the smallest whole factor that gets under the cap
///   (60 -> 30, 50 -> 25, 59.94 -> 29.97, 120 -> 30) when the result stays at or above
///   24 fps; otherwise (e.g. 45 fps) use exactly 30.
pub fn output_fps(fps: FrameRate, vfr: bool) -> FrameRate {
    if !fps.is_valid() {
        return FrameRate::new(25, 1);
    }
    let mut rate = if vfr {
        FrameRate::new((fps.as_f64().round() as u32).max(1), 1)
    } else {
        reduce(fps)
    };
    let value = rate.as_f64();
    if value > MAX_FPS + 1e-9 {
        let factor = (value / MAX_FPS).ceil() as u32;
        let decimated = value / f64::from(factor);
        rate = match rate.den.checked_mul(factor) {
            Some(den) if decimated >= MIN_DECIMATED_FPS => reduce(FrameRate::new(rate.num, den)),
            _ => FrameRate::new(30, 1),
        };
    }
    if rate.as_f64() < 1.0 {
        rate = FrameRate::new(1, 1);
    }
    rate
}

fn reduce(rate: FrameRate) -> FrameRate {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = gcd(rate.num, rate.den).max(1);
    FrameRate::new(rate.num / g, rate.den / g)
}

/// Bits-per-pixel anchors `(pixels of the 16:9 rung, average bpp, max bpp)`.
///
/// The values are PeerTube's (`getAverageBitrate` / `getMaxBitrate` in PeerTube's
/// `shared/core-utils/videos/bitrate.ts`, later `packages/core-utils/src/videos/bitrate.ts`):
/// `bitrate = pixels × fps × bitsPerPixel(resolution)`, where the bits-per-pixel factor
/// shrinks as the resolution grows (bigger pictures compress better). PeerTube picks the
/// factor of the resolution band, which makes the bitrate jump *down* when crossing a band
/// (479p gets more bits than 480p). We interpolate the factor linearly in `ln(pixels)`
/// between the anchors instead, which keeps `bitrate(pixels)` monotone: between two
/// anchors `d(p·bpp)/dp = bpp + slope > 0` for every segment of this table.
const BPP_ANCHORS: [(f64, f64, f64); 8] = [
    (256.0 * 144.0, 0.19, 0.32),   // 144p
    (426.0 * 240.0, 0.17, 0.29),   // 240p
    (640.0 * 360.0, 0.15, 0.26),   // 360p
    (854.0 * 480.0, 0.12, 0.22),   // 480p
    (1280.0 * 720.0, 0.11, 0.19),  // 720p
    (1920.0 * 1080.0, 0.10, 0.17), // 1080p
    (2560.0 * 1440.0, 0.09, 0.16), // 1440p
    (3840.0 * 2160.0, 0.08, 0.14), // 2160p
];

fn bits_per_pixel(pixels: f64, pick: fn(&(f64, f64, f64)) -> f64) -> f64 {
    let first = &BPP_ANCHORS[0];
    let last = &BPP_ANCHORS[BPP_ANCHORS.len() - 1];
    if pixels <= first.0 {
        return pick(first);
    }
    if pixels >= last.0 {
        return pick(last);
    }
    for pair in BPP_ANCHORS.windows(2) {
        let (lo, hi) = (&pair[0], &pair[1]);
        if pixels <= hi.0 {
            let t = (pixels.ln() - lo.0.ln()) / (hi.0.ln() - lo.0.ln());
            return pick(lo) + t * (pick(hi) - pick(lo));
        }
    }
    pick(last)
}

/// Average video bitrate (bits/s) for a picture size and frame rate:
/// `width × height × fps × bpp_avg(pixels)` with the interpolated PeerTube factor.
pub fn average_bitrate(width: u32, height: u32, fps: f64) -> u64 {
    let pixels = f64::from(width) * f64::from(height);
    (pixels * fps.max(1.0) * bits_per_pixel(pixels, |a| a.1)).floor() as u64
}

/// Max video bitrate (bits/s), same formula with PeerTube's "max" bits-per-pixel table.
pub fn max_bitrate(width: u32, height: u32, fps: f64) -> u64 {
    let pixels = f64::from(width) * f64::from(height);
    (pixels * fps.max(1.0) * bits_per_pixel(pixels, |a| a.2)).floor() as u64
}

/// Round to the nearest even number that is `>= 2` and `<= limit` (limit >= 2).
fn even_within(value: f64, limit: u32) -> u32 {
    let mut even = ((value / 2.0).round() as u32).saturating_mul(2);
    let limit_even = limit & !1;
    if even > limit_even {
        even = limit_even;
    }
    even.max(2)
}

/// Plan the renditions for `source` with the requested rung heights (short side).
pub fn plan(source: &SourceVideo, rungs: &[u32]) -> Result<Plan, LadderError> {
    if source.width < 2 || source.height < 2 {
        return Err(LadderError::InvalidSize(source.width, source.height));
    }
    let rungs = normalize_rungs(rungs)?;
    let rotation = normalize_rotation(source.rotation);
    let (dw, dh) = if rotation % 180 == 90 {
        (source.height, source.width)
    } else {
        (source.width, source.height)
    };
    let portrait = dh > dw;
    let (short, long) = if portrait { (dw, dh) } else { (dh, dw) };
    let fps = output_fps(source.fps, source.vfr);

    let mut shorts: Vec<u32> = rungs.iter().copied().filter(|&r| r <= short).collect();
    if shorts.is_empty() {
        // Smaller than the lowest rung: one rendition at the source's own size.
        shorts.push((short & !1).max(2));
    }

    let cap = source.bitrate_bps.map(|b| b.max(MIN_VIDEO_BITRATE));
    let renditions = shorts
        .into_iter()
        .map(|s| {
            let s = s.min(short & !1).max(2);
            let scaled_long = f64::from(long) * f64::from(s) / f64::from(short);
            let l = even_within(scaled_long, long);
            let (width, height) = if portrait { (s, l) } else { (l, s) };
            let mut video_bitrate = average_bitrate(width, height, fps.as_f64());
            let mut max_video_bitrate = max_bitrate(width, height, fps.as_f64());
            if let Some(cap) = cap {
                video_bitrate = video_bitrate.min(cap);
                max_video_bitrate = max_video_bitrate.min(cap);
            }
            Rendition {
                name: format!("{s}p"),
                width,
                height,
                fps,
                video_bitrate: video_bitrate.max(1),
                max_video_bitrate: max_video_bitrate.max(video_bitrate).max(1),
            }
        })
        .collect();

    Ok(Plan {
        renditions,
        audio: source.has_audio.then(AudioPlan::default),
        display_width: dw,
        display_height: dh,
        fps,
        rotation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn src(width: u32, height: u32, rotation: i32, fps: FrameRate) -> SourceVideo {
        SourceVideo {
            width,
            height,
            rotation,
            fps,
            vfr: false,
            bitrate_bps: None,
            has_audio: true,
        }
    }

    fn sizes(plan: &Plan) -> Vec<(u32, u32)> {
        plan.renditions
            .iter()
            .map(|r| (r.width, r.height))
            .collect()
    }

    #[test]
    fn full_hd_gets_the_default_ladder() {
        let p = plan(&src(1920, 1080, 0, FrameRate::new(30, 1)), &DEFAULT_LADDER).unwrap();
        assert_eq!(
            sizes(&p),
            vec![(1920, 1080), (1280, 720), (854, 480), (640, 360)]
        );
        let names: Vec<_> = p.renditions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["1080p", "720p", "480p", "360p"]);
        assert_eq!(p.audio, Some(AudioPlan::default()));
        assert_eq!(p.fps, FrameRate::new(30, 1));
    }

    #[test]
    fn never_upscales() {
        let p = plan(&src(1280, 720, 0, FrameRate::new(25, 1)), &DEFAULT_LADDER).unwrap();
        assert_eq!(sizes(&p), vec![(1280, 720), (854, 480), (640, 360)]);
        let p = plan(&src(640, 360, 0, FrameRate::new(30, 1)), &DEFAULT_LADDER).unwrap();
        assert_eq!(sizes(&p), vec![(640, 360)]);
    }

    #[test]
    fn odd_source_size_is_made_even_and_drops_the_1080_rung() {
        // 1918 * 720 / 1078 = 1281.04 -> nearest even is 1282.
        let p = plan(&src(1918, 1078, 0, FrameRate::new(30, 1)), &DEFAULT_LADDER).unwrap();
        assert_eq!(sizes(&p), vec![(1282, 720), (854, 480), (640, 360)]);
        // A truly odd size below the ladder keeps its own size, rounded down to even.
        let p = plan(&src(321, 241, 0, FrameRate::new(30, 1)), &DEFAULT_LADDER).unwrap();
        assert_eq!(sizes(&p), vec![(320, 240)]);
        assert_eq!(p.renditions[0].name, "240p");
    }

    #[test]
    fn portrait_stays_portrait_and_rotation_swaps() {
        // Upright phone clip stored as 1920x1080 with a 90° rotate tag.
        let p = plan(&src(1920, 1080, 90, FrameRate::new(30, 1)), &DEFAULT_LADDER).unwrap();
        assert_eq!((p.display_width, p.display_height), (1080, 1920));
        assert_eq!(p.rotation, 90);
        assert_eq!(
            sizes(&p),
            vec![(1080, 1920), (720, 1280), (480, 854), (360, 640)]
        );
        // Already-portrait coded frames without rotation.
        let p = plan(&src(720, 1280, 0, FrameRate::new(30, 1)), &DEFAULT_LADDER).unwrap();
        assert_eq!(sizes(&p), vec![(720, 1280), (480, 854), (360, 640)]);
        // 180° keeps the orientation; -90 is 270.
        assert_eq!(
            plan(&src(640, 360, 180, FrameRate::new(30, 1)), &[360])
                .unwrap()
                .rotation,
            180
        );
        assert_eq!(normalize_rotation(-90), 270);
        assert_eq!(normalize_rotation(450), 90);
        assert_eq!(normalize_rotation(89), 90);
    }

    #[test]
    fn tiny_source_gets_one_rung_at_its_own_size() {
        let p = plan(&src(200, 100, 0, FrameRate::new(30, 1)), &DEFAULT_LADDER).unwrap();
        assert_eq!(sizes(&p), vec![(200, 100)]);
        assert_eq!(p.renditions[0].name, "100p");
    }

    #[test]
    fn frame_rate_rules() {
        assert_eq!(
            output_fps(FrameRate::new(60, 1), false),
            FrameRate::new(30, 1)
        );
        assert_eq!(
            output_fps(FrameRate::new(50, 1), false),
            FrameRate::new(25, 1)
        );
        assert_eq!(
            output_fps(FrameRate::new(60000, 1001), false),
            FrameRate::new(30000, 1001)
        );
        assert_eq!(
            output_fps(FrameRate::new(30000, 1001), false),
            FrameRate::new(30000, 1001)
        );
        assert_eq!(
            output_fps(FrameRate::new(120, 1), false),
            FrameRate::new(30, 1)
        );
        assert_eq!(
            output_fps(FrameRate::new(45, 1), false),
            FrameRate::new(30, 1)
        );
        assert_eq!(
            output_fps(FrameRate::new(25, 2), false),
            FrameRate::new(25, 2)
        );
        assert_eq!(
            output_fps(FrameRate::new(50, 2), false),
            FrameRate::new(25, 1)
        );
        // VFR: average rounded, min 1, still capped.
        assert_eq!(
            output_fps(FrameRate::new(2437, 100), true),
            FrameRate::new(24, 1)
        );
        assert_eq!(output_fps(FrameRate::new(1, 5), true), FrameRate::new(1, 1));
        assert_eq!(
            output_fps(FrameRate::new(5990, 100), true),
            FrameRate::new(30, 1)
        );
        // Unknown rate.
        assert_eq!(
            output_fps(FrameRate::new(0, 0), false),
            FrameRate::new(25, 1)
        );
    }

    #[test]
    fn bitrates_follow_the_peertube_table_at_the_anchors() {
        // 720p30 with PeerTube's 0.11 average / 0.19 max bits per pixel.
        assert_eq!(
            average_bitrate(1280, 720, 30.0),
            (1280.0 * 720.0 * 30.0 * 0.11) as u64
        );
        assert_eq!(
            max_bitrate(1280, 720, 30.0),
            (1280.0 * 720.0 * 30.0 * 0.19) as u64
        );
        // Crossing the 480p band does not make the bitrate drop (PeerTube's table would).
        assert!(average_bitrate(852, 479, 30.0) <= average_bitrate(854, 480, 30.0));
    }

    #[test]
    fn source_bitrate_caps_the_rungs() {
        let mut s = src(1920, 1080, 0, FrameRate::new(30, 1));
        s.bitrate_bps = Some(1_000_000);
        let p = plan(&s, &DEFAULT_LADDER).unwrap();
        for r in &p.renditions {
            assert!(r.video_bitrate <= 1_000_000);
            assert!(r.max_video_bitrate <= 1_000_000);
            assert!(r.max_video_bitrate >= r.video_bitrate);
        }
        // Absurdly low source bitrates are floored so the encoder still has a budget.
        s.bitrate_bps = Some(1_000);
        let p = plan(&s, &[360]).unwrap();
        assert_eq!(p.renditions[0].video_bitrate, MIN_VIDEO_BITRATE);
    }

    #[test]
    fn no_audio_means_no_audio_plan() {
        let mut s = src(1280, 720, 0, FrameRate::new(30, 1));
        s.has_audio = false;
        assert_eq!(plan(&s, &DEFAULT_LADDER).unwrap().audio, None);
    }

    #[test]
    fn invalid_inputs() {
        assert_eq!(
            plan(&src(1, 100, 0, FrameRate::new(30, 1)), &DEFAULT_LADDER),
            Err(LadderError::InvalidSize(1, 100))
        );
        assert_eq!(
            plan(&src(100, 100, 0, FrameRate::new(30, 1)), &[]),
            Err(LadderError::Empty)
        );
    }

    #[test]
    fn parse_ladder_accepts_and_rejects() {
        assert_eq!(parse_ladder("1080,720,480,360").unwrap(), DEFAULT_LADDER);
        assert_eq!(parse_ladder(" 360p, 720P ,360").unwrap(), vec![720, 360]);
        assert_eq!(parse_ladder("721").unwrap(), vec![720]);
        assert_eq!(parse_ladder(""), Err(LadderError::Empty));
        assert_eq!(parse_ladder("  "), Err(LadderError::Empty));
        assert!(matches!(
            parse_ladder("720,,360"),
            Err(LadderError::InvalidRung(_))
        ));
        assert!(matches!(
            parse_ladder("abc"),
            Err(LadderError::InvalidRung(_))
        ));
        assert!(matches!(
            parse_ladder("0"),
            Err(LadderError::InvalidRung(_))
        ));
        assert!(matches!(
            parse_ladder("-720"),
            Err(LadderError::InvalidRung(_))
        ));
        assert!(matches!(
            parse_ladder("99999"),
            Err(LadderError::InvalidRung(_))
        ));
    }

    fn any_source() -> impl Strategy<Value = SourceVideo> {
        (
            2u32..5000,
            2u32..5000,
            prop_oneof![Just(0), Just(90), Just(180), Just(270), -720i32..720],
            (1u32..240_000, 1u32..1002),
            any::<bool>(),
            proptest::option::of(1u64..50_000_000),
            any::<bool>(),
        )
            .prop_map(
                |(width, height, rotation, (num, den), vfr, bitrate_bps, has_audio)| SourceVideo {
                    width,
                    height,
                    rotation,
                    fps: FrameRate::new(num, den),
                    vfr,
                    bitrate_bps,
                    has_audio,
                },
            )
    }

    fn any_ladder() -> impl Strategy<Value = Vec<u32>> {
        prop_oneof![
            Just(DEFAULT_LADDER.to_vec()),
            proptest::collection::vec(2u32..=MAX_RUNG, 1..8),
        ]
    }

    proptest! {
        #[test]
        fn plan_invariants(source in any_source(), ladder in any_ladder()) {
            let p = plan(&source, &ladder).unwrap();
            prop_assert!(!p.renditions.is_empty());
            let (dw, dh) = (p.display_width, p.display_height);
            let fps = p.fps.as_f64();
            prop_assert!((1.0 - 1e-9..=MAX_FPS + 1e-9).contains(&fps), "fps {fps}");
            for r in &p.renditions {
                prop_assert!(r.width % 2 == 0 && r.height % 2 == 0, "odd {}x{}", r.width, r.height);
                prop_assert!(r.width >= 2 && r.height >= 2);
                prop_assert!(r.width <= dw && r.height <= dh, "{}x{} > {dw}x{dh}", r.width, r.height);
                // Orientation is preserved (allowing for square-ish rounding).
                if dw > dh + 2 { prop_assert!(r.width >= r.height); }
                if dh > dw + 2 { prop_assert!(r.height >= r.width); }
                prop_assert_eq!(r.fps, p.fps);
                prop_assert!(r.max_video_bitrate >= r.video_bitrate);
                if let Some(cap) = source.bitrate_bps {
                    prop_assert!(r.video_bitrate <= cap.max(MIN_VIDEO_BITRATE));
                }
            }
            for pair in p.renditions.windows(2) {
                prop_assert!(pair[0].short_side() > pair[1].short_side(), "not strictly descending");
                let px0 = u64::from(pair[0].width) * u64::from(pair[0].height);
                let px1 = u64::from(pair[1].width) * u64::from(pair[1].height);
                prop_assert!(px0 >= px1);
                prop_assert!(pair[0].video_bitrate >= pair[1].video_bitrate, "bitrate not monotone");
                prop_assert!(pair[0].max_video_bitrate >= pair[1].max_video_bitrate);
            }
            prop_assert_eq!(p.audio.is_some(), source.has_audio);
        }

        #[test]
        fn bitrate_is_monotone_in_pixels(
            a in 1u64..40_000_000, b in 1u64..40_000_000, fps in 1.0f64..30.0
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            // Treat the pixel count as a 1-pixel-high picture: only the product matters.
            let to_wh = |p: u64| (u32::try_from(p).unwrap(), 1u32);
            let (lw, lh) = to_wh(lo);
            let (hw, hh) = to_wh(hi);
            prop_assert!(average_bitrate(lw, lh, fps) <= average_bitrate(hw, hh, fps));
            prop_assert!(max_bitrate(lw, lh, fps) <= max_bitrate(hw, hh, fps));
        }

        #[test]
        fn parse_roundtrip(ladder in proptest::collection::vec(2u32..=MAX_RUNG, 1..6)) {
            let text = ladder.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let parsed = parse_ladder(&text).unwrap();
            prop_assert!(parsed.windows(2).all(|w| w[0] > w[1]));
            prop_assert!(parsed.iter().all(|r| r % 2 == 0));
        }
    }
}
