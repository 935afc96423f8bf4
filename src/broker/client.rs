//! The Vault/OpenBao HTTP API, as much of it as guard needs: token lookup, reading a secret
//! (dynamic database credentials, static credentials, KV), lease renewal and revocation, and
//! capability checks. OpenBao and Vault answer the same API (NOTES 1.8).
//!
//! The client never goes through a proxy: guard sets HTTPS_PROXY for its child, and its own
//! traffic to the broker must not loop back through guard's egress proxy. Every answer is
//! untrusted input: anything that is not the JSON guard expects is an error, never a panic.

use std::collections::HashMap;
use std::sync::Once;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use zeroize::Zeroize;

use super::{BrokerError, Credential, Settings};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Larger answers are not a credential; refuse them rather than hold them.
const MAX_BODY: usize = 1 << 20;

pub struct Client {
    http: reqwest::Client,
    base: String,
    address: String,
    /// Kept as a secret and turned into a header per request, so guard's own copy is zeroized.
    token: SecretString,
}

/// What `auth/token/lookup-self` says about the token (never the token itself).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    /// `None`: the token never expires (a root token).
    pub ttl: Option<Duration>,
    pub renewable: bool,
    pub policies: Vec<String>,
    pub display_name: String,
}

/// A lease as the broker granted it.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub lease_id: String,
    pub duration: Duration,
    pub renewable: bool,
}

/// A credential read from the broker, with its lease when it has one.
pub struct Issued {
    pub credential: Credential,
    pub lease: Option<Grant>,
    /// Seconds the credential stays valid as the broker says (the lease, or a static role's
    /// time to its next rotation); `None` when it does not say.
    pub ttl_s: Option<u64>,
}

/// rustls with the ring provider, once per process: another part of guard uses ring, and two
/// providers in one build would make rustls refuse to pick one.
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means a provider is already installed, which is what we want.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Client {
    pub fn new(settings: &Settings, token: &SecretString) -> Result<Client, BrokerError> {
        install_crypto();
        token_header(token)?;
        let mut headers = HeaderMap::new();
        headers.insert("X-Vault-Request", HeaderValue::from_static("true"));
        if let Some(ns) = &settings.namespace {
            let value = HeaderValue::from_str(ns).map_err(|_| {
                BrokerError::Client(format!("namespace `{ns}` is not a header value"))
            })?;
            headers.insert("X-Vault-Namespace", value);
        }
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .default_headers(headers)
            .user_agent(concat!("guard/", env!("CARGO_PKG_VERSION")));
        if let Some(file) = &settings.ca_cert {
            builder = builder.tls_certs_only(read_ca(file)?);
        }
        let http = builder
            .build()
            .map_err(|e| BrokerError::Client(e.to_string()))?;
        Ok(Client {
            http,
            base: format!("{}/v1/", settings.address),
            address: settings.address.clone(),
            token: token.clone(),
        })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// `GET auth/token/lookup-self`: is the token valid, and for how long.
    pub async fn lookup_self(&self) -> Result<TokenInfo, BrokerError> {
        let path = "auth/token/lookup-self";
        let mut body = self.call(Method::GET, path, None).await?;
        let info = parse_token_info(path, &body);
        scrub(&mut body);
        info
    }

    /// `GET <path>`: a dynamic or static credential, or with `field`, one field of a KV secret.
    pub async fn read(&self, path: &str, field: Option<&str>) -> Result<Issued, BrokerError> {
        let mut body = self.call(Method::GET, path, None).await?;
        let issued = parse_issued(path, field, &body);
        scrub(&mut body);
        issued
    }

    /// `GET <path>?list=true`: the keys under a path (roles, KV entries); empty when there are
    /// none, which the broker answers with 404.
    pub async fn list(&self, path: &str) -> Result<Vec<String>, BrokerError> {
        let listed = format!("{path}?list=true");
        match self.call(Method::GET, &listed, None).await {
            Ok(answer) => Ok(answer["data"]["keys"]
                .as_array()
                .map(|keys| {
                    keys.iter()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()),
            Err(BrokerError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// `PUT sys/leases/renew`; the broker may grant less than `increment` (a max TTL).
    pub async fn renew(&self, lease_id: &str, increment: Duration) -> Result<Grant, BrokerError> {
        let path = "sys/leases/renew";
        let body = json!({"lease_id": lease_id, "increment": increment.as_secs()});
        let answer = self.call(Method::PUT, path, Some(body)).await?;
        parse_grant(path, &answer)?.ok_or_else(|| bad(path, "the renewal carries no lease"))
    }

    /// `PUT sys/leases/revoke/<lease_id>`; revoking a lease that already ended succeeds. The
    /// path form lets a policy grant revocation of one role's leases only
    /// (`sys/leases/revoke/database/creds/ro/*`) instead of every lease in the broker.
    pub async fn revoke(&self, lease_id: &str) -> Result<(), BrokerError> {
        if path_safe(lease_id) {
            let path = format!("sys/leases/revoke/{lease_id}");
            return self.call(Method::PUT, &path, None).await.map(drop);
        }
        let body = json!({ "lease_id": lease_id });
        self.call(Method::PUT, "sys/leases/revoke", Some(body))
            .await
            .map(drop)
    }

    /// Whether the token may revoke this lease; `true` when the broker will not say, so the
    /// revocation itself reports any refusal.
    pub async fn can_revoke(&self, lease_id: &str) -> bool {
        let path = if path_safe(lease_id) {
            format!("sys/leases/revoke/{lease_id}")
        } else {
            "sys/leases/revoke".to_string()
        };
        match self.capabilities(&[path.as_str()]).await {
            Ok(caps) => caps.get(&path).is_none_or(|caps| {
                caps.iter()
                    .any(|c| c == "update" || c == "sudo" || c == "root")
            }),
            Err(_) => true,
        }
    }

    /// `POST sys/capabilities-self`: what the token may do on each path (no secret is read).
    pub async fn capabilities(
        &self,
        paths: &[&str],
    ) -> Result<HashMap<String, Vec<String>>, BrokerError> {
        let path = "sys/capabilities-self";
        let answer = self
            .call(Method::POST, path, Some(json!({ "paths": paths })))
            .await?;
        let data = answer.get("data").and_then(Value::as_object);
        let data = data.ok_or_else(|| bad(path, "no `data` object"))?;
        Ok(paths
            .iter()
            .map(|p| {
                let caps = data.get(*p).and_then(Value::as_array).map(|caps| {
                    caps.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                });
                (p.to_string(), caps.unwrap_or_default())
            })
            .collect())
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, BrokerError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Vault-Token", token_header(&self.token)?);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        // Into a Vec without a copy where the buffer is unshared, so it can be zeroized below.
        let mut bytes = Vec::from(response.bytes().await.map_err(|e| self.unreachable(&e))?);
        let result = decode(path, status, &bytes);
        bytes.zeroize();
        result
    }

    fn unreachable(&self, e: &reqwest::Error) -> BrokerError {
        BrokerError::Unreachable {
            address: self.address.clone(),
            reason: describe(e),
        }
    }
}

/// The token as a header value that `Debug` does not print.
fn token_header(token: &SecretString) -> Result<HeaderValue, BrokerError> {
    let mut value = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
        BrokerError::Client("the broker token holds characters a header cannot carry".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Lease ids are `<path>/<random>`; anything else goes in a JSON body, not a URL.
fn path_safe(lease_id: &str) -> bool {
    !lease_id.is_empty()
        && !lease_id.contains("..")
        && lease_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
}

/// The status and body of an answer, as a JSON value or the error it means.
fn decode(path: &str, status: StatusCode, bytes: &[u8]) -> Result<Value, BrokerError> {
    if bytes.len() > MAX_BODY {
        return Err(bad(path, "the answer is larger than 1 MiB"));
    }
    if status == StatusCode::NO_CONTENT || (status.is_success() && bytes.is_empty()) {
        return Ok(Value::Null);
    }
    if status.is_success() {
        return serde_json::from_slice(bytes).map_err(|_| bad(path, "the answer is not JSON"));
    }
    Err(classify(path, status.as_u16(), bytes))
}

/// Maps a refusal to what it means for the user. Vault answers 403 for a bad token and for a
/// path the policies do not allow, 404 for a missing mount or secret, and 400 for an unknown role.
pub fn classify(path: &str, status: u16, bytes: &[u8]) -> BrokerError {
    let message = error_message(bytes);
    let missing = [
        "unknown role",
        "no handler for route",
        "unsupported path",
        "not found",
    ];
    match status {
        403 => BrokerError::PermissionDenied { path: path.into() },
        404 => BrokerError::NotFound {
            path: path.into(),
            message: message.unwrap_or_else(|| "no such secret".into()),
        },
        400 if message
            .as_deref()
            .is_some_and(|m| missing.iter().any(|s| m.contains(s))) =>
        {
            BrokerError::NotFound {
                path: path.into(),
                message: message.unwrap_or_default(),
            }
        }
        _ => BrokerError::Status {
            path: path.into(),
            status,
            message: message.unwrap_or_else(|| "no error message".into()),
        },
    }
}

/// The broker's `{"errors": [...]}`, shortened and stripped of control characters: it is shown
/// to the user and recorded, and it comes from the network.
fn error_message(bytes: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let errors = value.get("errors")?.as_array()?;
    let joined = errors
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("; ");
    let clean: String = joined
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    (!clean.is_empty()).then_some(clean)
}

fn parse_token_info(path: &str, body: &Value) -> Result<TokenInfo, BrokerError> {
    let data = body
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| bad(path, "no `data` object"))?;
    let ttl = data
        .get("ttl")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad(path, "no `ttl`"))?;
    let policies = data
        .get("policies")
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(TokenInfo {
        ttl: (ttl > 0).then(|| Duration::from_secs(ttl)),
        renewable: data
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        policies,
        display_name: data
            .get("display_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

/// The lease in an answer's envelope; `None` when it has none (a KV read, static credentials).
fn parse_grant(path: &str, body: &Value) -> Result<Option<Grant>, BrokerError> {
    let lease_id = body
        .get("lease_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let duration = body
        .get("lease_duration")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if lease_id.is_empty() {
        return Ok(None);
    }
    if !body.get("renewable").is_none_or(Value::is_boolean) {
        return Err(bad(path, "`renewable` is not a boolean"));
    }
    Ok(Some(Grant {
        lease_id: lease_id.to_string(),
        duration: Duration::from_secs(duration),
        renewable: body
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }))
}

/// A credential from a read: `data.username` and `data.password` (dynamic and static database
/// roles), or with `field`, that field of a KV v2 (`data.data`) or KV v1 (`data`) secret.
pub fn parse_issued(path: &str, field: Option<&str>, body: &Value) -> Result<Issued, BrokerError> {
    let data = body
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(path, "no `data` object"))?;
    let lease = parse_grant(path, body)?;
    let credential = match field {
        Some(field) => {
            let kv = match (data.get("data"), data.get("metadata")) {
                (Some(Value::Object(inner)), Some(_)) => inner,
                _ => data,
            };
            let value = kv.get(field).ok_or_else(|| BrokerError::NotFound {
                path: path.into(),
                message: format!("the secret has no field `{field}`"),
            })?;
            Credential::value(scalar(value).ok_or_else(|| bad(path, "the field is not text"))?)
        }
        None => {
            let text = |key: &str| data.get(key).and_then(Value::as_str);
            match (text("username"), text("password")) {
                (Some(user), Some(password)) => Credential::new(user, password.into()),
                _ => {
                    return Err(bad(
                        path,
                        "no `username` and `password`; for a KV secret name a `field`",
                    ));
                }
            }
        }
    };
    let ttl_s = match &lease {
        Some(grant) => Some(grant.duration.as_secs()),
        None => data.get("ttl").and_then(Value::as_u64),
    };
    Ok(Issued {
        credential,
        lease,
        ttl_s,
    })
}

fn scalar(value: &Value) -> Option<SecretString> {
    match value {
        Value::String(s) => Some(SecretString::from(s.as_str())),
        Value::Number(n) => Some(SecretString::from(n.to_string())),
        _ => None,
    }
}

/// Zeroizes every string in a parsed answer before it is dropped: answers carry passwords and,
/// for lookup-self, the token itself. (Copies inside the HTTP stack are beyond guard's reach.)
pub fn scrub(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::Object(map) => map.values_mut().for_each(scrub),
        _ => {}
    }
}

fn read_ca(file: &std::path::Path) -> Result<Vec<reqwest::Certificate>, BrokerError> {
    let err = |reason: String| BrokerError::CaCert {
        file: file.display().to_string(),
        reason,
    };
    let pem = std::fs::read(file).map_err(|e| err(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// A reqwest error by its innermost cause, which is the useful part ("Connection refused").
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    format!("{what}: {cause}")
}

fn bad(path: &str, reason: &str) -> BrokerError {
    BrokerError::BadResponse {
        path: path.into(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn issued(field: Option<&str>, body: &str) -> Result<Issued, BrokerError> {
        parse_issued("p", field, &serde_json::from_str(body).unwrap())
    }

    #[test]
    fn dynamic_database_credentials_carry_their_lease() {
        let body = r#"{"lease_id":"database/creds/ro/abc","renewable":true,"lease_duration":8,
                      "data":{"username":"v-token-ro-x","password":"pw-123456"}}"#;
        let got = issued(None, body).unwrap();
        assert_eq!(got.credential.username, "v-token-ro-x");
        assert_eq!(got.credential.password.expose_secret(), "pw-123456");
        let lease = got.lease.unwrap();
        assert_eq!(lease.lease_id, "database/creds/ro/abc");
        assert_eq!(lease.duration, Duration::from_secs(8));
        assert!(lease.renewable);
        assert_eq!(got.ttl_s, Some(8));
    }

    #[test]
    fn static_credentials_and_kv_fields_have_no_lease() {
        let body = r#"{"lease_id":"","lease_duration":0,"data":{"username":"app","password":"pw-xyz987","ttl":3500}}"#;
        let got = issued(None, body).unwrap();
        assert!(got.lease.is_none());
        assert_eq!(got.ttl_s, Some(3500));
        let v2 = r#"{"data":{"data":{"token":"tok-abcdef"},"metadata":{"version":1}}}"#;
        let got = issued(Some("token"), v2).unwrap();
        assert_eq!(got.credential.password.expose_secret(), "tok-abcdef");
        assert_eq!(got.credential.username, "");
        let v1 = r#"{"data":{"token":12345678}}"#;
        let got = issued(Some("token"), v1).unwrap();
        assert_eq!(got.credential.password.expose_secret(), "12345678");
        assert!(matches!(
            issued(Some("nope"), v2),
            Err(BrokerError::NotFound { .. })
        ));
    }

    #[test]
    fn garbage_answers_are_errors_not_panics() {
        for body in [
            "null",
            "[]",
            r#"{"data":null}"#,
            r#"{"data":"x"}"#,
            r#"{"data":{"username":1,"password":[]}}"#,
            r#"{"lease_id":"l","renewable":"yes","data":{"username":"a","password":"b"}}"#,
        ] {
            assert!(issued(None, body).is_err(), "{body}");
        }
        assert!(issued(Some("f"), r#"{"data":{"f":{"nested":true}}}"#).is_err());
        let err = decode("p", StatusCode::OK, b"<html>").unwrap_err();
        assert!(matches!(err, BrokerError::BadResponse { .. }));
        assert!(parse_token_info("p", &json!({"data": {"ttl": "soon"}})).is_err());
        assert!(parse_token_info("p", &json!({"data": []})).is_err());
    }

    #[test]
    fn refusals_map_to_what_they_mean() {
        let denied = classify(
            "database/creds/ro",
            403,
            br#"{"errors":["permission denied"]}"#,
        );
        assert!(matches!(denied, BrokerError::PermissionDenied { .. }));
        let role = classify(
            "database/creds/x",
            400,
            br#"{"errors":["unknown role: x"]}"#,
        );
        assert!(matches!(role, BrokerError::NotFound { .. }), "{role}");
        let mount = classify(
            "nomount/creds/x",
            404,
            br#"{"errors":["no handler for route"]}"#,
        );
        assert!(matches!(mount, BrokerError::NotFound { .. }));
        let other = classify("p", 500, b"\x1b[31mnot json");
        assert!(matches!(other, BrokerError::Status { status: 500, .. }));
        let long = format!(r#"{{"errors":["{}\u001b"]}}"#, "x".repeat(1000));
        let msg = error_message(long.as_bytes()).unwrap();
        assert_eq!(msg.len(), 300);
    }

    #[test]
    fn token_lookup_reads_ttl_and_policies_only() {
        let body =
            json!({"data": {"id": "s.secret", "ttl": 0, "policies": ["root"], "renewable": false}});
        let info = parse_token_info("p", &body).unwrap();
        assert_eq!(info.ttl, None);
        assert_eq!(info.policies, ["root"]);
        let body =
            json!({"data": {"ttl": 90, "policies": ["default", "agent"], "renewable": true}});
        assert_eq!(
            parse_token_info("p", &body).unwrap().ttl,
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn only_plain_lease_ids_go_into_the_url() {
        assert!(path_safe("database/creds/ro/AbC123xyz"));
        assert!(!path_safe("database/creds/ro/../../sys/seal"));
        assert!(!path_safe("a b"));
        assert!(!path_safe("a?b"));
        assert!(!path_safe(""));
    }

    #[test]
    fn scrub_empties_every_string() {
        let mut v = json!({"data": {"id": "s.secret", "list": ["a", {"b": "c"}]}});
        scrub(&mut v);
        assert_eq!(v, json!({"data": {"id": "", "list": ["", {"b": ""}]}}));
    }
}
