//! One run of a repository: take its lease, then per task in order pull and
//! push (as the task's mode says), advance each watermark only after the
//! data it covers is committed (here, or confirmed by the peer), write
//! Eden's log rows and keep the run row's live progress.
//!
//! Failures: transient ones (peer down, timeouts, cut connections, 5xx)
//! schedule a retry with capped exponential backoff and jitter; permanent
//! ones (credentials, URL, configuration) block the repository until an
//! administrator changes it or presses "retry now".

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::client::{self, Clients, Peer, PeerKind, ProxyConfig, SyncQuery, Transport};
use super::error::{FailureKind, SyncError};
use crate::db::{DbConnection, DbError, Pool};
use crate::model;
use crate::model::repositories::Repository;
use crate::model::runs::RunCounts;
use crate::model::sync_config::SyncConfig;
use crate::model::sync_log::NewLogEntry;
use crate::model::tasks::Task;
use crate::s3xml::{DocumentReader, Format, Limits};
use crate::secrets::SecretKey;
use crate::store::policy::{Policy, Strategy};
use crate::store::{self, ExportRequest, Filter, ImportOptions};

/// A lease lives this long without a heartbeat: a run whose process died
/// frees its repository after at most this.
const LEASE_SECS: i64 = 60;
/// How often a run renews its lease and writes its progress.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Masters per page between edensync nodes.
pub const PAGE_SIZE: u64 = 5000;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
    Cli,
    Retry,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Cli => "cli",
            Trigger::Retry => "retry",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Succeeded,
    /// Some tasks failed or some records were rejected.
    Partial,
    Failed,
    TimedOut,
    Cancelled,
    /// Another run held the repository's lease.
    Skipped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed out",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Skipped => "skipped",
        }
    }
}

/// Asks a run to stop at its next step: a deadline (the job's timeout) or a
/// token (shutdown, an administrator).
#[derive(Clone)]
pub struct Stop {
    pub token: CancellationToken,
    pub deadline: Option<tokio::time::Instant>,
}

impl Stop {
    pub fn never() -> Stop {
        Stop {
            token: CancellationToken::new(),
            deadline: None,
        }
    }

    pub fn with_timeout(token: CancellationToken, timeout: Duration) -> Stop {
        Stop {
            token,
            deadline: Some(tokio::time::Instant::now() + timeout),
        }
    }

    fn timed_out(&self) -> bool {
        self.deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
    }

    fn requested(&self) -> Option<SyncError> {
        if self.timed_out() {
            Some(SyncError::cancelled("the run exceeded its timeout"))
        } else if self.token.is_cancelled() {
            Some(SyncError::cancelled("the run was cancelled"))
        } else {
            None
        }
    }

    async fn wait(&self) {
        match self.deadline {
            Some(deadline) => tokio::select! {
                _ = self.token.cancelled() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            },
            None => self.token.cancelled().await,
        }
    }

    /// Run `work` unless or until a stop is requested.
    async fn guard<T>(
        &self,
        work: impl Future<Output = Result<T, SyncError>>,
    ) -> Result<T, SyncError> {
        if let Some(stop) = self.requested() {
            return Err(stop);
        }
        tokio::select! {
            result = work => result,
            _ = self.wait() => Err(self.requested().unwrap_or_else(|| SyncError::cancelled("the run was cancelled"))),
        }
    }
}

/// Receives a run's progress lines (the CLI prints them on stderr).
pub type ProgressSink = Arc<dyn Fn(&str) + Send + Sync>;

/// What to run.
pub struct RunRequest {
    pub repository_id: i64,
    pub trigger: Trigger,
    pub job_id: Option<i64>,
    /// Only this task's table.
    pub only_table: Option<String>,
    pub stop: Stop,
    /// Progress lines (the CLI prints them on stderr).
    pub progress: Option<ProgressSink>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: i64,
    pub status: RunStatus,
    pub counts: RunCounts,
    pub error: Option<String>,
    pub tasks: Vec<TaskReport>,
}

#[derive(Debug, Clone, Default)]
pub struct TaskReport {
    pub table: String,
    pub pulled: Option<Result<u64, String>>,
    pub pushed: Option<Result<u64, String>>,
}

/// Everything runs need, shared by the scheduler, the console and the CLI.
#[derive(Clone)]
pub struct Engine {
    pub pool: Pool,
    pub key: SecretKey,
    pub site_uuid: String,
    /// Our base URL as peers reach us (the `url` root attribute of pushes,
    /// and the name we register with).
    pub public_url: Option<String>,
    pub clients: Clients,
    /// Identifies this process in lease holders (`host:pid`).
    pub process: String,
    /// Masters per page between edensync nodes.
    pub page_size: u64,
    /// Counters of runs, records and bytes, and the scheduler's heartbeat.
    pub metrics: Arc<crate::metrics::Metrics>,
    background: Background,
}

/// Runs started in the background (by the schedule or the console),
/// tracked so that shutdown lets them finish their current page.
#[derive(Clone, Default)]
struct Background {
    runs: tokio_util::task::TaskTracker,
    stopping: CancellationToken,
}

/// How long shutdown waits for background runs.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);

impl Engine {
    pub fn new(
        pool: Pool,
        key: SecretKey,
        site_uuid: String,
        public_url: Option<String>,
    ) -> Engine {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        Engine {
            pool,
            key,
            site_uuid,
            public_url,
            clients: Clients::default(),
            process: format!("{host}:{}", std::process::id()),
            page_size: PAGE_SIZE,
            metrics: Arc::default(),
            background: Background::default(),
        }
    }

    /// Run `work` in the background; shutdown waits for it.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.background.runs.spawn(work);
    }

    /// The stop of a background run: at shutdown, or after `timeout`.
    pub fn background_stop(&self, timeout: Duration) -> Stop {
        Stop::with_timeout(self.background.stopping.child_token(), timeout)
    }

    pub fn is_stopping(&self) -> bool {
        self.background.stopping.is_cancelled()
    }

    /// Background runs in progress in this process.
    pub fn runs_in_progress(&self) -> usize {
        self.background.runs.len()
    }

    /// Ask background runs to stop after their current page and wait for
    /// them (at most a minute; their leases expire on their own after that).
    pub async fn shutdown(&self) {
        self.background.stopping.cancel();
        self.background.runs.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.background.runs.wait())
            .await
            .is_err()
        {
            tracing::warn!("runs still in progress at shutdown; their leases expire on their own");
        }
    }

    /// Start a manual run in the background ("Sync now").
    pub fn start_manual_run(&self, repository_id: i64, trigger: Trigger, timeout: Duration) {
        let engine = self.clone();
        let stop = self.background_stop(timeout);
        self.spawn(async move {
            let run = engine.run(RunRequest {
                repository_id,
                trigger,
                job_id: None,
                only_table: None,
                stop,
                progress: None,
            });
            if let Err(e) = run.await {
                tracing::warn!(repository_id, error = %e, "a manual run could not start");
            }
        });
    }

    /// Run blocking database work on the blocking pool.
    pub async fn db<T, F>(&self, work: F) -> Result<T, SyncError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, SyncError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            work(&mut conn)
        })
        .await
        .map_err(|e| SyncError::transient(format!("internal error: {e}")))?
    }

    /// The name we register with: our public URL without its scheme, as
    /// Eden sends it.
    fn own_name(&self) -> String {
        self.public_url
            .as_deref()
            .map(|u| u.split_once("//").map_or(u, |(_, rest)| rest))
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("edensync {}", self.site_uuid))
    }

    /// Register at the peer (on save and on demand): store the uuid it
    /// answers with and whether it is Eden or edensync; log as Eden does.
    pub async fn register(&self, repository_id: i64) -> Result<String, SyncError> {
        let (repository, config) = self.load(repository_id).await?;
        let peer = self.peer(&repository, &config)?;
        let expected = repository.peer_uuid.clone();
        let result = peer.register(&self.own_name()).await.and_then(|r| {
            // A URL that now leads to another site must not receive its data.
            match (&expected, &r.peer_uuid) {
                (Some(expected), Some(got)) if expected != got => Err(SyncError::permanent(format!(
                    "{} answered as the site {got}, but this repository is the site {expected}: check the URL, or clear the peer uuid if the peer was reinstalled",
                    repository.name
                ))),
                _ => Ok(r),
            }
        });
        let logged = match &result {
            Ok(r) => (
                "success",
                if r.message.is_empty() {
                    "Registration successful".to_string()
                } else {
                    r.message.clone()
                },
                false,
            ),
            Err(e) => (
                if e.kind == FailureKind::Permanent {
                    "fatal"
                } else {
                    "error"
                },
                e.message.clone(),
                e.remote,
            ),
        };
        let registered = result.as_ref().ok().cloned();
        self.db(move |conn| {
            if let Some(r) = &registered {
                model::repositories::set_registered(
                    conn,
                    repository_id,
                    r.peer_uuid.as_deref(),
                    r.kind.as_str(),
                    &r.capabilities.join(" "),
                    model::now(),
                )?;
            }
            log(
                conn,
                repository_id,
                None,
                Some("none"),
                "push/outgoing",
                "request registration",
                logged.0,
                logged.2,
                &logged.1,
            )?;
            Ok(())
        })
        .await?;
        let registered = result?;
        Ok(format!(
            "{} ({}; peer uuid {})",
            if registered.message.is_empty() {
                "Registration successful"
            } else {
                &registered.message
            },
            registered.kind.as_str(),
            registered.peer_uuid.as_deref().unwrap_or("not given")
        ))
    }

    async fn load(&self, repository_id: i64) -> Result<(Repository, SyncConfig), SyncError> {
        self.db(move |conn| {
            let repository = model::repositories::find(conn, repository_id)?.ok_or_else(|| {
                SyncError::permanent(format!("there is no repository {repository_id}"))
            })?;
            let config = model::sync_config::get(conn)?
                .ok_or_else(|| SyncError::permanent("the sync_config row is missing"))?;
            Ok((repository, config))
        })
        .await
    }

    /// The peer as a run talks to it: URL, credentials, proxy, TLS.
    fn peer(&self, repository: &Repository, config: &SyncConfig) -> Result<Peer, SyncError> {
        let url = repository.url.as_deref().ok_or_else(|| {
            SyncError::permanent(
                "No URL set for repository: it is a passive-only peer (it calls us)",
            )
        })?;
        let base = client::base_url(url)?;
        let decrypt = |sealed: &Option<String>, what: &str| {
            sealed
                .as_deref()
                .map(|s| {
                    self.key.decrypt(s).map_err(|_| {
                        SyncError::permanent(format!(
                            "the stored {what} of {} cannot be decrypted with this node's secret key: enter it again",
                            repository.name
                        ))
                    })
                })
                .transpose()
        };
        let proxy = match &repository.proxy_url {
            Some(url) => Some(ProxyConfig {
                url: url.clone(),
                username: repository.proxy_username.clone(),
                password: decrypt(&repository.proxy_password_enc, "proxy password")?,
            }),
            None => match &config.proxy_url {
                Some(url) => Some(ProxyConfig {
                    url: url.clone(),
                    username: config.proxy_username.clone(),
                    password: decrypt(&config.proxy_password_enc, "default proxy password")?,
                }),
                None => None,
            },
        };
        let secs = |s: i32| Duration::from_secs(s.max(1) as u64);
        let transport = Transport {
            proxy,
            connect_timeout: secs(config.connect_timeout_secs),
            read_timeout: secs(config.read_timeout_secs),
            total_timeout: secs(config.request_timeout_secs),
            extra_ca_pem: repository.tls_ca_pem.clone(),
            accept_invalid_certs: repository.tls_accept_invalid,
        };
        Ok(Peer {
            http: self.clients.get(&transport)?,
            base,
            name: repository.name.clone(),
            username: repository.username.clone().filter(|u| !u.is_empty()),
            password: decrypt(&repository.password_enc, "password")?,
            kind: PeerKind::parse(repository.peer_kind.as_deref()),
            // Only edensync peers list capabilities at registration.
            speaks_lines: repository.peer_can("ndjson"),
            site_uuid: self.site_uuid.clone(),
            form_pushes: false,
        })
    }

    /// One run of a repository, start to end. Errors of the run itself are
    /// in the report; `Err` only when not even a run row could be written.
    pub async fn run(&self, request: RunRequest) -> Result<RunReport, SyncError> {
        let repository_id = request.repository_id;
        let started = std::time::Instant::now();
        let holder = format!("{}:{}", self.process, uuid::Uuid::new_v4());
        let trigger = request.trigger.as_str();
        let job_id = request.job_id;
        let taken = {
            let holder = holder.clone();
            self.db(move |conn| {
                let now = model::now();
                let Some(repository) = model::repositories::find(conn, repository_id)? else {
                    return Err(SyncError::permanent(format!(
                        "there is no repository {repository_id}"
                    )));
                };
                let expires = now + chrono::Duration::seconds(LEASE_SECS);
                // A holder on this host whose process is gone (killed, crashed)
                // will never release its lease: take it over once its heartbeat
                // has stopped for a few beats, rather than when the lease
                // expires. A live holder renews every beat, so a look-alike
                // process elsewhere is never mistaken for a dead one.
                let silent_since =
                    expires - chrono::Duration::seconds(3 * HEARTBEAT.as_secs() as i64);
                if let Some((dead, _)) = model::repositories::lease(conn, repository_id)?
                    .filter(|(h, until)| *until < silent_since && holder_process_is_gone(h, &holder))
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
                        "running",
                        &holder,
                        now,
                    )?;
                    Ok((run_id, true, repository.name))
                } else {
                    let run_id = model::runs::insert(
                        conn,
                        repository_id,
                        job_id,
                        trigger,
                        "skipped",
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
                        "error",
                        false,
                        "Synchronization already active - skipping run",
                    )?;
                    Ok((run_id, false, repository.name))
                }
            })
            .await?
        };
        let (run_id, leased, name) = taken;
        if !leased {
            self.metrics.observe_skipped_run(&name);
            return Ok(RunReport {
                run_id,
                status: RunStatus::Skipped,
                counts: RunCounts::default(),
                error: Some("another run of this repository is in progress".into()),
                tasks: Vec::new(),
            });
        }

        let progress = Arc::new(Progress::default());
        let heartbeat = self.spawn_heartbeat(
            repository_id,
            run_id,
            holder.clone(),
            progress.clone(),
            request.stop.token.clone(),
        );
        let mut run = Run {
            engine: self,
            repository_id,
            run_id,
            progress: progress.clone(),
            stop: request.stop.clone(),
            say: request.progress.clone(),
            failures: Vec::new(),
            rejected: 0,
            contacted: false,
            skew_warned: false,
        };
        let outcome = run.execute(request.only_table.as_deref()).await;
        heartbeat.abort();
        let report = self.finish(run, outcome, &holder, started).await;
        Ok(report)
    }

    fn spawn_heartbeat(
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
                        let step = progress.step();
                        model::runs::update_progress(
                            conn,
                            run_id,
                            &progress.counts(),
                            step.as_deref(),
                            now,
                        )?;
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

    /// Close the run: status, counts, the repository's health and retry
    /// time, and the lease.
    async fn finish(
        &self,
        run: Run<'_>,
        outcome: Result<(), SyncError>,
        holder: &str,
        started: std::time::Instant,
    ) -> RunReport {
        let mut failures = run.failures.clone();
        if let Err(e) = &outcome {
            failures.push(e.clone());
        }
        let steps_done = run.progress.steps_ok.load(Ordering::Relaxed);
        let cancelled = failures.iter().find(|f| f.kind == FailureKind::Cancelled);
        let status = match cancelled {
            Some(_) if run.stop.timed_out() => RunStatus::TimedOut,
            Some(_) => RunStatus::Cancelled,
            None if failures.is_empty() && run.rejected == 0 => RunStatus::Succeeded,
            None if failures.is_empty() || steps_done > 0 => RunStatus::Partial,
            None => RunStatus::Failed,
        };
        let error = (!failures.is_empty()).then(|| {
            failures
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        });
        let permanent = failures.iter().any(|f| f.kind == FailureKind::Permanent);
        let transient = failures.iter().any(|f| f.kind != FailureKind::Permanent);
        let counts = run.progress.counts();
        let repository_id = run.repository_id;
        let run_id = run.run_id;
        let holder = holder.to_string();
        let contacted = run.contacted;
        let error_for_db = error.clone();
        let finished = self
            .db(move |conn| {
                let now = model::now();
                let repository = model::repositories::find(conn, repository_id)?;
                let name = repository.as_ref().map(|r| r.name.clone());
                let config = model::sync_config::get(conn)?;
                let (repo_status, next_retry_at) = if permanent {
                    ("blocked", None)
                } else if transient {
                    let failures = repository.map_or(0, |r| r.consecutive_failures);
                    let delay = config.map_or(60, |c| {
                        backoff_secs(c.backoff_base_secs, c.backoff_cap_secs, failures)
                    });
                    ("retrying", Some(now + chrono::Duration::seconds(delay)))
                } else if status == RunStatus::Partial {
                    ("partial", None)
                } else {
                    ("ok", None)
                };
                model::runs::finish(
                    conn,
                    run_id,
                    status.as_str(),
                    &counts,
                    error_for_db.as_deref(),
                    now,
                )?;
                model::repositories::record_outcome(
                    conn,
                    repository_id,
                    &model::repositories::RunOutcome {
                        status: repo_status,
                        succeeded: !permanent && !transient,
                        error: error_for_db.as_deref(),
                        next_retry_at,
                        contacted,
                    },
                    now,
                )?;
                model::repositories::release_lease(conn, repository_id, &holder)?;
                Ok(name)
            })
            .await;
        match finished {
            Ok(name) => {
                // A repository deleted during its run has no name left to report.
                if let Some(name) = name {
                    self.metrics
                        .observe_run(&name, status.as_str(), started.elapsed(), &counts);
                }
            }
            Err(e) => tracing::error!(run_id, error = %e, "could not record the end of the run"),
        }
        RunReport {
            run_id,
            status,
            counts,
            error,
            tasks: run.progress.tasks(),
        }
    }
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

/// Capped exponential backoff with jitter: base · 2^failures, at most cap,
/// then a random half to full of it (so many nodes do not retry in step).
pub fn backoff_secs(base: i32, cap: i32, failures: i32) -> i64 {
    let base = i64::from(base.max(1));
    let cap = i64::from(cap.max(1)).max(base);
    let exponent = failures.clamp(0, 30) as u32;
    let full = base.saturating_mul(1_i64 << exponent).min(cap);
    let fraction = 0.5 + rand::random::<f64>() * 0.5;
    ((full as f64) * fraction).round().max(1.0) as i64
}

/// Live counters, read by the heartbeat.
#[derive(Default)]
struct Progress {
    pulled_created: AtomicI64,
    pulled_updated: AtomicI64,
    pulled_deleted: AtomicI64,
    pulled_skipped: AtomicI64,
    pulled_rejected: AtomicI64,
    pushed_created: AtomicI64,
    pushed_updated: AtomicI64,
    pushed_deleted: AtomicI64,
    pushed_skipped: AtomicI64,
    pushed_rejected: AtomicI64,
    bytes_in: AtomicI64,
    bytes_out: AtomicI64,
    steps_ok: AtomicI64,
    step: Mutex<Option<String>>,
    task_reports: Mutex<Vec<TaskReport>>,
}

impl Progress {
    fn counts(&self) -> RunCounts {
        let get = |a: &AtomicI64| a.load(Ordering::Relaxed);
        RunCounts {
            pulled_created: get(&self.pulled_created),
            pulled_updated: get(&self.pulled_updated),
            pulled_deleted: get(&self.pulled_deleted),
            pulled_skipped: get(&self.pulled_skipped),
            pulled_rejected: get(&self.pulled_rejected),
            pushed_created: get(&self.pushed_created),
            pushed_updated: get(&self.pushed_updated),
            pushed_deleted: get(&self.pushed_deleted),
            pushed_skipped: get(&self.pushed_skipped),
            pushed_rejected: get(&self.pushed_rejected),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
        }
    }

    fn step(&self) -> Option<String> {
        self.step.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_step(&self, step: Option<String>) {
        *self.step.lock().unwrap_or_else(|e| e.into_inner()) = step;
    }

    fn tasks(&self) -> Vec<TaskReport> {
        self.task_reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn report(&self, report: TaskReport) {
        self.task_reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report);
    }
}

fn add(counter: &AtomicI64, n: u64) {
    counter.fetch_add(n as i64, Ordering::Relaxed);
}

/// The state of one run in progress.
struct Run<'a> {
    engine: &'a Engine,
    repository_id: i64,
    run_id: i64,
    progress: Arc<Progress>,
    stop: Stop,
    say: Option<ProgressSink>,
    /// Failures of single steps; the run goes on with the next task.
    failures: Vec<SyncError>,
    rejected: u64,
    contacted: bool,
    skew_warned: bool,
}

impl Run<'_> {
    fn say(&self, line: &str) {
        self.progress.set_step(Some(line.to_string()));
        if let Some(say) = &self.say {
            say(line);
        }
    }

    /// Write one of Eden's log rows for this run.
    async fn log(
        &self,
        table: Option<&str>,
        mode: &'static str,
        action: &'static str,
        result: &'static str,
        remote: bool,
        message: String,
    ) {
        let (repository_id, run_id) = (self.repository_id, self.run_id);
        let table = table.map(str::to_string);
        let written = self
            .engine
            .db(move |conn| {
                log(
                    conn,
                    repository_id,
                    Some(run_id),
                    table.as_deref(),
                    mode,
                    action,
                    result,
                    remote,
                    &message,
                )
                .map_err(SyncError::from)
            })
            .await;
        if let Err(e) = written {
            tracing::error!(run_id, error = %e, "could not write a sync log row");
        }
    }

    async fn execute(&mut self, only_table: Option<&str>) -> Result<(), SyncError> {
        let (repository, config) = self.engine.load(self.repository_id).await?;
        let mut peer = match self.engine.peer(&repository, &config) {
            Ok(peer) => peer,
            Err(e) => {
                self.log(
                    None,
                    "none/none",
                    "connect",
                    "fatal",
                    false,
                    e.message.clone(),
                )
                .await;
                return Err(e);
            }
        };
        let repository_id = self.repository_id;
        let tasks = self
            .engine
            .db(move |conn| Ok(model::tasks::list_for_repository(conn, repository_id)?))
            .await?;
        let tasks: Vec<Task> = tasks
            .into_iter()
            .filter(|t| only_table.is_none_or(|only| t.resource_name == only))
            .collect();
        if let Some(only) = only_table
            && tasks.is_empty()
        {
            return Err(SyncError::permanent(format!(
                "{} has no task for the table {only}",
                repository.name
            )));
        }
        let margin = i64::from(config.clock_skew_warn_secs.max(1));
        for task in tasks {
            let mut report = TaskReport {
                table: task.resource_name.clone(),
                ..TaskReport::default()
            };
            let pulls = matches!(task.mode.as_str(), "pull" | "both");
            let pushes = matches!(task.mode.as_str(), "push" | "both");
            let mut pull_failed = false;
            if pulls {
                let result = self.pull(&mut peer, &repository, &task, margin).await;
                report.pulled = Some(result.as_ref().map(|n| *n).map_err(|e| e.message.clone()));
                if let Err(e) = result {
                    pull_failed = true;
                    let stop = self.note_failure(e, &task, "pull/outgoing", "fetch").await;
                    if stop {
                        self.progress.report(report);
                        return Ok(());
                    }
                }
            }
            if pushes && !pull_failed {
                let result = self.push(&mut peer, &repository, &task, margin).await;
                report.pushed = Some(result.as_ref().map(|n| *n).map_err(|e| e.message.clone()));
                if let Err(e) = result {
                    let stop = self.note_failure(e, &task, "push/outgoing", "send").await;
                    if stop {
                        self.progress.report(report);
                        return Ok(());
                    }
                }
            }
            self.progress.report(report);
        }
        self.progress.set_step(None);
        Ok(())
    }

    /// Log a failed step; true when the rest of the run cannot work either
    /// (cancelled, credentials refused, peer unreachable).
    async fn note_failure(
        &mut self,
        error: SyncError,
        task: &Task,
        mode: &'static str,
        action: &'static str,
    ) -> bool {
        let result = match error.kind {
            FailureKind::Permanent if mode == "push/outgoing" => "fatal",
            _ => "error",
        };
        self.log(
            Some(&task.resource_name),
            mode,
            action,
            result,
            error.remote,
            error.message.clone(),
        )
        .await;
        self.say(&format!(
            "{} {}: {}",
            task.resource_name, mode, error.message
        ));
        let stop = error.kind == FailureKind::Cancelled || error.stops_run;
        self.failures.push(error);
        stop
    }

    fn watch_clock(&mut self, skew: Option<i64>, margin: i64) -> Option<String> {
        let skew = skew?;
        if skew.abs() <= margin || self.skew_warned {
            return None;
        }
        self.skew_warned = true;
        Some(format!(
            "the peer's clock is {} s {} ours (warning margin {margin} s): modified_on times are compared across sites, check the time synchronization (NTP) of both",
            skew.abs(),
            if skew > 0 { "ahead of" } else { "behind" }
        ))
    }

    async fn note_clock(&mut self, table: &str, skew: Option<i64>, margin: i64) {
        if let Some(s) = skew {
            let repository_id = self.repository_id;
            let _ = self
                .engine
                .db(move |conn| {
                    Ok(model::repositories::set_clock_skew(
                        conn,
                        repository_id,
                        Some(s),
                    )?)
                })
                .await;
        }
        if let Some(warning) = self.watch_clock(skew, margin) {
            tracing::warn!(repository = self.repository_id, "{warning}");
            self.log(
                Some(table),
                "none/none",
                "check clock",
                "warning",
                false,
                warning,
            )
            .await;
        }
    }

    /// Pull a task's table: one document from Eden, pages from edensync.
    /// Returns the number of master records received.
    async fn pull(
        &mut self,
        peer: &mut Peer,
        repository: &Repository,
        task: &Task,
        margin: i64,
    ) -> Result<u64, SyncError> {
        let table = task.resource_name.clone();
        let update_policy = parse_policy(&task.update_policy, "update policy", task)?;
        let conflict_policy = parse_policy(&task.conflict_policy, "conflict policy", task)?;
        let strategy = Strategy::parse(&task.strategy).map_err(|e| {
            SyncError::permanent(format!("the task {table} has an invalid strategy: {e}"))
        })?;
        let filters = self.filters(task).await?;
        let mut query = SyncQuery {
            resource: table.clone(),
            no_components: !task.components,
            include_deleted: true,
            filters: filters
                .iter()
                .map(|(p, v, x, _)| (p.clone(), v.clone(), x.clone()))
                .collect(),
            ..SyncQuery::default()
        };
        // Eden leaves msince out for THIS and OTHER: those compare nothing.
        let with_msince = !matches!(update_policy, Policy::This | Policy::Other);
        let options = ImportOptions {
            strategy,
            update_policy,
            conflict_policy: Some(conflict_policy),
            // Eden's client passes its last pull whatever the policy.
            last_sync: task.last_pull,
            repository_id: Some(repository.id),
            run_id: Some(self.run_id),
            resource: Some(table.clone()),
            ..ImportOptions::default()
        };
        let mut total: u64 = 0;
        let mut since_seq = task.last_pull_seq.unwrap_or(0);
        let mut youngest = task.last_pull;
        let mut prefetched: Option<Prefetch> = None;
        loop {
            match peer.kind {
                PeerKind::Eden => query.msince = task.last_pull.filter(|_| with_msince),
                PeerKind::Edensync => {
                    query.since_seq = Some(since_seq);
                    query.limit = Some(self.engine.page_size);
                }
            }
            self.say(&format!("{table}: pulling from {}", repository.name));
            let spooled = match prefetched.take() {
                Some(page) => self.stop.guard(page.wait()).await?,
                None => {
                    self.stop
                        .guard(peer.pull(&query, &self.progress.bytes_in))
                        .await?
                }
            };
            self.contacted = true;
            self.note_clock(&table, spooled.clock_skew, margin).await;
            self.say(&format!(
                "{table}: importing {} bytes from {}",
                spooled.bytes, repository.name
            ));
            // The import runs on the blocking pool; as soon as it has read
            // the page's root, the next page is fetched meanwhile (its
            // import, and the watermark, still wait for this one).
            let (root_tx, root_rx) = tokio::sync::oneshot::channel();
            let import = {
                let (engine, options) = (self.engine.clone(), options.clone());
                tokio::spawn(async move {
                    engine
                        .db(move |conn| import_spooled(conn, spooled, &options, Some(root_tx)))
                        .await
                })
            };
            if peer.kind == PeerKind::Edensync
                && let Ok(root) = root_rx.await
                && let Some(next) = next_page(&root, since_seq)
            {
                let mut next_query = query.clone();
                next_query.since_seq = Some(next);
                prefetched = Some(Prefetch::start(
                    peer.clone(),
                    next_query,
                    self.progress.clone(),
                ));
            }
            let (summary, root) = import
                .await
                .map_err(|e| SyncError::transient(format!("internal error: {e}")))??;
            let received = summary.records;
            total += received;
            add(&self.progress.pulled_created, summary.created.len() as u64);
            add(&self.progress.pulled_updated, summary.updated.len() as u64);
            add(&self.progress.pulled_deleted, summary.deleted.len() as u64);
            add(&self.progress.pulled_skipped, summary.skipped);
            add(
                &self.progress.pulled_rejected,
                summary.rejected.len() as u64,
            );
            self.rejected += summary.rejected.len() as u64;
            if let Some(mtime) = summary.youngest_master_mtime {
                youngest = Some(youngest.map_or(mtime, |y| y.max(mtime)));
                let ahead = (mtime - model::now()).num_seconds();
                if ahead > margin {
                    let warning = format!(
                        "records from {} carry modified_on up to {ahead} s in the future: the peer's clock or data is ahead of ours",
                        repository.name
                    );
                    self.log(
                        Some(&table),
                        "pull/outgoing",
                        "check clock",
                        "warning",
                        false,
                        warning,
                    )
                    .await;
                }
            }
            // The page is committed: now the watermark may move.
            let next_seq = match peer.kind {
                PeerKind::Edensync => root
                    .attribute("next_seq")
                    .and_then(|s| s.parse::<i64>().ok()),
                PeerKind::Eden => None,
            };
            let more = peer.kind == PeerKind::Edensync && next_page(&root, since_seq).is_some();
            let task_id = task.id;
            let watermark_time = summary.youngest_master_mtime.and(youngest);
            self.engine
                .db(move |conn| {
                    Ok(model::tasks::set_pull_watermark(
                        conn,
                        task_id,
                        watermark_time,
                        next_seq,
                    )?)
                })
                .await?;
            if let Some(next) = next_seq {
                since_seq = next;
            }
            let (result, message) = if !summary.rejected.is_empty() {
                (
                    "warning",
                    format!(
                        "{} - invalid items ignored, {}",
                        summary.rejected.len(),
                        summary.rejection_text()
                    ),
                )
            } else if received == 0 {
                (
                    "success",
                    "No data to import (already up-to-date)".to_string(),
                )
            } else {
                (
                    "success",
                    format!("Data imported successfully ({received} records)"),
                )
            };
            self.log(
                Some(&table),
                "pull/outgoing",
                "import",
                result,
                false,
                message,
            )
            .await;
            self.progress.steps_ok.fetch_add(1, Ordering::Relaxed);
            if !more {
                return Ok(total);
            }
        }
    }

    /// Push a task's table: what changed here since the last confirmed push
    /// (by our seq), leaving out what came from this same peer.
    async fn push(
        &mut self,
        peer: &mut Peer,
        repository: &Repository,
        task: &Task,
        margin: i64,
    ) -> Result<u64, SyncError> {
        let table = task.resource_name.clone();
        let filters = self.filters(task).await?;
        let gzip = peer.kind == PeerKind::Edensync;
        let format = if peer.speaks_lines {
            Format::Lines
        } else {
            Format::Xml
        };
        let since_seq = task.last_push_seq.unwrap_or(0);
        // Eden's conflict detection compares with our last push: the same
        // for every page of this run; the next run compares with this start.
        let pushed_since = task.last_push;
        let started = model::now();
        let mut total = 0;
        let export = PushExport {
            table: table.clone(),
            limit: gzip.then_some(self.engine.page_size),
            filters: filters.iter().map(|(_, _, _, f)| f.clone()).collect(),
            peer: repository.id,
            components: task.components,
            url: self.engine.public_url.clone(),
            gzip,
            format,
        };
        self.say(&format!(
            "{table}: preparing the push to {}",
            repository.name
        ));
        let mut page = Some(export.start(self.engine, since_seq));
        while let Some(current) = page.take() {
            let (outcome, file, length) = current
                .await
                .map_err(|e| SyncError::transient(format!("internal error: {e}")))??;
            let covered = if outcome.more {
                outcome.max_seq.unwrap_or(outcome.snapshot_seq)
            } else {
                outcome.snapshot_seq
            };
            if outcome.more {
                // The next page is exported while the peer imports this one.
                page = Some(export.start(self.engine, covered));
            }
            if outcome.results == 0 {
                let task_id = task.id;
                let at = pushed_since.unwrap_or(started);
                self.engine
                    .db(move |conn| {
                        Ok(model::tasks::set_push_watermark(
                            conn, task_id, at, covered,
                        )?)
                    })
                    .await?;
                if total == 0 {
                    self.log(
                        Some(&table),
                        "push/outgoing",
                        "send",
                        "warning",
                        false,
                        "No data to send".into(),
                    )
                    .await;
                }
                self.progress.steps_ok.fetch_add(1, Ordering::Relaxed);
                return Ok(total);
            }
            let query = SyncQuery {
                resource: table.clone(),
                msince: pushed_since
                    .filter(|_| !matches!(task.update_policy.as_str(), "THIS" | "OTHER")),
                policies: Some((
                    task.strategy.clone(),
                    task.update_policy.clone(),
                    task.conflict_policy.clone(),
                )),
                ..SyncQuery::default()
            };
            self.say(&format!(
                "{table}: pushing {} records ({length} bytes) to {}",
                outcome.results, repository.name
            ));
            let reply = self
                .stop
                .guard(peer.push(
                    &query,
                    &file,
                    length,
                    gzip,
                    format,
                    &self.progress.bytes_out,
                ))
                .await?;
            self.contacted = true;
            self.note_clock(&table, reply.clock_skew, margin).await;
            // Confirmed by the peer: the watermark moves past what it holds.
            let task_id = task.id;
            let rejected = reply.rejected.clone();
            let (repository_id, run_id) = (repository.id, self.run_id);
            self.engine
                .db(move |conn| {
                    let now = model::now();
                    for (table, uuid, reason, raw) in &rejected {
                        model::records::insert_rejected(
                            conn,
                            &model::records::NewRejectedItem {
                                run_id: Some(run_id),
                                repository_id: Some(repository_id),
                                table_name: table,
                                uuid: uuid.as_deref(),
                                reason: &format!("refused by the peer: {reason}"),
                                raw_element: raw,
                                created_at: now,
                            },
                        )?;
                    }
                    Ok(model::tasks::set_push_watermark(
                        conn, task_id, started, covered,
                    )?)
                })
                .await?;
            total += outcome.results;
            add(&self.progress.pushed_created, reply.created);
            add(&self.progress.pushed_updated, reply.updated);
            add(&self.progress.pushed_deleted, reply.deleted);
            add(&self.progress.pushed_rejected, reply.rejected.len() as u64);
            self.rejected += reply.rejected.len() as u64;
            let (result, message) = if reply.rejected.is_empty() {
                (
                    "success",
                    format!("data sent successfully ({} records)", outcome.results),
                )
            } else {
                (
                    "warning",
                    format!(
                        "data sent ({} records); the peer refused {}: {}",
                        outcome.results,
                        reply.rejected.len(),
                        reply.message.clone().unwrap_or_default()
                    ),
                )
            };
            self.log(
                Some(&table),
                "push/outgoing",
                "send",
                result,
                !reply.rejected.is_empty(),
                message,
            )
            .await;
            self.progress.steps_ok.fetch_add(1, Ordering::Relaxed);
        }
        Ok(total)
    }

    /// The task's filters: (prefix for the URL, variable, value, parsed).
    async fn filters(
        &self,
        task: &Task,
    ) -> Result<Vec<(String, String, String, Filter)>, SyncError> {
        let task_id = task.id;
        let rows = self
            .engine
            .db(move |conn| Ok(model::task_filters::list_for_task(conn, task_id)?))
            .await?;
        rows.into_iter()
            .map(|row| {
                let (table, text) = (row.table_name, row.filter_string);
                let (var, value) = text.split_once('=').ok_or_else(|| {
                    SyncError::permanent(format!(
                        "the filter '{text}' of the task {} is not FIELD=VALUE",
                        task.resource_name
                    ))
                })?;
                let prefix = if table == task.resource_name || table.is_empty() || table == "~" {
                    "~".to_string()
                } else {
                    table.clone()
                };
                let filter =
                    Filter::from_query(&format!("[{prefix}]{var}"), value).map_err(|e| {
                        SyncError::permanent(format!(
                            "the filter '{text}' of the task {} is invalid: {e}",
                            task.resource_name
                        ))
                    })?;
                Ok((prefix, var.to_string(), value.to_string(), filter))
            })
            .collect()
    }
}

/// What a push exports, page after page.
struct PushExport {
    table: String,
    /// Masters per page (edensync peers); Eden gets one document.
    limit: Option<u64>,
    filters: Vec<Filter>,
    /// The peer: its own changes are not sent back.
    peer: i64,
    components: bool,
    /// Our base URL, the document's `url` root attribute.
    url: Option<String>,
    gzip: bool,
    format: Format,
}

type ExportedPage = Result<(store::ExportOutcome, std::fs::File, u64), SyncError>;

impl PushExport {
    /// Export the page after `since_seq` to a file on the blocking pool.
    fn start(&self, engine: &Engine, since_seq: i64) -> tokio::task::JoinHandle<ExportedPage> {
        let request = ExportRequest {
            table: self.table.clone(),
            since_seq: Some(since_seq),
            limit: self.limit,
            filters: self.filters.clone(),
            exclude_changed_by: Some(self.peer),
            components: self.components,
            root_attributes: self
                .url
                .iter()
                .map(|u| ("url".to_string(), u.trim_end_matches('/').to_string()))
                .collect(),
            format: self.format,
            ..ExportRequest::default()
        };
        let (engine, gzip) = (engine.clone(), self.gzip);
        tokio::spawn(async move {
            engine
                .db(move |conn| export_to_file(conn, &request, gzip))
                .await
        })
    }
}

/// Where the page after this one starts, when the peer says there is one.
fn next_page(root: &crate::s3xml::Root, since_seq: i64) -> Option<i64> {
    let next = root.attribute("next_seq")?.parse::<i64>().ok()?;
    (root.attribute("more") == Some("true") && next > since_seq).then_some(next)
}

/// The next page of a pull, fetched while the current one is imported; the
/// transfer stops if the run drops it.
struct Prefetch(tokio_util::task::AbortOnDropHandle<Result<client::Spooled, SyncError>>);

impl Prefetch {
    fn start(peer: Peer, query: SyncQuery, progress: Arc<Progress>) -> Prefetch {
        Prefetch(tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
            async move { peer.pull(&query, &progress.bytes_in).await },
        )))
    }

    async fn wait(self) -> Result<client::Spooled, SyncError> {
        self.0
            .await
            .map_err(|e| SyncError::transient(format!("internal error: {e}")))?
    }
}

fn parse_policy(text: &str, what: &str, task: &Task) -> Result<Policy, SyncError> {
    Policy::parse(text).ok_or_else(|| {
        SyncError::permanent(format!(
            "the task {} has an invalid {what} '{text}'",
            task.resource_name
        ))
    })
}

/// Import a spooled answer (gzip or plain); its root goes to `root_seen`
/// as soon as it is read.
fn import_spooled(
    conn: &mut DbConnection,
    spooled: client::Spooled,
    options: &ImportOptions,
    root_seen: Option<tokio::sync::oneshot::Sender<crate::s3xml::Root>>,
) -> Result<(store::ImportSummary, crate::s3xml::Root), SyncError> {
    use std::io::{Read, Seek};
    let mut file = spooled.file;
    file.rewind()?;
    // Our own peer's answer, already on disk: no size limit, the other
    // limits (depth, attributes, text) still apply.
    let limits = Limits {
        max_document_bytes: u64::MAX,
        ..Limits::default()
    };
    let source: Box<dyn Read + Send> = if spooled.gzip {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    let reader = DocumentReader::open(spooled.format, source, limits).map_err(|e| {
        SyncError::transient(format!("the peer's answer is not a sync document: {e}")).from_peer()
    })?;
    let root = reader.root().clone();
    if let Some(seen) = root_seen {
        let _ = seen.send(root.clone());
    }
    // A page from an edensync peer is bounded (`limit` masters): committed
    // as one transaction, it is written once instead of once per batch.
    let summary = if spooled.page {
        diesel::Connection::transaction(conn, |conn| store::import(conn, reader, options))?
    } else {
        store::import(conn, reader, options)?
    };
    Ok((summary, root))
}

/// Export to a temporary file (gzip for edensync peers): the push body.
fn export_to_file(
    conn: &mut DbConnection,
    request: &ExportRequest,
    gzip: bool,
) -> Result<(store::ExportOutcome, std::fs::File, u64), SyncError> {
    use std::io::{Seek, Write};
    let file = tempfile::tempfile()?;
    let (outcome, mut file) = if gzip {
        // Buffered before the compressor: every write into it is a call
        // into deflate, and the writers write a few bytes at a time.
        let out = std::io::BufWriter::with_capacity(
            64 * 1024,
            flate2::write::GzEncoder::new(file, flate2::Compression::fast()),
        );
        let (outcome, out) = store::export(conn, request, out)?;
        let compressor = out.into_inner().map_err(|e| e.into_error())?;
        (outcome, compressor.finish()?)
    } else {
        let out = std::io::BufWriter::with_capacity(64 * 1024, file);
        let (outcome, out) = store::export(conn, request, out)?;
        (outcome, out.into_inner().map_err(|e| e.into_error())?)
    };
    file.flush()?;
    let length = file.stream_position()?;
    file.rewind()?;
    Ok((outcome, file, length))
}

/// One of Eden's log rows.
#[allow(clippy::too_many_arguments)]
fn log(
    conn: &mut DbConnection,
    repository_id: i64,
    run_id: Option<i64>,
    table: Option<&str>,
    mode: &str,
    action: &str,
    result: &str,
    remote: bool,
    message: &str,
) -> Result<(), DbError> {
    model::sync_log::insert(
        conn,
        &NewLogEntry {
            logged_at: model::now(),
            repository_id: Some(repository_id),
            run_id,
            resource_name: table,
            mode,
            action,
            result,
            remote,
            message,
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        for _ in 0..100 {
            let first = backoff_secs(60, 3600, 0);
            assert!((30..=60).contains(&first), "{first}");
            let third = backoff_secs(60, 3600, 2);
            assert!((120..=240).contains(&third), "{third}");
            let late = backoff_secs(60, 3600, 20);
            assert!((1800..=3600).contains(&late), "{late}");
        }
    }
}
