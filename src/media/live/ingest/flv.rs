//! FLV re-serialisation of RTMP media: an RTMP audio/video message body *is* the FLV tag
//! body, and the RTMP timestamp is the tag's DTS in milliseconds (live.md §3).

use bytes::{BufMut, Bytes, BytesMut};

/// FLV tag types.
pub const TAG_AUDIO: u8 = 8;
pub const TAG_VIDEO: u8 = 9;

/// The FLV file header (version 1, audio and video present) and PreviousTagSize0.
pub fn header() -> Bytes {
    Bytes::from_static(&[b'F', b'L', b'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0])
}

/// One FLV tag followed by its PreviousTagSize. `None` if the body is too large for FLV's
/// 24-bit length (never the case for a real RTMP message).
pub fn tag(tag_type: u8, timestamp_ms: u32, body: &[u8]) -> Option<Bytes> {
    let len = u32::try_from(body.len()).ok().filter(|l| *l < 1 << 24)?;
    let mut v = BytesMut::with_capacity(body.len() + 15);
    v.put_u8(tag_type);
    v.put_slice(&len.to_be_bytes()[1..]);
    v.put_slice(&(timestamp_ms & 0x00ff_ffff).to_be_bytes()[1..]);
    v.put_u8((timestamp_ms >> 24) as u8);
    v.put_slice(&[0, 0, 0]); // stream id
    v.put_slice(body);
    v.put_u32(len + 11);
    Some(v.freeze())
}

/// Whether FFmpeg 5.1's flv demuxer can read this video message: not an enhanced-RTMP
/// (FourCC, HEVC/AV1 from OBS 29+) header. An empty body is harmless.
pub fn video_supported(body: &[u8]) -> bool {
    body.first().is_none_or(|b| b & 0x80 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_layout() {
        let t = tag(TAG_VIDEO, 0x0102_0304, &[0xaa, 0xbb]).unwrap();
        assert_eq!(
            &t[..],
            &[9, 0, 0, 2, 0x02, 0x03, 0x04, 0x01, 0, 0, 0, 0xaa, 0xbb, 0, 0, 0, 13]
        );
        assert_eq!(header().len(), 13);
    }

    #[test]
    fn enhanced_rtmp_is_not_supported() {
        assert!(video_supported(&[0x17, 0x01]));
        assert!(!video_supported(&[0x90, b'h', b'v', b'c', b'1']));
        assert!(video_supported(&[]));
    }
}
