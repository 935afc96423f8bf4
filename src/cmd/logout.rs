//! `guard logout [--address URL]`: remove the broker token `guard login` stored for an address.

use crate::broker::keyring::Keyring;
use crate::broker::process_env;
use crate::cli::LogoutArgs;
use crate::cmd::{CliError, broker_settings, keyring_error};

pub fn cmd_logout(args: LogoutArgs) -> Result<i32, CliError> {
    let settings = broker_settings(args.address.as_deref(), args.config.as_deref())?;
    let keyring = Keyring::from_env(&process_env).map_err(keyring_error)?;
    let removed = keyring.delete(&settings.address).map_err(keyring_error)?;
    if removed {
        eprintln!(
            "guard: removed the token for {} from {}",
            settings.address,
            keyring.describe()
        );
    } else {
        eprintln!(
            "guard: no token was stored for {} in {}",
            settings.address,
            keyring.describe()
        );
    }
    Ok(0)
}
