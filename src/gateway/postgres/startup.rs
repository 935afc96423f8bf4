//! The client side of connection startup: encryption requests, the startup packet, protocol
//! version negotiation, cancel requests, and SCRAM authentication with the session secret.
//!
//! guard answers as a PostgreSQL server would (protocol docs, "Start-up"): `N` to SSLRequest and
//! GSSENCRequest (loopback needs neither, and libpq's default `prefer` then continues in clear),
//! `NegotiateProtocolVersion` to a newer 3.x minor or unknown `_pq_.` options, and the server's own
//! FATAL error for a major version it does not speak. A TLS ClientHello sent directly (PostgreSQL
//! 17's `sslnegotiation=direct`) gets no reply, as from a server without SSL: there is no
//! plaintext way to say no to a TLS client.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::frame::{self, FrameError};
use super::message::{self, frontend, sqlstate};
use super::scram::{self, ScramError, ServerExchange, Verifier};

const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;
/// Encryption requests a client may make before giving up (libpq makes at most two).
const MAX_REQUESTS: usize = 4;

/// A packet of the startup phase, before any tagged message.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet {
    SslRequest,
    GssEncRequest,
    Cancel {
        pid: i32,
        key: Bytes,
    },
    Startup {
        major: u16,
        minor: u16,
        params: Vec<(String, String)>,
    },
}

/// Why a connection ended during startup, and what (if anything) the client is told.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the client closed the connection during startup")]
    Closed,
    /// Answered with a FATAL ErrorResponse carrying this SQLSTATE and message.
    #[error("{message}")]
    Fatal {
        sqlstate: &'static str,
        message: String,
    },
    /// Closed without a reply, because the client would not understand one.
    #[error("{0}")]
    Dropped(&'static str),
}

impl HandshakeError {
    pub fn fatal(sqlstate: &'static str, message: impl Into<String>) -> Self {
        HandshakeError::Fatal {
            sqlstate,
            message: message.into(),
        }
    }
}

impl From<FrameError> for HandshakeError {
    fn from(e: FrameError) -> Self {
        HandshakeError::fatal(
            sqlstate::PROTOCOL_VIOLATION,
            format!("invalid startup packet: {e}"),
        )
    }
}

impl Packet {
    /// Decodes a startup-phase packet (after its length).
    pub fn parse(body: &[u8]) -> Result<Packet, HandshakeError> {
        let mut r = message::Reader::new(body);
        let code = r.i32().ok_or_else(|| invalid("too short"))?;
        match code {
            SSL_REQUEST => Ok(Packet::SslRequest),
            GSSENC_REQUEST => Ok(Packet::GssEncRequest),
            CANCEL_REQUEST => {
                let pid = r.i32().ok_or_else(|| invalid("cancel request too short"))?;
                Ok(Packet::Cancel {
                    pid,
                    key: Bytes::copy_from_slice(r.rest()),
                })
            }
            version => {
                let (major, minor) = ((version >> 16) as u16, version as u16);
                // Other majors lay out the rest differently; the version alone refuses them.
                let params = if major == 3 {
                    parse_params(&mut r)?
                } else {
                    Vec::new()
                };
                Ok(Packet::Startup {
                    major,
                    minor,
                    params,
                })
            }
        }
    }
}

fn invalid(what: &str) -> HandshakeError {
    HandshakeError::fatal(
        sqlstate::PROTOCOL_VIOLATION,
        format!("invalid startup packet layout: {what}"),
    )
}

/// Name/value pairs, each NUL-terminated, ending with an empty name.
fn parse_params(r: &mut message::Reader<'_>) -> Result<Vec<(String, String)>, HandshakeError> {
    let mut params = Vec::new();
    loop {
        let name = r.cstr().ok_or_else(|| invalid("expected terminator"))?;
        if name.is_empty() {
            return Ok(params);
        }
        let value = r.cstr().ok_or_else(|| invalid("missing value"))?;
        params.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
}

/// What a client opened its connection for.
#[derive(Debug)]
pub enum Opening {
    /// A session: the startup parameters, `user` and `database` among them.
    Session(Vec<(String, String)>),
    Cancel {
        pid: i32,
        key: Bytes,
    },
}

/// Reads startup packets until the client asks for a session or a cancel, answering encryption
/// requests and version negotiation on the way.
pub async fn open<S>(io: &mut S, buf: &mut BytesMut) -> Result<Opening, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for _ in 0..MAX_REQUESTS {
        read_more(io, buf, 1).await?;
        if buf[0] == TLS_HANDSHAKE {
            return Err(HandshakeError::Dropped(
                "direct TLS connection refused; guard listens in clear on loopback",
            ));
        }
        let packet = loop {
            match frame::split_startup(buf)? {
                Some(p) => break p,
                None => read_more(io, buf, buf.len() + 1).await?,
            }
        };
        match Packet::parse(&packet)? {
            Packet::SslRequest | Packet::GssEncRequest => io.write_all(b"N").await?,
            Packet::Cancel { pid, key } => return Ok(Opening::Cancel { pid, key }),
            Packet::Startup {
                major,
                minor,
                params,
            } => return negotiate(io, major, minor, params).await,
        }
    }
    Err(HandshakeError::fatal(
        sqlstate::PROTOCOL_VIOLATION,
        "too many encryption requests",
    ))
}

/// Accepts protocol 3.0; asks a newer 3.x client to fall back with `NegotiateProtocolVersion`;
/// refuses other majors as the server does (`ProcessStartupPacket`).
async fn negotiate<S>(
    io: &mut S,
    major: u16,
    minor: u16,
    params: Vec<(String, String)>,
) -> Result<Opening, HandshakeError>
where
    S: AsyncWrite + Unpin,
{
    if major != 3 {
        return Err(HandshakeError::fatal(
            sqlstate::FEATURE_NOT_SUPPORTED,
            format!("unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"),
        ));
    }
    let (options, params): (Vec<_>, Vec<_>) = params
        .into_iter()
        .partition(|(k, _)| k.starts_with("_pq_."));
    if minor > 0 || !options.is_empty() {
        let names: Vec<String> = options.into_iter().map(|(k, _)| k).collect();
        io.write_all(&message::negotiate_protocol_version(0, &names))
            .await?;
    }
    Ok(Opening::Session(params))
}

/// Reads until `buf` holds at least `want` bytes.
async fn read_more<S>(io: &mut S, buf: &mut BytesMut, want: usize) -> Result<(), HandshakeError>
where
    S: AsyncRead + Unpin,
{
    while buf.len() < want {
        if io.read_buf(buf).await? == 0 {
            return Err(HandshakeError::Closed);
        }
    }
    Ok(())
}

/// Reads one tagged message during authentication.
async fn read_frame<S>(io: &mut S, buf: &mut BytesMut) -> Result<frame::Frame, HandshakeError>
where
    S: AsyncRead + Unpin,
{
    loop {
        if let Some(frame) = frame::split_frame(buf)? {
            return Ok(frame);
        }
        read_more(io, buf, buf.len() + 1).await?;
    }
}

/// Runs SCRAM-SHA-256 with the client up to `AuthenticationSASLFinal`. `AuthenticationOk`
/// follows once the upstream is ready, so a client is never told it is in before it is.
pub async fn authenticate<S>(
    io: &mut S,
    buf: &mut BytesMut,
    verifier: &Verifier,
    user: &str,
) -> Result<(), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(&message::authentication_sasl(&[scram::MECHANISM]))
        .await?;
    let first = expect_password_message(io, buf).await?;
    let (mechanism, data) = message::sasl_initial_response(&first)
        .ok_or_else(|| sasl_error("malformed SASLInitialResponse"))?;
    if mechanism != scram::MECHANISM {
        return Err(sasl_error(
            "client selected an invalid SASL authentication mechanism",
        ));
    }
    let (exchange, server_first) =
        ServerExchange::start(verifier, &data, &server_nonce()).map_err(scram_error(user))?;
    io.write_all(&message::authentication(11, server_first.as_bytes()))
        .await?;
    let last = expect_password_message(io, buf).await?;
    let server_final = exchange
        .finish(verifier, last.body())
        .map_err(scram_error(user))?;
    io.write_all(&message::authentication(12, server_final.as_bytes()))
        .await?;
    Ok(())
}

async fn expect_password_message<S>(
    io: &mut S,
    buf: &mut BytesMut,
) -> Result<frame::Frame, HandshakeError>
where
    S: AsyncRead + Unpin,
{
    let frame = read_frame(io, buf).await?;
    if frame.tag() != frontend::PASSWORD {
        return Err(sasl_error(&format!(
            "expected SASL response, got message type {}",
            message::describe(&frame)
        )));
    }
    Ok(frame)
}

fn sasl_error(message: &str) -> HandshakeError {
    HandshakeError::fatal(sqlstate::PROTOCOL_VIOLATION, message)
}

/// A wrong proof gets the server's own words, so clients and people recognise it.
fn scram_error(user: &str) -> impl Fn(ScramError) -> HandshakeError + '_ {
    move |e| match e {
        ScramError::WrongProof => HandshakeError::fatal(
            sqlstate::INVALID_PASSWORD,
            format!("password authentication failed for user \"{user}\""),
        ),
        other => sasl_error(&other.to_string()),
    }
}

/// 18 random bytes in base64, as the server makes its nonce.
fn server_nonce() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 18];
    crate::secret::random(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup_packet(version: i32, params: &[(&str, &str)]) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        for (k, v) in params {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        packet.extend_from_slice(&body);
        packet
    }

    async fn run_open(input: Vec<u8>) -> (Result<Opening, HandshakeError>, Vec<u8>) {
        let (mut client, mut server) = tokio::io::duplex(4096);
        client.write_all(&input).await.unwrap();
        client.shutdown().await.unwrap();
        let mut buf = BytesMut::new();
        let result = open(&mut server, &mut buf).await;
        drop(server);
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        (result, reply)
    }

    #[tokio::test]
    async fn ssl_and_gss_requests_are_declined_then_startup_is_read() {
        let mut input = vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]; // GSSENCRequest
        input.extend_from_slice(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]); // SSLRequest
        input.extend(startup_packet(
            196_608,
            &[("user", "guard"), ("database", "shop")],
        ));
        let (result, reply) = run_open(input).await;
        assert_eq!(reply, b"NN");
        match result.unwrap() {
            Opening::Session(params) => assert_eq!(params[1], ("database".into(), "shop".into())),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_newer_minor_version_is_negotiated_down() {
        let input = startup_packet(196_610, &[("user", "u"), ("_pq_.x", "1")]);
        let (result, reply) = run_open(input).await;
        assert!(matches!(result, Ok(Opening::Session(p)) if p.len() == 1));
        assert_eq!(
            reply,
            &message::negotiate_protocol_version(0, &["_pq_.x".into()])[..]
        );
    }

    #[tokio::test]
    async fn other_majors_direct_tls_and_garbage_are_refused() {
        let (result, _) = run_open(vec![0, 0, 0, 8, 0, 2, 0, 0]).await;
        assert!(
            matches!(result, Err(HandshakeError::Fatal { sqlstate: "0A000", ref message })
                if message.contains("unsupported frontend protocol 2.0"))
        );
        let (result, reply) = run_open(vec![0x16, 3, 1, 0, 10]).await;
        assert!(matches!(result, Err(HandshakeError::Dropped(_))));
        assert!(reply.is_empty());
        let (result, _) = run_open(b"GET / HTTP/1.1\r\n\r\n".to_vec()).await;
        assert!(matches!(result, Err(HandshakeError::Fatal { .. })));
        let (result, _) = run_open(vec![0, 0, 0, 12, 0, 3, 0, 0, b'u', 0, b'x', 0]).await;
        assert!(matches!(result, Err(HandshakeError::Fatal { .. })));
    }

    #[tokio::test]
    async fn cancel_requests_carry_their_key() {
        let input = vec![0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 7, 1, 2, 3, 4];
        let (result, _) = run_open(input).await;
        match result.unwrap() {
            Opening::Cancel { pid, key } => assert_eq!((pid, &key[..]), (7, &[1, 2, 3, 4][..])),
            other => panic!("{other:?}"),
        }
    }

    /// A real SCRAM client (postgres-protocol's) against `authenticate`, over a duplex pipe.
    #[tokio::test]
    async fn scram_with_the_right_and_a_wrong_secret() {
        for (secret, ok) in [("right-secret", true), ("wrong-secret", false)] {
            let verifier = Verifier::new(b"right-secret", b"salt-salt-salt-1", 4096);
            let (mut client, mut server) = tokio::io::duplex(4096);
            let task = tokio::spawn(async move {
                let mut buf = BytesMut::new();
                authenticate(&mut server, &mut buf, &verifier, "guard").await
            });
            let server_final = scram_client(&mut client, secret).await;
            let result = task.await.unwrap();
            assert_eq!(result.is_ok(), ok, "{result:?}");
            if !ok {
                assert!(matches!(
                    result,
                    Err(HandshakeError::Fatal {
                        sqlstate: "28P01",
                        ..
                    })
                ));
                assert!(server_final.is_none());
            }
        }
    }

    async fn scram_client(io: &mut tokio::io::DuplexStream, secret: &str) -> Option<Vec<u8>> {
        use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
        use postgres_protocol::message::frontend as fe;
        let mut buf = BytesMut::new();
        let sasl = read_frame(io, &mut buf).await.unwrap();
        assert_eq!(&sasl.body()[..4], &10i32.to_be_bytes());
        let mut scram = ScramSha256::new(secret.as_bytes(), ChannelBinding::unsupported());
        let mut out = BytesMut::new();
        fe::sasl_initial_response(scram::MECHANISM, scram.message(), &mut out).unwrap();
        io.write_all(&out).await.unwrap();
        let cont = read_frame(io, &mut buf).await.unwrap();
        scram.update(&cont.body()[4..]).unwrap();
        out.clear();
        fe::sasl_response(scram.message(), &mut out).unwrap();
        io.write_all(&out).await.unwrap();
        let fin = read_frame(io, &mut buf).await.ok()?;
        Some(fin.body()[4..].to_vec())
    }
}
