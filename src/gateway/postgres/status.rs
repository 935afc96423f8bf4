//! The transaction status the client was last told: a tap on guard's writes to the client that
//! reads the status byte of every ReadyForQuery (protocol docs, "ReadyForQuery": `I` idle, `T`
//! in a transaction block, `E` in a failed one). The frontend needs it to refuse a statement
//! inside a transaction as the server would fail one.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use super::upstream::BoxWrite;

/// Wraps the client's write half; every byte written is whole messages after startup.
pub struct StatusTap {
    inner: BoxWrite,
    status: Arc<AtomicU8>,
    header: [u8; 5],
    filled: usize,
    /// Body bytes of the current message still to pass.
    remaining: usize,
    /// The next body byte is a ReadyForQuery's status.
    ready: bool,
}

impl StatusTap {
    pub fn new(inner: BoxWrite, status: Arc<AtomicU8>) -> Self {
        StatusTap {
            inner,
            status,
            header: [0; 5],
            filled: 0,
            remaining: 0,
            ready: false,
        }
    }

    /// Walks the messages by their length words (type byte, then Int32 length including itself).
    fn scan(&mut self, mut bytes: &[u8]) {
        while let Some(&first) = bytes.first() {
            if self.remaining > 0 {
                if self.ready {
                    self.status.store(first, Ordering::Relaxed);
                    self.ready = false;
                }
                let n = self.remaining.min(bytes.len());
                self.remaining -= n;
                bytes = &bytes[n..];
                continue;
            }
            self.header[self.filled] = first;
            self.filled += 1;
            bytes = &bytes[1..];
            if self.filled == self.header.len() {
                let len = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]);
                self.remaining = (len as usize).saturating_sub(4);
                self.ready = self.header[0] == b'Z' && self.remaining > 0;
                self.filled = 0;
            }
        }
    }
}

impl AsyncWrite for StatusTap {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.scan(&buf[..n.min(buf.len())]);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_of_ready_for_query_is_seen_across_split_writes() {
        let cell = Arc::new(AtomicU8::new(b'I'));
        let mut tap = StatusTap::new(Box::new(tokio::io::sink()), cell.clone());
        let mut bytes = b"C\0\0\0\x0aBEGIN\0".to_vec();
        bytes.extend_from_slice(b"Z\0\0\0\x05T");
        for chunk in bytes.chunks(3) {
            tap.scan(chunk);
        }
        assert_eq!(cell.load(Ordering::Relaxed), b'T');
        tap.scan(b"D\0\0\0\x06\0\0Z\0\0\0\x05E");
        assert_eq!(cell.load(Ordering::Relaxed), b'E');
    }
}
