//! The loopback HTTP/1.1 listener both the reverse proxies and the egress proxy run on: accept,
//! serve each connection with hyper under limits, and stop on request, closing what is open.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::body::Body;

pub type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> + Send + Sync,
>;

/// hyper's read buffer limit: a request head that does not fit is refused with 431 (RFC 6585
/// §5). hyper checks it between reads, so a head is refused somewhere above 64 KiB and below 128.
const MAX_HEAD: usize = 64 * 1024;

/// A running listener.
pub struct Listener {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Binds `addr` (loopback; the configuration refuses anything else) and serves `handler`.
    /// `upgrades` lets a handler take over the connection (the egress proxy's CONNECT tunnels).
    pub fn bind(
        runtime: &Runtime,
        addr: SocketAddr,
        handler: Handler,
        upgrades: bool,
    ) -> std::io::Result<Listener> {
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let (stop, stopped) = watch::channel(false);
        let task = runtime.spawn(accept_loop(listener, handler, upgrades, stopped));
        Ok(Listener { addr, stop, task })
    }

    /// Stops accepting and closes every open connection, waiting at most two seconds.
    pub fn shutdown(self, runtime: &Runtime) {
        let _ = self.stop.send(true);
        let task = self.task;
        runtime.block_on(async {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        });
    }
}

async fn accept_loop(
    listener: TcpListener,
    handler: Handler,
    upgrades: bool,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve(stream, handler.clone(), upgrades));
                }
                // Out of descriptors or a connection reset before accept: keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve(stream: tokio::net::TcpStream, handler: Handler, upgrades: bool) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler(request).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // A client that trickles its request head (slowloris) is dropped.
        .header_read_timeout(Duration::from_secs(30))
        .max_buf_size(MAX_HEAD)
        .max_headers(128);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    // Errors here are the client's (a malformed request, which hyper answers with 400 or 431, or
    // a dropped connection); they end this connection only.
    if upgrades {
        let _ = connection.with_upgrades().await;
    } else {
        let _ = connection.await;
    }
}
