//! Session start: a credential handle for every target that has credentials. Broker paths are
//! read with a token checked first (`lookup-self`), leases are tracked for revocation the moment
//! they are issued and kept alive by a keeper task; static credentials come from guard's own
//! environment. Every secret is registered for redaction before anything is recorded.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use super::client::Client;
use super::keeper::{Keeper, Rec};
use super::lease::Schedule;
use super::token::{self, LIKELY_SESSION};
use super::{BrokerError, Credential, CredentialHandle, Env, Leases, Settings, Source};
use crate::config::{Config, Credentials, Target};
use crate::record::transcript::Transcript;

/// Past this, the user is told what guard is waiting for.
const SLOW: Duration = Duration::from_millis(500);

/// A failure to get one target's credential (or the broker token, with no target).
#[derive(Debug, thiserror::Error)]
#[error("{}{error}", target.as_ref().map(|t| format!("target `{t}`: ")).unwrap_or_default())]
pub struct AcquireError {
    pub target: Option<String>,
    pub error: BrokerError,
}

/// The handles, by target name, and what the user should know before the session starts.
pub struct Acquired {
    pub handles: HashMap<String, CredentialHandle>,
    pub warnings: Vec<String>,
}

/// Gets every target's credential. Leases issued before a failure stay in `leases`, which the
/// caller revokes. `progress` is told what guard waits for when it takes longer than half a second.
pub async fn acquire(
    config: &Config,
    transcript: &Transcript,
    leases: &Leases,
    env: Env<'_>,
    progress: &dyn Fn(&str),
) -> Result<Acquired, AcquireError> {
    let mut acquired = Acquired {
        handles: HashMap::new(),
        warnings: Vec::new(),
    };
    let uses_broker = config
        .targets
        .iter()
        .any(|t| matches!(t.credentials, Some(Credentials::Broker { .. })));
    let broker = if uses_broker {
        Some(connect(config, transcript, env, progress, &mut acquired.warnings).await?)
    } else {
        None
    };
    for target in &config.targets {
        let Some(credentials) = &target.credentials else {
            continue;
        };
        let handle = handle_for(
            target,
            credentials,
            broker.as_ref(),
            transcript,
            leases,
            env,
            progress,
        )
        .await
        .map_err(|error| AcquireError {
            target: Some(target.name.clone()),
            error,
        })?;
        acquired.handles.insert(target.name.clone(), handle);
    }
    Ok(acquired)
}

async fn handle_for(
    target: &Target,
    credentials: &Credentials,
    broker: Option<&(Arc<Client>, Source)>,
    transcript: &Transcript,
    leases: &Leases,
    env: Env<'_>,
    progress: &dyn Fn(&str),
) -> Result<CredentialHandle, BrokerError> {
    let credential = match credentials {
        Credentials::Broker { path, field } => {
            let (client, source) = broker.ok_or(BrokerError::NoAddress)?;
            let label = format!("leasing credentials for {}", target.name);
            let leased = lease(
                target,
                path,
                field.as_deref(),
                client,
                *source,
                transcript,
                leases,
            );
            return slow(&label, progress, leased).await;
        }
        Credentials::StaticPassword {
            username,
            password_env,
        } => Credential::new(username, from_env(target, password_env, env, transcript)?),
        Credentials::StaticValue { value_env } => {
            Credential::value(from_env(target, value_env, env, transcript)?)
        }
    };
    Ok(CredentialHandle::new(
        &target.name,
        Source::Static,
        credential,
    ))
}

/// Finds and checks the broker token; the client every broker target shares.
async fn connect(
    config: &Config,
    transcript: &Transcript,
    env: Env<'_>,
    progress: &dyn Fn(&str),
    warnings: &mut Vec<String>,
) -> Result<(Arc<Client>, Source), AcquireError> {
    let fail = |error| AcquireError {
        target: None,
        error,
    };
    let settings = Settings::resolve(None, config.broker.as_ref(), env)
        .ok_or(BrokerError::NoAddress)
        .map_err(fail)?;
    let token = token::find(&settings.address, env).map_err(fail)?;
    transcript.redact(token.secret.expose_secret());
    let client = Arc::new(Client::new(&settings, &token.secret).map_err(fail)?);
    let label = format!("checking the broker token at {}", settings.address);
    let info = slow(&label, progress, token::check(&client, &token.source))
        .await
        .map_err(fail)?;
    if let Some(warning) = token::expiry_warning(&info, LIKELY_SESSION) {
        warnings.push(warning);
    }
    Ok((client, Source::from(settings.kind)))
}

/// Reads one broker path, tracks its lease at once and starts keeping it alive.
async fn lease(
    target: &Target,
    path: &str,
    field: Option<&str>,
    client: &Arc<Client>,
    source: Source,
    transcript: &Transcript,
    leases: &Leases,
) -> Result<CredentialHandle, BrokerError> {
    let rec = Rec::new(transcript, &target.name, source);
    let sent = Instant::now();
    let issued = client
        .read(path, field)
        .await
        .inspect_err(|e| rec.failed(e))?;
    transcript.redact(issued.credential.password.expose_secret());
    let lease_id = issued.lease.as_ref().map(|g| g.lease_id.as_str());
    if let Some(id) = lease_id {
        leases.track(&target.name, source, id, client);
    }
    rec.write("issued", lease_id, issued.ttl_s, None);
    let handle = CredentialHandle::new(&target.name, source, issued.credential);
    if let Some(grant) = issued.lease.filter(|g| !g.duration.is_zero()) {
        leases.keep(Keeper {
            target: target.name.clone(),
            source,
            path: path.to_string(),
            field: field.map(str::to_string),
            client: Arc::clone(client),
            handle: handle.clone(),
            schedule: Schedule::new(sent, &grant),
            lease: grant,
        });
    }
    Ok(handle)
}

/// A static secret from guard's own environment (it never reaches the child's).
fn from_env(
    target: &Target,
    name: &str,
    env: Env,
    transcript: &Transcript,
) -> Result<SecretString, BrokerError> {
    let rec = Rec::new(transcript, &target.name, Source::Static);
    let Some(value) = env(name) else {
        let error = BrokerError::EnvUnset(name.to_string());
        rec.failed(&error);
        return Err(error);
    };
    transcript.redact(&value);
    rec.write("issued", None, None, None);
    Ok(SecretString::from(value))
}

/// Runs `fut`, telling `progress` about `label` once it has taken longer than `SLOW`.
async fn slow<F: Future>(label: &str, progress: &dyn Fn(&str), fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    tokio::select! {
        out = &mut fut => return out,
        _ = tokio::time::sleep(SLOW) => progress(label),
    }
    fut.await
}
