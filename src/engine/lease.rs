//! The repository's lease: one run at a time per repository, across
//! processes. A run takes it, renews it with its heartbeat and releases it
//! at the end; a dead process's lease is taken over.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio_util::sync::CancellationToken;

use super::Engine;
use super::error::SyncError;
use super::log::log;
use super::progress::Progress;
use crate::model;
use crate::vocabulary::{LogResult, RunStatus, Trigger};

/// A lease lives this long without a heartbeat: a run whose process died
/// frees its repository after at most this.
const LEASE_SECS: i64 = 60;
/// How often a run renews its lease and writes its progress.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// Whether the run got the lease, or was recorded as skipped.
pub(super) struct Taken {
    pub run_id: i64,
    pub leased: bool,
    pub repository_name: String,
    /// Not leased: why, in words (who holds the lease, until when).
    pub held: Option<String>,
}

impl Engine {
    /// Take the repository's lease for `holder` and insert the run row
    /// (`running`, or `skipped` when another run holds the lease).
    pub(super) async fn take_lease(
        &self,
        repository_id: i64,
        job_id: Option<i64>,
        trigger: Trigger,
        holder: String,
    ) -> Result<Taken, SyncError> {
        self.db(move |conn| {
            let now = model::now();
            let Some(repository) = model::repositories::find(conn, repository_id)? else {
                return Err(SyncError::permanent(format!(
                    "there is no repository {repository_id}"
                )));
            };
            let expires = now + chrono::Duration::seconds(LEASE_SECS);
            if let Some((dead, _)) = model::repositories::lease(conn, repository_id)?
                .filter(|(h, until)| is_abandoned(h, *until, now, &holder))
            {
                model::repositories::release_lease(conn, repository_id, &dead)?;
                model::runs::mark_holder_dead(conn, &dead, now)?;
                tracing::warn!(repository_id, holder = %dead, "took over the lease of a process that is gone");
            }
            if model::repositories::take_lease(conn, repository_id, &holder, now, expires)? {
                let run_id = model::runs::insert(
                    conn,
                    repository_id,
                    job_id,
                    trigger,
                    RunStatus::Running,
                    &holder,
                    now,
                )?;
                Ok(Taken {
                    run_id,
                    leased: true,
                    repository_name: repository.name,
                    held: None,
                })
            } else {
                let held = model::repositories::lease(conn, repository_id)?
                    .map(|(theirs, until)| held_by(&repository.name, &theirs, until, now, &holder));
                let run_id = model::runs::insert(
                    conn,
                    repository_id,
                    job_id,
                    trigger,
                    RunStatus::Skipped,
                    &holder,
                    now,
                )?;
                log(
                    conn,
                    repository_id,
                    Some(run_id),
                    None,
                    "none/none",
                    "check",
                    // Eden's words; not an error here: the run that holds the
                    // lease does the work.
                    LogResult::Warning,
                    false,
                    "Synchronization already active - skipping run",
                )?;
                Ok(Taken {
                    run_id,
                    leased: false,
                    repository_name: repository.name,
                    held,
                })
            }
        })
        .await
    }

    /// Whether a run of the repository is in progress: its lease is held
    /// and not abandoned, by the rules `take_lease` applies. What the
    /// console asks before it starts a run ("Sync now").
    pub async fn run_in_progress(&self, repository_id: i64) -> Result<bool, SyncError> {
        let ours = self.process.clone();
        self.db(move |conn| {
            let now = model::now();
            Ok(
                model::repositories::lease(conn, repository_id)?.is_some_and(|(holder, until)| {
                    until > now && !is_abandoned(&holder, until, now, &ours)
                }),
            )
        })
        .await
    }

    pub(super) fn spawn_heartbeat(
        &self,
        repository_id: i64,
        run_id: i64,
        holder: String,
        progress: Arc<Progress>,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let holder = holder.clone();
                let progress = progress.clone();
                let still_ours = engine
                    .db(move |conn| {
                        let now = model::now();
                        let expires = now + chrono::Duration::seconds(LEASE_SECS);
                        let ours = model::repositories::renew_lease(
                            conn,
                            repository_id,
                            &holder,
                            expires,
                        )?;
                        progress.save(conn, run_id)?;
                        Ok(ours)
                    })
                    .await;
                if let Ok(false) = still_ours {
                    tracing::warn!(run_id, "the repository's lease was lost; stopping the run");
                    cancel.cancel();
                    return;
                }
            }
        })
    }
}

/// Who holds the lease of `name`, in words: a run in progress here, a run
/// killed here whose lease is taken over in a moment, or a run on another
/// host whose lease frees the repository when it expires.
fn held_by(
    name: &str,
    holder: &str,
    until: NaiveDateTime,
    now: NaiveDateTime,
    ours: &str,
) -> String {
    let mut parts = holder.split(':');
    let (host, pid) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let here = ours.split(':').next() == Some(host);
    if here && holder_process_is_gone(holder, ours) {
        format!(
            "the last run of {name} was stopped without releasing the repository (process {pid} is gone); \
             it is taken over within {} s: try again then",
            3 * HEARTBEAT.as_secs()
        )
    } else if here {
        format!("another run of {name} is in progress (process {pid} on this host)")
    } else {
        format!(
            "another run of {name} is in progress on {host}; if that process has died, \
             the repository is free when its lease expires at {} UTC (in {} s)",
            until.format("%H:%M:%S"),
            (until - now).num_seconds().max(0)
        )
    }
}

/// Whether a lease held by `holder` until `until` is abandoned: its holder
/// on this host (the host of `ours`) is gone, killed or crashed, and will
/// never release it. It is taken over once the heartbeat has stopped for a
/// few beats, rather than when the lease expires; a live holder renews
/// every beat, so a look-alike process elsewhere is never mistaken for a
/// dead one.
fn is_abandoned(holder: &str, until: NaiveDateTime, now: NaiveDateTime, ours: &str) -> bool {
    let silent_since = now + chrono::Duration::seconds(LEASE_SECS)
        - chrono::Duration::seconds(3 * HEARTBEAT.as_secs() as i64);
    until < silent_since && holder_process_is_gone(holder, ours)
}

/// Whether a lease `holder` (`host:pid:run`) belongs to a process on this
/// host (the host of `ours`) that no longer exists. Holders on other hosts
/// are left to their lease's expiry.
fn holder_process_is_gone(holder: &str, ours: &str) -> bool {
    let mut theirs = holder.split(':');
    let mut mine = ours.split(':');
    let (Some(host), Some(pid)) = (theirs.next(), theirs.next()) else {
        return false;
    };
    if Some(host) != mine.next() {
        return false;
    }
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if pid <= 0 || pid as u32 == std::process::id() {
        return false;
    }
    // Signal 0 checks existence; EPERM means it exists under another user.
    // SAFETY: kill with signal 0 sends nothing.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}
