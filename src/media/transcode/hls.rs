//! FFmpeg's `hls` muxer, one per rendition: fMP4 segments and a VOD media playlist per folder.
//!
//! The only `unsafe` code of the engine lives here: ffmpeg-next cannot create an output context
//! for a muxer that opens its own files, so the context is allocated through the C API.
#![allow(unsafe_code)]

use super::probe::ffmpeg_path;
use super::types::{out_err, TranscodeError, INIT_SEGMENT, PLAYLIST};
use ff::{format, Dictionary};
use ffmpeg_next as ff;
use std::ffi::CString;
use std::fs;
use std::path::Path;

/// An `hls` muxer writing `dir/index.m3u8`, `dir/init.mp4`, `dir/seg_NNNNN.m4s`.
pub(super) fn hls_output(dir: &Path) -> Result<format::context::Output, TranscodeError> {
    fs::create_dir_all(dir)?;
    let playlist = ffmpeg_path(&dir.join(PLAYLIST)).map_err(TranscodeError::Output)?;
    let c_playlist = CString::new(playlist).map_err(out_err)?;
    let c_format = CString::new("hls").map_err(out_err)?;
    let mut ctx: *mut ff::ffi::AVFormatContext = std::ptr::null_mut();
    // SAFETY: both strings are valid NUL-terminated C strings that outlive the call; `ctx`
    // is an out-pointer that FFmpeg sets to a newly allocated context on success (and leaves
    // null on failure). No AVIOContext is opened: the hls muxer is AVFMT_NOFILE and opens
    // its playlist/segment files itself; ffmpeg-next's `format::output_with` would also
    // `avio_open` the playlist path, which a NOFILE muxer must not be given.
    let ret = unsafe {
        ff::ffi::avformat_alloc_output_context2(
            &mut ctx,
            std::ptr::null_mut(),
            c_format.as_ptr(),
            c_playlist.as_ptr(),
        )
    };
    if ret < 0 || ctx.is_null() {
        return Err(TranscodeError::Output(format!(
            "cannot create the hls muxer: {}",
            ff::Error::from(ret)
        )));
    }
    // SAFETY: `ctx` is a valid, exclusively owned AVFormatContext from the call above; the
    // wrapper takes ownership and frees it once (avio_close(NULL) is a no-op for `pb`).
    Ok(unsafe { format::context::Output::wrap(ctx) })
}

fn hls_options(dir: &Path, segment_seconds: u32) -> Result<Dictionary<'static>, TranscodeError> {
    let dir_text = ffmpeg_path(dir).map_err(TranscodeError::Output)?;
    // The segment name is a printf-style pattern: escape any '%' in the folder name.
    let pattern = format!("{}/seg_%05d.m4s", dir_text.replace('%', "%%"));
    let mut d = Dictionary::new();
    d.set("hls_time", &segment_seconds.to_string());
    d.set("hls_playlist_type", "vod");
    d.set("hls_list_size", "0");
    d.set("hls_segment_type", "fmp4");
    d.set("hls_fmp4_init_filename", INIT_SEGMENT);
    d.set("hls_segment_filename", &pattern);
    d.set("hls_flags", "independent_segments");
    Ok(d)
}

pub(super) fn write_hls_header(
    octx: &mut format::context::Output,
    dir: &Path,
    segment_seconds: u32,
) -> Result<(), TranscodeError> {
    let options = hls_options(dir, segment_seconds)?;
    let leftover = octx.write_header_with(options).map_err(out_err)?;
    for (key, value) in leftover.iter() {
        tracing::warn!(key, value, "hls muxer ignored an option");
    }
    Ok(())
}

pub(super) fn global_header(octx: &format::context::Output) -> bool {
    octx.format().flags().contains(format::Flags::GLOBAL_HEADER)
}

/// Add a stream to `octx` that receives `params`' packets unchanged (the remux fast path).
pub(super) fn add_copy_stream(
    octx: &mut format::context::Output,
    params: ff::codec::Parameters,
    tb: ff::Rational,
) -> Result<(), TranscodeError> {
    let mut ost = octx
        .add_stream(ff::encoder::find(ff::codec::Id::None))
        .map_err(out_err)?;
    ost.set_parameters(params);
    // SAFETY: `parameters()` points at the codecpar owned by this output stream, which lives
    // as long as `octx`; clearing a plain integer before the header is written is what
    // `ffmpeg -c copy` does: the source container's tag (FLV 7, TS 0x1b) means nothing in MP4
    // and the mp4 muxer picks its own.
    unsafe { (*ost.parameters().as_mut_ptr()).codec_tag = 0 };
    ost.set_time_base(tb);
    Ok(())
}

/// Whether the stream parameters carry a codec header (H.264 SPS/PPS, AAC AudioSpecificConfig),
/// which an MP4 init segment needs when packets are copied.
pub(super) fn has_extradata(params: &ff::codec::Parameters) -> bool {
    // SAFETY: `as_ptr` points at a valid AVCodecParameters owned by `params` for this call;
    // only two plain fields are read.
    unsafe {
        let p = params.as_ptr();
        !(*p).extradata.is_null() && (*p).extradata_size > 0
    }
}
