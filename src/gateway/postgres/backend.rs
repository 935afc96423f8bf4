//! Upstream to client: every message the server sends passes through `on_frame`, one at a time,
//! and is matched against the queue of expected responses (see `statement`). That is where
//! results are recorded, and where messages that may carry values (RowDescription, DataRow,
//! CopyData, ErrorResponse, NoticeResponse, NotificationResponse) are rebuilt masked (see
//! `mask`) before they reach the client, with what was masked counted on the statement they
//! answer. BackendKeyData is dropped: it would reveal the upstream's cancel key.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::frame::{self, Frame};
use super::mask::{self, Catalog, Plan};
use super::message::{self, ErrorFields, backend as tag};
use super::statement::{Answer, Ctx, Expect, Queue, Statement};
use super::upstream::{BoxRead, BoxWrite};
use crate::mask::{MaskCounts, Masker};

const READ_CHUNK: usize = 64 * 1024;

/// How the server side ended.
#[derive(Debug)]
pub enum BackEnd {
    /// The server closed the connection; `fatal` if it said why with a FATAL error first.
    Closed { fatal: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum BackError {
    #[error("reading from the server failed: {0}")]
    Upstream(std::io::Error),
    #[error("the server sent an invalid message: {0}")]
    Protocol(frame::FrameError),
    #[error("writing to the client failed: {0}")]
    Client(std::io::Error),
    /// Fail closed: what guard cannot read, it cannot mask, so it is not passed on.
    #[error("the server sent a malformed message (type '{}'), which guard did not pass on", char::from(*.0))]
    Malformed(u8),
}

pub struct Backend {
    ctx: Arc<Ctx>,
    incoming: Queue,
    /// Taken from `incoming`, reused to keep its capacity.
    arrived: VecDeque<Expect>,
    queue: VecDeque<Expect>,
    /// Statements answered since the client was last written to, to record after that write.
    done: Vec<Statement>,
    /// Transaction status of the last ReadyForQuery, for the ones guard writes itself.
    status: u8,
    /// The server is skipping extended-protocol messages until Sync after this error.
    skipping: Option<ErrorFields>,
    /// COPY IN is under way: the server ignores Sync and Flush until CopyDone or CopyFail.
    copy_in: bool,
    /// The last message forwarded was a FATAL error.
    fatal: bool,
    masker: Masker,
    /// Real names of the table columns behind aliases and expressions.
    catalog: Catalog,
    /// How the DataRows of the current result are masked, from its RowDescription.
    plan: Plan,
    /// COPY TO STDOUT in text or CSV format is under way: its CopyData is row text.
    copy_out_text: bool,
}

impl Backend {
    pub fn new(ctx: Arc<Ctx>, incoming: Queue, status: u8, masking: (Masker, Catalog)) -> Self {
        let (masker, catalog) = masking;
        Backend {
            ctx,
            incoming,
            arrived: VecDeque::new(),
            queue: VecDeque::new(),
            done: Vec::new(),
            status,
            skipping: None,
            copy_in: false,
            fatal: false,
            masker,
            catalog,
            plan: Plan::default(),
            copy_out_text: false,
        }
    }

    /// Relays until the server closes or a side breaks.
    pub async fn run(
        &mut self,
        upstream: &mut BoxRead,
        buf: &mut BytesMut,
        client: &mut BoxWrite,
    ) -> Result<BackEnd, BackError> {
        let mut out = BytesMut::with_capacity(READ_CHUNK);
        // One wait for guard's own answers, kept across turns: a new one each turn would join
        // and leave the notifier's list once per message.
        let incoming = self.incoming.clone();
        let mut answered = std::pin::pin!(incoming.answered());
        loop {
            // Expectations are queued before their messages go upstream, so everything these
            // responses answer is queued by now.
            self.drain();
            while let Some(frame) = frame::split_frame(buf).map_err(BackError::Protocol)? {
                if frame.tag() == tag::ROW_DESCRIPTION {
                    self.catalog.resolve(&mask::sources(&frame)).await;
                }
                self.on_frame(frame, &mut out)?;
            }
            self.answer(&mut out);
            if !out.is_empty() {
                client.write_all(&out).await.map_err(BackError::Client)?;
                out.clear();
            }
            self.record_done();
            buf.reserve(READ_CHUNK);
            tokio::select! {
                read = upstream.read_buf(buf) => match read {
                    Ok(0) => return Ok(BackEnd::Closed { fatal: self.fatal }),
                    Ok(_) => {}
                    Err(e) => return Err(BackError::Upstream(e)),
                },
                () = &mut answered => answered.set(incoming.answered()),
            }
        }
    }

    /// Takes what the frontend queued since the last look.
    fn drain(&mut self) {
        self.incoming.take(&mut self.arrived);
        while let Some(expect) = self.arrived.pop_front() {
            self.ingest(expect);
        }
    }

    fn record_done(&mut self) {
        for statement in self.done.drain(..) {
            self.ctx.record_result(statement);
        }
    }

    /// Queues an expectation, applying what the server is known to skip right now.
    fn ingest(&mut self, expect: Expect) {
        if self.copy_in {
            match expect {
                Expect::CopyEnd => self.copy_in = false,
                Expect::Sync => {}
                other => self.queue.push_back(other),
            }
            return;
        }
        let Some(error) = self.skipping.clone() else {
            // CopyEnd only matters while COPY IN is under way.
            if !matches!(expect, Expect::CopyEnd) {
                self.queue.push_back(expect);
            }
            return;
        };
        match expect {
            Expect::Execute(s) | Expect::Query(s) => self.finish(s, Some(error)),
            Expect::Sync | Expect::Answer(_) => self.queue.push_back(expect),
            _ => {}
        }
    }

    /// One server message: note what it completes, then forward it, masked.
    fn on_frame(&mut self, frame: Frame, out: &mut BytesMut) -> Result<(), BackError> {
        self.fatal = false;
        if matches!(self.queue.front(), Some(&Expect::Quiet(t)) if t == frame.tag()) {
            self.queue.pop_front();
            return Ok(());
        }
        let mut counts = MaskCounts::default();
        let masked = self
            .mask(&frame, &mut counts)
            .map_err(|_| BackError::Malformed(frame.tag()))?;
        if !counts.is_empty()
            && let Some(Expect::Execute(s) | Expect::Query(s)) = self.queue.front_mut()
        {
            s.masked.merge(&counts);
        }
        // The record of an error holds its masked message.
        let frame = match (&masked, frame.tag()) {
            (Some(bytes), tag::ERROR_RESPONSE) => {
                frame::split_frame(&mut BytesMut::from(&bytes[..]))
                    .ok()
                    .flatten()
                    .unwrap_or(frame)
            }
            _ => frame,
        };
        match frame.tag() {
            tag::PARSE_COMPLETE => self.pop_if(|e| matches!(e, Expect::ParseComplete)),
            tag::BIND_COMPLETE => self.pop_if(|e| matches!(e, Expect::BindComplete)),
            tag::CLOSE_COMPLETE => self.pop_if(|e| matches!(e, Expect::CloseComplete)),
            tag::ROW_DESCRIPTION | tag::NO_DATA => {
                self.pop_if(|e| matches!(e, Expect::DescribeStatement | Expect::DescribePortal))
            }
            tag::DATA_ROW => self.on_data_row(),
            tag::COMMAND_COMPLETE => self.on_command_complete(&frame),
            tag::EMPTY_QUERY | tag::PORTAL_SUSPENDED => self.on_execute_end(&frame),
            tag::ERROR_RESPONSE => self.on_error(&frame),
            tag::READY_FOR_QUERY => self.on_ready(&frame),
            tag::COPY_IN_RESPONSE | tag::COPY_BOTH_RESPONSE => self.on_copy_in(),
            // The upstream's cancel key stays with guard; the client has guard's own.
            tag::BACKEND_KEY_DATA => return Ok(()),
            _ => {}
        }
        out.extend_from_slice(masked.as_ref().unwrap_or(frame.raw()));
        self.answer(out);
        Ok(())
    }

    /// The message rebuilt with its values masked, or `None` to forward it as it came.
    fn mask(
        &mut self,
        frame: &Frame,
        counts: &mut MaskCounts,
    ) -> Result<Option<bytes::Bytes>, mask::Malformed> {
        let masker = &self.masker;
        let rebuilt = match frame.tag() {
            tag::ROW_DESCRIPTION => {
                let catalog = &self.catalog;
                let (plan, rebuilt) = mask::describe(masker, frame, |t, a| catalog.name(t, a))?;
                self.plan = plan;
                rebuilt
            }
            tag::DATA_ROW => mask::data_row(masker, &self.plan, frame, counts)?,
            tag::ERROR_RESPONSE | tag::NOTICE_RESPONSE => mask::error(masker, frame, counts)?,
            tag::NOTIFICATION_RESPONSE => mask::notification(masker, frame, counts)?,
            // CopyOutResponse: Int8 overall format, 0 is text (CSV is text too).
            tag::COPY_OUT_RESPONSE => {
                self.copy_out_text = frame.body().first() == Some(&0);
                None
            }
            tag::COPY_DATA if self.copy_out_text => mask::copy_data(masker, frame, counts),
            _ => None,
        };
        Ok(rebuilt)
    }

    /// Writes the replies guard queued, once everything before them has been answered.
    fn answer(&mut self, out: &mut BytesMut) {
        while let Some(Expect::Answer(_)) = self.queue.front() {
            let Some(Expect::Answer(answer)) = self.queue.pop_front() else {
                break;
            };
            match answer {
                Answer::Error(bytes) => {
                    // An error inside a transaction block aborts it, as the server's would.
                    if self.status == b'T' {
                        self.status = b'E';
                    }
                    out.extend_from_slice(&bytes);
                }
                Answer::Ready => out.extend_from_slice(&message::ready_for_query(self.status)),
            }
        }
    }

    fn pop_if(&mut self, expected: impl Fn(&Expect) -> bool) {
        if self.queue.front().is_some_and(expected) {
            self.queue.pop_front();
        }
    }

    fn on_data_row(&mut self) {
        match self.queue.front_mut() {
            Some(Expect::Execute(s)) | Some(Expect::Query(s)) => s.data_rows += 1,
            _ => {}
        }
    }

    fn on_command_complete(&mut self, frame: &Frame) {
        let rows = message::command_tag(frame)
            .map(|t| message::tag_rows(&t))
            .unwrap_or(0);
        match self.queue.front_mut() {
            Some(Expect::Query(s)) => s.rows += rows,
            Some(Expect::Execute(s)) => {
                s.rows += rows;
                self.complete_front(None);
            }
            _ => {}
        }
    }

    /// EmptyQueryResponse or PortalSuspended: an Execute ends without a command tag.
    fn on_execute_end(&mut self, frame: &Frame) {
        if let Some(Expect::Execute(s)) = self.queue.front_mut() {
            if frame.tag() == tag::PORTAL_SUSPENDED {
                s.rows = s.data_rows;
            }
            self.complete_front(None);
        }
    }

    /// Pops the front expectation and records it if it is a statement.
    fn complete_front(&mut self, error: Option<ErrorFields>) {
        match self.queue.pop_front() {
            Some(Expect::Execute(s)) | Some(Expect::Query(s)) => self.finish(s, error),
            _ => {}
        }
    }

    fn finish(&mut self, mut statement: Statement, error: Option<ErrorFields>) {
        if statement.error.is_none() {
            statement.error = error;
        }
        self.done.push(statement);
    }

    /// An error ends a simple Query's current statement (the Query goes on to ReadyForQuery);
    /// in the extended protocol it fails the message at the front and makes the server skip
    /// everything up to the next Sync.
    fn on_error(&mut self, frame: &Frame) {
        let fields = message::error_fields(frame).unwrap_or_default();
        self.fatal = matches!(fields.severity.as_str(), "FATAL" | "PANIC");
        match self.queue.front_mut() {
            Some(Expect::Query(s)) => {
                s.error.get_or_insert(fields);
            }
            Some(e) if e.is_extended() => {
                self.complete_front(Some(fields.clone()));
                self.skip_until_sync(fields);
            }
            _ => {}
        }
    }

    /// The server ignores every message but Sync now (postgres.c, `ignore_till_sync`).
    fn skip_until_sync(&mut self, error: ErrorFields) {
        let skipped = |e: &Expect| e.is_extended() || matches!(e, Expect::Query(_));
        while self.queue.front().is_some_and(skipped) {
            if let Some(Expect::Execute(s) | Expect::Query(s)) = self.queue.pop_front() {
                self.finish(s, Some(error.clone()));
            }
        }
        // With no Sync queued yet, what arrives later is skipped too (see `ingest`).
        if !matches!(self.queue.front(), Some(Expect::Sync)) {
            self.skipping = Some(error);
        }
    }

    fn on_ready(&mut self, frame: &Frame) {
        self.status = message::ready_status(frame).unwrap_or(b'I');
        self.skipping = None;
        self.copy_in = false;
        // The front should be the Query or Sync this answers; anything before it was missed.
        while let Some(expect) = self.queue.pop_front() {
            match expect {
                Expect::Query(s) => return self.finish(s, None),
                Expect::Sync => return,
                Expect::Execute(s) => self.finish(s, None),
                Expect::Answer(answer) => {
                    self.queue.push_front(Expect::Answer(answer));
                    return;
                }
                _ => {}
            }
        }
    }

    /// COPY FROM STDIN started: the server now ignores Sync until the copy ends (protocol docs,
    /// "COPY Operations"), and libpq sends a Sync right after the Execute and another after
    /// CopyDone; the first must not be waited for.
    fn on_copy_in(&mut self) {
        self.drain();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        let mut ended = false;
        for (i, expect) in std::mem::take(&mut self.queue).into_iter().enumerate() {
            match expect {
                Expect::Sync if i > 0 && !ended => {}
                Expect::CopyEnd if !ended => ended = true,
                Expect::CopyEnd => {}
                other => kept.push_back(other),
            }
        }
        self.queue = kept;
        self.copy_in = !ended;
    }

    /// Records every statement still waiting, with `error`: the connection is ending.
    pub fn abandon(&mut self, error: &ErrorFields) {
        self.drain();
        while let Some(expect) = self.queue.pop_front() {
            if let Expect::Execute(s) | Expect::Query(s) = expect {
                self.finish(s, Some(error.clone()));
            }
        }
        self.record_done();
    }

    /// Statements sent upstream and not yet answered.
    pub fn in_flight(&mut self) -> bool {
        self.drain();
        self.queue
            .iter()
            .any(|e| matches!(e, Expect::Execute(_) | Expect::Query(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{Credential, CredentialHandle, Source};
    use crate::gateway::postgres::commit::Commit;
    use crate::gateway::postgres::statement::QueryRecord;
    use crate::gateway::postgres::upstream::UpstreamConfig;
    use crate::mask::MaskConfig;
    use crate::record::transcript::Transcript;
    use tokio::io::AsyncReadExt;

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// A text column named `note` of no table, as the server describes `select ... as note`.
    fn row_description() -> Vec<u8> {
        let mut body = 1i16.to_be_bytes().to_vec();
        body.extend_from_slice(b"note\0");
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(&25u32.to_be_bytes());
        body.extend_from_slice(&(-1i16).to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
        message(b'T', &body)
    }

    /// Runs the server's bytes through a backend answering one simple Query; returns what the
    /// client got and how the backend ended.
    async fn answer(server: Vec<u8>) -> (Vec<u8>, Result<BackEnd, BackError>) {
        let dir = tempfile::tempdir().unwrap();
        let transcript = Transcript::create(&dir.path().join("transcript.jsonl")).unwrap();
        let ctx = Arc::new(Ctx::for_tests(
            &transcript,
            Commit::immediate(transcript.clone()),
        ));
        let query = QueryRecord {
            sql: Some("select note"),
            class: "read",
            decision: "allow",
            rule: "default: read allow",
            extra: None,
        };
        let queue = Queue::default();
        queue.push(Expect::Query(ctx.record_query(1, &query).await.unwrap()));
        let config = UpstreamConfig {
            address: "127.0.0.1:9".into(),
            host: "127.0.0.1".into(),
            credential: CredentialHandle::new(
                "shop",
                Source::Static,
                Credential::new("u", "p".into()),
            ),
            database: "shop".into(),
            tls: crate::config::TlsMode::Disable,
            tls_config: None,
        };
        let masker = Masker::new(&MaskConfig::default()).unwrap();
        let mut back = Backend::new(ctx, queue, b'I', (masker, Catalog::new(config)));
        let (client_end, mut client) = tokio::io::duplex(1 << 16);
        let mut upstream: BoxRead = Box::new(std::io::Cursor::new(server));
        let mut to_client: BoxWrite = Box::new(client_end);
        let ended = back
            .run(&mut upstream, &mut BytesMut::new(), &mut to_client)
            .await;
        drop(to_client);
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        (got, ended)
    }

    /// Fail closed: a row guard cannot read is a row it cannot mask, so the connection ends
    /// before it, rather than pass its value on.
    #[tokio::test(flavor = "current_thread")]
    async fn a_malformed_row_ends_the_connection_and_never_reaches_the_client() {
        let cell = b"bob@example.com";
        let mut row = 1i16.to_be_bytes().to_vec();
        row.extend_from_slice(&(cell.len() as i32).to_be_bytes());
        row.extend_from_slice(cell);
        let well_formed = [row_description(), message(b'D', &row)].concat();
        let (got, ended) = answer(well_formed).await;
        assert!(matches!(ended, Ok(BackEnd::Closed { .. })), "{ended:?}");
        assert!(
            got.windows(5).any(|w| w == b"b***@"),
            "the row was not masked"
        );

        // The same row with a byte after its last cell.
        row.push(b'!');
        let (got, ended) = answer([row_description(), message(b'D', &row)].concat()).await;
        assert!(
            matches!(ended, Err(BackError::Malformed(b'D'))),
            "{ended:?}"
        );
        assert!(!got.windows(3).any(|w| w == b"bob"), "{got:?}");
    }
}
