//! The leases of a session: one task per leased target renews its lease, or replaces the
//! credentials when the lease can no longer be renewed, while the session runs; and
//! `Leases::revoke_all` stops those tasks and revokes every lease when the session ends, whatever
//! way it ends. Each step is a `credential` record.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::client::{Client, Grant};
use super::lease::{Schedule, Step};
use super::{BrokerError, CredentialHandle, Source};
use crate::record::transcript::Transcript;

/// How long the end of a session waits for a renewal already on the wire.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How long one revocation may take before guard gives up on it (the lease then ends by itself).
const REVOKE_WAIT: Duration = Duration::from_secs(10);

/// The session's leases; owned by the session, which calls `revoke_all` on every way out.
pub struct Leases {
    shared: Arc<Shared>,
}

struct Shared {
    transcript: Transcript,
    active: Mutex<Vec<Tracked>>,
    stop: watch::Sender<bool>,
    keepers: Mutex<Vec<JoinHandle<()>>>,
}

struct Tracked {
    target: String,
    source: Source,
    lease_id: String,
    client: Arc<Client>,
    /// When the lease ends, as of its last issue or renewal; `None` until a keeper knows.
    ends: Option<Instant>,
}

/// What a keeper task needs to look after one target's lease.
pub(super) struct Keeper {
    pub target: String,
    pub source: Source,
    pub path: String,
    pub field: Option<String>,
    pub client: Arc<Client>,
    pub handle: CredentialHandle,
    pub lease: Grant,
    pub schedule: Schedule,
    /// The broker failed since the last success: the human has been told once.
    pub failing: bool,
}

impl Leases {
    pub fn new(transcript: Transcript) -> Leases {
        Leases {
            shared: Arc::new(Shared {
                transcript,
                active: Mutex::new(Vec::new()),
                stop: watch::channel(false).0,
                keepers: Mutex::new(Vec::new()),
            }),
        }
    }

    pub(super) fn track(&self, target: &str, source: Source, lease_id: &str, client: &Arc<Client>) {
        lock(&self.shared.active).push(Tracked {
            target: target.to_string(),
            source,
            lease_id: lease_id.to_string(),
            client: Arc::clone(client),
            ends: None,
        });
    }

    /// Starts the task that renews or replaces a lease (on the current tokio runtime).
    pub(super) fn keep(&self, keeper: Keeper) {
        let shared = Arc::clone(&self.shared);
        let stop = self.shared.stop.subscribe();
        self.ends(&keeper.lease.lease_id, keeper.schedule.expires_at());
        let task = tokio::spawn(keeper.run(Leases { shared }, stop));
        lock(&self.shared.keepers).push(task);
    }

    /// Stops renewing and revokes every lease still live. Safe to call more than once; a lease
    /// that cannot be revoked is reported and recorded, and ends with its TTL.
    pub async fn revoke_all(&self) {
        let _ = self.shared.stop.send(true);
        let keepers = std::mem::take(&mut *lock(&self.shared.keepers));
        for mut task in keepers {
            if tokio::time::timeout(STOP_WAIT, &mut task).await.is_err() {
                task.abort();
            }
        }
        let now = Instant::now();
        let tracked = std::mem::take(&mut *lock(&self.shared.active));
        let mut revocations = JoinSet::new();
        for lease in tracked
            .into_iter()
            .filter(|l| l.ends.is_none_or(|end| end > now))
        {
            revocations.spawn(async move {
                let result =
                    tokio::time::timeout(REVOKE_WAIT, lease.client.revoke(&lease.lease_id)).await;
                (lease, result)
            });
        }
        while let Some(joined) = revocations.join_next().await {
            // A revocation task that panicked has nothing to report; the others still do.
            let Ok((lease, result)) = joined else {
                continue;
            };
            let rec = Rec::new(&self.shared.transcript, &lease.target, lease.source);
            match result {
                Ok(Ok(())) => rec.write("revoked", Some(&lease.lease_id), None, None),
                Ok(Err(e)) => {
                    self.revoke_failed(&rec, &lease, &e.to_string());
                    if matches!(e, BrokerError::PermissionDenied { .. }) {
                        eprintln!(
                            "hint: a policy with `update` on sys/leases/revoke/<path>/* lets guard revoke them"
                        );
                    }
                }
                Err(_) => self.revoke_failed(&rec, &lease, "the broker did not answer in time"),
            }
        }
    }

    fn revoke_failed(&self, rec: &Rec, lease: &Tracked, why: &str) {
        rec.write("failed", Some(&lease.lease_id), None, Some(why));
        eprintln!(
            "guard: could not revoke the credentials of `{}`: {why}; they end when their lease does",
            lease.target
        );
    }

    /// When a tracked lease ends (renewed, or replaced by new credentials): one that has ended
    /// by the session's end is not revoked, since the broker has already ended it.
    fn ends(&self, lease_id: &str, ends: Instant) {
        if let Some(old) = lock(&self.shared.active)
            .iter_mut()
            .find(|l| l.lease_id == lease_id)
        {
            old.ends = Some(ends);
        }
    }
}

impl Keeper {
    async fn run(mut self, leases: Leases, mut stop: watch::Receiver<bool>) {
        loop {
            let (step, at) = self.schedule.next();
            tokio::select! {
                // A dropped sender also means stop.
                _ = stop.wait_for(|stopped| *stopped) => return,
                _ = tokio::time::sleep_until(at.into()) => {}
            }
            let keep_going = match step {
                Step::Renew => {
                    self.renew(&leases).await;
                    true
                }
                Step::Reissue => self.reissue(&leases).await,
            };
            if !keep_going {
                return;
            }
        }
    }

    async fn renew(&mut self, leases: &Leases) {
        let rec = Rec::new(&leases.shared.transcript, &self.target, self.source);
        let sent = Instant::now();
        match self
            .client
            .renew(&self.lease.lease_id, self.schedule.increment())
            .await
        {
            Ok(grant) => {
                self.schedule.renewed(sent, grant.duration);
                self.handle.lease_ends(self.schedule.expires_at());
                leases.ends(&self.lease.lease_id, self.schedule.expires_at());
                self.failing = false;
                rec.write(
                    "renewed",
                    Some(&grant.lease_id),
                    Some(grant.duration.as_secs()),
                    None,
                );
            }
            Err(e) => {
                rec.write(
                    "failed",
                    Some(&self.lease.lease_id),
                    None,
                    Some(&e.to_string()),
                );
                self.broker_failed(&e);
                self.schedule.refused(Instant::now());
            }
        }
    }

    /// Keeps why the broker failed, for the connections refused once the lease ends, and tells
    /// the human once per run of failures: the session goes on, but not past the lease.
    fn broker_failed(&mut self, error: &BrokerError) {
        self.handle.trouble(&error.to_string());
        if std::mem::replace(&mut self.failing, true) {
            return;
        }
        let left = self
            .schedule
            .expires_at()
            .saturating_duration_since(Instant::now());
        crate::gateway::alert(&format!(
            "guard: cannot renew the credentials of `{}`: {error}; they end in {} s, and with them \
             the connections to `{}`, unless the broker answers by then; hint: {}",
            self.target,
            left.as_secs(),
            self.target,
            error.hint()
        ));
    }

    /// Issues new credentials and makes them current; `false` when they carry no lease to keep.
    async fn reissue(&mut self, leases: &Leases) -> bool {
        let rec = Rec::new(&leases.shared.transcript, &self.target, self.source);
        let sent = Instant::now();
        let issued = match self.client.read(&self.path, self.field.as_deref()).await {
            Ok(issued) => issued,
            Err(e) => {
                rec.write("failed", None, None, Some(&e.to_string()));
                self.broker_failed(&e);
                self.schedule.reissue_failed(Instant::now());
                return true;
            }
        };
        self.failing = false;
        leases
            .shared
            .transcript
            .redact(secrecy::ExposeSecret::expose_secret(
                &issued.credential.password,
            ));
        leases.ends(&self.lease.lease_id, self.schedule.expires_at());
        let lease_id = issued.lease.as_ref().map(|g| g.lease_id.as_str());
        rec.write("issued", lease_id, issued.ttl_s, None);
        let grant = issued.lease.filter(|g| !g.duration.is_zero());
        let schedule = grant.as_ref().map(|g| Schedule::new(sent, g));
        self.handle.replace(
            issued.credential,
            schedule.as_ref().map(Schedule::expires_at),
        );
        match (grant, schedule) {
            (Some(grant), Some(schedule)) => {
                leases.track(&self.target, self.source, &grant.lease_id, &self.client);
                self.schedule = schedule;
                self.lease = grant;
                true
            }
            _ => false,
        }
    }
}

/// Writes `credential` records for one target; never the secret.
pub(super) struct Rec<'a> {
    transcript: &'a Transcript,
    target: &'a str,
    source: Source,
}

impl<'a> Rec<'a> {
    pub fn new(transcript: &'a Transcript, target: &'a str, source: Source) -> Self {
        Rec {
            transcript,
            target,
            source,
        }
    }

    pub fn write(
        &self,
        action: &str,
        lease_id: Option<&str>,
        ttl_s: Option<u64>,
        error: Option<&str>,
    ) {
        let mut fields = json!({
            "target": self.target, "source": self.source.as_str(), "action": action,
            "lease_id": lease_id, "ttl_s": ttl_s,
        });
        if let Some(error) = error {
            fields["error"] = json!(error);
        }
        // A transcript that cannot be written is poisoned and reported when the session seals
        // it; the gateways refuse traffic they cannot record.
        let _ = self.transcript.append("credential", fields);
    }

    pub fn failed(&self, error: &BrokerError) {
        self.write("failed", None, None, Some(&error.to_string()));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
