//! The relay of one logged-in client connection: the two directions run side by side (so neither
//! can wedge the other when both sides write at once), and whichever ends first ends the
//! connection. What the client is told, and what is recorded for statements still in flight,
//! is decided here.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::backend::{BackEnd, BackError, Backend};
use super::enforce::Guard;
use super::frontend::{FrontEnd, FrontError, Frontend};
use super::mask::Catalog;
use super::message::{self, sqlstate};
use super::statement::{Ctx, Queue, lost};
use super::status::StatusTap;
use super::upstream::{BoxRead, BoxWrite};
use crate::broker::Lease;
use crate::mask::Masker;

/// Both sides of a connection, after startup.
pub struct Ends {
    pub client_read: BoxRead,
    pub client_write: BoxWrite,
    pub client_buf: BytesMut,
    pub upstream_read: BoxRead,
    pub upstream_write: BoxWrite,
    pub upstream_buf: BytesMut,
}

/// How a relay ended, for the `connection` close record and the human.
pub struct Outcome {
    /// What went wrong, if anything did (a plain disconnect is not an error).
    pub error: Option<String>,
    /// The upstream failed: worth a line on guard's stderr.
    pub upstream_failed: bool,
    /// The client left while a statement was still running upstream: cancel it.
    pub cancel_upstream: bool,
}

enum End {
    Front(Result<FrontEnd, FrontError>),
    Back(Result<BackEnd, BackError>),
    Shutdown,
    /// The lease of the credential the upstream logged in with ended (see `broker::credential`).
    LeaseEnded,
}

/// Relays until either side ends, the session shuts down, or the lease the upstream logged in
/// under ends; `status` is the transaction status the server first reported.
pub async fn run(
    ctx: Arc<Ctx>,
    guard: Guard,
    mut ends: Ends,
    (status, lease): (u8, Lease),
    mut shutdown: watch::Receiver<bool>,
    masking: (Masker, Catalog),
) -> Outcome {
    let queue = Queue::default();
    // The frontend refuses inside a transaction as the server would, so it needs the status.
    let told = Arc::new(std::sync::atomic::AtomicU8::new(status));
    let client_write = std::mem::replace(&mut ends.client_write, Box::new(tokio::io::sink()));
    ends.client_write = Box::new(StatusTap::new(client_write, told.clone()));
    let mut front = Frontend::new(ctx.clone(), queue.clone(), guard, told);
    let target = ctx.target.clone();
    let mut back = Backend::new(ctx, queue, status, masking);
    let end = tokio::select! {
        r = front.run(&mut ends.client_read, &mut ends.client_buf, &mut ends.upstream_write) => {
            End::Front(r)
        }
        r = back.run(&mut ends.upstream_read, &mut ends.upstream_buf, &mut ends.client_write) => {
            End::Back(r)
        }
        _ = shutdown.wait_for(|stop| *stop) => End::Shutdown,
        _ = lease.ended() => End::LeaseEnded,
    };
    let outcome = conclude(end, &mut back, &mut ends, &target).await;
    let _ = ends.client_write.shutdown().await;
    let _ = ends.upstream_write.shutdown().await;
    outcome
}

async fn conclude(end: End, back: &mut Backend, ends: &mut Ends, target: &str) -> Outcome {
    let mut outcome = Outcome {
        error: None,
        upstream_failed: false,
        cancel_upstream: false,
    };
    match end {
        End::Front(Ok(FrontEnd::Terminated)) => {
            back.abandon(&lost("guard: the client ended the connection"))
        }
        End::Front(Ok(FrontEnd::Gone)) => {
            outcome.cancel_upstream = back.in_flight();
            back.abandon(&lost("guard: the client disconnected before the result"));
            terminate_upstream(ends).await;
        }
        End::Front(Err(FrontError::Client { sqlstate, message })) => {
            tell_client(ends, sqlstate, &message).await;
            back.abandon(&lost(&message));
            terminate_upstream(ends).await;
            outcome.error = Some(message);
        }
        End::Front(Err(e @ FrontError::Upstream(_))) => {
            upstream_lost(back, ends, &mut outcome, e.to_string(), false).await
        }
        End::Back(Ok(BackEnd::Closed { fatal })) => {
            let why = "the server closed the connection".to_string();
            upstream_lost(back, ends, &mut outcome, why, fatal).await
        }
        End::Back(Err(e @ BackError::Client(_))) => {
            outcome.cancel_upstream = back.in_flight();
            back.abandon(&lost("guard: the client disconnected before the result"));
            outcome.error = Some(e.to_string());
        }
        End::Back(Err(e)) => upstream_lost(back, ends, &mut outcome, e.to_string(), false).await,
        End::Shutdown => {
            // The server would finish a running statement before reading Terminate.
            outcome.cancel_upstream = back.in_flight();
            tell_client(ends, "57P01", "guard: the session is ending").await;
            back.abandon(&lost("guard: the session ended before the result"));
            terminate_upstream(ends).await;
        }
        End::LeaseEnded => lease_ended(back, ends, &mut outcome, target).await,
    }
    outcome
}

/// What the broker's revocation would do at the end of the lease, had it run: the credential's
/// sessions end with it (SQLSTATE 57P01, as for pg_terminate_backend).
async fn lease_ended(back: &mut Backend, ends: &mut Ends, outcome: &mut Outcome, target: &str) {
    let message = format!(
        "guard: the lease on the credentials of target `{target}` ended, so this connection \
         ended with it; a new connection uses newer credentials if the broker issued them"
    );
    outcome.cancel_upstream = back.in_flight();
    tell_client(ends, "57P01", &message).await;
    back.abandon(&lost(&message));
    terminate_upstream(ends).await;
    outcome.error = Some(message);
}

/// The server went away: the client hears it from guard (unless the server already sent its
/// own FATAL), and statements in flight are recorded as lost.
async fn upstream_lost(
    back: &mut Backend,
    ends: &mut Ends,
    outcome: &mut Outcome,
    why: String,
    server_said_why: bool,
) {
    let message = format!("guard: the connection to the server was lost: {why}");
    if !server_said_why {
        tell_client(ends, sqlstate::CONNECTION_FAILURE, &message).await;
    }
    back.abandon(&lost(&message));
    outcome.error = Some(why);
    outcome.upstream_failed = true;
}

async fn tell_client(ends: &mut Ends, code: &str, message: &str) {
    let _ = ends
        .client_write
        .write_all(&message::error_response("FATAL", code, message))
        .await;
}

/// Terminate tells the server the session is over, so it does not log an unexpected EOF.
async fn terminate_upstream(ends: &mut Ends) {
    let _ = ends.upstream_write.write_all(b"X\0\0\0\x04").await;
}
