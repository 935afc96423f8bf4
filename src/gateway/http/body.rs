//! Response bodies on their way to the agent: which kind each is (JSON, text, binary, none), JSON
//! masked whole and re-serialised, text masked chunk by chunk as it streams (chunked, SSE, long
//! polls), binary passed untouched; and the `result` record each request ends with.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::error::{ProxyError, chain};
use super::mask::{BodyMasker, Counts, KnownSecrets, StreamMasker};
use crate::record::transcript::Transcript;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every body guard sends to the agent.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A JSON document is parsed whole to be masked by key; past this size guard refuses it rather
/// than hold an unbounded body in memory or pass it unmasked.
pub const JSON_LIMIT: usize = 32 * 1024 * 1024;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No body by definition: HEAD, 204, 304 (RFC 9110 §6.4.1).
    Empty,
    Json,
    Text,
    Binary,
}

/// Decides how a response body is treated. Anything not known to be binary is masked as text:
/// a missing or unfamiliar content type must not be a way around the masker.
pub fn kind(method: &Method, status: StatusCode, headers: &HeaderMap) -> Kind {
    if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Kind::Empty;
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media == "application/json" || media.ends_with("+json") {
        Kind::Json
    } else if is_binary(&media) {
        Kind::Binary
    } else {
        Kind::Text
    }
}

fn is_binary(media: &str) -> bool {
    const TYPES: &[&str] = &[
        "application/octet-stream",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-bzip2",
        "application/x-xz",
        "application/zstd",
        "application/x-7z-compressed",
        "application/wasm",
        "application/protobuf",
        "application/x-protobuf",
        "application/grpc",
    ];
    let family = ["image/", "audio/", "video/", "font/"];
    (family.iter().any(|f| media.starts_with(f)) && media != "image/svg+xml")
        || TYPES.contains(&media)
        || media.starts_with("application/grpc+")
}

/// guard asks for `identity`; a body that comes encoded anyway cannot be masked, so unless it is
/// binary (passed untouched regardless) it is refused.
pub fn check_encoding(kind: Kind, headers: &HeaderMap) -> Result<(), ProxyError> {
    let Some(encoding) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(());
    };
    let text = encoding.to_str().unwrap_or("unknown").trim();
    if kind == Kind::Binary || kind == Kind::Empty || text.eq_ignore_ascii_case("identity") {
        return Ok(());
    }
    Err(ProxyError::Encoded(text.to_string()))
}

/// Reads a whole JSON body (bounded), masks it and serialises it again. A body that is not JSON
/// after all is masked as text.
pub async fn masked_json(
    incoming: Incoming,
    masker: &dyn BodyMasker,
    secrets: &KnownSecrets,
) -> Result<(Bytes, Counts), ProxyError> {
    let collected = Limited::new(incoming, JSON_LIMIT)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ProxyError::TooLarge((JSON_LIMIT / (1024 * 1024)) as u64)
            } else {
                ProxyError::Body(chain(e.as_ref()))
            }
        })?;
    let bytes = collected.to_bytes();
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut value) => {
            let mut counts = masker.mask_json(&mut value);
            counts.add(&secrets.scrub_json(&mut value));
            // Every change is counted: with nothing masked, the body goes out as it came.
            if counts.count == 0 {
                return Ok((bytes, counts));
            }
            let out = serde_json::to_vec(&value).map_err(|e| ProxyError::Body(e.to_string()))?;
            Ok((Bytes::from(out), counts))
        }
        Err(_) => {
            let mut stream = secrets.wrap(masker.text_stream());
            let (mut out, mut counts) = stream.push(&bytes);
            let (tail, more) = stream.finish();
            out.extend(tail);
            counts.add(&more);
            Ok((Bytes::from(out), counts))
        }
    }
}

/// The `result` record of one request, written once: when its body ends, fails, or is dropped
/// because the agent went away. (`http` records are written before forwarding, so what is only
/// known afterwards goes in this second record with the same `id`.)
pub struct Outcome {
    transcript: Transcript,
    id: String,
    started: Instant,
    pub status: u16,
    pub masked: Counts,
    done: bool,
}

impl Outcome {
    pub fn new(transcript: Transcript, id: String, started: Instant) -> Self {
        Outcome {
            transcript,
            id,
            started,
            status: 0,
            masked: Counts::default(),
            done: false,
        }
    }

    pub fn finish(&mut self, error: Option<String>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let record = json!({
            "id": self.id,
            "status": self.status,
            "masked": self.masked.to_json(),
            "duration_ms": self.started.elapsed().as_millis() as u64,
            "error": error,
        });
        // The request was answered already; a failed write poisons the transcript, and the next
        // request is refused with 503 when its own record cannot be written.
        let _ = self.transcript.append("result", record);
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        self.finish(Some("the client went away before the body ended".into()));
    }
}

/// A streamed body: each chunk goes through the masker (none for binary) as it arrives, and the
/// `result` record is written when the stream ends.
pub struct Tracked {
    inner: Incoming,
    masker: Option<Box<dyn StreamMasker>>,
    trailers: Option<HeaderMap>,
    ended: bool,
    outcome: Outcome,
}

impl Tracked {
    pub fn new(inner: Incoming, masker: Option<Box<dyn StreamMasker>>, outcome: Outcome) -> Self {
        Tracked {
            inner,
            masker,
            trailers: None,
            ended: false,
            outcome,
        }
    }

    fn push(&mut self, data: Bytes) -> Bytes {
        let Some(masker) = self.masker.as_mut() else {
            return data;
        };
        let (out, counts) = masker.push(&data);
        self.outcome.masked.add(&counts);
        Bytes::from(out)
    }

    /// The end of the upstream body: flush what the masker held, record, then the trailers.
    fn end(&mut self) -> Option<Result<Frame<Bytes>, BoxError>> {
        self.ended = true;
        let tail = match self.masker.as_mut() {
            Some(masker) => {
                let (out, counts) = masker.finish();
                self.outcome.masked.add(&counts);
                out
            }
            None => Vec::new(),
        };
        self.outcome.finish(None);
        if !tail.is_empty() {
            return Some(Ok(Frame::data(Bytes::from(tail))));
        }
        self.trailers.take().map(|t| Ok(Frame::trailers(t)))
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
        }
        loop {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        let out = this.push(data);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(frame) => {
                        this.trailers = frame.into_trailers().ok();
                        return Poll::Ready(this.end());
                    }
                },
                Some(Err(e)) => {
                    this.ended = true;
                    this.outcome
                        .finish(Some(format!("the upstream body failed: {}", chain(&e))));
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
                None => return Poll::Ready(this.end()),
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.masker {
            None => self.inner.size_hint(),
            Some(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn with_type(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    #[test]
    fn kinds_follow_the_content_type() {
        let get = Method::GET;
        let ok = StatusCode::OK;
        let k = |ct: &str| kind(&get, ok, &with_type(ct));
        assert_eq!(k("application/json; charset=utf-8"), Kind::Json);
        assert_eq!(k("application/vnd.api+json"), Kind::Json);
        assert_eq!(k("text/event-stream"), Kind::Text);
        assert_eq!(k("application/x-ndjson"), Kind::Text);
        assert_eq!(k("image/png"), Kind::Binary);
        assert_eq!(k("image/svg+xml"), Kind::Text);
        assert_eq!(k("application/octet-stream"), Kind::Binary);
        assert_eq!(kind(&get, ok, &HeaderMap::new()), Kind::Text);
        assert_eq!(
            kind(&Method::HEAD, ok, &with_type("application/json")),
            Kind::Empty
        );
        assert_eq!(
            kind(&get, StatusCode::NO_CONTENT, &HeaderMap::new()),
            Kind::Empty
        );
    }

    #[test]
    fn encoded_text_is_refused_and_encoded_binary_passes() {
        let mut h = with_type("application/json");
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(
            matches!(check_encoding(Kind::Json, &h), Err(ProxyError::Encoded(e)) if e == "gzip")
        );
        assert!(check_encoding(Kind::Binary, &h).is_ok());
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(check_encoding(Kind::Text, &h).is_ok());
    }
}
