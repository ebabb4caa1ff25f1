//! The in-process scheduler: tokio-cron-scheduler ticks every second; each
//! tick reads the `jobs` table (so changes take effect without a restart),
//! claims the due jobs and the due retries, and starts their runs.
//!
//! A due job runs only in the process whose `UPDATE jobs … WHERE id = ? AND
//! next_run_at = ?` changed the row: with several processes on one
//! PostgreSQL, each due job runs once. The repository lease is the second
//! guard: a run never overlaps another run of the same repository.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::OwnedSemaphorePermit;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

use super::slots::Slots;
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
    /// When runs left behind by dead processes were last looked for (Unix
    /// seconds; 0: never).
    swept_at: AtomicI64,
    /// One tick at a time (a slow database must not pile ticks up).
    ticking: tokio::sync::Mutex<()>,
    /// A tick was asked for while one was running: it goes again.
    again: AtomicBool,
    cron: tokio::sync::Mutex<Option<JobScheduler>>,
    /// Runs at once, slow and failing peers apart (see `slots.rs`).
    slots: Slots,
}

impl Scheduler {
    /// Start ticking once a second.
    pub async fn start(engine: Engine) -> Result<Scheduler, SchedulerError> {
        let scheduler = Scheduler {
            inner: Arc::new(Inner {
                slots: Slots::new(engine.runs_at_once),
                engine,
                swept_at: AtomicI64::new(0),
                ticking: tokio::sync::Mutex::new(()),
                again: AtomicBool::new(false),
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

    /// One tick: start what is due, as many as there are free slots.
    ///
    /// A process claims only what it can start now, so due runs wait in the
    /// database, oldest first, rather than in a queue of one process: none
    /// waits behind a slow peer's run, and with several processes each
    /// takes its share.
    ///
    /// Every second, and whenever a run ends (its slot is free again).
    pub async fn tick(&self) {
        self.inner.again.store(true, Ordering::SeqCst);
        // A tick in progress goes again when it is done.
        let Ok(_one_at_a_time) = self.inner.ticking.try_lock() else {
            return;
        };
        while self.inner.again.swap(false, Ordering::SeqCst) {
            self.tick_once().await;
        }
    }

    async fn tick_once(&self) {
        if self.inner.engine.is_stopping() {
            return;
        }
        let started = std::time::Instant::now();
        self.inner
            .engine
            .metrics
            .scheduler_tick(chrono::Utc::now().timestamp());
        // Runs left behind by a dead process are rare: look once a minute
        // (ticks come every second and whenever a run ends).
        let now_secs = chrono::Utc::now().timestamp();
        let swept_at = self.inner.swept_at.load(Ordering::Relaxed);
        let sweep = now_secs - swept_at >= 60;
        if sweep {
            self.inner.swept_at.store(now_secs, Ordering::Relaxed);
        }
        let mut free = self.inner.slots.take_free();
        if free.quick.is_empty() && free.slow.is_empty() && !sweep {
            return;
        }
        match self
            .claim_due(sweep, free.quick.len(), free.slow.len())
            .await
        {
            Ok(claimed) => {
                for (claim, failing) in claimed {
                    let slot = if failing {
                        free.slow.pop()
                    } else {
                        free.quick.pop()
                    };
                    if let Some(slot) = slot {
                        self.spawn_run(claim, slot, failing);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "the scheduler could not read its jobs"),
        }
        self.inner.engine.metrics.observe_tick(started.elapsed());
    }

    /// Claim due runs, the longest due first: at most `quick` of
    /// repositories doing well and `slow` of failing ones (their retries
    /// and jobs), each read apart so neither kind crowds out the other;
    /// with `sweep`, mark the runs of dead processes failed. Returns what
    /// this process must run, and whether each is a failing repository's.
    async fn claim_due(
        &self,
        sweep: bool,
        quick: usize,
        slow: usize,
    ) -> Result<Vec<(Claimed, bool)>, SyncError> {
        let metrics = self.inner.engine.metrics.clone();
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
                for (failing, room) in [(false, quick), (true, slow)] {
                    if room == 0 {
                        continue;
                    }
                    // Some due rows are another process's or a disabled
                    // repository's: read a few more than there is room for.
                    let look_at = (room * 2 + 8) as i64;
                    let mut due: Vec<(NaiveDateTime, Due)> =
                        model::jobs::due(conn, now, look_at, failing)?
                            .into_iter()
                            .filter_map(|job| Some((job.next_run_at?, Due::Job(job))))
                            .collect();
                    if failing {
                        due.extend(
                            model::repositories::due_for_retry(conn, now, look_at)?
                                .into_iter()
                                .map(|(id, at)| (at, Due::Retry(id))),
                        );
                        due.sort_by_key(|(at, _)| *at);
                    }
                    let mut taken = 0;
                    for (due_at, what) in due {
                        if taken == room {
                            break;
                        }
                        let claim = match what {
                            Due::Job(job) => claim_job(conn, &job, due_at, now)?,
                            Due::Retry(id) => model::repositories::claim_retry(conn, id, now)?
                                .then_some((id, None, Trigger::Retry, RETRY_TIMEOUT)),
                        };
                        if let Some(claim) = claim {
                            let late = (now - due_at).to_std().unwrap_or_default();
                            metrics.observe_lateness(claim.2.as_str(), late);
                            claimed.push((claim, failing));
                            taken += 1;
                        }
                    }
                }
                Ok(claimed)
            })
            .await
    }

    /// Start a claimed run in its slot, which it frees when it ends.
    fn spawn_run(&self, claimed: Claimed, slot: OwnedSemaphorePermit, failing: bool) {
        let (repository_id, job_id, trigger, timeout) = claimed;
        let engine = self.inner.engine.clone();
        let slots = self.inner.slots.clone();
        let scheduler = self.clone();
        self.inner.engine.spawn(async move {
            let stop = engine.background_stop(timeout);
            let run = engine.run(RunRequest::in_background(
                repository_id,
                trigger,
                job_id,
                stop,
            ));
            let report = slots.hold(slot, failing, run).await;
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
            // Its slot is free: start what waits without waiting a second.
            scheduler.tick().await;
        });
    }
}

/// A due row: a job's firing or a repository's retry.
enum Due {
    Job(Job),
    Retry(i64),
}

/// Claim one firing of a due job; what to run, if this process got it and
/// the repository may run (a disabled or blocked one records why not).
fn claim_job(
    conn: &mut crate::db::DbConnection,
    job: &Job,
    due_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Option<Claimed>, SyncError> {
    let next = next_after(job, now);
    if !model::jobs::claim(conn, job.id, due_at, next, now)? {
        return Ok(None); // another process has it
    }
    match model::repositories::find(conn, job.repository_id)? {
        Some(r) if !r.enabled => {
            model::jobs::set_last_status(conn, job.id, "repository disabled")?;
            Ok(None)
        }
        Some(r) if r.status() == Some(RepositoryStatus::Blocked) => {
            // A permanent failure waits for an administrator.
            model::jobs::set_last_status(
                conn,
                job.id,
                "not run: the repository is blocked by an error",
            )?;
            Ok(None)
        }
        Some(r) => Ok(Some((
            r.id,
            Some(job.id),
            Trigger::Schedule,
            Duration::from_secs(job.timeout_secs.max(1) as u64),
        ))),
        None => Ok(None),
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
