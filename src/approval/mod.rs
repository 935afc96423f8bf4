//! Approval requests: what the gateways ask when a policy says `ask`, who answers (the human in
//! guard's terminal, another terminal over a socket, or nobody), the session-wide "allow this
//! statement shape" memory, and the `approval` records and cast markers each answer leaves.

pub mod socket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::record::transcript::Transcript;

/// The key the human pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `y`: this request only.
    Once,
    /// `a`: this statement shape, on this target, for the rest of the session.
    Session,
    /// `n` or Esc.
    Deny,
}

/// One request as the terminal shows it.
pub struct Prompt {
    pub id: String,
    pub target: String,
    pub class: String,
    pub text: String,
    pub rule: String,
    pub deadline: Instant,
    pub reply: oneshot::Sender<Answer>,
}

/// What other parts of guard send to the relay loop, which alone owns the terminal and cast.
pub enum ToTerminal {
    Prompt(Prompt),
    /// A marker (`m` event) in the recording.
    Marker(String),
}

/// Where requests go (SPEC, `--approver`).
pub enum Mode {
    Tty,
    /// Served to `guard approve` from another terminal.
    Socket(Arc<socket::Pending>),
    Deny,
}

/// A request from a gateway.
pub struct Ask {
    pub id: String,
    pub target: String,
    pub class: String,
    pub text: String,
    pub rule: String,
    /// The statement's shape (pg_query fingerprint, or "METHOD /path"), for `a`.
    pub shape: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Rejected,
    Timeout,
}

impl Decision {
    /// The `decision` of the `query` or `http` record.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
            Decision::Timeout => "timeout",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub decision: Decision,
}

#[derive(Clone)]
pub struct Approver {
    inner: Arc<Inner>,
}

struct Inner {
    mode: Mode,
    timeout: Duration,
    transcript: Transcript,
    terminal: Option<mpsc::UnboundedSender<ToTerminal>>,
    /// (target, shape) allowed for the session, with the approval that allowed it.
    shapes: Mutex<HashMap<(String, String), String>>,
}

impl Approver {
    /// `terminal` is the relay's channel; markers go there in every mode, prompts only in `Tty`.
    pub fn new(
        mode: Mode,
        timeout: Duration,
        transcript: Transcript,
        terminal: Option<mpsc::UnboundedSender<ToTerminal>>,
    ) -> Self {
        let inner = Inner {
            mode,
            timeout,
            transcript,
            terminal,
            shapes: Mutex::new(HashMap::new()),
        };
        Approver {
            inner: Arc::new(inner),
        }
    }

    /// Asks, waits for the answer (at most the approval timeout), and records it.
    pub async fn ask(&self, ask: Ask) -> Reply {
        if let Some(earlier) = self.allowed_shape(&ask) {
            // The human's earlier `a` answers it; the record says which answer did.
            let record = json!({"id": ask.id, "decision": "approved", "scope": "session", "via": "tty", "wait_ms": 0, "allowed_by": earlier});
            let _ = self.inner.transcript.append("approval", record);
            return Reply {
                decision: Decision::Approved,
            };
        }
        let started = Instant::now();
        let (answer, via) = match self.inner.mode {
            Mode::Deny => (None, "deny"),
            Mode::Tty => self.ask_terminal(&ask).await,
            Mode::Socket(ref pending) => self.ask_socket(&ask, pending).await,
        };
        let decision = match (answer, via) {
            (Some(Answer::Once | Answer::Session), _) => Decision::Approved,
            (None, "timeout") => Decision::Timeout,
            _ => Decision::Rejected,
        };
        let scope = if answer == Some(Answer::Session) {
            "session"
        } else {
            "once"
        };
        if answer == Some(Answer::Session)
            && let Some(shape) = &ask.shape
        {
            let key = (ask.target.clone(), shape.clone());
            self.lock_shapes().insert(key, ask.id.clone());
        }
        let wait_ms = started.elapsed().as_millis() as u64;
        let record = json!({"id": ask.id, "decision": decision.as_str(), "scope": scope, "via": via, "wait_ms": wait_ms});
        // A failed write is caught by the gateway's own record of the outcome, which fails closed.
        let _ = self.inner.transcript.append("approval", record);
        self.mark(&format!(
            "{} {} on {} ({})",
            decision.as_str(),
            ask.class,
            ask.target,
            ask.id
        ));
        Reply { decision }
    }

    /// Puts a marker in the recording, e.g. for a statement the policy refused outright.
    pub fn mark(&self, label: &str) {
        if let Some(terminal) = &self.inner.terminal {
            let _ = terminal.send(ToTerminal::Marker(label.to_string()));
        }
    }

    async fn ask_terminal(&self, ask: &Ask) -> (Option<Answer>, &'static str) {
        let Some(terminal) = &self.inner.terminal else {
            return (None, "deny");
        };
        let (reply, answer) = oneshot::channel();
        let deadline = Instant::now() + self.inner.timeout;
        let prompt = Prompt {
            id: ask.id.clone(),
            target: ask.target.clone(),
            class: ask.class.clone(),
            text: ask.text.clone(),
            rule: ask.rule.clone(),
            deadline,
            reply,
        };
        if terminal.send(ToTerminal::Prompt(prompt)).is_err() {
            return (None, "tty");
        }
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(answer)) => (Some(answer), "tty"),
            // The terminal went away (the session is ending): nobody approved it.
            Ok(Err(_)) => (None, "tty"),
            Err(_) => (None, "timeout"),
        }
    }

    async fn ask_socket(
        &self,
        ask: &Ask,
        pending: &socket::Pending,
    ) -> (Option<Answer>, &'static str) {
        let (reply, answer) = oneshot::channel();
        let deadline = Instant::now() + self.inner.timeout;
        let view = json!({"target": ask.target, "class": ask.class, "rule": ask.rule, "statement": ask.text});
        let code = pending.insert(&ask.id, view, deadline, reply);
        let text: String = crate::terminal::overlay::sanitize(&ask.text)
            .chars()
            .take(200)
            .collect();
        // guard's own stderr only: the child cannot read it and it is not in the recording.
        // \r\n: the terminal may be in raw mode.
        eprint!(
            "\r\nguard: request {id} waits: {} on {}: {text}\r\n       guard approve {id} --allow --code {code}   (or --deny)\r\n",
            ask.class,
            ask.target,
            id = ask.id
        );
        let result = match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(answer)) => (Some(answer), "socket"),
            Ok(Err(_)) => (None, "socket"),
            Err(_) => (None, "timeout"),
        };
        pending.remove(&ask.id);
        result
    }

    fn allowed_shape(&self, ask: &Ask) -> Option<String> {
        let shape = ask.shape.as_ref()?;
        let key = (ask.target.clone(), shape.clone());
        self.lock_shapes().get(&key).cloned()
    }

    fn lock_shapes(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), String>> {
        self.inner.shapes.lock().unwrap_or_else(|e| e.into_inner())
    }
}
