//! The decode loop shared by the video and the audio pipe: feed a packet, take every frame the
//! decoder has ready, and count what could not be decoded instead of failing on it.

use super::progress::Reporter;
use super::types::{is_again_or_eof, TranscodeError};
use ff::{decoder, frame, Packet};
use ffmpeg_next as ff;
use std::ops::DerefMut;

/// Give up draining a decoder after this many errors in a row.
const MAX_DRAIN_ERRORS_IN_A_ROW: u32 = 100;

/// A pipe that decodes one input stream.
pub(super) trait DecodingPipe {
    /// `frame::Video` or `frame::Audio`.
    type Frame: DerefMut<Target = frame::Frame>;

    /// A frame for the decoder to fill.
    fn empty_frame() -> Self::Frame;

    /// The opened decoder of the stream.
    fn decoder(&mut self) -> &mut decoder::Opened;

    /// Count a packet or frame that could not be decoded.
    fn count_decode_error(&mut self);

    /// Take one decoded frame onward through the pipe.
    fn push_decoded(
        &mut self,
        decoded: Self::Frame,
        rep: &mut Reporter<'_>,
    ) -> Result<(), TranscodeError>;
}

/// Feed `packet` to the pipe's decoder and push on every frame that became ready. A packet the
/// decoder refuses is counted, not fatal: damaged input is transcoded as far as it decodes.
pub(super) fn send_packet<P: DecodingPipe>(
    pipe: &mut P,
    packet: &Packet,
    rep: &mut Reporter<'_>,
) -> Result<(), TranscodeError> {
    if pipe.decoder().send_packet(packet).is_err() {
        pipe.count_decode_error();
    }
    receive_frames(pipe, false, rep)
}

/// Push on every frame the decoder has ready. While `draining` (after end of stream) decode
/// errors are skipped until the decoder is empty, up to [`MAX_DRAIN_ERRORS_IN_A_ROW`].
pub(super) fn receive_frames<P: DecodingPipe>(
    pipe: &mut P,
    draining: bool,
    rep: &mut Reporter<'_>,
) -> Result<(), TranscodeError> {
    let mut errors_in_a_row = 0;
    loop {
        let mut decoded = P::empty_frame();
        match pipe.decoder().receive_frame(&mut decoded) {
            Ok(()) => {
                errors_in_a_row = 0;
                pipe.push_decoded(decoded, rep)?;
            }
            Err(e) if is_again_or_eof(&e) => return Ok(()),
            Err(_) => {
                pipe.count_decode_error();
                errors_in_a_row += 1;
                if !draining || errors_in_a_row > MAX_DRAIN_ERRORS_IN_A_ROW {
                    return Ok(());
                }
            }
        }
    }
}

/// Signal end of stream to the pipe's decoder and push on the frames it still holds.
pub(super) fn finish<P: DecodingPipe>(
    pipe: &mut P,
    rep: &mut Reporter<'_>,
) -> Result<(), TranscodeError> {
    if pipe.decoder().send_eof().is_ok() {
        receive_frames(pipe, true, rep)?;
    }
    Ok(())
}
