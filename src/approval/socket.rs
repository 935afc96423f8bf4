//! `--approver socket`: pending requests served to `guard approve` from another terminal over a
//! unix socket in the session folder (0700, the socket 0600). Each request carries a one-time
//! code that guard prints only on its own stderr, never through the child's terminal or the
//! recording, so an agent that can reach the socket (it runs as the same user) still cannot
//! approve its own request; three wrong codes reject the request.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Answer;
use crate::secret::constant_time_eq;

const MAX_FAILURES: u32 = 3;
/// Crockford's base32 without look-alikes: codes are read off one screen and typed on another.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";

#[derive(Default)]
pub struct Pending {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    view: Value,
    deadline: Instant,
    code: String,
    failures: u32,
    reply: oneshot::Sender<Answer>,
}

impl Pending {
    /// Registers a request and returns its one-time code.
    pub fn insert(
        &self,
        id: &str,
        view: Value,
        deadline: Instant,
        reply: oneshot::Sender<Answer>,
    ) -> String {
        let code = new_code();
        let entry = Entry {
            view,
            deadline,
            code: code.clone(),
            failures: 0,
            reply,
        };
        self.lock().insert(id.to_string(), entry);
        code
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    fn list(&self) -> Value {
        let now = Instant::now();
        let entries = self.lock();
        let mut list: Vec<Value> = entries
            .iter()
            .map(|(id, e)| {
                let mut v = e.view.clone();
                v["request"] = json!(id);
                v["seconds_left"] = json!(e.deadline.saturating_duration_since(now).as_secs());
                v
            })
            .collect();
        list.sort_by(|a, b| a["request"].as_str().cmp(&b["request"].as_str()));
        json!({ "pending": list })
    }

    fn answer(&self, id: &str, code: &str, answer: Answer) -> Value {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(id) else {
            return json!({"error": format!("no pending request `{id}`")});
        };
        if !constant_time_eq(
            entry.code.as_bytes(),
            code.trim().to_ascii_uppercase().as_bytes(),
        ) {
            entry.failures += 1;
            if entry.failures >= MAX_FAILURES
                && let Some(entry) = entries.remove(id)
            {
                let _ = entry.reply.send(Answer::Deny);
                return json!({"error": "wrong code, three times: the request is rejected"});
            }
            return json!({"error": "wrong code"});
        }
        match entries.remove(id) {
            Some(entry) => {
                let _ = entry.reply.send(answer);
                json!({"ok": true})
            }
            None => json!({"error": format!("no pending request `{id}`")}),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Binds the socket and serves it until the runtime stops.
pub fn serve(path: &Path, pending: Arc<Pending>) -> io::Result<()> {
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if !same_user(&stream) {
                continue;
            }
            let pending = pending.clone();
            tokio::spawn(async move {
                let _ = handle(stream, &pending).await;
            });
        }
    });
    Ok(())
}

async fn handle(stream: UnixStream, pending: &Pending) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    // One request a connection; a line longer than 64 KiB is not a request.
    let mut reader = BufReader::new(read).take(64 * 1024);
    reader.read_line(&mut line).await?;
    let reply = match serde_json::from_str::<Value>(&line) {
        Ok(req) => dispatch(&req, pending),
        Err(_) => json!({"error": "not a request"}),
    };
    write.write_all(format!("{reply}\n").as_bytes()).await
}

fn dispatch(req: &Value, pending: &Pending) -> Value {
    match req["op"].as_str() {
        Some("list") => pending.list(),
        Some("answer") => {
            let (Some(id), Some(code), Some(allow)) = (
                req["request"].as_str(),
                req["code"].as_str(),
                req["allow"].as_bool(),
            ) else {
                return json!({"error": "an answer needs request, code and allow"});
            };
            pending.answer(id, code, if allow { Answer::Once } else { Answer::Deny })
        }
        _ => json!({"error": "unknown op"}),
    }
}

/// Only the user guard runs as may answer (SO_PEERCRED), whatever the file's mode says.
fn same_user(stream: &UnixStream) -> bool {
    // SAFETY: geteuid has no side effects.
    let me = unsafe { libc::geteuid() };
    stream.peer_cred().map(|c| c.uid() == me).unwrap_or(false)
}

fn new_code() -> String {
    let mut bytes = [0u8; 8];
    crate::secret::random(&mut bytes);
    bytes
        .iter()
        .map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char)
        .collect()
}

/// The client side, for `guard approve`: one request line, one reply line.
pub fn call(path: &Path, request: &Value) -> io::Result<Value> {
    use std::io::{BufRead, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    let mut line = String::new();
    std::io::BufReader::new(stream).read_line(&mut line)?;
    serde_json::from_str(&line).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_right_code_answers_and_three_wrong_ones_reject() {
        let pending = Pending::default();
        let (tx, rx) = oneshot::channel();
        let code = pending.insert("q1", json!({}), Instant::now(), tx);
        assert_eq!(
            pending.answer("q1", "WRONG", Answer::Once)["error"],
            "wrong code"
        );
        assert_eq!(
            pending.answer("q1", &code.to_lowercase(), Answer::Once)["ok"],
            true
        );
        assert_eq!(rx.await.unwrap(), Answer::Once);

        let (tx, rx) = oneshot::channel();
        pending.insert("q2", json!({}), Instant::now(), tx);
        for _ in 0..3 {
            pending.answer("q2", "NOPE", Answer::Once);
        }
        assert_eq!(rx.await.unwrap(), Answer::Deny);
        assert!(
            pending.answer("q2", "NOPE", Answer::Once)["error"]
                .as_str()
                .unwrap()
                .contains("no pending")
        );
    }
}
