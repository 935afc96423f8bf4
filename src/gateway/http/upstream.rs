//! guard's own HTTP client to the upstreams: HTTP/1.1, or HTTP/2 when TLS negotiates it (ALPN),
//! TLS with rustls on the ring provider and the system's roots (or the bundle `SSL_CERT_FILE`
//! names), and the timeouts that turn a hanging upstream into an answer the agent can read.

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::http::uri::{Authority, Scheme};
use hyper::{Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::error::{ProxyError, chain, timed_out};

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Incoming>;

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To open the TCP connection.
    pub connect: Duration,
    /// From sending the request to the response's headers. Bodies have none: SSE streams and long
    /// polls are idle by design.
    pub headers: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            headers: Duration::from_secs(60),
        }
    }
}

impl Timeouts {
    /// The defaults; `GUARD_HTTP_RESPONSE_TIMEOUT_MS` shortens the response timeout so the tests
    /// of a hanging upstream do not wait a minute. Not part of the documented interface.
    pub fn from_env() -> Self {
        let mut t = Timeouts::default();
        if let Some(ms) = std::env::var("GUARD_HTTP_RESPONSE_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            t.headers = Duration::from_millis(ms.max(1));
        }
        t
    }
}

/// One client for every target: it pools connections per upstream. Without trusted roots the
/// client still serves plain-HTTP upstreams; `require_roots` makes that an error instead.
pub fn client(timeouts: Timeouts, require_roots: bool) -> Result<HttpClient, String> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(timeouts.connect));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(require_roots)?)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .timer(TokioTimer::new())
        .build(https))
}

/// rustls with ring (the provider the rest of guard uses) and the system roots. rustls-native-certs
/// reads `SSL_CERT_FILE` / `SSL_CERT_DIR` instead of the system store when they are set, which is
/// how a company CA in front of an internal service is trusted.
fn tls_config(require_roots: bool) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 && require_roots {
        let why = found
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(format!("no trusted CA certificates found{why}"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// A target's `upstream`: scheme, authority and an optional path prefix requests are put under.
#[derive(Debug, Clone)]
pub struct Upstream {
    scheme: Scheme,
    authority: Authority,
    prefix: String,
    /// The `Host` the upstream expects.
    pub host: HeaderValue,
}

impl Upstream {
    /// `https://billing.internal/api`; a bare `billing.internal` means https.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let full = if text.contains("://") {
            text.to_string()
        } else {
            format!("https://{text}")
        };
        let uri: Uri = full
            .parse()
            .map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTPS);
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(format!("`{text}`: the scheme must be http or https"));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("`{text}` names no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "`{text}`: put credentials in `credentials`, not in the URL"
            ));
        }
        if uri.query().is_some() {
            return Err(format!("`{text}`: an upstream cannot carry a query"));
        }
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?;
        Ok(Upstream {
            scheme,
            authority,
            prefix: uri.path().trim_end_matches('/').to_string(),
            host,
        })
    }

    pub fn is_tls(&self) -> bool {
        self.scheme == Scheme::HTTPS
    }

    /// The upstream URI for a request's path and query.
    pub fn uri(&self, path_and_query: &str) -> Result<Uri, ProxyError> {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{path_and_query}", self.prefix))
            .build()
            .map_err(|e| ProxyError::BadRequest(format!("cannot build the upstream URL: {e}")))
    }
}

/// Sends a request and waits for the response headers, at most `timeouts.headers`.
pub async fn send(
    client: &HttpClient,
    request: Request<Incoming>,
    timeouts: Timeouts,
) -> Result<Response<Incoming>, ProxyError> {
    let secs = timeouts.headers.as_secs_f64().ceil() as u64;
    match tokio::time::timeout(timeouts.headers, client.request(request)).await {
        Err(_) => Err(ProxyError::Timeout(secs)),
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) if timed_out(&e) => Err(ProxyError::Timeout(timeouts.connect.as_secs())),
        Ok(Err(e)) if e.is_connect() => Err(ProxyError::Connect(chain(&e))),
        Ok(Err(e)) => Err(ProxyError::Upstream(chain(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_parse_with_a_prefix_and_a_default_scheme() {
        let u = Upstream::parse("https://billing.internal/api/").unwrap();
        assert_eq!(
            u.uri("/v1/x?a=1").unwrap().to_string(),
            "https://billing.internal/api/v1/x?a=1"
        );
        assert_eq!(u.host, "billing.internal");
        let bare = Upstream::parse("billing.internal:8443").unwrap();
        assert!(bare.is_tls());
        assert_eq!(
            bare.uri("/").unwrap().to_string(),
            "https://billing.internal:8443/"
        );
        let plain = Upstream::parse("http://127.0.0.1:9000").unwrap();
        assert!(!plain.is_tls());
    }

    #[test]
    fn bad_upstreams_are_refused() {
        assert!(Upstream::parse("ftp://x").is_err());
        assert!(Upstream::parse("https://user:pw@x").is_err());
        assert!(Upstream::parse("https://x/?a=1").is_err());
        assert!(Upstream::parse("http://").is_err());
    }
}
