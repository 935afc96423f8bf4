//! In-memory connections for the wire-protocol targets: a peer that sends given bytes in
//! chunks of a given size and then closes, and a sink that keeps what guard wrote.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::gateway::postgres::frame;

/// Sends `data` at most `chunk` bytes a read (so guard sees messages split anywhere), then
/// end-of-file. Never pending.
pub struct Peer {
    data: Vec<u8>,
    at: usize,
    chunk: usize,
}

impl Peer {
    pub fn new(data: &[u8], chunk: usize) -> Self {
        Peer {
            data: data.to_vec(),
            at: 0,
            chunk: chunk.max(1),
        }
    }
}

impl AsyncRead for Peer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = (self.data.len() - self.at)
            .min(self.chunk)
            .min(buf.remaining());
        let at = self.at;
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

/// Keeps every byte written to it; clones share the bytes.
#[derive(Clone, Default)]
pub struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

impl AsyncWrite for Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A peer on both sides: reads from a `Peer`, writes into a `Sink`.
pub struct Duplex {
    pub peer: Peer,
    pub sink: Sink,
}

impl AsyncRead for Duplex {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.peer).poll_read(cx, buf)
    }
}

impl AsyncWrite for Duplex {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.sink).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sink).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sink).poll_shutdown(cx)
    }
}

/// Cuts `bytes` into tagged frames; panics if anything is left over or malformed, because
/// everything guard writes after startup must be whole messages.
pub fn whole_frames(bytes: &[u8]) -> Vec<frame::Frame> {
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    loop {
        match frame::split_frame(&mut buf) {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => break,
            Err(e) => panic!("guard wrote a malformed message: {e}"),
        }
    }
    assert!(
        buf.is_empty(),
        "guard wrote {} bytes of a partial message",
        buf.len()
    );
    frames
}
