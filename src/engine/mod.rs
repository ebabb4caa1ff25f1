//! The active side: this node pulling from and pushing to its peers. The
//! `Engine` here is the handle the scheduler, the console and the CLI share:
//! it starts runs (in the background or now), tracks them for shutdown and
//! reaches the database. A run takes its repository's lease, then per task
//! in order pulls and pushes (as the task's mode says), advances each
//! watermark only after the data it covers is committed (here, or
//! confirmed by the peer), writes Eden's log rows and keeps the run row's
//! live progress.
//!
//! Failures: transient ones (peer down, timeouts, cut connections, 5xx)
//! schedule a retry with capped exponential backoff and jitter; permanent
//! ones (credentials, URL, configuration) block the repository until an
//! administrator changes it or presses "retry now".
//!
//! One file per step: `run.rs` (a run, task by task), `lease.rs` (one run
//! per repository, heartbeat), `pull.rs`, `push.rs`, `finish.rs` (status,
//! health, retry), `register.rs`, `peer.rs` (a repository as a peer),
//! `clock.rs`, `log.rs` (Eden's log rows), `progress.rs`, `stop.rs`;
//! `client/` speaks HTTP to peers; `error.rs` says why a step failed and
//! whether waiting helps.

pub mod client;
mod clock;
mod cuts;
pub mod error;
mod finish;
pub mod folder;
mod lease;
mod log;
mod pace;
mod peer;
pub mod probe;
mod progress;
mod pull;
mod push;
mod register;
mod run;
mod stop;
mod windows;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::{DbConnection, Pool};
use crate::model;
use crate::model::repositories::Repository;
use crate::model::sync_config::SyncConfig;
use crate::secrets::SecretKey;
use client::Clients;
use error::SyncError;

// The run's words live in the vocabulary; callers know them from here.
pub use crate::vocabulary::{RunStatus, Trigger};
pub use progress::ProgressSink;
pub use run::{RunReport, RunRequest, TaskReport};
pub use stop::Stop;

/// Masters per page between edensync nodes.
pub const PAGE_SIZE: u64 = 5000;

/// How long a link may drop again and again without moving a byte before a
/// run gives up on it: long enough for a VSAT link's outage of a few
/// minutes, short enough that a dead link is reported the same hour.
/// Short enough to fit between the cuts of a bad field link (a 2G link
/// drops about every minute), long enough that per-request costs stay small
/// on a good one.
pub const PAGE_TIME: Duration = Duration::from_secs(15);

pub const STALL_LIMIT: Duration = Duration::from_secs(300);

/// Masters per document pushed to Eden. Eden imports a document in one
/// transaction and answers only when done: 1 000 organisations (about
/// 1 MB) take it 2.5 s as `text/xml` and 8 s form-urlencoded on two idle
/// cores, so a busy Eden still answers well inside the read timeout, and a
/// failure costs one document, not the table.
pub const EDEN_PUSH_DOCUMENT: u64 = 1000;

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
    /// How long a page between edensync nodes should take on the wire:
    /// pages shrink to fit slow links that drop (pace.rs).
    pub page_time: Duration,
    /// Masters per document pushed to Eden.
    pub eden_push_size: u64,
    /// The largest record a pull keeps (larger ones are refused, for review).
    /// Scheduled runs at once in this process (the scheduler's limit).
    pub runs_at_once: usize,
    pub max_record_bytes: u64,
    /// How long a run goes on trying an exchange whose link keeps dropping
    /// without moving a byte (then the scheduler's backoff takes over).
    pub stall_limit: Duration,
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
            page_time: PAGE_TIME,
            eden_push_size: EDEN_PUSH_DOCUMENT,
            max_record_bytes: crate::store::DEFAULT_MAX_RECORD_BYTES,
            runs_at_once: crate::config::DEFAULT_MAX_RUNS_AT_ONCE,
            stall_limit: STALL_LIMIT,
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
    /// `job_id`: the schedule a "Run now" was asked from, so the run counts
    /// in its history.
    pub fn start_manual_run(
        &self,
        repository_id: i64,
        trigger: Trigger,
        job_id: Option<i64>,
        timeout: Duration,
    ) {
        let engine = self.clone();
        let stop = self.background_stop(timeout);
        self.spawn(async move {
            let run = engine.run(RunRequest::in_background(
                repository_id,
                trigger,
                job_id,
                stop,
            ));
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
        crate::db::with_conn(&self.pool, work).await
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
}
