//! Statements as the transcript sees them, and the queue that ties each message guard forwards to
//! the responses it will get, so results can be matched to the statement that produced them.
//!
//! The frontend pushes one `Expect` per forwarded message that the server answers, in the order
//! the messages go upstream; the backend pops them as responses arrive. Because the server answers
//! in order (protocol docs, "Extended Query": responses come in the order of the messages, and
//! after an error everything up to Sync is skipped), a FIFO is enough. `Answer` entries are replies
//! guard makes itself instead of forwarding; they go to the client when everything queued before
//! them has been answered, so a held or refused message never overtakes earlier results.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::commit::Commit;
use super::message::ErrorFields;
use crate::record::transcript::Transcript;

/// The queue from the frontend to the backend of one connection. Both run in the same task, so
/// pushing wakes nobody, except for guard's own answers: those may have nothing from the server
/// to ride along with, and must be sent as soon as their turn comes.
#[derive(Clone, Default)]
pub struct Queue {
    inner: Arc<(Mutex<VecDeque<Expect>>, Notify)>,
}

impl Queue {
    pub fn push(&self, expect: Expect) {
        let answer = matches!(expect, Expect::Answer(_));
        self.lock().push_back(expect);
        if answer {
            self.inner.1.notify_one();
        }
    }

    /// Moves everything queued into `into` (whose capacity is reused).
    pub fn take(&self, into: &mut VecDeque<Expect>) {
        std::mem::swap(&mut *self.lock(), into);
    }

    /// Resolves when an answer has been pushed since the last time.
    pub async fn answered(&self) {
        self.inner.1.notified().await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Expect>> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What every record of one client connection shares.
pub struct Ctx {
    pub target: Arc<str>,
    pub conn: u64,
    pub transcript: Transcript,
    /// Session-wide statement ids, shared by every connection and target.
    pub ids: Arc<AtomicU64>,
    /// How query records reach the file (a group commit, see `commit`).
    pub commit: Commit,
}

/// The fields of a `query` record beyond its id, target and connection.
pub struct QueryRecord<'a> {
    /// The statement as masked for the transcript; `None` for a fast-path FunctionCall.
    pub sql: Option<&'a str>,
    pub class: &'a str,
    /// `allow`, `deny`, `approved`, `rejected` or `timeout`.
    pub decision: &'a str,
    pub rule: &'a str,
    pub extra: Option<(&'a str, Value)>,
}

/// A statement that was recorded and sent upstream, waiting for its outcome.
#[derive(Debug)]
pub struct Statement {
    pub id: u64,
    pub started: Instant,
    /// Rows from CommandComplete tags (summed over a multi-statement Query).
    pub rows: u64,
    /// DataRows seen, for an Execute that ends in PortalSuspended (which has no tag).
    pub data_rows: u64,
    pub error: Option<ErrorFields>,
    pub masked: crate::mask::MaskCounts,
}

/// What the server will send in answer to a forwarded message, or a reply guard makes itself.
#[derive(Debug)]
pub enum Expect {
    ParseComplete,
    BindComplete,
    CloseComplete,
    /// ParameterDescription, then RowDescription or NoData.
    DescribeStatement,
    /// RowDescription or NoData.
    DescribePortal,
    /// Rows, then CommandComplete, EmptyQueryResponse, PortalSuspended or ErrorResponse.
    Execute(Statement),
    /// ReadyForQuery.
    Sync,
    /// A simple Query (or FunctionCall): everything up to ReadyForQuery.
    Query(Statement),
    /// The client ended a COPY IN (CopyDone or CopyFail); no response of its own.
    CopyEnd,
    /// A reply guard sends instead of the server's.
    Answer(Answer),
    /// The server's reply (ParseComplete, BindComplete, CloseComplete: its tag) to a message
    /// guard sent of its own accord, which the client never sees.
    Quiet(u8),
}

#[derive(Debug)]
pub enum Answer {
    /// An ErrorResponse, as the server would send for a failed statement.
    Error(Bytes),
    /// ReadyForQuery with the transaction status guard last saw.
    Ready,
}

impl Expect {
    /// Messages of the extended protocol, which the server skips after an error until Sync.
    pub fn is_extended(&self) -> bool {
        matches!(
            self,
            Expect::ParseComplete
                | Expect::BindComplete
                | Expect::CloseComplete
                | Expect::DescribeStatement
                | Expect::DescribePortal
                | Expect::Execute(_)
                | Expect::Quiet(_)
        )
    }
}

impl Ctx {
    /// Connection 1 of target `shop`, for the gateway's unit tests.
    #[cfg(test)]
    pub fn for_tests(transcript: &Transcript, commit: Commit) -> Ctx {
        Ctx {
            target: "shop".into(),
            conn: 1,
            transcript: transcript.clone(),
            ids: Default::default(),
            commit,
        }
    }

    /// The next session-wide statement id: the `query` record's, and its approval request's.
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Writes the `query` record for a statement about to go upstream, or about to be refused,
    /// and returns it once the record is in the file; an error means it must not go (SPEC: a
    /// query record is written before the request). `sql` must already be masked. The write
    /// is shared with the other connections of the same turn (see `commit`).
    pub async fn record_query(
        &self,
        id: u64,
        query: &QueryRecord<'_>,
    ) -> std::io::Result<Statement> {
        let sql = query.sql;
        let mut m = Members::with_capacity(160 + sql.map_or(0, str::len));
        m.number("id", id);
        m.string("target", &self.target);
        m.number("conn", self.conn);
        match sql {
            Some(sql) => m.string("sql", sql),
            None => m.raw("sql", "null"),
        }
        m.string("class", query.class);
        m.string("decision", query.decision);
        m.string("rule", query.rule);
        if let Some((key, value)) = &query.extra {
            m.raw(key, &value.to_string());
        }
        let seq = self
            .transcript
            .append_members_later("query", Some(query.decision), &m.0)?;
        self.commit.wait(seq).await?;
        Ok(Statement {
            id,
            started: Instant::now(),
            rows: 0,
            data_rows: 0,
            error: None,
            masked: Default::default(),
        })
    }

    /// Chains the `result` record of a finished statement; it reaches the file with the next
    /// record or the gateway's periodic flush, so the answer to the client does not wait on a
    /// write of its own. A failure cannot undo what ran; the transcript is then poisoned, and
    /// every later statement is refused.
    pub fn record_result(&self, statement: Statement) {
        // Microseconds as fractional milliseconds: exact to three decimals.
        let micros = statement.started.elapsed().as_micros() as f64;
        let mut m = Members::with_capacity(160);
        m.number("id", statement.id);
        m.number("rows", statement.rows);
        // Most results mask nothing: their counts are a constant, not a map to serialise.
        if statement.masked.count == 0 {
            m.raw("masked", r#"{"count":0,"kinds":{}}"#);
        } else {
            m.raw("masked", &statement.masked.to_json().to_string());
        }
        m.float("duration_ms", micros / 1000.0);
        match statement.error {
            None => m.raw("error", "null"),
            Some(e) => m.raw(
                "error",
                &json!({"sqlstate": e.sqlstate, "message": e.message}).to_string(),
            ),
        }
        let _ = self.transcript.append_members_later("result", None, &m.0);
    }

    /// The `connection` record of an opening or closing client connection; an error means it
    /// could not be written, and an opening connection must be refused.
    pub fn record_connection(
        &self,
        action: &str,
        client: &str,
        error: Option<&str>,
    ) -> std::io::Result<()> {
        let mut fields = json!({
            "target": &*self.target, "conn": self.conn, "action": action, "client": client,
        });
        if action == "close"
            && let Value::Object(map) = &mut fields
        {
            map.insert("error".into(), json!(error));
        }
        self.transcript.append("connection", fields).map(drop)
    }
}

/// JSON object members written straight into bytes, in order: records are built per statement,
/// and a `Value` map per record cost more than the rest of the relay.
struct Members(Vec<u8>);

impl Members {
    fn with_capacity(n: usize) -> Self {
        Members(Vec::with_capacity(n))
    }

    /// Keys are guard's own, plain words: written as they are, no escaping needed.
    fn key(&mut self, key: &str) {
        if !self.0.is_empty() {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
    }

    fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.0.extend_from_slice(json.as_bytes());
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.0, value);
    }

    fn number(&mut self, key: &str, value: u64) {
        self.key(key);
        let _ = write!(self.0, "{value}");
    }

    /// As JSON writes it (`12.5`, `0.042`): shortest form that reads back the same.
    fn float(&mut self, key: &str, value: f64) {
        self.key(key);
        let _ = serde_json::to_writer(&mut self.0, &value);
    }
}

/// The error recorded for statements that never got their answer.
pub fn lost(message: &str) -> ErrorFields {
    ErrorFields {
        severity: "FATAL".into(),
        sqlstate: super::message::sqlstate::CONNECTION_FAILURE.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contexts() -> (tempfile::TempDir, Transcript, [Ctx; 2]) {
        let dir = tempfile::tempdir().unwrap();
        let transcript = Transcript::create(&dir.path().join("transcript.jsonl")).unwrap();
        let commit = Commit::grouped(transcript.clone(), &tokio::runtime::Handle::current());
        let both = [
            Ctx::for_tests(&transcript, commit.clone()),
            Ctx {
                conn: 2,
                ..Ctx::for_tests(&transcript, commit)
            },
        ];
        (dir, transcript, both)
    }

    const QUERY: QueryRecord<'static> = QueryRecord {
        sql: Some("select 1"),
        class: "read",
        decision: "allow",
        rule: "default: read allow",
        extra: None,
    };

    /// Group commit: statements of connections woken in the same turn of the event loop go in
    /// one write, and each returns only once its own record is in the file.
    #[tokio::test(flavor = "current_thread")]
    async fn statements_of_one_turn_share_one_write() {
        let (dir, transcript, [a, b]) = contexts();
        let (x, y) = tokio::join!(a.record_query(1, &QUERY), b.record_query(2, &QUERY));
        x.unwrap();
        y.unwrap();
        assert_eq!(transcript.writes(), 1);
        let text = std::fs::read_to_string(dir.path().join("transcript.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 2);
    }

    /// A lone connection's statements each wait for their own write.
    #[tokio::test(flavor = "current_thread")]
    async fn a_lone_connection_gets_a_write_per_statement() {
        let (_dir, transcript, [a, _]) = contexts();
        a.record_query(1, &QUERY).await.unwrap();
        assert_eq!(transcript.writes(), 1);
        a.record_query(2, &QUERY).await.unwrap();
        assert_eq!(transcript.writes(), 2);
    }

    /// Fail closed: when the shared write fails, every statement it carried is refused.
    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_shared_write_refuses_every_statement_it_carried() {
        let (_dir, transcript, [a, b]) = contexts();
        transcript.fail_writes_for_tests();
        let (x, y) = tokio::join!(a.record_query(1, &QUERY), b.record_query(2, &QUERY));
        assert!(x.is_err() && y.is_err());
        assert_eq!(transcript.writes(), 1);
    }
}
