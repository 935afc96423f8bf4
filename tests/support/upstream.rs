//! A real HTTP service for the HTTP gateway tests, on a free loopback port: a JSON API with
//! customer records, an endpoint that echoes the credential it received, a 50 MiB chunked body,
//! an SSE stream that sends its next event only after the previous one was acknowledged, one that
//! never answers, and (separately) a port that resets every connection. It serves plain HTTP, or
//! TLS with HTTP/2 and HTTP/1.1 offered by ALPN. It remembers every request it saw, so tests can
//! check what guard sent upstream.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::Read;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::{Notify, mpsc};
use tokio_rustls::TlsAcceptor;

pub const BIG: usize = 50 * 1024 * 1024;
static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

type Reply = Response<UnsyncBoxBody<Bytes, Infallible>>;

/// One request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub version: String,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    ack: Notify,
}

pub struct Upstream {
    pub port: u16,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl Upstream {
    pub fn start() -> Upstream {
        Self::serve(None)
    }

    /// Serves TLS with the certificate and key in these PEM files.
    pub fn start_tls(cert: &Path, key: &Path) -> Upstream {
        let certs = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Self::serve(Some(TlsAcceptor::from(Arc::new(config))))
    }

    fn serve(tls: Option<TlsAcceptor>) -> Upstream {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(connection(stream, shared.clone(), tls.clone()));
            }
        });
        Upstream {
            port,
            state,
            _runtime: runtime,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

async fn connection(stream: tokio::net::TcpStream, state: Arc<State>, tls: Option<TlsAcceptor>) {
    let service = service_fn(move |req| route(state.clone(), req));
    let Some(tls) = tls else {
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
        return;
    };
    let Ok(stream) = tls.accept(stream).await else {
        return;
    };
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        let _ = http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service)
            .await;
    } else {
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    }
}

async fn route(state: Arc<State>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let seen = Seen {
        version: format!("{:?}", req.version()),
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect(),
    };
    state.seen.lock().unwrap().push(seen.clone());
    let reply = match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/customers") => json(CUSTOMERS),
        ("GET", "/whoami") => {
            let auth = seen.header("authorization").unwrap_or("").to_string();
            json(&serde_json::json!({ "you_sent": auth }).to_string())
        }
        ("GET", "/whoami.txt") => {
            let auth = seen.header("authorization").unwrap_or("").to_string();
            with_type("text/plain", full(format!("you sent: {auth}\n")))
        }
        ("GET", "/big") => with_type("text/plain", Big { left: BIG }.boxed_unsync()),
        ("GET", "/events") => events(state.clone()),
        ("GET", "/ack") => {
            state.ack.notify_one();
            json("{}")
        }
        ("GET", "/hang") => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            json("{}")
        }
        ("GET", "/gzip") => {
            let mut r = json("\u{1f}\u{8b} not really gzip");
            r.headers_mut()
                .insert("content-encoding", "gzip".parse().unwrap());
            r
        }
        _ => json(r#"{"changed": true}"#),
    };
    Ok(reply)
}

const CUSTOMERS: &str = r#"[{"id":1,"name":"Ada Lovelace","email":"ada@example.com"},{"id":2,"name":"Alan Turing","email":"alan@example.com"}]"#;

fn full(text: impl Into<Bytes>) -> UnsyncBoxBody<Bytes, Infallible> {
    Full::new(text.into()).boxed_unsync()
}

fn json(text: &str) -> Reply {
    with_type("application/json", full(text.to_string()))
}

fn with_type(ct: &str, body: UnsyncBoxBody<Bytes, Infallible>) -> Reply {
    let mut r = Response::new(body);
    r.headers_mut().insert("content-type", ct.parse().unwrap());
    r
}

/// SSE: event N+1 is sent only after the client fetched /ack for event N, so the events can only
/// all arrive if each one reached the client while the stream was still open.
fn events(state: Arc<State>) -> Reply {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        for i in 1..=3 {
            if tx
                .send(format!("data: event {i}\n\n").into())
                .await
                .is_err()
            {
                return;
            }
            let acked = tokio::time::timeout(Duration::from_secs(5), state.ack.notified()).await;
            if acked.is_err() {
                let _ = tx.send("data: stalled\n\n".into()).await;
                return;
            }
        }
    });
    let mut r = with_type("text/event-stream", Channel { rx }.boxed_unsync());
    r.headers_mut()
        .insert("cache-control", "no-cache".parse().unwrap());
    r
}

struct Big {
    left: usize,
}

impl Body for Big {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len());
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..n])))))
    }
}

struct Channel {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for Channel {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// A port that reads the start of each request and resets the connection (SO_LINGER 0 sends RST).
pub fn resetting() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid socket and a correctly sized linger struct.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&stream),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &linger as *const libc::linger as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
    });
    port
}
