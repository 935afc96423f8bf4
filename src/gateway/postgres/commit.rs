//! Group commit of `query` records: every connection served by the event loop in one turn has its
//! record written by one `write(2)`, and each statement still goes upstream only once its own
//! record is in the file (SPEC: a query record is written before the request).
//!
//! A connection chains its record, wakes the committer task and waits. The committer is queued
//! behind the connections the same turn already woke, so by the time it runs they have chained
//! theirs; it writes everything waiting at once and wakes them all. With one client this costs
//! two task polls and no system call; with many it saves one write per statement, which is what
//! separated guard from a plain proxy once the CPU is busy.

use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};

use crate::record::transcript::Transcript;

/// How a connection's records reach the file before its statements go upstream.
#[derive(Clone)]
pub struct Commit {
    transcript: Transcript,
    group: Option<Arc<Group>>,
}

struct Group {
    /// Something is chained and waiting to be written.
    kick: Notify,
    /// Counts the committer's writes; waiters look again at each.
    done: watch::Sender<u64>,
}

impl Commit {
    /// Each record is written as soon as it is chained: for the frontend's tests and the fuzz
    /// target, which drive a connection without the gateway's event loop.
    #[allow(dead_code)]
    pub fn immediate(transcript: Transcript) -> Self {
        Commit {
            transcript,
            group: None,
        }
    }

    /// Records are written by a committer task on `io`, the event loop the connections run on.
    pub fn grouped(transcript: Transcript, io: &Handle) -> Self {
        let group = Arc::new(Group {
            kick: Notify::new(),
            done: watch::channel(0).0,
        });
        let (writer, task) = (transcript.clone(), group.clone());
        io.spawn(async move {
            loop {
                task.kick.notified().await;
                // A failure poisons the transcript; the waiters find that out for themselves.
                let _ = writer.flush();
                task.done.send_modify(|n| *n = n.wrapping_add(1));
            }
        });
        Commit {
            transcript,
            group: Some(group),
        }
    }

    /// Returns once record `seq` is in the file; an error means it is not and never will be
    /// (the transcript is poisoned), and the statement must not go.
    pub async fn wait(&self, seq: u64) -> std::io::Result<()> {
        let Some(group) = &self.group else {
            return self.transcript.write_through(seq);
        };
        // Subscribed before looking, so a write made after the look is never missed.
        let mut done = group.done.subscribe();
        while !self.transcript.is_written(seq)? {
            group.kick.notify_one();
            if done.changed().await.is_err() {
                // The committer is gone (the loop is shutting down): write it ourselves.
                return self.transcript.write_through(seq);
            }
        }
        Ok(())
    }
}
