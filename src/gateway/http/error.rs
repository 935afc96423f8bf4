//! What can go wrong between the agent and an upstream, and the answer the agent gets for each:
//! a status and a JSON body `{"error": "guard: ..."}` (SPEC, Outcomes), never a dropped
//! connection the agent has to guess about.

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;

use super::body::{Body, full};

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot record the request; refusing to forward what cannot be recorded")]
    CannotRecord,
    #[error("cannot connect to the upstream: {0}")]
    Connect(String),
    #[error("the upstream did not answer within {0} s")]
    Timeout(u64),
    #[error("the upstream failed: {0}")]
    Upstream(String),
    #[error("the upstream sent a {0}-encoded body, which guard cannot mask")]
    Encoded(String),
    #[error("the upstream's JSON body is over {0} MiB, more than guard masks")]
    TooLarge(u64),
    #[error("the upstream body failed: {0}")]
    Body(String),
    #[error("the credential cannot be sent: {0}")]
    Credential(String),
    /// Fail closed: the leased credential ended and the broker could not renew it.
    #[error("{0}")]
    Expired(String),
    #[error("{0}")]
    BadRequest(String),
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::CannotRecord | ProxyError::Expired(_) => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::Credential(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ProxyError::Connect(_)
            | ProxyError::Upstream(_)
            | ProxyError::Encoded(_)
            | ProxyError::TooLarge(_)
            | ProxyError::Body(_) => StatusCode::BAD_GATEWAY,
        }
    }

    pub fn response(&self) -> Response<Body> {
        refusal(self.status(), &self.to_string())
    }
}

/// A response guard makes itself: `{"error": "guard: <message>"}`.
pub fn refusal(status: StatusCode, message: &str) -> Response<Body> {
    let body = json!({"error": format!("guard: {message}")}).to_string();
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The text of an error and its causes, for the agent and the transcript. hyper's errors say
/// "client error (Connect)" and keep the useful part ("connection refused") in their sources.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

/// Whether a timeout caused this error (a connect timeout is an upstream that hangs too).
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        source = e.source();
    }
    false
}
