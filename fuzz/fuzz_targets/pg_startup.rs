//! Fuzzes the client side of PostgreSQL connection startup with arbitrary bytes from the
//! client, delivered in reads of any size: encryption requests, the startup packet, version
//! negotiation, then SCRAM-SHA-256 against the session secret. It never panics, answers only
//! with `N` and whole messages, passes on no `_pq_.` option as a parameter, and never lets in
//! a client that does not know the secret (the server's nonce is random, so no input can).
//!
//!     cargo +nightly fuzz run pg_startup

#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use guard_fuzz::gateway::postgres::scram::{ITERATIONS, Verifier};
use guard_fuzz::gateway::postgres::startup::{self, Opening};
use guard_fuzz::wire::{Duplex, Peer, Sink, whole_frames};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let mut io = Duplex {
        peer: Peer::new(input, usize::from(chunk % 32) + 1),
        sink: Sink::default(),
    };
    let mut buf = BytesMut::new();
    let opened = now(startup::open(&mut io, &mut buf));
    let written = io.sink.bytes();
    // One N per encryption request, then at most a NegotiateProtocolVersion.
    let declined = written.iter().take_while(|&&b| b == b'N').count();
    for frame in whole_frames(&written[declined..]) {
        assert_eq!(frame.tag(), b'v', "unexpected reply during startup");
    }
    let Ok(Opening::Session(params)) = opened else {
        return;
    };
    assert!(
        params.iter().all(|(k, _)| !k.starts_with("_pq_.")),
        "{params:?}"
    );
    let result = now(startup::authenticate(
        &mut io,
        &mut buf,
        verifier(),
        "agent",
    ));
    assert!(
        result.is_err(),
        "a client that does not know the secret was let in"
    );
    for frame in whole_frames(&io.sink.bytes()[written.len()..]) {
        assert_eq!(frame.tag(), b'R', "unexpected reply during authentication");
    }
});

/// Runs a future that cannot wait: the peer and the sink are always ready.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("startup waited on an in-memory peer"),
    }
}

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier::new(b"fuzz-session-secret", b"fuzz-salt", ITERATIONS))
}
