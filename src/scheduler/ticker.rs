//! The in-process scheduler: tokio-cron-scheduler ticks every second; each
//! tick reads the `jobs` table (so changes take effect without a restart),
//! claims the due jobs and the due retries, and starts their runs.
//!
//! A due job runs only in the process whose `UPDATE jobs … WHERE id = ? AND
//! next_run_at = ?` changed the row: with several processes on one
//! PostgreSQL, each due job runs once. The repository lease is the second
//! guard: a run never overlaps another run of the same repository.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

use crate::engine::error::SyncError;
use crate::engine::{Engine, RunRequest, Trigger};
use crate::manage;
use crate::manage::schedule;
use crate::model;
use crate::model::jobs::Job;
use crate::vocabulary::RepositoryStatus;

/// Runs started by a retry (not a job) get this long.
const RETRY_TIMEOUT: Duration = Duration::from_secs(3600);
/// A run whose process stopped sending heartbeats for this long is marked
/// failed, so the console never shows it running forever.
const ABANDONED_AFTER_SECS: i64 = 180;

/// A run this process claimed: repository, job (none for a retry),
/// trigger, timeout.
type Claimed = (i64, Option<i64>, Trigger, Duration);

/// Why the scheduler could not start.
#[derive(Debug, thiserror::Error)]
#[error("the scheduler cannot start: {0}")]
pub struct SchedulerError(String);

/// The running scheduler of this process.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    ticks: AtomicI64,
    /// One tick at a time (a slow database must not pile ticks up).
    ticking: tokio::sync::Mutex<()>,
    cron: tokio::sync::Mutex<Option<JobScheduler>>,
    /// Runs at once; a claimed run waits for a slot (first come, first
    /// served: one repository's many runs do not starve another's), and
    /// its timeout counts from when it starts.
    slots: Arc<tokio::sync::Semaphore>,
}

impl Scheduler {
    /// Start ticking once a second.
    pub async fn start(engine: Engine) -> Result<Scheduler, SchedulerError> {
        let scheduler = Scheduler {
            inner: Arc::new(Inner {
                slots: Arc::new(tokio::sync::Semaphore::new(engine.runs_at_once.max(1))),
                engine,
                ticks: AtomicI64::new(0),
                ticking: tokio::sync::Mutex::new(()),
                cron: tokio::sync::Mutex::new(None),
            }),
        };
        let cron = JobScheduler::new()
            .await
            .map_err(|e| SchedulerError(e.to_string()))?;
        let ticker = scheduler.clone();
        let every_second = CronJob::new_repeated_async(Duration::from_secs(1), move |_, _| {
            let ticker = ticker.clone();
            Box::pin(async move { ticker.tick().await })
        })
        .map_err(|e| SchedulerError(e.to_string()))?;
        cron.add(every_second)
            .await
            .map_err(|e| SchedulerError(e.to_string()))?;
        cron.start()
            .await
            .map_err(|e| SchedulerError(e.to_string()))?;
        *scheduler.inner.cron.lock().await = Some(cron);
        // Healthy from the start; a scheduler that never ticks ages from here.
        scheduler
            .inner
            .engine
            .metrics
            .scheduler_tick(chrono::Utc::now().timestamp());
        Ok(scheduler)
    }

    /// When the scheduler last ticked (for health checks and the dashboard).
    pub fn heartbeat(&self) -> Option<NaiveDateTime> {
        let now = chrono::Utc::now().timestamp();
        let age = self.inner.engine.metrics.scheduler_heartbeat_age(now)?;
        chrono::DateTime::from_timestamp(now - age, 0).map(|t| t.naive_utc())
    }

    /// Stop ticking. Runs in progress are the engine's: `Engine::shutdown`
    /// lets them finish their current page.
    pub async fn shutdown(&self) {
        if let Some(mut cron) = self.inner.cron.lock().await.take() {
            let _ = cron.shutdown().await;
        }
        self.inner.engine.metrics.scheduler_stopped();
    }

    /// One tick: start what is due.
    pub async fn tick(&self) {
        let Ok(_one_at_a_time) = self.inner.ticking.try_lock() else {
            return;
        };
        if self.inner.engine.is_stopping() {
            return;
        }
        self.inner
            .engine
            .metrics
            .scheduler_tick(chrono::Utc::now().timestamp());
        // Runs left behind by a dead process are rare: look once a minute.
        let sweep = self.inner.ticks.fetch_add(1, Ordering::Relaxed) % 60 == 0;
        match self.claim_due(sweep).await {
            Ok(claimed) => {
                for (repository_id, job, trigger, timeout) in claimed {
                    self.spawn_run(repository_id, job, trigger, timeout);
                }
            }
            Err(e) => tracing::warn!(error = %e, "the scheduler could not read its jobs"),
        }
    }

    /// Claim due jobs and due retries (and, with `sweep`, mark the runs of
    /// dead processes failed); returns what this process must run.
    async fn claim_due(&self, sweep: bool) -> Result<Vec<Claimed>, SyncError> {
        self.inner
            .engine
            .db(move |conn| {
                let now = model::now();
                if sweep {
                    model::runs::mark_abandoned(
                        conn,
                        now - chrono::Duration::seconds(ABANDONED_AFTER_SECS),
                    )?;
                }
                let mut claimed = Vec::new();
                for job in model::jobs::due(conn, now)? {
                    let Some(due_at) = job.next_run_at else {
                        continue;
                    };
                    let next = next_after(&job, now);
                    if !model::jobs::claim(conn, job.id, due_at, next, now)? {
                        continue; // another process has it
                    }
                    let repository = model::repositories::find(conn, job.repository_id)?;
                    match repository {
                        Some(r) if !r.enabled => {
                            model::jobs::set_last_status(conn, job.id, "repository disabled")?;
                        }
                        Some(r) if r.status() == Some(RepositoryStatus::Blocked) => {
                            // A permanent failure waits for an administrator.
                            model::jobs::set_last_status(
                                conn,
                                job.id,
                                "not run: the repository is blocked by an error",
                            )?;
                        }
                        Some(r) => claimed.push((
                            r.id,
                            Some(job.id),
                            Trigger::Schedule,
                            Duration::from_secs(job.timeout_secs.max(1) as u64),
                        )),
                        None => {}
                    }
                }
                for repository_id in model::repositories::due_for_retry(conn, now)? {
                    if model::repositories::claim_retry(conn, repository_id, now)? {
                        claimed.push((repository_id, None, Trigger::Retry, RETRY_TIMEOUT));
                    }
                }
                Ok(claimed)
            })
            .await
    }

    fn spawn_run(
        &self,
        repository_id: i64,
        job_id: Option<i64>,
        trigger: Trigger,
        timeout: Duration,
    ) {
        let engine = self.inner.engine.clone();
        let slots = self.inner.slots.clone();
        self.inner.engine.spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            let stop = engine.background_stop(timeout);
            let report = engine
                .run(RunRequest {
                    repository_id,
                    trigger,
                    job_id,
                    only_table: None,
                    stop,
                    progress: None,
                })
                .await;
            let status = match &report {
                Ok(report) => report.status.as_str().to_string(),
                Err(e) => format!("failed: {e}"),
            };
            if let Some(job_id) = job_id {
                let recorded = engine
                    .db(move |conn| Ok(model::jobs::set_last_status(conn, job_id, &status)?))
                    .await;
                if let Err(e) = recorded {
                    tracing::warn!(job_id, error = %e, "could not record the job's status");
                }
            }
        });
    }
}

/// The job's next run after this one: computed from now, so a node that
/// was down runs a missed job once, not once per missed period.
fn next_after(job: &Job, now: NaiveDateTime) -> Option<NaiveDateTime> {
    match manage::jobs::schedule_of(job) {
        Ok(spec) => schedule::next_run(&spec, now, job.times_run.saturating_add(1)),
        Err(reason) => {
            tracing::warn!(job = job.id, %reason, "a job's schedule cannot be used; it is stopped");
            None
        }
    }
}
