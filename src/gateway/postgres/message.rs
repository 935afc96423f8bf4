//! The few messages guard reads or writes itself, decoded from and encoded into raw frames.
//!
//! Decoding is lazy and partial on purpose: the relay forwards frames as bytes and asks this module
//! only for what the transcript needs (statement text, statement and portal names, command tags,
//! error fields, transaction status). Every decoder returns `None` on a malformed payload rather
//! than trusting a length or a terminator it has not checked (protocol docs, "Message Formats").

use bytes::{BufMut, Bytes, BytesMut};

use super::frame::Frame;

/// Backend message tags guard acts on (protocol docs, "Message Formats").
pub mod backend {
    pub const AUTHENTICATION: u8 = b'R';
    pub const BACKEND_KEY_DATA: u8 = b'K';
    pub const BIND_COMPLETE: u8 = b'2';
    pub const CLOSE_COMPLETE: u8 = b'3';
    pub const COMMAND_COMPLETE: u8 = b'C';
    pub const COPY_DATA: u8 = b'd';
    pub const COPY_IN_RESPONSE: u8 = b'G';
    pub const COPY_OUT_RESPONSE: u8 = b'H';
    pub const COPY_BOTH_RESPONSE: u8 = b'W';
    pub const DATA_ROW: u8 = b'D';
    pub const EMPTY_QUERY: u8 = b'I';
    pub const ERROR_RESPONSE: u8 = b'E';
    pub const NEGOTIATE_PROTOCOL_VERSION: u8 = b'v';
    pub const NO_DATA: u8 = b'n';
    pub const NOTICE_RESPONSE: u8 = b'N';
    pub const NOTIFICATION_RESPONSE: u8 = b'A';
    pub const PARAMETER_STATUS: u8 = b'S';
    pub const PARSE_COMPLETE: u8 = b'1';
    pub const PORTAL_SUSPENDED: u8 = b's';
    pub const READY_FOR_QUERY: u8 = b'Z';
    pub const ROW_DESCRIPTION: u8 = b'T';
}

/// Frontend message tags guard acts on.
pub mod frontend {
    pub const BIND: u8 = b'B';
    pub const CLOSE: u8 = b'C';
    pub const COPY_DATA: u8 = b'd';
    pub const COPY_DONE: u8 = b'c';
    pub const COPY_FAIL: u8 = b'f';
    pub const DESCRIBE: u8 = b'D';
    pub const EXECUTE: u8 = b'E';
    pub const FLUSH: u8 = b'H';
    pub const FUNCTION_CALL: u8 = b'F';
    pub const PARSE: u8 = b'P';
    pub const PASSWORD: u8 = b'p';
    pub const QUERY: u8 = b'Q';
    pub const SYNC: u8 = b'S';
    pub const TERMINATE: u8 = b'X';
}

/// SQLSTATE codes guard uses in its own errors (PostgreSQL Appendix A).
pub mod sqlstate {
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const CANNOT_CONNECT: &str = "08001";
    pub const CONNECTION_FAILURE: &str = "08006";
    pub const CONNECTION_REJECTED: &str = "08004";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const INVALID_PASSWORD: &str = "28P01";
    pub const INVALID_AUTHORIZATION: &str = "28000";
    pub const INVALID_CATALOG_NAME: &str = "3D000";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    pub const IO_ERROR: &str = "58030";
}

/// A cursor over a payload that never reads past its end.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// A NUL-terminated string.
    pub fn cstr(&mut self) -> Option<&'a [u8]> {
        let end = self.bytes.iter().position(|&b| b == 0)?;
        let (s, rest) = self.bytes.split_at(end);
        self.bytes = &rest[1..];
        Some(s)
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    pub fn i32(&mut self) -> Option<i32> {
        self.take(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `Query`: the statement text (possibly several statements).
pub fn query_text(frame: &Frame) -> Option<String> {
    Reader::new(frame.body()).cstr().map(text)
}

/// `Parse`: (statement name, statement text).
pub fn parse(frame: &Frame) -> Option<(String, String)> {
    let mut r = Reader::new(frame.body());
    Some((text(r.cstr()?), text(r.cstr()?)))
}

/// `Bind`: (portal name, statement name).
pub fn bind(frame: &Frame) -> Option<(String, String)> {
    let mut r = Reader::new(frame.body());
    Some((text(r.cstr()?), text(r.cstr()?)))
}

/// `Execute`: the portal name.
pub fn execute(frame: &Frame) -> Option<String> {
    Reader::new(frame.body()).cstr().map(text)
}

/// `Close` and `Describe`: (`S` statement or `P` portal, name).
pub fn target_of(frame: &Frame) -> Option<(u8, String)> {
    let mut r = Reader::new(frame.body());
    let kind = r.u8()?;
    matches!(kind, b'S' | b'P').then_some(())?;
    Some((kind, text(r.cstr()?)))
}

/// `FunctionCall`: the function's OID.
pub fn function_oid(frame: &Frame) -> Option<u32> {
    Reader::new(frame.body()).i32().map(|v| v as u32)
}

/// `CommandComplete`: the tag, e.g. `SELECT 5`, `INSERT 0 1`, `COPY 3`.
pub fn command_tag(frame: &Frame) -> Option<String> {
    Reader::new(frame.body()).cstr().map(text)
}

/// The row count a command tag reports: its last word when that is a number (`SELECT 5`,
/// `INSERT 0 1`, `UPDATE 2`, `COPY 3`, `FETCH 10`, `MOVE 1`), else 0 (`CREATE TABLE`, `BEGIN`).
pub fn tag_rows(tag: &str) -> u64 {
    tag.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The fields of an `ErrorResponse` or `NoticeResponse` that guard records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorFields {
    pub severity: String,
    pub sqlstate: String,
    pub message: String,
}

/// `ErrorResponse`/`NoticeResponse`: fields are (code byte, string) pairs ending with a zero byte.
pub fn error_fields(frame: &Frame) -> Option<ErrorFields> {
    let mut r = Reader::new(frame.body());
    let mut fields = ErrorFields::default();
    loop {
        let code = r.u8()?;
        if code == 0 {
            return Some(fields);
        }
        let value = text(r.cstr()?);
        match code {
            // `V` is the untranslated severity (9.6+); `S` may be localized.
            b'V' => fields.severity = value,
            b'S' if fields.severity.is_empty() => fields.severity = value,
            b'C' => fields.sqlstate = value,
            b'M' => fields.message = value,
            _ => {}
        }
    }
}

/// `ReadyForQuery`: the transaction status, `I` idle, `T` in a transaction, `E` failed.
pub fn ready_status(frame: &Frame) -> Option<u8> {
    let status = Reader::new(frame.body()).u8()?;
    matches!(status, b'I' | b'T' | b'E').then_some(status)
}

/// A one-line description of a frame for diagnostics; never its contents, which may be secret.
pub fn describe(frame: &Frame) -> String {
    let tag = frame.tag();
    if tag.is_ascii_graphic() {
        format!("'{}' ({} bytes)", tag as char, frame.raw().len())
    } else {
        format!("0x{tag:02x} ({} bytes)", frame.raw().len())
    }
}

/// Builds a frame from a tag and a payload writer.
fn build(tag: u8, fill: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_u8(tag);
    buf.put_i32(0);
    fill(&mut buf);
    let len = (buf.len() - 1) as i32;
    buf[1..5].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

fn put_cstr(buf: &mut BytesMut, s: &str) {
    // A NUL inside would end the field early on the other side; guard's own texts never hold one.
    buf.put_slice(s.replace('\0', " ").as_bytes());
    buf.put_u8(0);
}

/// `ErrorResponse` with severity (`ERROR` or `FATAL`), SQLSTATE and message.
pub fn error_response(severity: &str, code: &str, message: &str) -> Bytes {
    error_with_hint(severity, code, message, None)
}

/// `error_response` with a hint (field `H`), which psql and libpq print as `HINT:`.
pub fn error_with_hint(severity: &str, code: &str, message: &str, hint: Option<&str>) -> Bytes {
    build(backend::ERROR_RESPONSE, |b| {
        for (field, value) in [(b'S', severity), (b'V', severity), (b'C', code)] {
            b.put_u8(field);
            put_cstr(b, value);
        }
        b.put_u8(b'M');
        put_cstr(b, message);
        if let Some(hint) = hint {
            b.put_u8(b'H');
            put_cstr(b, hint);
        }
        b.put_u8(0);
    })
}

/// `ReadyForQuery` with a transaction status.
pub fn ready_for_query(status: u8) -> Bytes {
    build(backend::READY_FOR_QUERY, |b| b.put_u8(status))
}

/// `Authentication*`: a request code and its data.
pub fn authentication(code: i32, data: &[u8]) -> Bytes {
    build(backend::AUTHENTICATION, |b| {
        b.put_i32(code);
        b.put_slice(data);
    })
}

/// `AuthenticationSASL` listing the mechanisms guard offers.
pub fn authentication_sasl(mechanisms: &[&str]) -> Bytes {
    build(backend::AUTHENTICATION, |b| {
        b.put_i32(10);
        for m in mechanisms {
            put_cstr(b, m);
        }
        b.put_u8(0);
    })
}

/// `BackendKeyData` for protocol 3.0: process id and a 4-byte secret key.
pub fn backend_key_data(pid: i32, key: i32) -> Bytes {
    build(backend::BACKEND_KEY_DATA, |b| {
        b.put_i32(pid);
        b.put_i32(key);
    })
}

/// `NegotiateProtocolVersion`: the newest minor version guard speaks and the `_pq_.` options it
/// does not recognise (protocol docs, "Protocol versions").
pub fn negotiate_protocol_version(minor: i32, unrecognized: &[String]) -> Bytes {
    build(backend::NEGOTIATE_PROTOCOL_VERSION, |b| {
        b.put_i32(minor);
        b.put_i32(unrecognized.len() as i32);
        for option in unrecognized {
            put_cstr(b, option);
        }
    })
}

/// `SASLInitialResponse` from a client: (mechanism, data).
pub fn sasl_initial_response(frame: &Frame) -> Option<(String, Vec<u8>)> {
    let mut r = Reader::new(frame.body());
    let mechanism = text(r.cstr()?);
    let len = r.i32()?;
    let data = if len < 0 {
        Vec::new()
    } else {
        r.take(len as usize)?.to_vec()
    };
    Some((mechanism, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(raw: Bytes) -> Frame {
        let mut buf = BytesMut::from(&raw[..]);
        super::super::frame::split_frame(&mut buf).unwrap().unwrap()
    }

    #[test]
    fn errors_round_trip() {
        let raw = error_response("FATAL", "28P01", "password authentication failed");
        let fields = error_fields(&frame(raw)).unwrap();
        assert_eq!(fields.severity, "FATAL");
        assert_eq!(fields.sqlstate, "28P01");
        assert_eq!(fields.message, "password authentication failed");
    }

    #[test]
    fn extended_protocol_names_are_read() {
        let parse_msg = Frame::new(b'P', b"s1\0select $1\0\0\0");
        assert_eq!(parse(&parse_msg), Some(("s1".into(), "select $1".into())));
        let bind_msg = Frame::new(b'B', b"p1\0s1\0\0\0\0\0\0\0");
        assert_eq!(bind(&bind_msg), Some(("p1".into(), "s1".into())));
        assert_eq!(
            execute(&Frame::new(b'E', b"\0\0\0\0\0")),
            Some(String::new())
        );
        assert_eq!(
            target_of(&Frame::new(b'C', b"Ss1\0")),
            Some((b'S', "s1".into()))
        );
        assert_eq!(target_of(&Frame::new(b'C', b"Xs1\0")), None);
    }

    #[test]
    fn malformed_payloads_decode_to_none() {
        assert_eq!(parse(&Frame::new(b'P', b"no terminator")), None);
        assert_eq!(error_fields(&Frame::new(b'E', b"Cxx")), None);
        assert_eq!(ready_status(&Frame::new(b'Z', b"")), None);
        assert_eq!(ready_status(&Frame::new(b'Z', b"Q")), None);
        assert_eq!(
            sasl_initial_response(&Frame::new(b'p', b"SCRAM-SHA-256\0\0\0\0\x09abc")),
            None
        );
    }

    #[test]
    fn command_tags_give_row_counts() {
        assert_eq!(tag_rows("SELECT 5"), 5);
        assert_eq!(tag_rows("INSERT 0 3"), 3);
        assert_eq!(tag_rows("COPY 10"), 10);
        assert_eq!(tag_rows("CREATE TABLE"), 0);
        assert_eq!(tag_rows(""), 0);
    }

    #[test]
    fn negotiate_protocol_version_lists_options() {
        let raw = negotiate_protocol_version(0, &["_pq_.x".into()]);
        assert_eq!(&raw[..], b"v\0\0\0\x13\0\0\0\0\0\0\0\x01_pq_.x\0");
    }
}
