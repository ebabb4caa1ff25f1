//! `job ...`: when repositories are synced on their own.

use clap::Subcommand;
use serde_json::json;

use super::CliError;
use super::output::{print_json, time_text};
use crate::app::Node;
use crate::audit::Actor;
use crate::db::{DbConnection, DbError};
use crate::manage;
use crate::model::jobs::Job;

#[derive(Subcommand)]
pub(super) enum JobCommand {
    /// Add a schedule for a repository's runs.
    #[command(group(clap::ArgGroup::new("schedule").required(true).args(["every", "cron"])))]
    Add {
        /// The repository's name or id.
        repository: String,
        /// Run every so many seconds.
        #[arg(long, value_name = "SECONDS")]
        every: Option<i64>,
        /// Run on a cron schedule: 'SEC MIN HOUR DOM MON DOW' in UTC, e.g. '0 */10 * * * *'.
        #[arg(long, value_name = "EXPR")]
        cron: Option<String>,
        /// No run before this time (ISO, UTC), e.g. 2026-12-01T06:00:00.
        #[arg(long, value_name = "ISO")]
        start: Option<String>,
        /// No run after this time (ISO, UTC).
        #[arg(long, value_name = "ISO")]
        stop: Option<String>,
        /// How many runs in all (0: unlimited).
        #[arg(long, default_value_t = 0)]
        repeats: i64,
        /// How long one run may take, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = manage::jobs::DEFAULT_TIMEOUT_SECS)]
        timeout: i64,
        /// Add the job without running it.
        #[arg(long)]
        disabled: bool,
    },
    /// List all jobs.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Pause a job: no run until it is resumed.
    Pause { id: i64 },
    /// Resume a paused job; its next run is counted from now.
    Resume { id: i64 },
    /// Remove a job.
    Remove { id: i64 },
}

pub(super) fn run(command: JobCommand, node: Node) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let conn = &mut *conn;
    let actor = Actor::cli();
    match command {
        JobCommand::Add {
            repository,
            every,
            cron,
            start,
            stop,
            repeats,
            timeout,
            disabled,
        } => {
            let r = manage::repositories::find(conn, &repository)?;
            let form = manage::jobs::JobForm {
                every_seconds: every,
                cron,
                start,
                stop,
                repeats,
                timeout_secs: timeout,
                enabled: !disabled,
            };
            let added = manage::jobs::add(conn, &actor, &r, &form)?;
            println!(
                "added job {} for {}: {}; next run {} UTC",
                added.id,
                r.name,
                manage::jobs::describe(&added),
                time_text(added.next_run_at)
            );
        }
        JobCommand::List { json } => {
            let jobs = manage::jobs::list(conn)?;
            let names = repository_names(conn)?;
            let name_of = |j: &Job| {
                names
                    .iter()
                    .find(|(id, _)| *id == j.repository_id)
                    .map(|(_, name)| name.clone())
                    .unwrap_or_default()
            };
            if json {
                print_json(&jobs.iter().map(|j| job_json(j, &name_of(j))).collect());
            } else {
                print_jobs(&jobs, name_of);
            }
        }
        JobCommand::Pause { id } => {
            let job = manage::jobs::set_paused(conn, &actor, id, true)?;
            println!("paused job {}: {}", job.id, manage::jobs::describe(&job));
        }
        JobCommand::Resume { id } => {
            let job = manage::jobs::set_paused(conn, &actor, id, false)?;
            println!(
                "resumed job {}: {}; next run {} UTC",
                job.id,
                manage::jobs::describe(&job),
                time_text(job.next_run_at)
            );
        }
        JobCommand::Remove { id } => {
            let removed = manage::jobs::remove(conn, &actor, id)?;
            println!("removed job {}", removed.id);
        }
    }
    Ok(())
}

fn repository_names(conn: &mut DbConnection) -> Result<Vec<(i64, String)>, CliError> {
    Ok(manage::repositories::list(conn)?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}

pub(super) fn job_json(j: &Job, repository: &str) -> serde_json::Value {
    json!({
        "id": j.id,
        "repository": repository,
        "repository_id": j.repository_id,
        "enabled": j.enabled,
        "cron": j.cron,
        "every_seconds": j.every_seconds,
        "start_at": j.start_at,
        "stop_at": j.stop_at,
        "repeats": j.repeats,
        "times_run": j.times_run,
        "timeout_secs": j.timeout_secs,
        "next_run_at": j.next_run_at,
        "last_run_at": j.last_run_at,
        "last_status": j.last_status,
    })
}

pub(super) fn print_jobs(jobs: &[Job], repository_name: impl Fn(&Job) -> String) {
    println!(
        "{:<4} {:<24} {:<8} {:<28} {:<19} {:<19} LAST STATUS",
        "ID", "REPOSITORY", "STATUS", "SCHEDULE (UTC)", "NEXT RUN", "LAST RUN"
    );
    for j in jobs {
        let schedule = match (&j.cron, j.every_seconds) {
            (Some(cron), _) => cron.clone(),
            (None, Some(seconds)) => manage::schedule_words::period(seconds),
            (None, None) => "-".into(),
        };
        println!(
            "{:<4} {:<24} {:<8} {:<28} {:<19} {:<19} {}",
            j.id,
            repository_name(j),
            if j.enabled { "enabled" } else { "paused" },
            schedule,
            time_text(j.next_run_at),
            time_text(j.last_run_at),
            j.last_status.as_deref().unwrap_or("-")
        );
    }
}
