//! `guard login [--address URL]`: read a broker token from a hidden prompt (or stdin when it is
//! not a terminal), check it with the broker, and store it in the keyring for that address.

use std::io::Read;

use secrecy::SecretString;
use zeroize::Zeroize;

use crate::broker::client::Client;
use crate::broker::keyring::Keyring;
use crate::broker::token::human;
use crate::broker::{BrokerError, Settings, process_env};
use crate::cli::LoginArgs;
use crate::cmd::{CliError, broker_settings, keyring_error, runtime};

pub fn cmd_login(args: LoginArgs) -> Result<i32, CliError> {
    let settings = broker_settings(args.address.as_deref(), args.config.as_deref())?;
    let keyring = Keyring::from_env(&process_env).map_err(keyring_error)?;
    if keyring.disabled() {
        return Err(keyring_error(
            crate::broker::keyring::KeyringError::Disabled,
        ));
    }
    let token = read_token(&settings.address)?;
    let info = check(&settings, &token)?;
    let stored = keyring
        .set(&settings.address, &token)
        .map_err(keyring_error)?;
    eprintln!(
        "guard: token for {} stored in {}",
        settings.address, stored.place
    );
    if !stored.persistent {
        eprintln!(
            "guard: warning: that keyring forgets at reboot or logout; run `guard login` again then"
        );
    }
    let lifetime = match info.ttl {
        Some(ttl) => format!("expires in {}", human(ttl)),
        None => "does not expire".into(),
    };
    eprintln!(
        "guard: the token {lifetime}; policies: {}",
        info.policies.join(", ")
    );
    Ok(0)
}

/// The token from a hidden prompt on a terminal, else all of stdin (trimmed).
fn read_token(address: &str) -> Result<SecretString, CliError> {
    if crate::terminal::tty::is_tty(0) {
        let token = dialoguer::Password::new()
            .with_prompt(format!("Broker token for {address}"))
            .interact()
            .map_err(|e| CliError::new(1, format!("cannot read the token: {e}")))?;
        return Ok(SecretString::from(token.trim()));
    }
    let mut text = String::new();
    let read = std::io::stdin().read_to_string(&mut text);
    let token = SecretString::from(text.trim());
    text.zeroize();
    read.map_err(|e| CliError::new(1, format!("cannot read the token from stdin: {e}")))?;
    if secrecy::ExposeSecret::expose_secret(&token).is_empty() {
        return Err(CliError::new(1, "no token on stdin")
            .hint("pipe the token in, e.g. `printf %s \"$TOKEN\" | guard login`"));
    }
    Ok(token)
}

/// Asks the broker about the token before it is kept anywhere.
fn check(
    settings: &Settings,
    token: &SecretString,
) -> Result<crate::broker::client::TokenInfo, CliError> {
    let failed = |e: BrokerError| CliError::new(1, e.to_string()).hint(e.hint());
    let client = Client::new(settings, token).map_err(failed)?;
    match runtime()?.block_on(client.lookup_self()) {
        Ok(info) => Ok(info),
        Err(BrokerError::PermissionDenied { .. }) => Err(CliError::new(
            1,
            format!(
                "the broker at {} refused this token (invalid, expired or revoked)",
                settings.address
            ),
        )
        .hint(
            "check that the whole token was given and that it is still valid; nothing was stored",
        )),
        Err(e) => Err(failed(e)),
    }
}
