//! Jobs: when a repository is synced on its own.

use chrono::NaiveDateTime;
use diesel::Connection;

use super::schedule::{self, CRON_FORM, Recurrence, Schedule};
use super::schedule_words;
use super::{FieldErrors, ManageError};
use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::model;
use crate::model::jobs::{Job, JobSchedule, NewJob};
use crate::model::repositories::Repository;
use crate::s3xml;

pub const DEFAULT_TIMEOUT_SECS: i64 = 600;

/// A job as an administrator enters it: either `every_seconds` or `cron`.
#[derive(Debug, Clone)]
pub struct JobForm {
    pub every_seconds: Option<i64>,
    /// `SEC MIN HOUR DOM MON DOW` in UTC, e.g. `0 */10 * * * *`.
    pub cron: Option<String>,
    /// ISO date and time (UTC unless an offset is given).
    pub start: Option<String>,
    pub stop: Option<String>,
    /// How many runs in all; 0: unlimited.
    pub repeats: i64,
    /// How long one run may take, in seconds.
    pub timeout_secs: i64,
    pub enabled: bool,
}

impl Default for JobForm {
    fn default() -> Self {
        JobForm {
            every_seconds: None,
            cron: None,
            start: None,
            stop: None,
            repeats: 0,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            enabled: true,
        }
    }
}

/// A stored job's schedule; `Err` (with the reason) when the stored cron
/// expression or period cannot be used.
pub fn schedule_of(job: &Job) -> Result<Schedule, String> {
    let recurrence = match (&job.cron, job.every_seconds) {
        (Some(cron), _) => {
            let parsed = schedule::parse_cron(cron).map_err(|e| format!("cron '{cron}': {e}"))?;
            Recurrence::Cron(Box::new(parsed))
        }
        (None, Some(seconds)) if seconds >= 1 => Recurrence::Every(seconds),
        (None, Some(seconds)) => return Err(format!("a period of {seconds} s")),
        (None, None) => return Err("neither a cron expression nor a period".into()),
    };
    Ok(Schedule {
        recurrence,
        start_at: job.start_at,
        stop_at: job.stop_at,
        repeats: job.repeats,
    })
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Job>, ManageError> {
    Ok(model::jobs::list(conn)?)
}

pub fn list_for_repository(
    conn: &mut DbConnection,
    repository: &Repository,
) -> Result<Vec<Job>, ManageError> {
    Ok(model::jobs::list_for_repository(conn, repository.id)?)
}

pub fn find(conn: &mut DbConnection, id: i64) -> Result<Job, ManageError> {
    model::jobs::find(conn, id)?
        .ok_or_else(|| ManageError::NotFound(format!("no job {id} (see `edensync job list`)")))
}

/// Add a job; its first run time is computed and stored.
pub fn add(
    conn: &mut DbConnection,
    actor: &Actor,
    repository: &Repository,
    form: &JobForm,
) -> Result<Job, ManageError> {
    let now = model::now();
    let (spec, cron_text) = validate(form, now)?;
    let next_run_at = schedule::next_run(&spec, now, 0);
    conn.transaction(|conn| {
        let job = model::jobs::insert(
            conn,
            &NewJob {
                repository_id: repository.id,
                created_at: now,
                schedule: stored(form, spec, cron_text, next_run_at, now),
            },
        )?;
        audit::record(
            conn,
            actor,
            "job.add",
            Some(&format!("{} job {}", repository.name, job.id)),
            Some(&describe(&job)),
        )?;
        Ok(job)
    })
}

/// Change a job's schedule; its next run is computed again from now, and
/// the runs it made so far still count towards `repeats`.
pub fn edit(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    form: &JobForm,
) -> Result<Job, ManageError> {
    let now = model::now();
    let (spec, cron_text) = validate(form, now)?;
    conn.transaction(|conn| {
        let before = find(conn, id)?;
        let next_run_at = schedule::next_run(&spec, now, before.times_run);
        let changes = stored(
            form,
            spec,
            cron_text,
            next_run_at.filter(|_| form.enabled),
            now,
        );
        model::jobs::update(conn, id, &changes)?;
        let job = find(conn, id)?;
        audit::record(
            conn,
            actor,
            "job.edit",
            Some(&format!("job {id}")),
            Some(&format!("{} → {}", describe(&before), describe(&job))),
        )?;
        Ok(job)
    })
}

/// Pause a job (no run until resumed) or resume it (its next run counted
/// from now). Audited.
pub fn set_paused(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    paused: bool,
) -> Result<Job, ManageError> {
    let now = model::now();
    conn.transaction(|conn| {
        let job = find(conn, id)?;
        let next_run_at = if paused {
            None
        } else {
            let spec = schedule_of(&job).map_err(|e| ManageError::invalid("schedule", e))?;
            schedule::next_run(&spec, now, job.times_run)
        };
        model::jobs::set_enabled(conn, id, !paused, next_run_at, now)?;
        let action = if paused { "job.pause" } else { "job.resume" };
        audit::record(
            conn,
            actor,
            action,
            Some(&format!("job {id}")),
            Some(&describe(&job)),
        )?;
        find(conn, id)
    })
}

pub fn remove(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<Job, ManageError> {
    conn.transaction(|conn| {
        let job = find(conn, id)?;
        model::jobs::delete(conn, id)?;
        audit::record(
            conn,
            actor,
            "job.remove",
            Some(&format!("job {id}")),
            Some(&describe(&job)),
        )?;
        Ok(job)
    })
}

/// The schedule as stored, from a checked form.
fn stored(
    form: &JobForm,
    spec: Schedule,
    cron: Option<String>,
    next_run_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> JobSchedule {
    JobSchedule {
        enabled: form.enabled,
        cron,
        every_seconds: match spec.recurrence {
            Recurrence::Every(seconds) => Some(seconds),
            Recurrence::Cron(_) => None,
        },
        start_at: spec.start_at,
        stop_at: spec.stop_at,
        repeats: spec.repeats,
        timeout_secs: i32::try_from(form.timeout_secs).unwrap_or(i32::MAX),
        next_run_at,
        updated_at: now,
    }
}

/// Check every field and build the schedule (with the cron text to store).
fn validate(form: &JobForm, now: NaiveDateTime) -> Result<(Schedule, Option<String>), ManageError> {
    let mut errors = FieldErrors::default();
    let cron_text = form
        .cron
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let recurrence = match (form.every_seconds, cron_text) {
        (Some(_), Some(_)) => {
            errors.add(
                "schedule",
                "give either a period or a cron expression, not both",
            );
            None
        }
        (None, None) => {
            errors.add(
                "schedule",
                format!("give a period in seconds or a cron expression ({CRON_FORM})"),
            );
            None
        }
        (Some(seconds), None) if seconds < 1 => {
            errors.add("every", "must be at least 1 second");
            None
        }
        (Some(seconds), None) => Some(Recurrence::Every(seconds)),
        (None, Some(cron)) => match schedule::parse_cron(cron) {
            Ok(parsed) => Some(Recurrence::Cron(Box::new(parsed))),
            Err(e) => {
                errors.add(
                    "cron",
                    format!("'{cron}' is not a cron expression ({e}); expected {CRON_FORM}"),
                );
                None
            }
        },
    };
    let mut time = |field: &'static str, text: &Option<String>| {
        let text = text.as_deref().map(str::trim).filter(|t| !t.is_empty())?;
        let parsed = s3xml::time::parse(text);
        if parsed.is_none() {
            errors.add(
                field,
                format!("'{text}' is not a date and time (like 2026-11-26T06:00:00, UTC)"),
            );
        }
        parsed
    };
    let start_at = time("start", &form.start);
    let stop_at = time("stop", &form.stop);
    if let (Some(start), Some(stop)) = (start_at, stop_at)
        && stop <= start
    {
        errors.add("stop", "must be after the start");
    }
    if let Some(stop) = stop_at
        && stop <= now
    {
        errors.add("stop", "is in the past: the job would never run");
    }
    let repeats = match i32::try_from(form.repeats) {
        Ok(r) if r >= 0 => r,
        _ => {
            errors.add("repeats", "must be 0 (unlimited) or a positive number");
            0
        }
    };
    if form.timeout_secs < 1 || i32::try_from(form.timeout_secs).is_err() {
        errors.add("timeout", "must be a positive number of seconds");
    }
    errors.finish()?;
    let Some(recurrence) = recurrence else {
        return Err(ManageError::invalid("schedule", "is required"));
    };
    let spec = Schedule {
        recurrence,
        start_at,
        stop_at,
        repeats,
    };
    if schedule::next_run(&spec, now, 0).is_none() {
        let field = if cron_text.is_some() { "cron" } else { "stop" };
        return Err(ManageError::invalid(
            field,
            "the schedule has no run time before the stop time (a cron expression that never \
             matches, such as 30 February, or a stop time too soon)",
        ));
    }
    Ok((spec, cron_text.map(str::to_string)))
}

/// A job's schedule in words, for the audit log and listings.
pub fn describe(job: &Job) -> String {
    let mut text = match (&job.cron, job.every_seconds) {
        (Some(cron), _) => schedule_words::cron(cron),
        (None, Some(seconds)) => schedule_words::period(seconds),
        (None, None) => "no schedule".into(),
    };
    if let Some(start) = job.start_at {
        text.push_str(&format!(", from {}", s3xml::time::format(&start)));
    }
    if let Some(stop) = job.stop_at {
        text.push_str(&format!(", until {}", s3xml::time::format(&stop)));
    }
    if job.repeats > 0 {
        text.push_str(&format!(", {} run(s) at most", job.repeats));
    }
    text.push_str(&format!(", timeout {} s", job.timeout_secs));
    if !job.enabled {
        text.push_str(", paused");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(cron: Option<&str>, every_seconds: Option<i64>) -> Job {
        let at = model::now();
        Job {
            id: 1,
            repository_id: 1,
            enabled: true,
            cron: cron.map(str::to_string),
            every_seconds,
            start_at: None,
            stop_at: None,
            repeats: 2,
            times_run: 0,
            timeout_secs: 600,
            next_run_at: None,
            last_run_at: None,
            last_status: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_stored_job_gives_its_schedule_back() {
        let periodic = schedule_of(&job(None, Some(600))).unwrap();
        assert!(matches!(periodic.recurrence, Recurrence::Every(600)));
        assert_eq!(periodic.repeats, 2);
        let cron = schedule_of(&job(Some("0 */10 * * * *"), None)).unwrap();
        assert!(matches!(cron.recurrence, Recurrence::Cron(_)));
        let broken = schedule_of(&job(Some("*/10 * * * *"), None)).unwrap_err();
        assert!(broken.starts_with("cron '*/10 * * * *': "), "{broken}");
        assert!(schedule_of(&job(None, None)).is_err());
        assert!(schedule_of(&job(None, Some(0))).is_err());
    }
}
