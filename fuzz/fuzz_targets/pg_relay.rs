//! Fuzzes the PostgreSQL relay after login: arbitrary client messages through guard's
//! frontend (classify, decide, hold and release batches, refuse), then arbitrary server
//! messages through its backend (match answers to statements, mask, record), with the default
//! policy and nobody to approve, as in CI. It never panics, and:
//!
//! * nothing that changes data or schema runs upstream: following the messages guard forwarded
//!   as the server would (prepared statements, portals, skipping to Sync after an error), no
//!   executed statement is an INSERT, UPDATE, DELETE, MERGE, DDL, GRANT, DO, CALL or COPY FROM,
//!   and no FunctionCall is forwarded;
//! * the client gets whole messages only, and no registered secret in a row's text cells, an
//!   error or notice, a notification or COPY OUT text;
//! * the transcript guard wrote verifies and holds no registered secret.
//!
//! The two directions run one after the other, not interleaved; the transaction status the
//! client was last told comes from the input.
//!
//! Input: status selector, read size, two bytes where the client's bytes end, then the
//! client's bytes and the server's.
//!
//!     cargo +nightly fuzz run pg_relay

#![no_main]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::BytesMut;
use guard_fuzz::approval::{Approver, Mode};
use guard_fuzz::gateway::postgres::backend::Backend;
use guard_fuzz::gateway::postgres::commit::Commit;
use guard_fuzz::gateway::postgres::enforce::Guard;
use guard_fuzz::gateway::postgres::frame::Frame;
use guard_fuzz::gateway::postgres::frontend::Frontend;
use guard_fuzz::gateway::postgres::mask::Catalog;
use guard_fuzz::gateway::postgres::message::{self, Reader};
use guard_fuzz::gateway::postgres::statement::{Ctx, Queue, lost};
use guard_fuzz::gateway::postgres::upstream::{BoxRead, BoxWrite, UpstreamConfig};
use guard_fuzz::mask::{MaskConfig, Masker};
use guard_fuzz::policy::Policy;
use guard_fuzz::record::transcript::Transcript;
use guard_fuzz::record::verify::check_chain;
use guard_fuzz::wire::{Peer, Sink, whole_frames};
use libfuzzer_sys::fuzz_target;
use pg_query::NodeEnum;

/// Registered with the masker; the seeds hold it so the fuzzer finds it.
const SECRET: &[u8] = b"Fz9SecretKey7Qx";

fuzz_target!(|data: &[u8]| {
    let [status, chunk, c0, c1, rest @ ..] = data else {
        return;
    };
    let cut = usize::from(u16::from_le_bytes([*c0, *c1])).min(rest.len());
    let (client, server) = rest.split_at(cut);
    let status = [b'I', b'T', b'E'][usize::from(*status % 3)];
    let chunk = usize::from(*chunk % 64) + 1;
    let path = guard_fuzz::scratch::path();
    let transcript = Transcript::create(&path).expect("a transcript");
    let (upstream, to_client) = relay(&transcript, status, client, server, chunk);
    let _ = transcript.flush();
    let written = std::fs::read(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);

    Server::default().follow(&upstream);
    check_client(&to_client);
    if !written.is_empty() {
        if let Err(broken) = check_chain(&written) {
            panic!(
                "the transcript does not verify: line {}: {}",
                broken.line, broken.reason
            );
        }
    }
    assert!(
        !contains(&written, SECRET),
        "a registered secret in the transcript"
    );
});

/// Runs the client's bytes through the frontend, then the server's through the backend;
/// returns what went upstream and what went to the client.
fn relay(
    transcript: &Transcript,
    status: u8,
    client: &[u8],
    server: &[u8],
    chunk: usize,
) -> (Vec<u8>, Vec<u8>) {
    let ctx = Arc::new(Ctx {
        target: "shop".into(),
        conn: 1,
        transcript: transcript.clone(),
        ids: Arc::new(AtomicU64::new(0)),
        commit: Commit::immediate(transcript.clone()),
    });
    let guard = Guard {
        policy: Arc::new(Policy::default()),
        approver: Approver::new(Mode::Deny, Duration::from_secs(1), transcript.clone(), None),
        masker: masker(),
    };
    let queue = Queue::default();
    let upstream = Sink::default();
    let to_client = Sink::default();
    let mut front = Frontend::new(
        ctx.clone(),
        queue.clone(),
        guard,
        Arc::new(AtomicU8::new(status)),
    );
    let mut back = Backend::new(ctx, queue, status, (masker(), Catalog::new(UpstreamConfig)));
    let mut client_read: BoxRead = Box::new(Peer::new(client, chunk));
    let mut upstream_write: BoxWrite = Box::new(upstream.clone());
    let mut upstream_read: BoxRead = Box::new(Peer::new(server, chunk));
    let mut client_write: BoxWrite = Box::new(to_client.clone());
    runtime().block_on(async {
        let mut buf = BytesMut::new();
        let _ = front
            .run(&mut client_read, &mut buf, &mut upstream_write)
            .await;
        let mut buf = BytesMut::new();
        let _ = back
            .run(&mut upstream_read, &mut buf, &mut client_write)
            .await;
        back.abandon(&lost("guard: the fuzz input ended"));
    });
    (upstream.bytes(), to_client.bytes())
}

/// What the server holds and runs, from the messages guard forwarded. Parses that the
/// server's grammar accepts are assumed to succeed: some database accepts them.
#[derive(Default)]
struct Server {
    statements: HashMap<String, String>,
    /// Portal to statement text; `None` when the statement is not known here.
    portals: HashMap<String, Option<String>>,
    /// After an error in the extended protocol, the server ignores messages until Sync.
    skipping: bool,
    /// A SQL-level PREPARE or DEALLOCATE changed statements in ways not followed here.
    lost: bool,
}

impl Server {
    fn follow(mut self, upstream: &[u8]) {
        for frame in whole_frames(upstream) {
            if self.skipping && frame.tag() != b'S' {
                continue;
            }
            match frame.tag() {
                b'Q' => self.query(&frame),
                b'P' => self.parse(&frame),
                b'B' => self.bind(&frame),
                b'E' => self.execute(&frame),
                b'C' => self.close(&frame),
                b'S' => self.skipping = false,
                b'F' => panic!("a FunctionCall went upstream"),
                _ => {}
            }
        }
    }

    fn query(&mut self, frame: &Frame) {
        let Some(sql) = message::query_text(frame) else {
            return;
        };
        self.statements.remove("");
        self.portals.remove("");
        let Ok(parsed) = pg_query::parse(&sql, 0) else {
            return;
        };
        for raw in &parsed.protobuf.stmts {
            match raw.stmt.as_ref().and_then(|n| n.node.as_ref()) {
                Some(NodeEnum::ExecuteStmt(e)) if !self.lost => {
                    if let Some(prepared) = self.statements.get(&e.name) {
                        runs_read_only(prepared, "EXECUTE of a prepared statement");
                    }
                }
                Some(
                    NodeEnum::PrepareStmt(_)
                    | NodeEnum::DeallocateStmt(_)
                    | NodeEnum::DiscardStmt(_),
                ) => self.lost = true,
                _ => {}
            }
        }
        runs_read_only(&sql, "Query");
    }

    fn parse(&mut self, frame: &Frame) {
        let Some((name, sql)) = message::parse(frame) else {
            return;
        };
        let accepted = pg_query::parse(&sql, 0).is_ok_and(|p| p.protobuf.stmts.len() <= 1);
        // A named statement cannot be prepared twice: the second Parse fails.
        if !accepted || (!name.is_empty() && self.statements.contains_key(&name)) {
            self.skipping = true;
            return;
        }
        self.statements.insert(name, sql);
    }

    fn bind(&mut self, frame: &Frame) {
        let Some((portal, statement)) = message::bind(frame) else {
            return;
        };
        // A named portal cannot be bound twice: the second Bind fails.
        if !portal.is_empty() && self.portals.contains_key(&portal) {
            self.skipping = true;
            return;
        }
        match self.statements.get(&statement) {
            Some(sql) => {
                self.portals.insert(portal, Some(sql.clone()));
            }
            None if self.lost => {
                self.portals.insert(portal, None);
            }
            None => self.skipping = true,
        }
    }

    fn execute(&mut self, frame: &Frame) {
        let Some(portal) = message::execute(frame) else {
            return;
        };
        match self.portals.get(&portal) {
            Some(Some(sql)) => runs_read_only(sql, "Execute"),
            Some(None) => {}
            None if self.lost => {}
            None => self.skipping = true,
        }
    }

    fn close(&mut self, frame: &Frame) {
        match message::target_of(frame) {
            Some((b'S', name)) => self.statements.remove(&name),
            Some((_, name)) => self.portals.remove(&name).flatten(),
            None => None,
        };
    }
}

/// Panics if `sql` holds a statement that no default policy lets through without a human.
fn runs_read_only(sql: &str, how: &str) {
    let Ok(parsed) = pg_query::parse(sql, 0) else {
        return;
    };
    for raw in &parsed.protobuf.stmts {
        let node = raw.stmt.as_ref().and_then(|n| n.node.as_ref());
        assert!(
            !changes_things(node),
            "{how} ran upstream with nobody to approve it: {sql:?}"
        );
        let ctes = match node {
            Some(NodeEnum::SelectStmt(s)) => s.with_clause.as_ref(),
            Some(NodeEnum::InsertStmt(s)) => s.with_clause.as_ref(),
            Some(NodeEnum::UpdateStmt(s)) => s.with_clause.as_ref(),
            Some(NodeEnum::DeleteStmt(s)) => s.with_clause.as_ref(),
            _ => None,
        };
        for cte in ctes.map(|w| w.ctes.as_slice()).unwrap_or_default() {
            if let Some(NodeEnum::CommonTableExpr(c)) = &cte.node {
                let query = c.ctequery.as_ref().and_then(|q| q.node.as_ref());
                assert!(
                    !changes_things(query),
                    "{how} ran a writing WITH upstream: {sql:?}"
                );
            }
        }
    }
}

fn changes_things(node: Option<&NodeEnum>) -> bool {
    matches!(
        node,
        Some(
            NodeEnum::InsertStmt(_)
                | NodeEnum::UpdateStmt(_)
                | NodeEnum::DeleteStmt(_)
                | NodeEnum::MergeStmt(_)
                | NodeEnum::DropStmt(_)
                | NodeEnum::TruncateStmt(_)
                | NodeEnum::CreateStmt(_)
                | NodeEnum::AlterTableStmt(_)
                | NodeEnum::IndexStmt(_)
                | NodeEnum::GrantStmt(_)
                | NodeEnum::GrantRoleStmt(_)
                | NodeEnum::CreateRoleStmt(_)
                | NodeEnum::AlterRoleStmt(_)
                | NodeEnum::DropRoleStmt(_)
                | NodeEnum::DoStmt(_)
                | NodeEnum::CallStmt(_)
                | NodeEnum::AlterSystemStmt(_)
                | NodeEnum::VacuumStmt(_)
                | NodeEnum::CreateFunctionStmt(_)
                | NodeEnum::ViewStmt(_)
                | NodeEnum::CreateTableAsStmt(_)
        )
    ) || matches!(node, Some(NodeEnum::CopyStmt(c)) if c.is_from)
}

/// Whole messages only, and the registered secret in none of the values guard masks.
fn check_client(bytes: &[u8]) {
    // The format of each column of the current result: none yet, or `None` after a
    // RowDescription no server would send, which guard reads as best it can.
    let mut formats: Option<Vec<i16>> = Some(Vec::new());
    let mut copy_text = false;
    for frame in whole_frames(bytes) {
        let body = frame.body();
        match frame.tag() {
            b'T' => formats = row_formats(body).filter(|f| f.iter().all(|&f| f == 0 || f == 1)),
            b'D' => {
                let (Some(formats), Some(cells)) = (&formats, row_cells(body)) else {
                    continue;
                };
                // Binary cells of other types than text are not masked (nothing to read).
                let planned = formats.len() == cells.len();
                for (cell, i) in cells.into_iter().zip(0..) {
                    let binary = planned && formats[i] != 0;
                    if let Some(cell) = cell.filter(|_| !binary) {
                        assert!(!contains(cell, SECRET), "a registered secret in a row");
                    }
                }
            }
            b'E' | b'N' => {
                for (code, value) in error_fields(body).unwrap_or_default() {
                    if !matches!(code, b'S' | b'V' | b'C') {
                        assert!(!contains(value, SECRET), "a registered secret in an error");
                    }
                }
            }
            b'A' => {
                if let Some(text) = notification(body) {
                    assert!(
                        !contains(text, SECRET),
                        "a registered secret in a notification"
                    );
                }
            }
            b'H' => copy_text = body.first() == Some(&0),
            b'd' if copy_text => assert!(!contains(body, SECRET), "a registered secret in COPY"),
            _ => {}
        }
    }
}

/// The format code of each field of a RowDescription, if it is exactly well formed.
fn row_formats(body: &[u8]) -> Option<Vec<i16>> {
    let mut r = Reader::new(body);
    let count = i16::from_be_bytes(r.take(2)?.try_into().ok()?);
    let mut formats = Vec::new();
    for _ in 0..count {
        r.cstr()?;
        r.take(16)?;
        formats.push(i16::from_be_bytes(r.take(2)?.try_into().ok()?));
    }
    r.rest().is_empty().then_some(formats)
}

/// The cells of a DataRow, if it is exactly well formed (a server sends no other kind).
fn row_cells(body: &[u8]) -> Option<Vec<Option<&[u8]>>> {
    let mut r = Reader::new(body);
    let count = i16::from_be_bytes(r.take(2)?.try_into().ok()?);
    let mut cells = Vec::new();
    for _ in 0..count {
        let len = r.i32()?;
        cells.push(if len < 0 {
            None
        } else {
            Some(r.take(len as usize)?)
        });
    }
    r.rest().is_empty().then_some(cells)
}

/// The fields of an ErrorResponse or NoticeResponse, if it is exactly well formed.
fn error_fields(body: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut r = Reader::new(body);
    let mut fields = Vec::new();
    loop {
        match r.u8()? {
            0 => return r.rest().is_empty().then_some(fields),
            code => fields.push((code, r.cstr()?)),
        }
    }
}

/// A NotificationResponse's channel and payload, if it is exactly well formed.
fn notification(body: &[u8]) -> Option<&[u8]> {
    let mut r = Reader::new(body);
    r.i32()?;
    r.cstr()?;
    r.cstr()?;
    r.rest().is_empty().then_some(&body[4..])
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn masker() -> Masker {
    static MASKER: OnceLock<Masker> = OnceLock::new();
    MASKER
        .get_or_init(|| {
            let masker = Masker::new(&MaskConfig::default()).expect("masker");
            masker.add_secret(SECRET);
            masker
        })
        .clone()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    })
}
