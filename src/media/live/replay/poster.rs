//! The replay's `poster.jpg`: the first frame of one segment of the top rung.

use ff::format::Pixel;
use ff::software::scaling;
use ff::{codec, decoder, encoder, format, frame, media, Dictionary, Packet, Rational};
use ffmpeg_next as ff;
use std::fs;
use std::io::Cursor;
use std::path::Path;

/// Decode the first frame of `segment` (which starts with a keyframe, as every segment of
/// the packager does) and write it as a JPEG to `out`.
pub(super) fn write_poster(init: &Path, segment: &Path, out: &Path) -> Result<(), String> {
    let mut bytes = fs::read(init).map_err(|e| format!("{}: {e}", init.display()))?;
    bytes.extend(fs::read(segment).map_err(|e| format!("{}: {e}", segment.display()))?);
    let io =
        format::context::StreamIo::from_read_seek(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut opts = Dictionary::new();
    opts.set("format_whitelist", "mov");
    let mut ictx =
        format::input_from_stream(io, None, Some(opts)).map_err(|e| format!("open: {e}"))?;
    let stream = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or("no video stream")?;
    let index = stream.index();
    let mut decoder = codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(|e| format!("decoder: {e}"))?;
    for (s, packet) in ictx.packets() {
        if s.index() != index {
            continue;
        }
        // A packet the decoder refuses is skipped: the next one may decode.
        if decoder.send_packet(&packet).is_ok() {
            if let Some(picture) = receive(&mut decoder) {
                return save(&picture, out);
            }
        }
    }
    if decoder.send_eof().is_ok() {
        if let Some(picture) = receive(&mut decoder) {
            return save(&picture, out);
        }
    }
    Err("no frame could be decoded".into())
}

fn receive(decoder: &mut decoder::Video) -> Option<frame::Video> {
    let mut picture = frame::Video::empty();
    decoder.receive_frame(&mut picture).ok().map(|()| picture)
}

fn save(picture: &frame::Video, out: &Path) -> Result<(), String> {
    let jpeg = encode_jpeg(picture).map_err(|e| format!("jpeg: {e}"))?;
    fs::write(out, jpeg).map_err(|e| format!("{}: {e}", out.display()))
}

/// The frame as a JPEG of its own size, at the quality the transcoder's posters have.
fn encode_jpeg(src: &frame::Video) -> Result<Vec<u8>, ff::Error> {
    let (width, height) = (src.width(), src.height());
    let mut scaler = scaling::Context::get(
        src.format(),
        width,
        height,
        Pixel::YUVJ420P,
        width,
        height,
        scaling::Flags::BICUBIC,
    )?;
    let mut scaled = frame::Video::new(Pixel::YUVJ420P, width, height);
    scaler.run(src, &mut scaled)?;
    scaled.set_pts(Some(0));
    scaled.set_color_range(ff::color::Range::JPEG);
    let codec = encoder::find(codec::Id::MJPEG).ok_or(ff::Error::EncoderNotFound)?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()?;
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(Pixel::YUVJ420P);
    enc.set_time_base(Rational::new(1, 25));
    enc.set_color_range(ff::color::Range::JPEG);
    enc.set_flags(codec::Flags::QSCALE);
    // qscale 3 (FF_QP2LAMBDA = 118), as transcode's posters.
    enc.set_global_quality(3 * 118);
    let mut enc = enc.open_as(codec)?;
    enc.send_frame(&scaled)?;
    enc.send_eof()?;
    let mut packet = Packet::empty();
    enc.receive_packet(&mut packet)?;
    packet
        .data()
        .map(<[u8]>::to_vec)
        .ok_or(ff::Error::InvalidData)
}
