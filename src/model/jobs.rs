use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{jobs, repositories};
use crate::db::{DbConnection, on_each_backend};
use crate::vocabulary::RepositoryStatus;

/// A schedule for a repository's runs: a cron expression or a period.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: i64,
    pub repository_id: i64,
    pub enabled: bool,
    /// tokio-cron-scheduler's dialect: `SEC MIN HOUR DOM MON DOW`, UTC.
    pub cron: Option<String>,
    pub every_seconds: Option<i64>,
    pub start_at: Option<NaiveDateTime>,
    pub stop_at: Option<NaiveDateTime>,
    /// 0: unlimited.
    pub repeats: i32,
    pub times_run: i32,
    pub timeout_secs: i32,
    /// When the job is next due; also its claim (see the scheduler).
    pub next_run_at: Option<NaiveDateTime>,
    pub last_run_at: Option<NaiveDateTime>,
    pub last_status: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = jobs, treat_none_as_default_value = false)]
pub struct NewJob {
    pub repository_id: i64,
    pub created_at: NaiveDateTime,
    #[diesel(embed)]
    pub schedule: JobSchedule,
}

/// A job's schedule, as added or edited (the count of runs so far stays).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = jobs, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct JobSchedule {
    pub enabled: bool,
    pub cron: Option<String>,
    pub every_seconds: Option<i64>,
    pub start_at: Option<NaiveDateTime>,
    pub stop_at: Option<NaiveDateTime>,
    pub repeats: i32,
    pub timeout_secs: i32,
    pub next_run_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// Insert a job. Jobs have no natural key to read one back by, so the new
/// row comes from `RETURNING`, written for each backend.
pub fn insert(conn: &mut DbConnection, job: &NewJob) -> QueryResult<Job> {
    on_each_backend!(conn, |c| diesel::insert_into(jobs::table)
        .values(job)
        .returning(Job::as_returning())
        .get_result(c))
}

/// Every job, oldest first.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<Job>> {
    jobs::table
        .order(jobs::id.asc())
        .select(Job::as_select())
        .load(conn)
}

pub fn list_for_repository(conn: &mut DbConnection, repository_id: i64) -> QueryResult<Vec<Job>> {
    jobs::table
        .filter(jobs::repository_id.eq(repository_id))
        .order(jobs::id.asc())
        .select(Job::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Job>> {
    jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .optional()
}

pub fn update(conn: &mut DbConnection, id: i64, changes: &JobSchedule) -> QueryResult<usize> {
    diesel::update(jobs::table.find(id))
        .set(changes)
        .execute(conn)
}

/// Pause (no next run) or resume (from `next_run_at`) a job.
pub fn set_enabled(
    conn: &mut DbConnection,
    id: i64,
    enabled: bool,
    next_run_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(jobs::table.find(id))
        .set((
            jobs::enabled.eq(enabled),
            jobs::next_run_at.eq(next_run_at),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(jobs::table.find(id)).execute(conn)
}

// ---- The scheduler's claims.

/// At most `limit` enabled jobs whose next run is due, the longest due
/// first, of repositories whose last run failed (`failing`, retrying) or of
/// the others. Read through the `(enabled, next_run_at)` index: a tick
/// costs the same with ten jobs or a thousand.
pub fn due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
    failing: bool,
) -> QueryResult<Vec<Job>> {
    let retrying = RepositoryStatus::Retrying.as_str();
    let query = jobs::table
        .inner_join(repositories::table)
        .filter(jobs::enabled.eq(true))
        .filter(jobs::next_run_at.le(now))
        .order(jobs::next_run_at.asc())
        .limit(limit)
        .select(Job::as_select())
        .into_boxed();
    let query = if failing {
        query.filter(repositories::last_status.eq(retrying))
    } else {
        query.filter(
            repositories::last_status
                .is_null()
                .or(repositories::last_status.ne(retrying)),
        )
    };
    query.load(conn)
}

/// Claim one firing of a due job: true only for the process whose UPDATE
/// changed the row (the `next_run_at` it read is still there), so each due
/// job runs once across every process sharing the database.
pub fn claim(
    conn: &mut DbConnection,
    id: i64,
    due_at: NaiveDateTime,
    next: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::enabled.eq(true))
            .filter(jobs::next_run_at.eq(due_at)),
    )
    .set((
        jobs::next_run_at.eq(next),
        jobs::times_run.eq(jobs::times_run + 1),
        jobs::last_run_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn set_last_status(conn: &mut DbConnection, id: i64, status: &str) -> QueryResult<usize> {
    diesel::update(jobs::table.find(id))
        .set(jobs::last_status.eq(Some(status)))
        .execute(conn)
}
