//! `guard demo [-- COMMAND]`: the whole idea in one command, with no configuration, network,
//! database or broker. An embedded customer API on loopback stands in for an internal service;
//! the command (default `$SHELL`) runs under guard with `DEMO_API_URL` pointing at guard's proxy
//! for it, masking on, and egress enforced, and the banner names three things to try.

use std::ffi::OsString;

use crate::cli::DemoArgs;
use crate::cmd::{CliError, run::approver_mode};
use crate::session;

/// Where guard reads the demo API's token from: its own environment, which the child never
/// sees (the name ends in `_TOKEN`, and `value_env` variables are removed too).
const TOKEN_VAR: &str = "GUARD_DEMO_API_TOKEN";

pub fn cmd_demo(args: DemoArgs) -> Result<i32, CliError> {
    let token = crate::secret::session_secret();
    // SAFETY: guard has started no thread yet; nothing else reads the environment concurrently.
    unsafe { std::env::set_var(TOKEN_VAR, token.as_str()) };
    let addr = crate::demo::start(token.to_string())
        .map_err(|e| CliError::new(125, format!("cannot start the demo service: {e}")))?;
    let config = crate::config::parse(&demo_config(addr.port()), std::path::Path::new("(demo)"))
        .map_err(|e| CliError::new(125, format!("the demo configuration: {e}")))?;
    let argv = if args.command.is_empty() {
        vec![
            std::env::var_os("SHELL")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| OsString::from("/bin/sh")),
        ]
    } else {
        args.command
    };
    if !args.quiet {
        eprint!("{}", banner());
    }
    let opts = session::Options {
        approver: approver_mode(None)?,
        approval_timeout: std::time::Duration::from_secs(60),
        argv,
        name: Some("demo".into()),
        record_input: false,
        no_cast: false,
        quiet: args.quiet,
    };
    let code = session::run(opts, config).map_err(|e| CliError {
        code: e.code,
        message: e.message,
        hint: e.hint,
    })?;
    if !args.quiet {
        eprintln!("guard: what the session did, as a reviewer sees it: guard show last");
    }
    Ok(code)
}

fn demo_config(port: u16) -> String {
    format!(
        r#"[[target]]
name = "demo"
kind = "http"
upstream = "http://127.0.0.1:{port}"
credentials = {{ value_env = "{TOKEN_VAR}" }}
env = "DEMO_API_URL"

[egress]
mode = "enforce"

[mask]
columns = ["email", "*ssn*", "card*", "*api_key*"]
"#
    )
}

fn banner() -> String {
    "\
guard demo: a customer API with fake data sits behind guard at $DEMO_API_URL.
guard holds its token; the shell below never sees it. Try:

  curl -s $DEMO_API_URL/customers               a read: emails, cards and SSNs come back masked
  curl -s -X DELETE $DEMO_API_URL/customers/2   a write: guard asks you first (y / a / n)
  curl -s https://example.com                   egress to a host not allowed: refused (403)

Type `exit` to end the session; it is recorded and verifiable.

"
    .to_string()
}
