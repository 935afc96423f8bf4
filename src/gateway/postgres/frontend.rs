//! Client to upstream: every message the client sends passes through `on_frame`, one at a time.
//!
//! Extended-protocol messages (Parse, Bind, Describe, Execute, Close) are held until the client
//! asks for results with Sync or Flush, because the server runs a pipelined batch as one unit
//! (protocol docs, "Pipelining"): the whole batch is then decided, recorded and forwarded, or
//! answered by guard and not forwarded at all. A simple Query is classified and decided whole
//! (a refused statement in it refuses the batch before any of it runs); a Parse is classified
//! when it arrives and decided at each Execute of a portal bound from it (`enforce`).
//!
//! A refusal inside a transaction block leaves it failed, as a server error would. The server
//! never saw the refused statement and still has the block open, so guard keeps the two in step
//! itself: until the client ends the block, every statement gets the server's own `25P02`
//! ("current transaction is aborted") from guard; ROLLBACK (or ROLLBACK TO a savepoint) goes
//! upstream as sent, and a COMMIT or END goes up as ROLLBACK, which is what the server does with a
//! COMMIT of a failed block (its reply's tag is ROLLBACK too). Nothing the client ran before the
//! refusal can thus be committed after the client was told the block failed. A COMMIT executed
//! from a portal (the extended protocol) is run as a ROLLBACK that guard prepares under a name
//! of its own, whose replies but the result the client never sees (`rollback_portal`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::enforce::{Enforcer, Guard, Verdict};
use super::frame::{self, Frame, FrameError};
use super::message::{self, ErrorFields, backend as reply, frontend as tag, sqlstate};
use super::statement::{Answer, Ctx, Expect, QueryRecord, Queue, Statement};
use super::upstream::{BoxRead, BoxWrite};
use crate::policy;

/// Held batch size past which it is released without waiting for Sync or Flush, so a client that
/// pipelines a very long batch cannot grow guard's memory without bound.
const HOLD_LIMIT: usize = 1 << 20;
const READ_CHUNK: usize = 16 * 1024;

/// How the client side ended.
#[derive(Debug)]
pub enum FrontEnd {
    /// The client sent Terminate.
    Terminated,
    /// The client closed its socket (or it broke).
    Gone,
}

/// Why the client side failed.
#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    #[error("{message}")]
    Client {
        sqlstate: &'static str,
        message: String,
    },
    #[error("writing to the server failed: {0}")]
    Upstream(std::io::Error),
}

impl From<FrameError> for FrontError {
    fn from(e: FrameError) -> Self {
        let sqlstate = match e {
            FrameError::TooLarge(_) => sqlstate::PROGRAM_LIMIT_EXCEEDED,
            FrameError::BadLength(_) => sqlstate::PROTOCOL_VIOLATION,
        };
        FrontError::Client {
            sqlstate,
            message: format!("guard: {e}"),
        }
    }
}

fn violation(message: String) -> FrontError {
    FrontError::Client {
        sqlstate: sqlstate::PROTOCOL_VIOLATION,
        message,
    }
}

/// A held message and what its answer will be; an Execute's statement is recorded on release.
enum Held {
    Reply(Expect),
    Execute(Option<Arc<Verdict>>),
    Silent,
}

pub struct Frontend {
    ctx: Arc<Ctx>,
    queue: Queue,
    enforcer: Enforcer,
    statements: HashMap<String, Arc<Verdict>>,
    portals: HashMap<String, Option<Arc<Verdict>>>,
    held: Vec<(Frame, Held)>,
    held_bytes: usize,
    /// After guard refused a batch that ended in Flush: drop everything until Sync, as the
    /// server does after an error.
    discarding: bool,
    /// The ReadyForQuery status the client was last sent.
    status: Arc<AtomicU8>,
    /// guard refused a statement inside a transaction block, which is now failed for the client
    /// while the server still has it open (see the module docs).
    aborted: bool,
}

/// Whether to go on after a message.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Terminate,
}

impl Frontend {
    pub fn new(ctx: Arc<Ctx>, queue: Queue, guard: Guard, status: Arc<AtomicU8>) -> Self {
        let enforcer = Enforcer::new(guard, ctx.target.clone());
        Frontend {
            ctx,
            queue,
            enforcer,
            status,
            aborted: false,
            statements: HashMap::new(),
            portals: HashMap::new(),
            held: Vec::new(),
            held_bytes: 0,
            discarding: false,
        }
    }

    /// Relays until the client terminates, leaves, or breaks the protocol.
    pub async fn run(
        &mut self,
        client: &mut BoxRead,
        buf: &mut BytesMut,
        upstream: &mut BoxWrite,
    ) -> Result<FrontEnd, FrontError> {
        let mut out = BytesMut::with_capacity(READ_CHUNK);
        loop {
            let mut flow = Flow::Continue;
            while flow == Flow::Continue {
                let Some(frame) = frame::split_frame(buf)? else {
                    break;
                };
                flow = self.on_frame(frame, &mut out).await?;
            }
            if !out.is_empty() {
                upstream
                    .write_all(&out)
                    .await
                    .map_err(FrontError::Upstream)?;
                out.clear();
            }
            if flow == Flow::Terminate {
                return Ok(FrontEnd::Terminated);
            }
            buf.reserve(READ_CHUNK);
            match client.read_buf(buf).await {
                Ok(0) | Err(_) => return Ok(FrontEnd::Gone),
                Ok(_) => {}
            }
        }
    }

    /// One client message: hold it, forward it, or answer it.
    async fn on_frame(&mut self, frame: Frame, out: &mut BytesMut) -> Result<Flow, FrontError> {
        if self.discarding {
            return Ok(self.discard(frame, out));
        }
        match frame.tag() {
            tag::PARSE => self.on_parse(frame)?,
            tag::BIND => self.on_bind(frame)?,
            tag::DESCRIBE => self.on_describe(frame)?,
            tag::EXECUTE => self.on_execute(frame)?,
            tag::CLOSE => self.on_close(frame)?,
            tag::FLUSH => {
                self.hold(frame, Held::Silent);
                self.release(out).await;
            }
            tag::SYNC => {
                self.hold(frame, Held::Reply(Expect::Sync));
                self.release(out).await;
                self.forget_unnamed();
            }
            tag::QUERY => {
                self.release(out).await;
                self.forget_unnamed();
                self.on_query(frame, out).await?;
            }
            tag::FUNCTION_CALL => {
                self.release(out).await;
                self.on_function_call(frame, out).await?;
            }
            tag::COPY_DATA => self.forward(frame, out, None).await,
            tag::COPY_DONE | tag::COPY_FAIL => {
                self.forward(frame, out, Some(Expect::CopyEnd)).await
            }
            tag::TERMINATE => {
                self.forward(frame, out, None).await;
                return Ok(Flow::Terminate);
            }
            other => {
                return Err(violation(format!("invalid frontend message type {other}")));
            }
        }
        if self.held_bytes > HOLD_LIMIT {
            self.release(out).await;
        }
        Ok(Flow::Continue)
    }

    /// Sends a message on, after whatever is held, so order is kept.
    async fn forward(&mut self, frame: Frame, out: &mut BytesMut, expect: Option<Expect>) {
        self.release(out).await;
        if let Some(expect) = expect {
            self.push(expect);
        }
        out.extend_from_slice(frame.raw());
    }

    fn hold(&mut self, frame: Frame, held: Held) {
        self.held_bytes += frame.raw().len();
        self.held.push((frame, held));
    }

    fn push(&self, expect: Expect) {
        self.queue.push(expect);
    }

    fn on_parse(&mut self, frame: Frame) -> Result<(), FrontError> {
        let (name, sql) =
            message::parse(&frame).ok_or_else(|| violation("malformed Parse message".into()))?;
        // Classified now, decided at each Execute: the text cannot change in between.
        let mut verdict = self.enforcer.verdict(&sql);
        if let Some(old) = self.statements.get(&name).filter(|_| !name.is_empty())
            && old.sql != verdict.sql
        {
            let what = format!("statement {name}, prepared again before it was closed");
            verdict = self.ambiguous(&what, old.clone(), verdict);
        }
        self.enforcer.prepared(&name, &verdict);
        self.statements.insert(name, verdict);
        self.hold(frame, Held::Reply(Expect::ParseComplete));
        Ok(())
    }

    fn on_bind(&mut self, frame: Frame) -> Result<(), FrontError> {
        let (portal, statement) =
            message::bind(&frame).ok_or_else(|| violation("malformed Bind message".into()))?;
        let mut verdict = self.statements.get(&statement).cloned();
        if let Some(old) = self.portals.get(&portal).filter(|_| !portal.is_empty())
            && old.as_ref().map(|v| &v.sql) != verdict.as_ref().map(|v| &v.sql)
        {
            let what = format!("portal {portal}, bound again before it was closed");
            let unseen = || {
                self.enforcer
                    .unknown("a statement guard did not see prepared")
            };
            let (old, new) = (old.clone(), verdict.unwrap_or_else(unseen));
            verdict = Some(self.ambiguous(&what, old.unwrap_or_else(unseen), new));
        }
        self.portals.insert(portal, verdict);
        self.hold(frame, Held::Reply(Expect::BindComplete));
        Ok(())
    }

    /// A named statement or portal can be defined only once until it is closed: the server
    /// refuses a second Parse or Bind of the name and keeps the first, unless that one failed
    /// or was skipped after an error (protocol docs, "Extended Query"). guard cannot tell which
    /// of the two an Execute will run, so it decides on the stricter of both and of `unknown`.
    fn ambiguous(&self, what: &str, old: Arc<Verdict>, new: Arc<Verdict>) -> Arc<Verdict> {
        let weight = |v: &Verdict| (policy::strictness(v.decision.action), v.class());
        let mut worst = self.enforcer.unknown(what);
        for verdict in [old, new] {
            if weight(&verdict) > weight(&worst) {
                worst = verdict;
            }
        }
        worst
    }

    /// The unnamed statement and portal end at a simple Query, and the unnamed portal at the
    /// end of a transaction; a Parse or Bind of them skipped after an error leaves the old one
    /// in place. So guard forgets them at each Sync and Query: one used in a later batch is
    /// `unknown` (clients use them within one batch).
    fn forget_unnamed(&mut self) {
        self.statements.remove("");
        self.portals.remove("");
    }

    fn on_describe(&mut self, frame: Frame) -> Result<(), FrontError> {
        let expect = match message::target_of(&frame) {
            Some((b'S', _)) => Expect::DescribeStatement,
            Some(_) => Expect::DescribePortal,
            None => return Err(violation("malformed Describe message".into())),
        };
        self.hold(frame, Held::Reply(expect));
        Ok(())
    }

    fn on_execute(&mut self, frame: Frame) -> Result<(), FrontError> {
        let portal = message::execute(&frame)
            .ok_or_else(|| violation("malformed Execute message".into()))?;
        let verdict = self.portals.get(&portal).cloned().flatten();
        self.hold(frame, Held::Execute(verdict));
        Ok(())
    }

    /// A Close may never reach the server (its batch refused) or be skipped there after an
    /// error, so guard keeps what the name held: defining it again with something else is then
    /// ambiguous (see `ambiguous`), and binding or executing it runs at worst what it held.
    fn on_close(&mut self, frame: Frame) -> Result<(), FrontError> {
        match message::target_of(&frame) {
            Some((b'S', name)) => self.enforcer.closed(&name),
            Some(_) => {}
            None => return Err(violation("malformed Close message".into())),
        };
        self.hold(frame, Held::Reply(Expect::CloseComplete));
        Ok(())
    }

    async fn on_query(&mut self, frame: Frame, out: &mut BytesMut) -> Result<(), FrontError> {
        let sql = message::query_text(&frame)
            .ok_or_else(|| violation("malformed Query message".into()))?;
        let mut sql = sql;
        let mut raw = None;
        if self.aborted {
            match transaction_end(&sql) {
                None => {
                    self.push(Expect::Answer(failed_block()));
                    self.push(Expect::Answer(Answer::Ready));
                    return Ok(());
                }
                Some(TxEnd::Rollback) => {}
                Some(TxEnd::Commit(rollback)) => {
                    raw = Some(query_message(rollback));
                    sql = rollback.to_string();
                }
            }
            self.aborted = false;
        }
        let verdict = self.enforcer.verdict(&sql);
        match self.decide(&verdict, true, None).await {
            Ok(statement) => {
                self.push(Expect::Query(statement));
                out.extend_from_slice(raw.as_deref().unwrap_or(frame.raw()));
                self.enforcer.ran(&verdict);
            }
            Err(answer) => self.refuse_one(answer),
        }
        Ok(())
    }

    /// Guard's answer to a simple Query or FunctionCall: the error, then ReadyForQuery.
    fn refuse_one(&mut self, answer: Answer) {
        self.enter_failed_block();
        self.push(Expect::Answer(answer));
        self.push(Expect::Answer(Answer::Ready));
    }

    /// A refusal inside a transaction block fails the block (see the module docs).
    fn enter_failed_block(&mut self) {
        if self.status.load(Ordering::Relaxed) == b'T' {
            self.aborted = true;
        }
    }

    /// The fast-path FunctionCall runs a function by OID: guard cannot see what it does, so it
    /// is `unknown`, and recorded with its OID.
    async fn on_function_call(
        &mut self,
        frame: Frame,
        out: &mut BytesMut,
    ) -> Result<(), FrontError> {
        let oid = message::function_oid(&frame)
            .ok_or_else(|| violation("malformed FunctionCall message".into()))?;
        if self.aborted {
            self.push(Expect::Answer(failed_block()));
            self.push(Expect::Answer(Answer::Ready));
            return Ok(());
        }
        let verdict = self.enforcer.unknown(&format!("function call {oid}"));
        match self
            .decide(&verdict, false, Some(("function_oid", oid.into())))
            .await
        {
            Ok(statement) => {
                self.push(Expect::Query(statement));
                out.extend_from_slice(frame.raw());
            }
            Err(answer) => self.refuse_one(answer),
        }
        Ok(())
    }

    /// Decides a statement before it goes upstream: the policy, a human if it says `ask`, then
    /// the `query` record (SPEC: written before the statement goes upstream, and for a refused
    /// one before the refusal). A statement whose record cannot be written is refused.
    async fn decide(
        &mut self,
        verdict: &Verdict,
        sql_known: bool,
        extra: Option<(&str, serde_json::Value)>,
    ) -> Result<Statement, Answer> {
        let id = self.ctx.next_id();
        let outcome = self.enforcer.settle(verdict, id).await;
        let rule = verdict.rule();
        let record = QueryRecord {
            sql: sql_known.then_some(verdict.masked.as_str()),
            class: verdict.class().name(),
            decision: outcome.decision,
            rule: &rule,
            extra,
        };
        let recorded = self.ctx.record_query(id, &record).await;
        let mut statement = recorded.map_err(|e| {
            Answer::Error(message::error_response(
                "ERROR",
                sqlstate::IO_ERROR,
                &format!("guard: cannot record the statement, so it was not run: {e}"),
            ))
        })?;
        let Some(refusal) = outcome.refusal else {
            return Ok(statement);
        };
        statement.error = Some(ErrorFields {
            severity: "ERROR".into(),
            sqlstate: sqlstate::INSUFFICIENT_PRIVILEGE.into(),
            message: refusal.clone(),
        });
        self.ctx.record_result(statement);
        Err(Answer::Error(message::error_response(
            "ERROR",
            sqlstate::INSUFFICIENT_PRIVILEGE,
            &refusal,
        )))
    }

    /// Decides and forwards the held batch, or answers it whole if any statement is refused.
    async fn release(&mut self, out: &mut BytesMut) {
        if self.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        self.held_bytes = 0;
        // A batch is released at its Sync (last) or Flush, or early when it grows too large.
        let synced = held.last().is_some_and(|(f, _)| f.tag() == tag::SYNC);
        let mut decided = Vec::with_capacity(held.len());
        for (frame, what) in held {
            let expect = match what {
                Held::Reply(expect) => Some(expect),
                Held::Silent => None,
                Held::Execute(verdict) => match self.execute(verdict).await {
                    Ok(Run::Portal(statement)) => Some(Expect::Execute(statement)),
                    Ok(Run::Rollback(statement, sql)) => {
                        decided.extend(rollback_portal(sql, statement));
                        continue;
                    }
                    Err(answer) => return self.refuse_batch(decided, answer, synced),
                },
            };
            decided.push((frame, expect));
        }
        for (frame, expect) in decided {
            if let Some(expect) = expect {
                self.push(expect);
            }
            out.extend_from_slice(frame.raw());
        }
    }

    /// Decides one Execute of a held batch: its portal's statement, or `unknown` when guard did
    /// not see the portal bound. In a failed block only a ROLLBACK may run, and a COMMIT runs as
    /// one (see the module docs).
    async fn execute(&mut self, verdict: Option<Arc<Verdict>>) -> Result<Run, Answer> {
        let mut verdict = verdict.unwrap_or_else(|| {
            self.enforcer
                .unknown("an Execute of a portal guard did not see")
        });
        let mut rollback = None;
        if self.aborted {
            match transaction_end(&verdict.sql) {
                None => return Err(failed_block()),
                Some(TxEnd::Rollback) => {}
                Some(TxEnd::Commit(sql)) => {
                    verdict = self.enforcer.verdict(sql);
                    rollback = Some(sql);
                }
            }
            self.aborted = false;
        }
        let statement = self.decide(&verdict, true, None).await?;
        self.enforcer.ran(&verdict);
        Ok(match rollback {
            Some(sql) => Run::Rollback(statement, sql),
            None => Run::Portal(statement),
        })
    }

    /// Answers a batch instead of forwarding any of it: the error, then ReadyForQuery at its
    /// Sync; without a Sync yet, everything up to the next one is dropped (protocol docs: after
    /// an error the server "discards messages until a Sync").
    fn refuse_batch(
        &mut self,
        decided: Vec<(Frame, Option<Expect>)>,
        answer: Answer,
        synced: bool,
    ) {
        for (_, expect) in decided {
            if let Some(Expect::Execute(mut statement)) = expect {
                statement.error = Some(ErrorFields {
                    severity: "ERROR".into(),
                    sqlstate: sqlstate::IO_ERROR.into(),
                    message: "guard: not run, a statement in its batch was refused".into(),
                });
                self.ctx.record_result(statement);
            }
        }
        self.enter_failed_block();
        self.push(Expect::Answer(answer));
        if synced {
            self.push(Expect::Answer(Answer::Ready));
        } else {
            self.discarding = true;
        }
    }

    /// While discarding, only Sync counts (and Terminate, which ends the connection anyway).
    fn discard(&mut self, frame: Frame, out: &mut BytesMut) -> Flow {
        match frame.tag() {
            tag::SYNC => {
                self.discarding = false;
                self.forget_unnamed();
                self.push(Expect::Answer(Answer::Ready));
                Flow::Continue
            }
            tag::TERMINATE => {
                out.extend_from_slice(frame.raw());
                Flow::Terminate
            }
            _ => Flow::Continue,
        }
    }
}

/// How a statement sent in a failed transaction block ends it.
#[derive(Debug, PartialEq, Eq)]
enum TxEnd {
    /// ROLLBACK, ABORT, ROLLBACK TO a savepoint: forwarded as sent.
    Rollback,
    /// COMMIT or END: the server rolls a failed block back instead; guard sends this.
    Commit(&'static str),
}

/// Whether a text is one statement that ends a transaction block (`ROLLBACK`, `ABORT`, `COMMIT`,
/// `END`, with their optional words). Anything else in a failed block gets `25P02`.
fn transaction_end(sql: &str) -> Option<TxEnd> {
    let text = sql
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    if text.contains(';') || text.contains("--") || text.contains("/*") {
        return None;
    }
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    let first = words.first()?.as_str();
    let prepared = words.iter().any(|w| w == "prepared");
    let chain = words.windows(2).any(|w| w[0] == "and" && w[1] == "chain");
    match first {
        "rollback" | "abort" if !prepared => Some(TxEnd::Rollback),
        "commit" | "end" if !prepared && chain => Some(TxEnd::Commit("ROLLBACK AND CHAIN")),
        "commit" | "end" if !prepared => Some(TxEnd::Commit("ROLLBACK")),
        _ => None,
    }
}

/// How an Execute the policy let through goes upstream.
enum Run {
    /// As the client sent it.
    Portal(Statement),
    /// In place of a COMMIT in a failed block: this ROLLBACK (see `rollback_portal`).
    Rollback(Statement, &'static str),
}

/// guard's own prepared statement and portal for `rollback_portal`: a name no client picks, so
/// the client's unnamed statement and portal (which the COMMIT may be) are left as they were.
const ROLLBACK_NAME: &[u8] = b"guard: rollback of a failed block";

/// The messages that run `sql` (a ROLLBACK) in place of an Execute, with what each expects:
/// Parse and Bind under guard's own name, Execute, and Close of the statement, which outlives
/// the block. The client sees only the Execute's result, as it would for its COMMIT (the
/// server answers a COMMIT of a failed block with the tag ROLLBACK).
fn rollback_portal(sql: &str, statement: Statement) -> [(Frame, Option<Expect>); 4] {
    let name = ROLLBACK_NAME;
    let parse = [name, b"\0", sql.as_bytes(), b"\0\0\0"].concat();
    let bind = [name, b"\0", name, b"\0\0\0\0\0\0\0"].concat();
    let execute = [name, b"\0\0\0\0\0"].concat();
    let close = [b"S", name, b"\0"].concat();
    [
        (
            Frame::new(tag::PARSE, &parse),
            Some(Expect::Quiet(reply::PARSE_COMPLETE)),
        ),
        (
            Frame::new(tag::BIND, &bind),
            Some(Expect::Quiet(reply::BIND_COMPLETE)),
        ),
        (
            Frame::new(tag::EXECUTE, &execute),
            Some(Expect::Execute(statement)),
        ),
        (
            Frame::new(tag::CLOSE, &close),
            Some(Expect::Quiet(reply::CLOSE_COMPLETE)),
        ),
    ]
}

/// The server's own error for a statement in a failed transaction block.
fn failed_block() -> Answer {
    Answer::Error(message::error_response(
        "ERROR",
        "25P02",
        "current transaction is aborted, commands ignored until end of transaction block",
    ))
}

/// A simple Query message carrying `sql`.
fn query_message(sql: &str) -> Vec<u8> {
    let len = (4 + sql.len() + 1) as u32;
    let mut raw = Vec::with_capacity(1 + len as usize);
    raw.push(tag::QUERY);
    raw.extend_from_slice(&len.to_be_bytes());
    raw.extend_from_slice(sql.as_bytes());
    raw.push(0);
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_transaction_ends_leave_a_failed_block() {
        assert_eq!(transaction_end("ROLLBACK"), Some(TxEnd::Rollback));
        assert_eq!(
            transaction_end(" rollback to savepoint a ;"),
            Some(TxEnd::Rollback)
        );
        assert_eq!(transaction_end("abort"), Some(TxEnd::Rollback));
        assert_eq!(transaction_end("COMMIT;"), Some(TxEnd::Commit("ROLLBACK")));
        assert_eq!(transaction_end("end work"), Some(TxEnd::Commit("ROLLBACK")));
        assert_eq!(
            transaction_end("commit and chain"),
            Some(TxEnd::Commit("ROLLBACK AND CHAIN"))
        );
        assert_eq!(
            transaction_end("commit and no chain"),
            Some(TxEnd::Commit("ROLLBACK"))
        );
        assert_eq!(transaction_end("COMMIT; DROP TABLE t"), None);
        assert_eq!(transaction_end("commit prepared 'x'"), None);
        assert_eq!(transaction_end("select 1"), None);
        assert_eq!(query_message("ROLLBACK"), b"Q\0\0\0\x0dROLLBACK\0");
    }

    fn msg(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        Frame::new(tag, &parts.concat()).raw().to_vec()
    }

    fn parse(name: &str, sql: &str) -> Vec<u8> {
        msg(b'P', &[name.as_bytes(), b"\0", sql.as_bytes(), b"\0\0\0"])
    }

    fn bind(portal: &str, statement: &str) -> Vec<u8> {
        let (p, s) = (portal.as_bytes(), statement.as_bytes());
        msg(b'B', &[p, b"\0", s, b"\0\0\0\0\0\0\0"])
    }

    fn execute(portal: &str) -> Vec<u8> {
        msg(b'E', &[portal.as_bytes(), b"\0\0\0\0\0"])
    }

    const SYNC: &[u8] = b"S\0\0\0\x04";

    /// Relays `client` through a frontend with the default policy and nobody to approve, and
    /// returns how many Executes went upstream.
    async fn executes_forwarded(client: Vec<u8>) -> usize {
        use crate::approval::{Approver, Mode};
        use crate::mask::{MaskConfig, Masker};
        use crate::record::transcript::Transcript;
        let dir = tempfile::tempdir().unwrap();
        let transcript = Transcript::create(&dir.path().join("transcript.jsonl")).unwrap();
        let commit = super::super::commit::Commit::immediate(transcript.clone());
        let ctx = Arc::new(Ctx::for_tests(&transcript, commit));
        let guard = Guard {
            policy: Default::default(),
            approver: Approver::new(Mode::Deny, Default::default(), transcript, None),
            masker: Masker::new(&MaskConfig::default()).unwrap(),
        };
        let status = Arc::new(AtomicU8::new(b'I'));
        let mut front = Frontend::new(ctx, Queue::default(), guard, status);
        let mut client: BoxRead = Box::new(std::io::Cursor::new(client));
        let (upstream, mut server) = tokio::io::duplex(1 << 16);
        let mut upstream: BoxWrite = Box::new(upstream);
        let mut buf = BytesMut::new();
        front
            .run(&mut client, &mut buf, &mut upstream)
            .await
            .unwrap();
        drop(upstream);
        let mut sent = Vec::new();
        server.read_to_end(&mut sent).await.unwrap();
        let mut sent = BytesMut::from(&sent[..]);
        let mut executes = 0;
        while let Some(frame) = frame::split_frame(&mut sent).unwrap() {
            executes += usize::from(frame.tag() == tag::EXECUTE);
        }
        executes
    }

    #[tokio::test]
    async fn a_statement_prepared_again_is_decided_as_the_worse_of_the_two() {
        // The server refuses the second Parse of `s` and runs the DELETE at the Execute.
        let client = [
            parse("s", "delete from t"),
            SYNC.to_vec(),
            parse("s", "select 1"),
            SYNC.to_vec(),
            bind("", "s"),
            execute(""),
            SYNC.to_vec(),
        ];
        assert_eq!(executes_forwarded(client.concat()).await, 0);
    }

    #[tokio::test]
    async fn a_close_in_a_refused_batch_does_not_make_a_name_new() {
        // The refused batch never reached the server, which still holds the DELETE as `s`.
        let client = [
            parse("s", "delete from t"),
            SYNC.to_vec(),
            msg(b'C', &[b"Ss\0"]),
            execute("no such portal"),
            SYNC.to_vec(),
            parse("s", "select 1"),
            SYNC.to_vec(),
            bind("", "s"),
            execute(""),
            SYNC.to_vec(),
        ];
        assert_eq!(executes_forwarded(client.concat()).await, 0);
    }

    #[tokio::test]
    async fn a_portal_bound_again_is_decided_as_the_worse_of_the_two() {
        // The server refuses the second Bind of `p` and keeps the DELETE bound to it.
        let client = [
            parse("a", "delete from t"),
            bind("p", "a"),
            SYNC.to_vec(),
            parse("b", "select 1"),
            bind("p", "b"),
            SYNC.to_vec(),
            execute("p"),
            SYNC.to_vec(),
        ];
        assert_eq!(executes_forwarded(client.concat()).await, 0);
    }

    #[tokio::test]
    async fn the_unnamed_statement_is_not_trusted_past_its_batch() {
        // The bad Parse makes the server skip the next one, so the unnamed statement stays the
        // DELETE; guard does not know that, and must not decide on the SELECT.
        let client = [
            parse("", "delete from t"),
            SYNC.to_vec(),
            parse("x", "selec oops"),
            parse("", "select 1"),
            SYNC.to_vec(),
            bind("", ""),
            execute(""),
            SYNC.to_vec(),
        ];
        assert_eq!(executes_forwarded(client.concat()).await, 0);
    }

    #[tokio::test]
    async fn prepared_reads_still_run_in_later_batches_and_after_a_close() {
        let client = [
            parse("s", "select 1"),
            bind("", "s"),
            execute(""),
            SYNC.to_vec(),
            bind("", "s"),
            execute(""),
            SYNC.to_vec(),
            msg(b'C', &[b"Ss\0"]),
            SYNC.to_vec(),
            parse("s", "select 1"),
            bind("", "s"),
            execute(""),
            SYNC.to_vec(),
        ];
        assert_eq!(executes_forwarded(client.concat()).await, 3);
    }
}
