//! The upstream side: connect to the real server, secure the connection per the target's `tls`,
//! log in with the real credential, and read up to the first ReadyForQuery. Also sends cancel
//! requests, which travel on a connection of their own (protocol docs, "Canceling Requests").
//!
//! Authentication is SCRAM-SHA-256 (with `-PLUS` channel binding when the server offers it over
//! TLS) or md5; the server's SCRAM signature is verified, and an AuthenticationOk that arrives
//! before it is refused, so a server that does not know the password cannot pose as the real one.
//! A cleartext password is sent only inside TLS.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use postgres_protocol::authentication::sasl::{self, ChannelBinding, ScramSha256};
use postgres_protocol::message::frontend as fe;
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use zeroize::Zeroizing;

use crate::broker::{CredentialHandle, Lease};

use super::frame::{self, Frame};
use super::message::{self, ErrorFields, backend};
use super::tls;
use crate::config::TlsMode;

/// How long connecting and logging in upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and as whom guard logs in upstream.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// `host:port` as configured.
    pub address: String,
    pub host: String,
    /// Asked again for every connection: a lease renewed or replaced mid-session gives new
    /// connections the newest user and password.
    pub credential: CredentialHandle,
    pub database: String,
    pub tls: TlsMode,
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
}

/// Why the upstream could not be used. Messages never hold the password.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to {address}: {source}")]
    Unreachable {
        address: String,
        source: std::io::Error,
    },
    #[error("connecting to {0} timed out")]
    Timeout(String),
    #[error("{0} does not accept TLS, and the target's tls mode requires it")]
    NoTls(String),
    #[error("TLS with {address} failed: {reason}")]
    Tls { address: String, reason: String },
    #[error("the server refused the login: {} ({})", .0.message, .0.sqlstate)]
    Refused(ErrorFields),
    #[error("authentication with the server failed: {0}")]
    Auth(String),
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
    #[error("the connection to the server failed: {0}")]
    Io(#[from] std::io::Error),
    /// The leased credential ended and the broker could not renew or replace it.
    #[error(transparent)]
    Expired(crate::broker::Expired),
}

impl UpstreamError {
    /// One short line telling the human what to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            UpstreamError::Unreachable { .. } | UpstreamError::Timeout(_) => {
                "is the server running, and is `upstream` right?"
            }
            UpstreamError::NoTls(_) | UpstreamError::Tls { .. } => {
                "check the target's `tls` setting against the server's SSL configuration"
            }
            UpstreamError::Refused(f) if f.sqlstate.starts_with("28") => {
                "check the target's `credentials` (username and password)"
            }
            UpstreamError::Refused(f) if f.sqlstate == "3D000" => "check the target's `database`",
            UpstreamError::Expired(_) => {
                "guard keeps asking the broker and serves new connections once it answers; \
                 check that it is running (`guard doctor`)"
            }
            _ => "check the upstream server's log",
        }
    }
}

/// A plain or TLS connection to the server.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

impl Stream {
    /// Separate halves, so each relay direction owns one.
    pub fn split(self) -> (BoxRead, BoxWrite) {
        match self {
            Stream::Plain(tcp) => {
                let (r, w) = tcp.into_split();
                (Box::new(r), Box::new(w))
            }
            Stream::Tls(tls) => {
                let (r, w) = tokio::io::split(*tls);
                (Box::new(r), Box::new(w))
            }
        }
    }

    fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A logged-in upstream connection, ready for queries.
pub struct Upstream {
    pub stream: Stream,
    /// Bytes already read past the first ReadyForQuery (none, from a well-behaved server).
    pub buf: BytesMut,
    /// ParameterStatus and NoticeResponse frames to pass on to the client, in order.
    pub greeting: Vec<Bytes>,
    /// The server's BackendKeyData: process id and secret key.
    pub key: Option<(i32, Bytes)>,
    /// Transaction status from the first ReadyForQuery.
    pub status: u8,
    /// The lease the login ran under; the connection must not outlive it.
    pub lease: Lease,
}

/// Connects, secures and logs in, passing the client's startup parameters through.
pub async fn connect(
    config: &UpstreamConfig,
    params: &[(String, String)],
) -> Result<Upstream, UpstreamError> {
    let (credential, lease) = config
        .credential
        .checkout()
        .map_err(UpstreamError::Expired)?;
    let login = Login {
        user: credential.username.clone(),
        password: Zeroizing::new(credential.password.expose_secret().to_string()),
    };
    let work = async {
        let (mut stream, cert_hash) = open(config).await?;
        let mut startup = BytesMut::new();
        let mut all: Vec<(&str, &str)> =
            vec![("user", &login.user), ("database", &config.database)];
        all.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        fe::startup_message(all, &mut startup)?;
        stream.write_all(&startup).await?;
        let mut buf = BytesMut::with_capacity(8192);
        authenticate(&login, &mut stream, &mut buf, cert_hash).await?;
        let (greeting, key, status) = read_until_ready(&mut stream, &mut buf).await?;
        Ok(Upstream {
            stream,
            buf,
            greeting,
            key,
            status,
            lease,
        })
    };
    tokio::time::timeout(CONNECT_TIMEOUT, work)
        .await
        .map_err(|_| UpstreamError::Timeout(config.address.clone()))?
}

/// TCP, then TLS as the mode asks. Returns the channel-binding hash of the server certificate.
async fn open(config: &UpstreamConfig) -> Result<(Stream, Option<Vec<u8>>), UpstreamError> {
    let tcp = TcpStream::connect(&config.address)
        .await
        .map_err(|source| UpstreamError::Unreachable {
            address: config.address.clone(),
            source,
        })?;
    // Small messages both ways; Nagle would add a round trip's delay to every one.
    tcp.set_nodelay(true)?;
    let Some(tls_config) = &config.tls_config else {
        return Ok((Stream::Plain(tcp), None));
    };
    secure(config, tcp, tls_config.clone()).await
}

async fn secure(
    config: &UpstreamConfig,
    mut tcp: TcpStream,
    tls_config: Arc<rustls::ClientConfig>,
) -> Result<(Stream, Option<Vec<u8>>), UpstreamError> {
    let mut request = BytesMut::new();
    fe::ssl_request(&mut request);
    tcp.write_all(&request).await?;
    // Exactly one byte: anything the server sends after `S` must be part of the TLS handshake
    // (CVE-2021-23214 was a client that buffered plaintext sent there).
    match tcp.read_u8().await? {
        b'S' => {}
        b'N' if config.tls == TlsMode::Prefer => return Ok((Stream::Plain(tcp), None)),
        b'N' => return Err(UpstreamError::NoTls(config.address.clone())),
        other => {
            return Err(UpstreamError::Protocol(format!(
                "unexpected answer 0x{other:02x} to SSLRequest"
            )));
        }
    }
    let tls_error = |reason: String| UpstreamError::Tls {
        address: config.address.clone(),
        reason,
    };
    let name = rustls::pki_types::ServerName::try_from(config.host.clone())
        .map_err(|e| tls_error(format!("`{}` is not a valid server name: {e}", config.host)))?;
    let tls = tokio_rustls::TlsConnector::from(tls_config)
        .connect(name, tcp)
        .await
        .map_err(|e| tls_error(e.to_string()))?;
    let hash = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| tls::end_point_hash(cert));
    Ok((Stream::Tls(Box::new(tls)), hash))
}

/// Reads one tagged message from the server during startup.
async fn read_frame(stream: &mut Stream, buf: &mut BytesMut) -> Result<Frame, UpstreamError> {
    loop {
        match frame::split_frame(buf) {
            Ok(Some(frame)) => return Ok(frame),
            Ok(None) => {}
            Err(e) => return Err(UpstreamError::Protocol(e.to_string())),
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(UpstreamError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
}

/// An `Authentication*` request: its code and data; an ErrorResponse becomes `Refused`.
async fn read_auth(stream: &mut Stream, buf: &mut BytesMut) -> Result<(i32, Bytes), UpstreamError> {
    let frame = read_frame(stream, buf).await?;
    match frame.tag() {
        backend::AUTHENTICATION if frame.body().len() >= 4 => {
            let body = frame.raw().slice(5..);
            let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
            Ok((code, body.slice(4..)))
        }
        backend::ERROR_RESPONSE => Err(refused(&frame)),
        _ => Err(UpstreamError::Protocol(format!(
            "expected an authentication request, got {}",
            message::describe(&frame)
        ))),
    }
}

fn refused(frame: &Frame) -> UpstreamError {
    UpstreamError::Refused(message::error_fields(frame).unwrap_or_default())
}

/// The user and password of one connection's login.
struct Login {
    user: String,
    password: Zeroizing<String>,
}

async fn authenticate(
    config: &Login,
    stream: &mut Stream,
    buf: &mut BytesMut,
    cert_hash: Option<Vec<u8>>,
) -> Result<(), UpstreamError> {
    let (code, data) = read_auth(stream, buf).await?;
    let mut out = BytesMut::new();
    match code {
        0 => return Ok(()),
        3 if stream.is_tls() => fe::password_message(config.password.as_bytes(), &mut out)?,
        3 => {
            return Err(UpstreamError::Auth(
                "the server asks for a cleartext password outside TLS; guard does not send it"
                    .into(),
            ));
        }
        5 if data.len() == 4 => {
            let salt = [data[0], data[1], data[2], data[3]];
            let hash = postgres_protocol::authentication::md5_hash(
                config.user.as_bytes(),
                config.password.as_bytes(),
                salt,
            );
            fe::password_message(hash.as_bytes(), &mut out)?;
        }
        10 => return scram(config, stream, buf, &data, cert_hash).await,
        other => {
            return Err(UpstreamError::Auth(format!(
                "the server asks for authentication method {other}, which guard does not support"
            )));
        }
    }
    stream.write_all(&out).await?;
    expect_ok(stream, buf).await
}

async fn expect_ok(stream: &mut Stream, buf: &mut BytesMut) -> Result<(), UpstreamError> {
    match read_auth(stream, buf).await? {
        (0, _) => Ok(()),
        (code, _) => Err(UpstreamError::Protocol(format!(
            "expected AuthenticationOk, got authentication request {code}"
        ))),
    }
}

/// SCRAM-SHA-256, with `-PLUS` when offered over TLS and the certificate's hash is known.
async fn scram(
    config: &Login,
    stream: &mut Stream,
    buf: &mut BytesMut,
    mechanisms: &[u8],
    cert_hash: Option<Vec<u8>>,
) -> Result<(), UpstreamError> {
    let offered: Vec<&[u8]> = mechanisms.split(|&b| b == 0).collect();
    let plus = offered.contains(&sasl::SCRAM_SHA_256_PLUS.as_bytes());
    let (mechanism, binding) = match cert_hash {
        Some(hash) if plus => (
            sasl::SCRAM_SHA_256_PLUS,
            ChannelBinding::tls_server_end_point(hash),
        ),
        // Over TLS without PLUS on offer, say we could bind (`y`), so a downgrade is detected.
        Some(_) => (sasl::SCRAM_SHA_256, ChannelBinding::unrequested()),
        None => (sasl::SCRAM_SHA_256, ChannelBinding::unsupported()),
    };
    if mechanism == sasl::SCRAM_SHA_256 && !offered.contains(&mechanism.as_bytes()) {
        return Err(UpstreamError::Auth(
            "the server offers no SASL mechanism guard supports".into(),
        ));
    }
    let client = ScramSha256::new(config.password.as_bytes(), binding);
    let mut out = BytesMut::new();
    fe::sasl_initial_response(mechanism, client.message(), &mut out)?;
    stream.write_all(&out).await?;
    let data = expect_sasl(stream, buf, 11).await?;
    // PBKDF2 with the server's iteration count takes milliseconds of CPU: off the event loop,
    // which serves every other connection meanwhile.
    let (mut client, updated) = tokio::task::spawn_blocking(move || {
        let mut client = client;
        let updated = client.update(&data);
        (client, updated)
    })
    .await
    .map_err(|e| UpstreamError::Auth(e.to_string()))?;
    updated.map_err(|e| UpstreamError::Auth(e.to_string()))?;
    out.clear();
    fe::sasl_response(client.message(), &mut out)?;
    stream.write_all(&out).await?;
    let data = expect_sasl(stream, buf, 12).await?;
    // Verifies the server's signature: only a server that knows the password can make it.
    client
        .finish(&data)
        .map_err(|e| UpstreamError::Auth(format!("server signature: {e}")))?;
    expect_ok(stream, buf).await
}

async fn expect_sasl(
    stream: &mut Stream,
    buf: &mut BytesMut,
    want: i32,
) -> Result<Bytes, UpstreamError> {
    match read_auth(stream, buf).await? {
        (code, data) if code == want => Ok(data),
        (0, _) => Err(UpstreamError::Auth(
            "the server ended SCRAM early without proving it knows the password".into(),
        )),
        (code, _) => Err(UpstreamError::Protocol(format!(
            "expected SASL step {want}, got authentication request {code}"
        ))),
    }
}

type Greeting = (Vec<Bytes>, Option<(i32, Bytes)>, u8);

/// After AuthenticationOk: ParameterStatus, BackendKeyData and notices, up to ReadyForQuery.
async fn read_until_ready(
    stream: &mut Stream,
    buf: &mut BytesMut,
) -> Result<Greeting, UpstreamError> {
    let mut greeting = Vec::new();
    let mut key = None;
    loop {
        let frame = read_frame(stream, buf).await?;
        match frame.tag() {
            backend::PARAMETER_STATUS | backend::NOTICE_RESPONSE => {
                greeting.push(frame.raw().clone())
            }
            backend::BACKEND_KEY_DATA => {
                let mut r = message::Reader::new(frame.body());
                let pid = r.i32().ok_or_else(bad_key)?;
                key = Some((pid, Bytes::copy_from_slice(r.rest())));
            }
            backend::READY_FOR_QUERY => {
                let status = message::ready_status(&frame).unwrap_or(b'I');
                return Ok((greeting, key, status));
            }
            backend::ERROR_RESPONSE => return Err(refused(&frame)),
            backend::NEGOTIATE_PROTOCOL_VERSION => {}
            _ => {
                return Err(UpstreamError::Protocol(format!(
                    "unexpected {} during startup",
                    message::describe(&frame)
                )));
            }
        }
    }
}

fn bad_key() -> UpstreamError {
    UpstreamError::Protocol("malformed BackendKeyData".into())
}

/// Sends a CancelRequest for the server process `pid` with its secret `key`, over a new
/// connection secured like the session's (the key is a secret too), and waits for the server
/// to close it, which it does once it has read the request.
pub async fn cancel(config: &UpstreamConfig, pid: i32, key: &[u8]) -> Result<(), UpstreamError> {
    let work = async {
        let (mut stream, _) = open(config).await?;
        let mut request = BytesMut::new();
        request.extend_from_slice(&((12 + key.len()) as i32).to_be_bytes());
        request.extend_from_slice(&80_877_102i32.to_be_bytes());
        request.extend_from_slice(&pid.to_be_bytes());
        request.extend_from_slice(key);
        stream.write_all(&request).await?;
        let mut sink = [0u8; 64];
        while stream.read(&mut sink).await? > 0 {}
        Ok(())
    };
    tokio::time::timeout(CONNECT_TIMEOUT, work)
        .await
        .map_err(|_| UpstreamError::Timeout(config.address.clone()))?
}
