//! One HTTP target's reverse proxy: every request the agent sends to its loopback address is
//! classified, decided (allowed, refused, or held for the human), recorded before it leaves, sent
//! upstream with guard's credential in place of the agent's, and answered with a masked body.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use serde_json::json;
use tokio::time::Instant;

use super::body::{self, Body, Kind, Outcome, Tracked, empty, full};
use super::error::{ProxyError, refusal};
use super::headers;
use super::mask::{BodyMasker, KnownSecrets, mask_text};
use super::policy::{Verdict, class_name};
use super::server::Handler;
use super::upstream::{HttpClient, Timeouts, Upstream};
use crate::approval::{Approver, Ask, Decision};
use crate::config::Action;
use crate::record::transcript::Transcript;

/// Where a target's secret comes from at the moment a request needs it: a static value read once
/// from guard's environment, or a broker lease that is renewed behind it. An error says why no
/// credential is available now (a lease that ended unrenewed), and the request is refused.
pub type SecretSource = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// The header guard adds to every upstream request (`inject = { header, value }`).
pub struct Injection {
    pub header: HeaderName,
    /// The header's value with `{secret}` where the secret goes.
    pub template: String,
    pub secret: SecretSource,
}

/// Everything one target's proxy needs.
pub struct Reverse {
    pub target: String,
    pub upstream: Upstream,
    pub client: HttpClient,
    pub timeouts: Timeouts,
    pub policy: Arc<crate::policy::Policy>,
    pub masker: Arc<dyn BodyMasker>,
    pub inject: Option<Injection>,
    pub transcript: Transcript,
    pub approver: Approver,
    /// Request ids (`h1`, `h2`, ...), shared by every HTTP target of the session.
    pub ids: Arc<AtomicU64>,
    /// `/<session secret>`: the path every request must start with. The listener is on
    /// loopback, where any local process could reach it; only the child was given the URL.
    pub path_secret: String,
}

/// How a request was decided.
struct Ruling {
    decision: &'static str,
    allowed: bool,
    /// What the agent is told when it is refused.
    refusal: String,
}

impl Reverse {
    pub fn handler(self: Arc<Self>) -> Handler {
        Arc::new(move |request| {
            let this = self.clone();
            Box::pin(async move { this.handle(request).await })
        })
    }

    async fn handle(&self, mut request: Request<Incoming>) -> Response<Body> {
        let started = Instant::now();
        let id = format!("h{}", self.ids.fetch_add(1, Ordering::Relaxed) + 1);
        let with_secret = self.strip_secret(&mut request);
        let method = request.method().as_str().to_string();
        let path = request.uri().path().to_string();
        // The query may carry what the masker masks; the record holds only its masked form.
        let query = request.uri().query().map(|q| mask_text(&*self.masker, q));
        let verdict = if with_secret {
            self.verdict(&request, &method, &path)
        } else {
            Verdict {
                class: class_name(&method).to_string(),
                action: Action::Deny,
                rule: "built-in: the request does not carry the session's URL".into(),
            }
        };
        let ruling = self
            .rule(&id, &verdict, &method, &path, query.as_deref())
            .await;
        let mut record = json!({
            "id": id, "target": self.target, "method": method, "path": path,
            "class": verdict.class, "decision": ruling.decision, "rule": verdict.rule,
        });
        if let Some(query) = &query {
            record["query"] = json!(query);
        }
        // Fail closed: what cannot be recorded is not forwarded (SPEC, Session files).
        if self.transcript.append("http", record).is_err() {
            return ProxyError::CannotRecord.response();
        }
        let mut outcome = Outcome::new(self.transcript.clone(), id, started);
        if !ruling.allowed {
            outcome.status = StatusCode::FORBIDDEN.as_u16();
            outcome.finish(None);
            return refusal(StatusCode::FORBIDDEN, &ruling.refusal);
        }
        let mut outcome = Some(outcome);
        match self.forward(request, &mut outcome).await {
            Ok(response) => response,
            Err(e) => {
                if let Some(mut outcome) = outcome {
                    outcome.status = e.status().as_u16();
                    outcome.finish(Some(e.to_string()));
                }
                e.response()
            }
        }
    }

    /// Takes `/<session secret>` off the front of the path; false when it is not there.
    fn strip_secret(&self, request: &mut Request<Incoming>) -> bool {
        let path = request.uri().path();
        let head = path.get(..self.path_secret.len()).unwrap_or("");
        let rest = &path[head.len()..];
        let matches = head.len() == self.path_secret.len()
            && crate::secret::constant_time_eq(head.as_bytes(), self.path_secret.as_bytes())
            && (rest.is_empty() || rest.starts_with('/'));
        if !matches {
            return false;
        }
        let rest = if rest.is_empty() { "/" } else { rest };
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.to_string(),
        };
        match path_and_query.parse::<hyper::Uri>() {
            Ok(uri) => {
                *request.uri_mut() = uri;
                true
            }
            Err(_) => false,
        }
    }

    /// The policy's verdict, except for what guard never forwards: a protocol upgrade
    /// (websockets, h2c) would leave HTTP for a stream guard cannot inspect, and CONNECT asks a
    /// reverse proxy for a tunnel it does not offer.
    fn verdict(&self, request: &Request<Incoming>, method: &str, path: &str) -> Verdict {
        if headers::is_upgrade(request.headers()) || request.method() == Method::CONNECT {
            return Verdict {
                class: class_name(method).to_string(),
                action: Action::Deny,
                rule: "built-in: protocol upgrades and CONNECT are refused".into(),
            };
        }
        super::policy::decide(&self.policy, &self.target, method, path)
    }

    async fn rule(
        &self,
        id: &str,
        verdict: &Verdict,
        method: &str,
        path: &str,
        query: Option<&str>,
    ) -> Ruling {
        let request = format!("{method} {path}");
        match verdict.action {
            Action::Allow => Ruling {
                decision: "allow",
                allowed: true,
                refusal: String::new(),
            },
            Action::Deny => {
                self.approver.mark(&format!(
                    "denied {} on {} ({id})",
                    verdict.class, self.target
                ));
                Ruling {
                    decision: "deny",
                    allowed: false,
                    refusal: format!("denied by rule `{}`: {request}", verdict.rule),
                }
            }
            Action::Ask => self.ask(id, verdict, &request, query).await,
        }
    }

    async fn ask(&self, id: &str, verdict: &Verdict, request: &str, query: Option<&str>) -> Ruling {
        let text = match query {
            Some(q) => format!("{request}?{q}"),
            None => request.to_string(),
        };
        let ask = Ask {
            id: id.to_string(),
            target: self.target.clone(),
            class: verdict.class.clone(),
            text,
            rule: verdict.rule.clone(),
            // `a` allows this method on this exact path for the rest of the session.
            shape: Some(request.to_string()),
        };
        let reply = self.approver.ask(ask).await;
        let refusal = match reply.decision {
            Decision::Approved => String::new(),
            Decision::Rejected => format!(
                "rejected: {request} is a {} request and needs approval (rule `{}`); it was not approved",
                verdict.class, verdict.rule
            ),
            Decision::Timeout => format!("approval timed out: {request}"),
        };
        Ruling {
            decision: reply.decision.as_str(),
            allowed: reply.decision == Decision::Approved,
            refusal,
        }
    }

    async fn forward(
        &self,
        request: Request<Incoming>,
        outcome: &mut Option<Outcome>,
    ) -> Result<Response<Body>, ProxyError> {
        let method = request.method().clone();
        let (mut parts, body) = request.into_parts();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        parts.uri = self.upstream.uri(&path_and_query)?;
        parts.version = Version::HTTP_11;
        let (inject, secrets) = self.injection()?;
        headers::to_upstream(&mut parts.headers, &self.upstream.host, inject);
        let request = Request::from_parts(parts, body);
        let response = super::upstream::send(&self.client, request, self.timeouts).await?;
        self.respond(&method, response, &secrets, outcome).await
    }

    /// The header to inject now, and the exact values that must not come back to the agent.
    fn injection(&self) -> Result<(Option<(HeaderName, HeaderValue)>, KnownSecrets), ProxyError> {
        let Some(inject) = &self.inject else {
            return Ok((None, KnownSecrets::default()));
        };
        let secret = (inject.secret)().map_err(|why| {
            ProxyError::Expired(format!(
                "target `{}`: {why}; hint: guard keeps asking the broker and sends requests \
                 again once it answers; check that it is running (`guard doctor`)",
                self.target
            ))
        })?;
        let value = inject.template.replace("{secret}", &secret);
        let header = HeaderValue::from_str(&value).map_err(|_| {
            ProxyError::Credential("the credential is not a valid header value".into())
        })?;
        let secrets = KnownSecrets::new([value, secret]);
        Ok((Some((inject.header.clone(), header)), secrets))
    }

    async fn respond(
        &self,
        method: &Method,
        response: Response<Incoming>,
        secrets: &KnownSecrets,
        outcome: &mut Option<Outcome>,
    ) -> Result<Response<Body>, ProxyError> {
        let (mut parts, incoming) = response.into_parts();
        let kind = body::kind(method, parts.status, &parts.headers);
        body::check_encoding(kind, &parts.headers)?;
        headers::to_agent(&mut parts.headers);
        let Some(mut record) = outcome.take() else {
            return Err(ProxyError::Body("the request has no open record".into()));
        };
        record.status = parts.status.as_u16();
        let body = match kind {
            Kind::Empty => {
                record.finish(None);
                empty()
            }
            Kind::Json => match body::masked_json(incoming, &*self.masker, secrets).await {
                Ok((bytes, counts)) => {
                    parts
                        .headers
                        .insert(header::CONTENT_LENGTH, bytes.len().into());
                    record.masked = counts;
                    record.finish(None);
                    full(bytes)
                }
                Err(e) => {
                    record.status = e.status().as_u16();
                    record.finish(Some(e.to_string()));
                    return Err(e);
                }
            },
            Kind::Text => {
                // Masking may change the length: the body goes chunked.
                parts.headers.remove(header::CONTENT_LENGTH);
                let masker = secrets.wrap(self.masker.text_stream());
                http_body_util::BodyExt::boxed_unsync(Tracked::new(incoming, Some(masker), record))
            }
            Kind::Binary => {
                http_body_util::BodyExt::boxed_unsync(Tracked::new(incoming, None, record))
            }
        };
        Ok(Response::from_parts(parts, body))
    }
}
