//! The recording off the relay's path: a thread owns the `CastWriter`, so masking, encoding
//! and hashing what the terminal shows overlap with relaying it instead of delaying it. Each
//! event carries the time the relay saw it, so the recording's timing is the terminal's.

use std::io;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cast::CastWriter;

/// How long the terminal stays quiet before the recording writes what its masker holds back.
const CAST_IDLE: Duration = Duration::from_millis(30);

/// Events the relay may get ahead of the recording by (at most 64 KiB each); past that it
/// waits, so memory stays bounded when the disk is slow.
const BACKLOG: usize = 64;

enum Event {
    Output(Instant, Vec<u8>),
    Input(Instant, Vec<u8>),
    Resize(Instant, u16, u16),
    Marker(Instant, String),
}

pub struct Recorder {
    tx: SyncSender<Event>,
    thread: JoinHandle<io::Result<String>>,
}

impl Recorder {
    pub fn start(writer: CastWriter) -> io::Result<Recorder> {
        let (tx, rx) = mpsc::sync_channel(BACKLOG);
        let thread = std::thread::Builder::new()
            .name("guard-recorder".into())
            .spawn(move || record(writer, rx))?;
        Ok(Recorder { tx, thread })
    }

    // A send fails only once the thread has stopped on a write error, which `finish` reports.
    pub fn output(&self, bytes: &[u8]) {
        let _ = self.tx.send(Event::Output(Instant::now(), bytes.to_vec()));
    }

    pub fn input(&self, bytes: &[u8]) {
        let _ = self.tx.send(Event::Input(Instant::now(), bytes.to_vec()));
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        let _ = self.tx.send(Event::Resize(Instant::now(), cols, rows));
    }

    pub fn marker(&self, label: &str) {
        let _ = self
            .tx
            .send(Event::Marker(Instant::now(), label.to_string()));
    }

    /// Writes what is still queued and held, and returns the digest of the whole file; or why
    /// the recording stopped (e.g. the disk is full).
    pub fn finish(self) -> io::Result<String> {
        drop(self.tx);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the recording thread panicked")))
    }
}

fn record(mut writer: CastWriter, rx: Receiver<Event>) -> io::Result<String> {
    loop {
        let event = if writer.holding() {
            match rx.recv_timeout(CAST_IDLE) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => {
                    writer.idle()?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(event) => event,
                Err(_) => break,
            }
        };
        match event {
            Event::Output(at, bytes) => writer.output(at, &bytes)?,
            Event::Input(at, bytes) => writer.input(at, &bytes)?,
            Event::Resize(at, cols, rows) => writer.resize(at, cols, rows)?,
            Event::Marker(at, label) => writer.marker(at, &label)?,
        }
    }
    writer.finish()
}
