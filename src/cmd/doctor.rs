//! `guard doctor`: what a session would use, checked without starting one: the configuration
//! file, the broker token (its source, TTL and policies), whether the token may read each
//! target's broker path (asked with `sys/capabilities-self`, so nothing is leased), each static
//! credential's variable, and whether each upstream accepts a TCP connection. No secret is
//! printed. Exit 0 when all is well, 1 otherwise.

use std::time::Duration;

use crate::broker::client::{Client, TokenInfo};
use crate::broker::keyring::Keyring;
use crate::broker::token::{self, human};
use crate::broker::{BrokerError, Settings, process_env};
use crate::cli::DoctorArgs;
use crate::cmd::{CliError, runtime};
use crate::config::{self, Config, Credentials, Target, TargetKind};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The checks so far, printed as they are made.
#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn ok(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("ok    {what}: {detail}");
    }

    fn fail(&mut self, what: &str, detail: impl std::fmt::Display, hint: impl std::fmt::Display) {
        self.failed = true;
        println!("FAIL  {what}: {detail}");
        println!("      hint: {hint}");
    }

    fn note(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("--    {what}: {detail}");
    }
}

pub fn cmd_doctor(args: DoctorArgs) -> Result<i32, CliError> {
    let mut report = Report::default();
    let config = match config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            report.fail(
                "config",
                e,
                "fix the configuration; `man guard` describes every key",
            );
            return Ok(1);
        }
    };
    match &config.source {
        Some(path) => report.ok("config", path.display()),
        None => report.note(
            "config",
            "none found: no targets, recording and env scrubbing only",
        ),
    }
    let runtime = runtime()?;
    runtime.block_on(async {
        let client = check_broker(&config, &mut report).await;
        for target in &config.targets {
            check_credentials(target, client.as_ref(), &mut report).await;
            check_upstream(target, &mut report).await;
        }
    });
    Ok(i32::from(report.failed))
}

/// The broker's address, keyring and token; the client when the token works.
async fn check_broker(config: &Config, report: &mut Report) -> Option<Client> {
    let needed = config
        .targets
        .iter()
        .any(|t| matches!(t.credentials, Some(Credentials::Broker { .. })));
    let Some(settings) = Settings::resolve(None, config.broker.as_ref(), &process_env) else {
        if needed {
            let e = BrokerError::NoAddress;
            report.fail("broker", &e, e.hint());
        } else {
            report.note("broker", "none configured");
        }
        return None;
    };
    let kind = crate::broker::Source::from(settings.kind).as_str();
    report.ok("broker", format!("{kind} at {}", settings.address));
    match Keyring::from_env(&process_env) {
        Ok(keyring) => report.ok("keyring", keyring.describe()),
        Err(e) => report.fail("keyring", &e, e.hint()),
    }
    let token = match token::find(&settings.address, &process_env) {
        Ok(token) => token,
        // Only a target that takes credentials from the broker needs a token.
        Err(e) if !needed => {
            report.note("token", e);
            return None;
        }
        Err(e) => {
            report.fail("token", &e, e.hint());
            return None;
        }
    };
    let client = match Client::new(&settings, &token.secret) {
        Ok(client) => client,
        Err(e) => {
            report.fail("broker", &e, e.hint());
            return None;
        }
    };
    match token::check(&client, &token.source).await {
        Ok(info) => report.ok("token", describe_token(&token.source, &info)),
        Err(e) => {
            report.fail("token", &e, e.hint());
            return None;
        }
    }
    Some(client)
}

fn describe_token(source: &token::TokenSource, info: &TokenInfo) -> String {
    let lifetime = match info.ttl {
        Some(ttl) => format!("expires in {}", human(ttl)),
        None => "does not expire".into(),
    };
    let mut text = format!(
        "from {source}, {lifetime}, policies: {}",
        info.policies.join(", ")
    );
    if let Some(warning) = token::expiry_warning(info, token::LIKELY_SESSION) {
        text = format!("{text} (warning: {warning})");
    }
    text
}

/// Whether the token may read the target's path, or its static variable is set.
async fn check_credentials(target: &Target, client: Option<&Client>, report: &mut Report) {
    let what = format!("target {} credentials", target.name);
    match &target.credentials {
        None => report.note(&what, "none (the upstream's own authentication applies)"),
        Some(Credentials::Broker { path, .. }) => {
            let Some(client) = client else {
                report.fail(
                    &what,
                    format!("`{path}` not checked"),
                    "fix the broker token first",
                );
                return;
            };
            readable(client, path, &what, report).await;
        }
        Some(Credentials::StaticPassword {
            password_env: name, ..
        })
        | Some(Credentials::StaticValue { value_env: name }) => match process_env(name) {
            Some(_) => report.ok(&what, format!("{name} is set (static)")),
            None => {
                let e = BrokerError::EnvUnset(name.clone());
                report.fail(&what, &e, e.hint());
            }
        },
    }
}

/// Capabilities on the path and, for a dynamic role, on revoking its leases.
async fn readable(client: &Client, path: &str, what: &str, report: &mut Report) {
    // A lease id is `<path>/<random>`: any one stands for all under the policy's glob.
    let revoke = format!("sys/leases/revoke/{path}/lease");
    let dynamic = path.contains("/creds/");
    let paths: Vec<&str> = if dynamic {
        vec![path, &revoke]
    } else {
        vec![path]
    };
    let caps = match client.capabilities(&paths).await {
        Ok(caps) => caps,
        Err(e) => return report.fail(what, &e, e.hint()),
    };
    let of = |p: &str| caps.get(p).cloned().unwrap_or_default();
    let read = of(path);
    if !read.iter().any(|c| c == "read" || c == "root") {
        let e = BrokerError::PermissionDenied { path: path.into() };
        return report.fail(
            what,
            format!("{e} (capabilities: {})", read.join(", ")),
            e.hint(),
        );
    }
    report.ok(what, format!("`{path}` is readable ({})", read.join(", ")));
    let may_revoke = of(&revoke)
        .iter()
        .any(|c| c == "update" || c == "sudo" || c == "root");
    if dynamic && !may_revoke {
        report.fail(
            what,
            format!("the token may not revoke leases of `{path}`: they would outlive sessions"),
            format!("ask for a policy with `update` on sys/leases/revoke/{path}/*"),
        );
    }
}

/// A TCP connection to the upstream, with a short timeout; nothing is sent.
async fn check_upstream(target: &Target, report: &mut Report) {
    let what = format!("target {} upstream", target.name);
    let Some((host, port)) = upstream_addr(target) else {
        report.fail(
            &what,
            format!("cannot tell host and port from `{}`", target.upstream),
            "write host:port",
        );
        return;
    };
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(_)) => report.ok(&what, format!("{host}:{port} is reachable")),
        Ok(Err(e)) => report.fail(
            &what,
            format!("{host}:{port}: {e}"),
            "check `upstream` and that the service runs",
        ),
        Err(_) => report.fail(
            &what,
            format!("{host}:{port}: no answer in 3s"),
            "check `upstream`, the network and firewalls",
        ),
    }
}

/// `db:5432`, `db` (5432), `[::1]:5432`, or an http(s) URL (80 or 443 by default).
fn upstream_addr(target: &Target) -> Option<(String, u16)> {
    let text = target.upstream.trim();
    let (rest, default) = match target.kind {
        TargetKind::Postgres => (text, 5432),
        TargetKind::Http => match text.split_once("://") {
            Some(("https", rest)) => (rest, 443),
            Some(("http", rest)) => (rest, 80),
            Some(_) => return None,
            None => (text, 443),
        },
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    (!host.is_empty()).then(|| (host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(kind: TargetKind, upstream: &str) -> Option<(String, u16)> {
        let text = format!(
            "[[target]]\nname = \"t\"\nkind = \"{}\"\nupstream = \"{upstream}\"\n",
            format!("{kind:?}").to_lowercase()
        );
        let config = config::parse(&text, std::path::Path::new("t.toml")).unwrap();
        upstream_addr(&config.targets[0])
    }

    #[test]
    fn upstreams_give_host_and_port() {
        let pg = TargetKind::Postgres;
        let http = TargetKind::Http;
        assert_eq!(
            addr(pg, "db.internal:6432"),
            Some(("db.internal".into(), 6432))
        );
        assert_eq!(addr(pg, "db.internal"), Some(("db.internal".into(), 5432)));
        assert_eq!(addr(pg, "[::1]:5433"), Some(("::1".into(), 5433)));
        assert_eq!(
            addr(http, "https://billing.internal/api"),
            Some(("billing.internal".into(), 443))
        );
        assert_eq!(
            addr(http, "http://127.0.0.1:8080"),
            Some(("127.0.0.1".into(), 8080))
        );
        assert_eq!(addr(http, "ftp://x"), None);
        assert_eq!(addr(pg, "db:notaport"), None);
    }
}
