//! Session start: a credential handle for every target that has credentials. Broker paths are
//! read with a token checked first (`lookup-self`), leases are tracked for revocation the moment
//! they are issued and kept alive by a keeper task; static credentials come from guard's own
//! environment. Every secret is registered for redaction before anything is recorded.

use std::cell::RefCell;
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

/// What every step of acquiring shares.
struct Ctx<'a> {
    transcript: &'a Transcript,
    leases: &'a Leases,
    env: Env<'a>,
    progress: &'a dyn Fn(&str),
    broker: Option<(Arc<Client>, Source)>,
    warnings: RefCell<Vec<String>>,
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
    let mut ctx = Ctx {
        transcript,
        leases,
        env,
        progress,
        broker: None,
        warnings: RefCell::new(Vec::new()),
    };
    let uses_broker = config
        .targets
        .iter()
        .any(|t| matches!(t.credentials, Some(Credentials::Broker { .. })));
    if uses_broker {
        ctx.broker = Some(connect(config, &ctx).await.map_err(|error| AcquireError {
            target: None,
            error,
        })?);
    }
    let mut handles = HashMap::new();
    for target in &config.targets {
        let Some(credentials) = &target.credentials else {
            continue;
        };
        let handle = handle_for(target, credentials, &ctx)
            .await
            .map_err(|error| AcquireError {
                target: Some(target.name.clone()),
                error,
            })?;
        handles.insert(target.name.clone(), handle);
    }
    Ok(Acquired {
        handles,
        warnings: ctx.warnings.into_inner(),
    })
}

async fn handle_for(
    target: &Target,
    credentials: &Credentials,
    ctx: &Ctx<'_>,
) -> Result<CredentialHandle, BrokerError> {
    let credential = match credentials {
        Credentials::Broker { path, field } => {
            let label = format!("leasing credentials for {}", target.name);
            return slow(
                &label,
                ctx.progress,
                lease(target, path, field.as_deref(), ctx),
            )
            .await;
        }
        Credentials::StaticPassword {
            username,
            password_env,
        } => Credential::new(username, from_env(target, password_env, ctx)?),
        Credentials::StaticValue { value_env } => {
            Credential::value(from_env(target, value_env, ctx)?)
        }
    };
    Ok(CredentialHandle::new(
        &target.name,
        Source::Static,
        credential,
    ))
}

/// Finds and checks the broker token; the client every broker target shares.
async fn connect(config: &Config, ctx: &Ctx<'_>) -> Result<(Arc<Client>, Source), BrokerError> {
    let settings =
        Settings::resolve(None, config.broker.as_ref(), ctx.env).ok_or(BrokerError::NoAddress)?;
    let token = token::find(&settings.address, ctx.env)?;
    ctx.transcript.redact(token.secret.expose_secret());
    let client = Arc::new(Client::new(&settings, &token.secret)?);
    let label = format!("checking the broker token at {}", settings.address);
    let info = slow(&label, ctx.progress, token::check(&client, &token.source)).await?;
    if let Some(warning) = token::expiry_warning(&info, LIKELY_SESSION) {
        ctx.warnings.borrow_mut().push(warning);
    }
    Ok((client, Source::from(settings.kind)))
}

/// Reads one broker path, tracks its lease at once and starts keeping it alive.
async fn lease(
    target: &Target,
    path: &str,
    field: Option<&str>,
    ctx: &Ctx<'_>,
) -> Result<CredentialHandle, BrokerError> {
    let (client, source) = ctx.broker.as_ref().ok_or(BrokerError::NoAddress)?;
    let rec = Rec::new(ctx.transcript, &target.name, *source);
    let sent = Instant::now();
    let issued = client
        .read(path, field)
        .await
        .inspect_err(|e| rec.failed(e))?;
    ctx.transcript
        .redact(issued.credential.password.expose_secret());
    let lease_id = issued.lease.as_ref().map(|g| g.lease_id.as_str());
    if let Some(id) = lease_id {
        ctx.leases.track(&target.name, *source, id, client);
    }
    rec.write("issued", lease_id, issued.ttl_s, None);
    if let Some(id) = lease_id
        && !client.can_revoke(id).await
    {
        ctx.warnings.borrow_mut().push(format!(
            "target `{}`: the token may not revoke its leases (`update` on sys/leases/revoke/{path}/*), \
             so its credentials outlive the session until their TTL ends",
            target.name
        ));
    }
    let handle = CredentialHandle::new(&target.name, *source, issued.credential);
    if let Some(grant) = issued.lease.filter(|g| !g.duration.is_zero()) {
        let schedule = Schedule::new(sent, &grant);
        handle.lease_ends(schedule.expires_at());
        ctx.leases.keep(Keeper {
            target: target.name.clone(),
            source: *source,
            path: path.to_string(),
            field: field.map(str::to_string),
            client: Arc::clone(client),
            handle: handle.clone(),
            schedule,
            lease: grant,
            failing: false,
        });
    }
    Ok(handle)
}

/// A static secret from guard's own environment (it never reaches the child's).
fn from_env(target: &Target, name: &str, ctx: &Ctx<'_>) -> Result<SecretString, BrokerError> {
    let rec = Rec::new(ctx.transcript, &target.name, Source::Static);
    let Some(value) = (ctx.env)(name) else {
        let error = BrokerError::EnvUnset(name.to_string());
        rec.failed(&error);
        return Err(error);
    };
    ctx.transcript.redact(&value);
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
