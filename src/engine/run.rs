//! One run of a repository: take its lease, then per task in order pull and
//! push (as the task's mode says), and close the run.

use std::sync::Arc;

use super::Engine;
use super::error::{FailureKind, SyncError};
use super::progress::{Progress, ProgressSink};
use super::stop::Stop;
use crate::model;
use crate::model::runs::RunCounts;
use crate::model::tasks::Task;
use crate::store::Filter;
use crate::vocabulary::{Direction, LogResult, RunStatus, Trigger};

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

impl RunRequest {
    /// A run of every task of a repository, with no one watching its
    /// progress (a schedule's or the console's).
    pub fn in_background(
        repository_id: i64,
        trigger: Trigger,
        job_id: Option<i64>,
        stop: Stop,
    ) -> RunRequest {
        RunRequest {
            repository_id,
            trigger,
            job_id,
            only_table: None,
            stop,
            progress: None,
        }
    }
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

impl Engine {
    /// One run of a repository, start to end. Errors of the run itself are
    /// in the report; `Err` only when not even a run row could be written.
    pub async fn run(&self, request: RunRequest) -> Result<RunReport, SyncError> {
        let repository_id = request.repository_id;
        let started = std::time::Instant::now();
        let holder = format!("{}:{}", self.process, uuid::Uuid::new_v4());
        let trigger = request.trigger;
        let job_id = request.job_id;
        let taken = self
            .take_lease(repository_id, job_id, trigger, holder.clone())
            .await?;
        let (run_id, leased, name) = (taken.run_id, taken.leased, taken.repository_name);
        let held = taken.held;
        if !leased {
            self.metrics.observe_skipped_run(&name);
            return Ok(RunReport {
                run_id,
                status: RunStatus::Skipped,
                counts: RunCounts::default(),
                error: Some(
                    held.unwrap_or_else(|| format!("another run of {name} is in progress")),
                ),
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
            committed: Committed::default(),
            records_per_sec: None,
            nothing_to_do: false,
        };
        let outcome = run.execute(request.only_table.as_deref()).await;
        heartbeat.abort();
        let report = self.finish(run, outcome, &holder, started).await;
        Ok(report)
    }
}

/// The state of one run in progress, shared by its steps.
pub(super) struct Run<'a> {
    pub engine: &'a Engine,
    pub repository_id: i64,
    pub run_id: i64,
    pub progress: Arc<Progress>,
    pub stop: Stop,
    pub say: Option<ProgressSink>,
    /// Failures of single steps; the run goes on with the next task.
    pub failures: Vec<SyncError>,
    pub rejected: u64,
    pub contacted: bool,
    pub skew_warned: bool,
    /// What the current pull or push has committed so far: what a failure
    /// keeps.
    pub committed: Committed,
    /// Records per second the link moved in this run's last pull between
    /// edensync nodes: the push that follows starts its pages there.
    pub records_per_sec: Option<f64>,
    /// The repository has no tables to sync: the run is a skip, neither
    /// a success nor a failure of the repository.
    pub nothing_to_do: bool,
}

/// What a run's tasks exchange records with.
enum Target {
    Peer(Box<super::client::Peer>),
    Folder(std::path::PathBuf),
}

/// Pages and master records one pull or push has committed.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Committed {
    pub pages: u64,
    pub records: u64,
}

impl Committed {
    pub(super) fn page(&mut self, records: u64) {
        self.pages += 1;
        self.records += records;
    }

    /// What a failure of this pull or push leaves behind, in words.
    pub(super) fn kept(&self, direction: &str) -> String {
        let records = match self.records {
            1 => "1 record".to_string(),
            n => format!("{n} records"),
        };
        match self.pages {
            0 if direction == "pull" => "nothing of this pull had arrived whole yet".into(),
            0 => "the peer had confirmed nothing of this push yet".into(),
            1 => format!("page 1 is kept ({records})"),
            n => format!("pages 1–{n} are kept ({records})"),
        }
    }
}

impl Run<'_> {
    /// A page (or file) of the current pull or push is committed: what a
    /// failure keeps, and the table's progress.
    pub(super) fn page_committed(&mut self, records: u64) {
        self.committed.page(records);
        self.progress.table_done(records);
    }

    pub(super) fn say(&self, line: &str) {
        self.progress.set_step(Some(line.to_string()));
        if let Some(say) = &self.say {
            say(line);
        }
    }

    async fn execute(&mut self, only_table: Option<&str>) -> Result<(), SyncError> {
        let (repository, config) = self.engine.load(self.repository_id).await?;
        // A folder repository reads and writes files; others speak HTTP.
        let mut target = match repository.folder() {
            Some(folder) => Target::Folder(std::path::PathBuf::from(folder)),
            None => match self.engine.peer(&repository, &config) {
                Ok(peer) => Target::Peer(Box::new(peer)),
                Err(e) => {
                    self.log(
                        None,
                        "none/none",
                        "connect",
                        LogResult::Fatal,
                        false,
                        e.full_text(),
                    )
                    .await;
                    return Err(e);
                }
            },
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
        if tasks.is_empty() {
            // Nothing to do is said, not done silently: the run page and
            // the log tell the administrator where to add tables.
            self.log(
                None,
                "none/none",
                "check tasks",
                LogResult::Warning,
                false,
                format!(
                    "{} has no tables to sync: nothing was pulled or pushed. Add tables on its Resources tab.",
                    repository.name
                ),
            )
            .await;
            self.nothing_to_do = true;
            return Ok(());
        }
        let margin = i64::from(config.clock_skew_warn_secs.max(1));
        for task in tasks {
            let mut report = TaskReport {
                table: task.resource_name.clone(),
                ..TaskReport::default()
            };
            let pulls = task.mode.pulls();
            let pushes = task.mode.pushes();
            let mut pull_failed = false;
            if pulls && task.filters_changed_at.is_some() {
                self.log(
                    Some(&task.resource_name),
                    "pull/outgoing",
                    "check filters",
                    LogResult::Warning,
                    false,
                    format!(
                        "The filters of {} changed after its last pull: this pull brings what changed since then, not the records the new filters select that did not change. Re-pull {} on the Resources tab to fetch them.",
                        task.resource_name, task.resource_name
                    ),
                )
                .await;
            }
            if pulls {
                self.committed = Committed::default();
                self.progress
                    .begin_table(&task.resource_name, Direction::Pull);
                let result = match &mut target {
                    Target::Peer(peer) => self.pull(peer, &repository, &task, margin).await,
                    Target::Folder(folder) => self.pull_folder(&repository, folder, &task).await,
                };
                self.progress.end_table();
                report.pulled = Some(result.as_ref().map(|n| *n).map_err(|e| e.full_text()));
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
                self.committed = Committed::default();
                self.progress
                    .begin_table(&task.resource_name, Direction::Push);
                let result = match &mut target {
                    Target::Peer(peer) => self.push(peer, &repository, &task, margin).await,
                    Target::Folder(folder) => self.push_folder(&repository, folder, &task).await,
                };
                self.progress.end_table();
                report.pushed = Some(result.as_ref().map(|n| *n).map_err(|e| e.full_text()));
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
    /// (cancelled, credentials refused, peer unreachable). The run's error
    /// says which table and direction failed, and what of it was kept.
    async fn note_failure(
        &mut self,
        mut error: SyncError,
        task: &Task,
        mode: &'static str,
        action: &'static str,
    ) -> bool {
        let result = match error.kind {
            FailureKind::Permanent if mode == "push/outgoing" => LogResult::Fatal,
            _ => LogResult::Error,
        };
        let direction = mode.split('/').next().unwrap_or(mode);
        error.message = format!("{}; {}", error.message, self.committed.kept(direction));
        self.log(
            Some(&task.resource_name),
            mode,
            action,
            result,
            error.remote,
            error.full_text(),
        )
        .await;
        error.message = format!("{} {direction}: {}", task.resource_name, error.message);
        self.say(&error.full_text());
        let stop = error.kind == FailureKind::Cancelled || error.stops_run;
        self.failures.push(error);
        stop
    }

    /// The task's filters: (prefix for the URL, variable, value, parsed).
    pub(super) async fn filters(
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
                Filter::of_task(&task.resource_name, &row.table_name, &row.filter_string)
                    .map_err(SyncError::permanent)
            })
            .collect()
    }
}
