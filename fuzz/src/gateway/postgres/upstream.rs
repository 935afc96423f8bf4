//! Stand-in for guard's upstream connection (`src/gateway/postgres/upstream.rs`), which needs
//! the broker, TLS and a network. It has the types the relay uses, and a side connection that
//! always fails to open: the column catalog then leaves names unresolved, as it does in guard
//! when the look-up fails, and masks by column names and detectors alone.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};

pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

#[derive(Clone, Default)]
pub struct UpstreamConfig;

pub struct Upstream {
    pub stream: DuplexStream,
    pub buf: BytesMut,
}

pub async fn connect(
    _config: &UpstreamConfig,
    _params: &[(String, String)],
) -> std::io::Result<Upstream> {
    Err(std::io::Error::other("no upstream while fuzzing"))
}
