//! Cutting whole frames out of a receive buffer without trusting the peer's lengths.

use bytes::{Buf, Bytes, BytesMut};

/// One complete protocol message: the tag byte, the length word and the body,
/// kept as the original bytes so it can be forwarded untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Message type byte (`b'Q'`, `b'D'`, ...).
    pub tag: u8,
    /// The whole message including tag and length.
    pub bytes: Bytes,
}

impl Frame {
    /// The message body after the tag and length word.
    pub fn body(&self) -> &[u8] {
        &self.bytes[5..]
    }
}

/// Why a frame could not be cut.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The length word is below the minimum of 4.
    #[error("invalid message length {0}")]
    BadLength(i64),
    /// The peer announced a message larger than the configured limit.
    #[error("message of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Configured limit.
        limit: usize,
    },
}

/// The tag and announced length of the frame at the front of `buf`, once
/// its header has arrived (a bad length is left to [`cut_frame`]).
pub fn peek_header(buf: &[u8]) -> Option<(u8, usize)> {
    let head = buf.get(..5)?;
    let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    Some((head[0], usize::try_from(len).ok().filter(|l| *l >= 4)?))
}

/// Cuts one tagged frame from the front of `buf`, or returns `None` when the
/// buffer does not yet hold a whole frame. The announced length is checked
/// against `max_len` before anything is reserved for it.
pub fn cut_frame(buf: &mut BytesMut, max_len: usize) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as i64;
    if len < 4 {
        return Err(FrameError::BadLength(len));
    }
    let len = len as usize;
    if len > max_len {
        return Err(FrameError::TooLarge { len, limit: max_len });
    }
    if buf.len() < len + 1 {
        return Ok(None);
    }
    let tag = buf[0];
    let bytes = buf.split_to(len + 1).freeze();
    Ok(Some(Frame { tag, bytes }))
}

/// Cuts an untagged startup-phase packet (StartupMessage, SSLRequest,
/// CancelRequest, ...) and returns its body after the length word.
pub fn cut_startup(buf: &mut BytesMut, max_len: usize) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as i64;
    if len < 8 {
        return Err(FrameError::BadLength(len));
    }
    let len = len as usize;
    if len > max_len {
        return Err(FrameError::TooLarge { len, limit: max_len });
    }
    if buf.len() < len {
        return Ok(None);
    }
    let mut packet = buf.split_to(len);
    packet.advance(4);
    Ok(Some(packet.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_frames_and_waits_for_more() {
        let mut buf = BytesMut::from(&b"Q\0\0\0\x09abcd\0Z\0\0"[..]);
        let f = cut_frame(&mut buf, 1 << 20).unwrap().unwrap();
        assert_eq!(f.tag, b'Q');
        assert_eq!(f.body(), b"abcd\0");
        assert_eq!(cut_frame(&mut buf, 1 << 20).unwrap(), None);
        assert_eq!(&buf[..], b"Z\0\0");
    }

    #[test]
    fn rejects_huge_and_negative_lengths() {
        let mut buf = BytesMut::from(&b"Q\x7f\xff\xff\xff"[..]);
        assert!(matches!(cut_frame(&mut buf, 1 << 20), Err(FrameError::TooLarge { .. })));
        let mut buf = BytesMut::from(&b"Q\x00\x00\x00\x02"[..]);
        assert_eq!(cut_frame(&mut buf, 1 << 20), Err(FrameError::BadLength(2)));
        let mut buf = BytesMut::from(&b"\xff\xff\xff\xff"[..]);
        assert!(cut_startup(&mut buf, 10_000).is_err());
    }

    #[test]
    fn cuts_startup_packets() {
        let mut buf = BytesMut::from(&b"\0\0\0\x08\x04\xd2\x16\x2fextra"[..]);
        let body = cut_startup(&mut buf, 10_000).unwrap().unwrap();
        assert_eq!(&body[..], &80_877_103u32.to_be_bytes());
        assert_eq!(&buf[..], b"extra");
    }
}
