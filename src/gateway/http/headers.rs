//! Header rewriting at guard's two hops: what the agent sent is cleaned before it goes upstream
//! (its own credentials removed, the real one injected, `Host` set to the upstream's), and what
//! the upstream answers is cleaned before the agent sees it.

use hyper::HeaderMap;
use hyper::header::{self, HeaderName, HeaderValue};

/// Connection-specific fields (RFC 9110 §7.6.1): they describe one hop and must not be forwarded.
/// `Proxy-Connection` is the pre-standard spelling some clients still send; `Proxy-Authenticate`
/// and `Proxy-Authorization` are addressed to a proxy, which here is guard itself. `Trailer` is
/// end-to-end (RFC 9110 §6.6.2) and stays: hyper sends HTTP/1.1 trailers only when it is declared.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Removes the hop-by-hop fields and every field the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    // `TE: trailers` is the one TE value HTTP/2 allows (RFC 9113 §8.2.2); gRPC needs it.
    let te_trailers = headers
        .get(header::TE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// The agent's request headers as the upstream should see them.
pub fn to_upstream(
    headers: &mut HeaderMap,
    host: &HeaderValue,
    inject: Option<(HeaderName, HeaderValue)>,
) {
    strip_hop_by_hop(headers);
    // The agent holds no credential for the upstream; whatever it sends in these fields is either
    // a guess or something it found, and must not reach the service under guard's identity.
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::COOKIE);
    headers.insert(header::HOST, host.clone());
    // guard masks bodies, which it cannot do to an encoding it does not decode.
    headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    if let Some((name, mut value)) = inject {
        value.set_sensitive(true);
        headers.remove(&name);
        headers.insert(name, value);
    }
}

/// The upstream's response headers as the agent should see them.
pub fn to_agent(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    // A session cookie the upstream issues answers guard's credential: it is a credential too.
    headers.remove(header::SET_COOKIE);
}

/// `Upgrade` (websockets, h2c) asks to leave HTTP for another protocol guard cannot inspect.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn agent_credentials_are_replaced_by_the_injected_one() {
        let mut h = map(&[
            ("authorization", "Bearer agent"),
            ("cookie", "sid=1"),
            ("proxy-authorization", "Basic x"),
            ("host", "127.0.0.1:4000"),
            ("x-api-key", "agent-guess"),
            ("accept-encoding", "gzip, br"),
            ("accept", "application/json"),
        ]);
        let inject = (
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_static("real"),
        );
        to_upstream(
            &mut h,
            &HeaderValue::from_static("api.internal"),
            Some(inject),
        );
        assert!(h.get("authorization").is_none());
        assert!(h.get("cookie").is_none());
        assert!(h.get("proxy-authorization").is_none());
        assert_eq!(h.get_all("x-api-key").iter().count(), 1);
        assert_eq!(h["x-api-key"], "real");
        assert!(h["x-api-key"].is_sensitive());
        assert_eq!(h["host"], "api.internal");
        assert_eq!(h["accept-encoding"], "identity");
        assert_eq!(h["accept"], "application/json");
    }

    #[test]
    fn connection_named_fields_are_hop_by_hop() {
        let mut h = map(&[
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("x-end", "2"),
        ]);
        strip_hop_by_hop(&mut h);
        assert!(h.get("x-hop").is_none() && h.get("connection").is_none());
        assert!(h.get("keep-alive").is_none());
        assert_eq!(h["te"], "trailers");
        assert_eq!(h["x-end"], "2");
    }

    #[test]
    fn responses_lose_cookies() {
        let mut h = map(&[("set-cookie", "sid=1"), ("content-type", "text/plain")]);
        to_agent(&mut h);
        assert!(h.get("set-cookie").is_none());
        assert!(h.get("content-type").is_some());
    }
}
