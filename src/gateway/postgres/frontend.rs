//! Client to upstream: every message the client sends passes through `on_frame`, one at a time.
//!
//! Extended-protocol messages (Parse, Bind, Describe, Execute, Close) are held until the client
//! asks for results with Sync or Flush, because the server runs a pipelined batch as one unit
//! (protocol docs, "Pipelining"): the whole batch is then decided, recorded and forwarded, or
//! answered by guard and not forwarded at all. Today the decision is "record, then allow"; the
//! policy engine plugs in at `decide`. Statement text is remembered per prepared statement and
//! portal, so an Execute is recorded with the SQL its Parse carried.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::frame::{self, Frame, FrameError};
use super::message::{self, ErrorFields, frontend as tag, sqlstate};
use super::statement::{Answer, Ctx, Expect, Queue, Statement};
use super::upstream::{BoxRead, BoxWrite};

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
    Execute(Option<Arc<str>>),
    Silent,
}

pub struct Frontend {
    ctx: Arc<Ctx>,
    queue: Queue,
    statements: HashMap<String, Arc<str>>,
    portals: HashMap<String, Option<Arc<str>>>,
    held: Vec<(Frame, Held)>,
    held_bytes: usize,
    /// After guard refused a batch that ended in Flush: drop everything until Sync, as the
    /// server does after an error.
    discarding: bool,
}

/// Whether to go on after a message.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Terminate,
}

impl Frontend {
    pub fn new(ctx: Arc<Ctx>, queue: Queue) -> Self {
        Frontend {
            ctx,
            queue,
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
                flow = self.on_frame(frame, &mut out)?;
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
    fn on_frame(&mut self, frame: Frame, out: &mut BytesMut) -> Result<Flow, FrontError> {
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
                self.release(out);
            }
            tag::SYNC => {
                self.hold(frame, Held::Reply(Expect::Sync));
                self.release(out);
            }
            tag::QUERY => {
                self.release(out);
                self.on_query(frame, out)?;
            }
            tag::FUNCTION_CALL => {
                self.release(out);
                self.on_function_call(frame, out)?;
            }
            tag::COPY_DATA => self.forward(frame, out, None),
            tag::COPY_DONE | tag::COPY_FAIL => self.forward(frame, out, Some(Expect::CopyEnd)),
            tag::TERMINATE => {
                self.forward(frame, out, None);
                return Ok(Flow::Terminate);
            }
            other => {
                return Err(violation(format!("invalid frontend message type {other}")));
            }
        }
        if self.held_bytes > HOLD_LIMIT {
            self.release(out);
        }
        Ok(Flow::Continue)
    }

    /// Sends a message on, after whatever is held, so order is kept.
    fn forward(&mut self, frame: Frame, out: &mut BytesMut, expect: Option<Expect>) {
        self.release(out);
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
        self.statements.insert(name, sql.into());
        self.hold(frame, Held::Reply(Expect::ParseComplete));
        Ok(())
    }

    fn on_bind(&mut self, frame: Frame) -> Result<(), FrontError> {
        let (portal, statement) =
            message::bind(&frame).ok_or_else(|| violation("malformed Bind message".into()))?;
        let sql = self.statements.get(&statement).cloned();
        self.portals.insert(portal, sql);
        self.hold(frame, Held::Reply(Expect::BindComplete));
        Ok(())
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
        let sql = self.portals.get(&portal).cloned().flatten();
        self.hold(frame, Held::Execute(sql));
        Ok(())
    }

    fn on_close(&mut self, frame: Frame) -> Result<(), FrontError> {
        match message::target_of(&frame) {
            Some((b'S', name)) => self.statements.remove(&name),
            Some((_, name)) => self.portals.remove(&name).flatten(),
            None => return Err(violation("malformed Close message".into())),
        };
        self.hold(frame, Held::Reply(Expect::CloseComplete));
        Ok(())
    }

    fn on_query(&mut self, frame: Frame, out: &mut BytesMut) -> Result<(), FrontError> {
        let sql = message::query_text(&frame)
            .ok_or_else(|| violation("malformed Query message".into()))?;
        match self.decide(Some(&sql), None) {
            Ok(statement) => {
                self.push(Expect::Query(statement));
                out.extend_from_slice(frame.raw());
            }
            Err(answer) => {
                self.push(Expect::Answer(answer));
                self.push(Expect::Answer(Answer::Ready));
            }
        }
        Ok(())
    }

    /// The fast-path FunctionCall runs a function by OID; it is recorded like a Query.
    fn on_function_call(&mut self, frame: Frame, out: &mut BytesMut) -> Result<(), FrontError> {
        let oid = message::function_oid(&frame)
            .ok_or_else(|| violation("malformed FunctionCall message".into()))?;
        match self.decide(None, Some(("function_oid", oid.into()))) {
            Ok(statement) => {
                self.push(Expect::Query(statement));
                out.extend_from_slice(frame.raw());
            }
            Err(answer) => {
                self.push(Expect::Answer(answer));
                self.push(Expect::Answer(Answer::Ready));
            }
        }
        Ok(())
    }

    /// Decides a statement before it goes upstream. The policy engine belongs here; today every
    /// statement is allowed once its `query` record is written, and refused if it cannot be.
    fn decide(
        &self,
        sql: Option<&str>,
        extra: Option<(&str, serde_json::Value)>,
    ) -> Result<Statement, Answer> {
        self.ctx.record_query(sql, extra).map_err(|e| {
            Answer::Error(message::error_response(
                "ERROR",
                sqlstate::IO_ERROR,
                &format!("guard: cannot record the statement, so it was not run: {e}"),
            ))
        })
    }

    /// Decides and forwards the held batch, or answers it whole if any statement is refused.
    fn release(&mut self, out: &mut BytesMut) {
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
                Held::Execute(sql) => match self.decide(sql.as_deref(), None) {
                    Ok(statement) => Some(Expect::Execute(statement)),
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
