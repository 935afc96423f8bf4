//! The listeners guard opens for each target on loopback, and their lifecycle: started before the
//! child (their addresses go into its environment), stopped when the session ends.

pub mod http;

use std::sync::Arc;

use tokio::runtime::Runtime;

use crate::approval::Approver;
use crate::config::{Config, TargetKind};
use crate::policy::Policy;
use crate::record::transcript::Transcript;
use crate::session::StartError;
use crate::session::env::ChildEnv;

/// The running gateways of a session.
pub struct Gateways {
    http: http::HttpGateways,
    egress: Option<http::EgressProxy>,
}

/// Starts a gateway per configured target and sets each target's variable in the child's
/// environment. A target guard cannot serve stops the session before the child starts.
pub fn start(
    runtime: &Runtime,
    config: &Config,
    transcript: &Transcript,
    approver: &Approver,
    policy: &Arc<Policy>,
    env: &mut ChildEnv,
) -> Result<Gateways, StartError> {
    if let Some(target) = config.targets.iter().find(|t| t.kind != TargetKind::Http) {
        return Err(StartError {
            code: 125,
            message: format!(
                "target `{}`: this build of guard cannot serve {:?} targets",
                target.name, target.kind
            ),
            hint: Some("remove the [[target]] from the configuration".into()),
        });
    }
    // HTTP targets first: the egress proxy lists their addresses in the child's NO_PROXY.
    let parts = http::Parts {
        policy: policy.clone(),
        ..http::Parts::default()
    };
    let http = http::start_with(runtime, config, transcript, approver, env, parts)?;
    let own = http.addresses();
    let egress = http::egress::start(runtime, &config.egress, transcript, approver, env, &own)?;
    Ok(Gateways { http, egress })
}

impl Gateways {
    /// Stops accepting connections and closes the ones still open.
    pub fn shutdown(self, runtime: &Runtime) {
        if let Some(egress) = self.egress {
            egress.shutdown(runtime);
        }
        self.http.shutdown(runtime);
    }
}
