//! The listeners guard opens for each target on loopback, and their lifecycle: started before the
//! child (their addresses go into its environment), stopped when the session ends.

use tokio::runtime::Runtime;

use crate::approval::Approver;
use crate::config::Config;
use crate::record::transcript::Transcript;
use crate::session::StartError;
use crate::session::env::ChildEnv;

/// The running gateways of a session.
pub struct Gateways {}

/// Starts a gateway per configured target and sets each target's variable in the child's
/// environment. A target guard cannot serve stops the session before the child starts.
pub fn start(
    _runtime: &Runtime,
    config: &Config,
    _transcript: &Transcript,
    _approver: &Approver,
    _env: &mut ChildEnv,
) -> Result<Gateways, StartError> {
    if let Some(target) = config.targets.first() {
        return Err(StartError {
            code: 125,
            message: format!(
                "target `{}`: this build of guard cannot serve {:?} targets",
                target.name, target.kind
            ),
            hint: Some("remove the [[target]] from the configuration".into()),
        });
    }
    Ok(Gateways {})
}

impl Gateways {
    /// Stops accepting connections and closes the ones still open.
    pub fn shutdown(self, _runtime: &Runtime) {}
}
