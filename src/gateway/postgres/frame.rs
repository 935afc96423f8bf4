//! The frame codec: cutting PostgreSQL v3 messages out of a byte stream as raw bytes.
//!
//! Every message after startup is `tag: u8, length: i32, payload`, where the length counts itself
//! but not the tag (protocol docs, "Message Formats"). The startup packet and its siblings
//! (SSLRequest, GSSENCRequest, CancelRequest) have no tag. Frames are kept whole — tag, length and
//! payload — so that a frame guard does not change is forwarded byte for byte, and only what the
//! transcript or a later policy needs is ever decoded (see `message`).

use bytes::{Buf, Bytes, BytesMut};

/// The largest message guard accepts in either direction. PostgreSQL itself caps most client
/// messages at 1 GiB; a coding agent has no business near that, and the cap bounds guard's memory.
pub const MAX_FRAME: usize = 64 << 20;

/// The largest startup packet, as the server's `MAX_STARTUP_PACKET_LENGTH`.
pub const MAX_STARTUP: usize = 10_000;

/// One whole tagged message: tag, length and payload, exactly as it came off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    raw: Bytes,
}

/// Why bytes on the wire are not a message guard will take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message of {0} bytes is larger than guard accepts")]
    TooLarge(usize),
    #[error("message length {0} is invalid")]
    BadLength(i64),
}

impl Frame {
    /// The message type byte.
    pub fn tag(&self) -> u8 {
        self.raw[0]
    }

    /// The payload after the tag and length.
    pub fn body(&self) -> &[u8] {
        &self.raw[5..]
    }

    /// The whole message as it travels.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Builds a frame from a tag and a payload.
    pub fn new(tag: u8, body: &[u8]) -> Frame {
        let mut raw = BytesMut::with_capacity(5 + body.len());
        raw.extend_from_slice(&[tag]);
        raw.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        raw.extend_from_slice(body);
        Frame { raw: raw.freeze() }
    }
}

/// Cuts one complete tagged message off the front of `buf`. `Ok(None)`: more bytes are needed.
/// An error means the stream cannot be framed any more and the connection must end.
pub fn split_frame(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    let total = checked_total(len, 1, MAX_FRAME)?;
    if buf.len() < total {
        // Ask for the whole message at once rather than growing the buffer read by read.
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    Ok(Some(Frame {
        raw: buf.split_to(total).freeze(),
    }))
}

/// Cuts one untagged startup-phase packet off the front of `buf` and returns its payload after
/// the length (the protocol version or request code comes first).
pub fn split_startup(buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let total = checked_total(len, 0, MAX_STARTUP)?;
    // The shortest packet is a length and a request code.
    if total < 8 {
        return Err(FrameError::BadLength(len.into()));
    }
    if buf.len() < total {
        return Ok(None);
    }
    let mut packet = buf.split_to(total);
    packet.advance(4);
    Ok(Some(packet.freeze()))
}

/// The bytes a message with length field `len` occupies, with `tag` bytes in front of it.
fn checked_total(len: i32, tag: usize, max: usize) -> Result<usize, FrameError> {
    if len < 4 {
        return Err(FrameError::BadLength(len.into()));
    }
    let total = len as usize + tag;
    if total > max {
        return Err(FrameError::TooLarge(total));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(bytes: &[u8]) -> BytesMut {
        BytesMut::from(bytes)
    }

    #[test]
    fn a_whole_message_is_cut_with_its_header() {
        let mut b = buf(b"Q\0\0\0\x0dselect 1\0Z");
        let frame = split_frame(&mut b).unwrap().unwrap();
        assert_eq!(frame.tag(), b'Q');
        assert_eq!(frame.body(), b"select 1\0");
        assert_eq!(frame.raw().len(), 14);
        assert_eq!(&b[..], b"Z");
        assert_eq!(split_frame(&mut b).unwrap(), None);
    }

    #[test]
    fn a_partial_message_waits_for_more() {
        let whole = Frame::new(b'Q', b"select 1\0");
        for cut in 0..whole.raw().len() {
            let mut b = buf(&whole.raw()[..cut]);
            assert_eq!(split_frame(&mut b).unwrap(), None, "cut at {cut}");
            assert_eq!(b.len(), cut);
        }
    }

    #[test]
    fn lengths_below_four_and_above_the_cap_are_refused() {
        assert_eq!(
            split_frame(&mut buf(b"Q\0\0\0\x03")),
            Err(FrameError::BadLength(3))
        );
        assert_eq!(
            split_frame(&mut buf(b"Q\xff\xff\xff\xff")),
            Err(FrameError::BadLength(-1))
        );
        let too_big = ((MAX_FRAME as i32) + 1).to_be_bytes();
        let mut b = buf(&[b'd', too_big[0], too_big[1], too_big[2], too_big[3]]);
        assert!(matches!(split_frame(&mut b), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn startup_packets_are_cut_without_a_tag() {
        let mut b = buf(&[0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f, b'x']);
        let packet = split_startup(&mut b).unwrap().unwrap();
        assert_eq!(&packet[..], &[4, 0xd2, 0x16, 0x2f]);
        assert_eq!(&b[..], b"x");
        assert!(split_startup(&mut buf(&[0, 0, 0, 7, 0, 0, 0])).is_err());
        assert!(split_startup(&mut buf(&[0, 1, 0, 0])).is_err());
    }

    /// Random and truncated input never panics and never yields a frame that lies about its
    /// length; this is the in-tree twin of the cargo-fuzz target in `fuzz/`.
    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Small plausible lengths make whole frames likely, not only errors.
            if len > 5 && next() % 2 == 0 {
                bytes[1..5].copy_from_slice(&((next() % 40) as i32).to_be_bytes());
            }
            fuzz_one(&bytes);
        }
    }

    pub(crate) fn fuzz_one(bytes: &[u8]) {
        let mut b = buf(bytes);
        while let Ok(Some(frame)) = split_frame(&mut b) {
            let declared = i32::from_be_bytes(frame.raw()[1..5].try_into().unwrap());
            assert_eq!(declared as usize + 1, frame.raw().len());
            let _ = crate::gateway::postgres::message::describe(&frame);
        }
        let mut b = buf(bytes);
        while let Ok(Some(packet)) = split_startup(&mut b) {
            let _ = crate::gateway::postgres::startup::Packet::parse(&packet);
        }
    }
}
