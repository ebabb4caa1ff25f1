//! One row per run of a repository: trigger, status, live progress, counts.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::DbConnection;
use crate::db::schema::runs;
use crate::vocabulary::{RunStatus, Trigger};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = runs)]
pub struct Run {
    pub id: i64,
    pub repository_id: i64,
    pub job_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub trigger_kind: Trigger,
    #[diesel(deserialize_as = String)]
    pub status: RunStatus,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub heartbeat_at: Option<NaiveDateTime>,
    #[diesel(embed)]
    pub counts: RunCounts,
    pub error: Option<String>,
    pub current_step: Option<String>,
    pub holder: Option<String>,
}

/// The counters a run keeps up to date while it works: read with the run
/// row, written by its heartbeat.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Queryable, Selectable, AsChangeset, Serialize,
)]
#[diesel(table_name = runs)]
pub struct RunCounts {
    pub pulled_created: i64,
    pub pulled_updated: i64,
    pub pulled_deleted: i64,
    pub pulled_skipped: i64,
    pub pulled_rejected: i64,
    /// Received exactly as stored: not a change.
    pub pulled_unchanged: i64,
    pub pushed_created: i64,
    pub pushed_updated: i64,
    pub pushed_deleted: i64,
    pub pushed_skipped: i64,
    pub pushed_rejected: i64,
    pub bytes_in: i64,
    pub bytes_out: i64,
    /// Bytes of transfers a bad link cut short, or that were dropped as
    /// too large for it: moved again.
    pub bytes_lost: i64,
}

impl RunCounts {
    /// Whether any record was committed, either way.
    pub fn records_moved(&self) -> bool {
        [
            self.pulled_created,
            self.pulled_updated,
            self.pulled_deleted,
            self.pulled_unchanged,
            self.pulled_skipped,
            self.pulled_rejected,
            self.pushed_created,
            self.pushed_updated,
            self.pushed_deleted,
            self.pushed_rejected,
        ]
        .iter()
        .any(|&n| n > 0)
    }
}

/// Start a run row; `holder` is unique per run and finds the row again
/// (portable: no RETURNING).
pub fn insert(
    conn: &mut DbConnection,
    repository_id: i64,
    job_id: Option<i64>,
    trigger: Trigger,
    status: RunStatus,
    holder: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let finished = (status != RunStatus::Running).then_some(now);
    diesel::insert_into(runs::table)
        .values((
            runs::repository_id.eq(repository_id),
            runs::job_id.eq(job_id),
            runs::trigger_kind.eq(trigger.as_str()),
            runs::status.eq(status.as_str()),
            runs::started_at.eq(now),
            runs::finished_at.eq(finished),
            runs::heartbeat_at.eq(Some(now)),
            runs::holder.eq(Some(holder)),
        ))
        .execute(conn)?;
    runs::table
        .filter(runs::holder.eq(holder))
        .select(runs::id)
        .first(conn)
}

/// Live progress, written by the run's heartbeat.
pub fn update_progress(
    conn: &mut DbConnection,
    id: i64,
    counts: &RunCounts,
    step: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(runs::table.find(id))
        .set((
            runs::heartbeat_at.eq(Some(now)),
            runs::current_step.eq(step),
            counts,
        ))
        .execute(conn)
}

pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    status: RunStatus,
    counts: &RunCounts,
    error: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    update_progress(conn, id, counts, None, now)?;
    diesel::update(runs::table.find(id))
        .set((
            runs::status.eq(status.as_str()),
            runs::finished_at.eq(Some(now)),
            runs::error.eq(error),
        ))
        .execute(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Run>> {
    runs::table
        .find(id)
        .select(Run::as_select())
        .first(conn)
        .optional()
}

/// A repository's runs, newest first.
pub fn for_repository(
    conn: &mut DbConnection,
    repository_id: i64,
    limit: i64,
) -> QueryResult<Vec<Run>> {
    runs::table
        .filter(runs::repository_id.eq(repository_id))
        .order(runs::id.desc())
        .limit(limit)
        .select(Run::as_select())
        .load(conn)
}

/// Runs left `running` by a process that died: no heartbeat since `before`.
pub fn mark_abandoned(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        runs::table
            .filter(runs::status.eq(RunStatus::Running.as_str()))
            .filter(runs::heartbeat_at.lt(before)),
    )
    .set((
        runs::status.eq(RunStatus::Failed.as_str()),
        runs::finished_at.eq(runs::heartbeat_at),
        runs::error.eq("the process running it stopped (no heartbeat)"),
    ))
    .execute(conn)
}

/// The run a dead process left behind, known by its lease holder.
pub fn mark_holder_dead(
    conn: &mut DbConnection,
    holder: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        runs::table
            .filter(runs::status.eq(RunStatus::Running.as_str()))
            .filter(runs::holder.eq(holder)),
    )
    .set((
        runs::status.eq(RunStatus::Failed.as_str()),
        runs::finished_at.eq(now),
        runs::error.eq("the process running it stopped (it was killed or crashed)"),
    ))
    .execute(conn)
}

/// Runs newest first, optionally of one status and one repository, before
/// a run id (keyset pagination).
pub fn list(
    conn: &mut DbConnection,
    status: Option<RunStatus>,
    repository_id: Option<i64>,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Run>> {
    let mut query = runs::table
        .order(runs::id.desc())
        .limit(limit)
        .select(Run::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(runs::status.eq(status.as_str()));
    }
    if let Some(repository_id) = repository_id {
        query = query.filter(runs::repository_id.eq(repository_id));
    }
    if let Some(before) = before_id {
        query = query.filter(runs::id.lt(before));
    }
    query.load(conn)
}

pub fn in_progress(conn: &mut DbConnection) -> QueryResult<Vec<Run>> {
    runs::table
        .filter(runs::status.eq(RunStatus::Running.as_str()))
        .order(runs::id.asc())
        .select(Run::as_select())
        .load(conn)
}

/// The latest run of every repository that has one.
pub fn latest_per_repository(conn: &mut DbConnection) -> QueryResult<Vec<Run>> {
    let other = diesel::alias!(runs as other_runs);
    let latest = other
        .group_by(other.field(runs::repository_id))
        .select(diesel::dsl::max(other.field(runs::id)));
    runs::table
        .filter(runs::id.nullable().eq_any(latest))
        .select(Run::as_select())
        .load(conn)
}
