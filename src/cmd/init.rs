//! `guard init`: write a commented guard.toml by asking, outside any session. It offers the
//! broker address from the environment, lists the database roles and KV entries the user's
//! token can see, picks safe defaults (a read-only role, masking on, egress `ask`), and checks
//! the result by loading it before it says where it is.

use std::fmt::Write as _;
use std::path::PathBuf;

use dialoguer::{Confirm, Input, Select};

use crate::broker::{self, Settings, client::Client};
use crate::cli::InitArgs;
use crate::cmd::CliError;
use crate::config::BrokerKind;
use crate::terminal::tty;

/// What the broker shows the user's token, to choose from.
#[derive(Default)]
struct Seen {
    roles: Vec<String>,
    secrets: Vec<String>,
}

enum Target {
    Postgres {
        name: String,
        upstream: String,
        database: String,
        tls: String,
        credentials: String,
        env: String,
    },
    Http {
        name: String,
        upstream: String,
        credentials: String,
        env: String,
    },
}

pub fn cmd_init(args: InitArgs) -> Result<i32, CliError> {
    if !(tty::is_tty(0) && tty::is_tty(2)) {
        return Err(
            CliError::new(1, "guard init asks questions and needs a terminal")
                .hint("write guard.toml by hand: `man guard` describes every key"),
        );
    }
    let path = args.output.unwrap_or_else(|| PathBuf::from("guard.toml"));
    if path.exists() && !confirm(&format!("{} exists. Replace it?", path.display()), false)? {
        eprintln!("guard: kept {}", path.display());
        return Ok(1);
    }
    let broker = ask_broker()?;
    let seen = broker.as_ref().map(see).unwrap_or_default();
    let mut targets = Vec::new();
    loop {
        let choice = select(
            "Add a target",
            &["a PostgreSQL database", "an HTTP API", "done"],
        )?;
        match choice {
            0 => targets.push(ask_postgres(broker.is_some(), &seen)?),
            1 => targets.push(ask_http(broker.is_some(), &seen)?),
            _ => break,
        }
    }
    let text = render(broker.as_ref(), &targets);
    crate::config::parse(&text, &path).map_err(|e| {
        CliError::new(1, format!("the configuration did not check out: {e}"))
            .hint("run guard init again")
    })?;
    std::fs::write(&path, &text).map_err(|e| {
        CliError::new(1, format!("cannot write {}: {e}", path.display()))
            .hint("check the folder's permissions")
    })?;
    eprintln!("guard: wrote {}", path.display());
    eprintln!("next: `guard doctor` checks the broker, the credentials and each upstream");
    Ok(0)
}

fn ask_broker() -> Result<Option<Settings>, CliError> {
    let env = broker::process_env;
    let offered = env("VAULT_ADDR")
        .or_else(|| env("BAO_ADDR"))
        .unwrap_or_default();
    let address: String = input(
        "Broker address (OpenBao or Vault; empty for none)",
        &offered,
        |_| Ok(()),
    )?;
    if address.trim().is_empty() {
        return Ok(None);
    }
    let kind = match select("Broker kind", &["openbao", "vault"])? {
        0 => BrokerKind::Openbao,
        _ => BrokerKind::Vault,
    };
    let config = crate::config::Broker {
        kind,
        address: address.trim().to_string(),
    };
    Ok(Settings::resolve(None, Some(&config), &env))
}

/// Lists database roles and KV entries with the user's token, where the broker allows it.
fn see(settings: &Settings) -> Seen {
    let listed = (|| {
        let token = broker::token::find(&settings.address, &broker::process_env).ok()?;
        let client = Client::new(settings, &token.secret).ok()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        Some(runtime.block_on(async {
            let roles = client.list("database/roles").await.unwrap_or_default();
            let secrets = client.list("secret/metadata").await.unwrap_or_default();
            Seen { roles, secrets }
        }))
    })();
    let seen = listed.unwrap_or_default();
    if seen.roles.is_empty() && seen.secrets.is_empty() {
        eprintln!(
            "guard: the broker lists no roles or secrets for this token; type paths yourself"
        );
    }
    seen
}

fn ask_postgres(brokered: bool, seen: &Seen) -> Result<Target, CliError> {
    let name = ask_name("shop")?;
    let upstream = input("Database server (host:port)", "localhost:5432", |s| {
        if s.contains(':') {
            Ok(())
        } else {
            Err("write host:port")
        }
    })?;
    let database = input("Database name", &name, |_| Ok(()))?;
    let tls = ["prefer", "verify-full", "require", "disable"][select(
        "TLS to the server",
        &["prefer", "verify-full", "require", "disable"],
    )?]
    .to_string();
    let credentials = if brokered {
        let mut choices: Vec<String> = seen
            .roles
            .iter()
            .map(|r| format!("database/creds/{r}"))
            .collect();
        choices.push("another path".into());
        let i = select(
            "Credentials: a read-only role is the safe default",
            &choices,
        )?;
        let path = if i + 1 == choices.len() {
            input("Broker path", "database/creds/agent-ro", |_| Ok(()))?
        } else {
            choices[i].clone()
        };
        format!("{{ broker = {} }}", quote(&path))
    } else {
        let user = input("Database user", "agent_ro", |_| Ok(()))?;
        let var = input(
            "Variable in your shell that holds its password",
            &format!("{}_PASSWORD", env_prefix(&name)),
            |s: &String| is_var(s),
        )?;
        format!(
            "{{ username = {}, password_env = {} }}",
            quote(&user),
            quote(&var)
        )
    };
    let env = input(
        "Variable the agent gets the address in",
        &format!("{}_DATABASE_URL", env_prefix(&name)),
        |s: &String| is_var(s),
    )?;
    Ok(Target::Postgres {
        name,
        upstream,
        database,
        tls,
        credentials,
        env,
    })
}

fn ask_http(brokered: bool, seen: &Seen) -> Result<Target, CliError> {
    let name = ask_name("billing")?;
    let upstream = input("API base URL", "https://billing.internal", |s| {
        if s.starts_with("http://") || s.starts_with("https://") {
            Ok(())
        } else {
            Err("start with http:// or https://")
        }
    })?;
    let credentials = if brokered {
        let default = seen
            .secrets
            .first()
            .map(|s| format!("secret/data/{s}"))
            .unwrap_or_else(|| format!("secret/data/{name}"));
        let path = input("KV v2 path of the token", &default, |_| Ok(()))?;
        let field = input("Field", "token", |_| Ok(()))?;
        format!("{{ broker = {}, field = {} }}", quote(&path), quote(&field))
    } else {
        let var = input(
            "Variable in your shell that holds the token",
            &format!("{}_TOKEN", env_prefix(&name)),
            |s: &String| is_var(s),
        )?;
        format!("{{ value_env = {} }}", quote(&var))
    };
    let env = input(
        "Variable the agent gets the URL in",
        &format!("{}_URL", env_prefix(&name)),
        |s: &String| is_var(s),
    )?;
    Ok(Target::Http {
        name,
        upstream,
        credentials,
        env,
    })
}

fn render(broker: Option<&Settings>, targets: &[Target]) -> String {
    let mut out = String::from(
        "# guard configuration, written by `guard init`. `man guard` describes every key.\n\n",
    );
    if let Some(b) = broker {
        let kind = match b.kind {
            BrokerKind::Openbao => "openbao",
            BrokerKind::Vault => "vault",
        };
        let _ = write!(
            out,
            "# Credentials are leased per session and revoked when it ends.\n[broker]\nkind = \"{kind}\"\naddress = {}\n\n",
            quote(&b.address)
        );
    }
    for t in targets {
        match t {
            Target::Postgres {
                name,
                upstream,
                database,
                tls,
                credentials,
                env,
            } => {
                let _ = write!(
                    out,
                    "[[target]]\nname = {}\nkind = \"postgres\"\nupstream = {}\ndatabase = {}\ntls = {}\ncredentials = {credentials}\nenv = {}\n\n",
                    quote(name),
                    quote(upstream),
                    quote(database),
                    quote(tls),
                    quote(env)
                );
            }
            Target::Http {
                name,
                upstream,
                credentials,
                env,
            } => {
                let _ = write!(
                    out,
                    "[[target]]\nname = {}\nkind = \"http\"\nupstream = {}\ncredentials = {credentials}\ninject = {{ header = \"Authorization\", value = \"Bearer {{secret}}\" }}\nenv = {}\n\n",
                    quote(name),
                    quote(upstream),
                    quote(env)
                );
            }
        }
    }
    out.push_str("# Traffic the agent sends elsewhere: hosts not allowed here are asked about.\n[egress]\nmode = \"ask\"\n\n");
    out.push_str("# Values masked before the agent sees them.\n[mask]\ncolumns = [\"email\", \"*ssn*\", \"card*\", \"password*\"]\ndetectors = \"default\"\nstyle = \"partial\"\n\n");
    out.push_str("# Rules come first, first match wins; then reads pass, writes and DDL ask, dangerous\n# statements are refused. For example, to let writes to one table through:\n# [[rule]]\n# class = [\"write\"]\n# match = \"(?i)\\\\binto audit_log\\\\b\"\n# action = \"allow\"\n");
    out
}

fn ask_name(default: &str) -> Result<String, CliError> {
    input(
        "Target name (lowercase letters, digits, _ or -)",
        default,
        |s| {
            // The name gives the child's variable (`SHOP_DATABASE_URL`), which cannot start
            // with a digit.
            let ok = s.starts_with(|c: char| !c.is_ascii_digit())
                && s.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if ok {
                Ok(())
            } else {
                Err("use lowercase letters, digits, _ or -, not a digit first")
            }
        },
    )
}

fn env_prefix(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

fn is_var(s: &str) -> Result<(), &'static str> {
    let mut bytes = s.bytes();
    let ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err("not a variable name")
    }
}

/// A TOML string literal.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn input(
    prompt: &str,
    default: &str,
    check: impl Fn(&String) -> Result<(), &'static str>,
) -> Result<String, CliError> {
    let mut question = Input::<String>::new()
        .with_prompt(prompt)
        .validate_with(|s: &String| check(s));
    if !default.is_empty() {
        question = question.default(default.to_string());
    } else {
        question = question.allow_empty(true);
    }
    question.interact_text().map_err(prompt_error)
}

fn select<T: std::fmt::Display>(prompt: &str, items: &[T]) -> Result<usize, CliError> {
    Select::new()
        .with_prompt(prompt)
        .items(items)
        .default(0)
        .interact()
        .map_err(prompt_error)
}

fn confirm(prompt: &str, default: bool) -> Result<bool, CliError> {
    Confirm::new()
        .with_prompt(prompt)
        .default(default)
        .interact()
        .map_err(prompt_error)
}

fn prompt_error(e: dialoguer::Error) -> CliError {
    CliError::new(1, format!("the prompt failed: {e}")).hint("run guard init in a terminal")
}
