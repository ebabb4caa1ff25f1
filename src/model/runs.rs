//! One row per run of a repository: trigger, status, live progress, counts.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::db::schema::{repositories, runs};
use crate::vocabulary::{Direction, RunStatus, Trigger};

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
    /// JSON of a list of [`TableProgress`]: read with [`Run::tables`].
    table_progress: Option<String>,
}

impl Run {
    /// How far the run got with each table, in the order it took them.
    /// A row written by an older version (or unreadable) has none.
    pub fn tables(&self) -> Vec<TableProgress> {
        self.table_progress
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    }
}

/// How far a run got with one table in one direction: records done, of the
/// total when the peer (or our own store, for a push) announced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableProgress {
    pub table: String,
    pub direction: Direction,
    /// Master records committed so far.
    pub done: u64,
    /// Master records this pull or push holds in all, when known.
    pub total: Option<u64>,
    /// Bytes the whole transfer takes, when known but not its records (an
    /// Eden table pulled in time windows: the size of the whole answer).
    pub total_bytes: Option<u64>,
    /// Bytes moved so far (compressed, as on the wire).
    pub bytes: u64,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

impl TableProgress {
    /// Seconds from start to end, or to `now` while it goes on.
    pub fn elapsed_secs(&self, now: NaiveDateTime) -> f64 {
        let end = self.finished_at.unwrap_or(now);
        ((end - self.started_at).num_milliseconds().max(0) as f64) / 1000.0
    }

    /// Master records per second so far.
    pub fn records_per_sec(&self, now: NaiveDateTime) -> Option<f64> {
        let secs = self.elapsed_secs(now);
        (secs >= 1.0 && self.done > 0).then(|| self.done as f64 / secs)
    }

    /// Seconds left at the pace so far: by records when the total is known,
    /// else by bytes; none when finished, or nothing to go by yet.
    pub fn secs_left(&self, now: NaiveDateTime) -> Option<f64> {
        if self.finished_at.is_some() {
            return None;
        }
        let secs = self.elapsed_secs(now);
        if secs < 1.0 {
            return None;
        }
        let (done, total) = match (self.total, self.total_bytes) {
            (Some(total), _) => (self.done, total),
            (None, Some(total)) => (self.bytes, total),
            (None, None) => return None,
        };
        if done == 0 {
            return None;
        }
        Some(total.saturating_sub(done) as f64 * secs / done as f64)
    }
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
    /// Records the run's pulls changed here (new, changed, deleted).
    pub fn records_in(&self) -> i64 {
        self.pulled_created + self.pulled_updated + self.pulled_deleted
    }

    /// Records the run's pushes changed at the peer.
    pub fn records_out(&self) -> i64 {
        self.pushed_created + self.pushed_updated + self.pushed_deleted
    }

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
    tables: &[TableProgress],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let tables = (!tables.is_empty())
        .then(|| serde_json::to_string(tables).ok())
        .flatten();
    diesel::update(runs::table.find(id))
        .set((
            runs::heartbeat_at.eq(Some(now)),
            runs::current_step.eq(step),
            runs::table_progress.eq(tables),
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
    tables: &[TableProgress],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    update_progress(conn, id, counts, None, tables, now)?;
    super::hourly_records::add(conn, now, counts.records_in(), counts.records_out())?;
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

/// The latest run of every repository that has one: one step down the
/// `(repository_id, id)` index per repository, however many runs are kept.
pub fn latest_per_repository(conn: &mut DbConnection) -> QueryResult<Vec<Run>> {
    let other = diesel::alias!(runs as other_runs);
    let latest = repositories::table.select(
        other
            .filter(other.field(runs::repository_id).eq(repositories::id))
            .select(diesel::dsl::max(other.field(runs::id)))
            .single_value(),
    );
    runs::table
        .filter(runs::id.nullable().eq_any(latest))
        .select(Run::as_select())
        .load(conn)
}

/// The newest finished runs started by a schedule, newest first: (job,
/// started, finished, status). Bounded by `limit`, so reading it costs the
/// same however many runs are kept.
pub fn recent_job_runs(
    conn: &mut DbConnection,
    limit: i64,
) -> QueryResult<Vec<(i64, NaiveDateTime, NaiveDateTime, String)>> {
    let rows: Vec<(Option<i64>, NaiveDateTime, Option<NaiveDateTime>, String)> = runs::table
        .filter(runs::job_id.is_not_null())
        .filter(runs::finished_at.is_not_null())
        // A skip did no work: it would pull the average down.
        .filter(runs::status.ne(RunStatus::Skipped.as_str()))
        .order(runs::id.desc())
        .limit(limit)
        .select((
            runs::job_id,
            runs::started_at,
            runs::finished_at,
            runs::status,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(job, started, finished, status)| Some((job?, started, finished?, status)))
        .collect())
}

/// Delete finished runs that ended before `cutoff`, except each
/// repository's latest run (its health and last run stay known); how many
/// went. Log rows and review items of a deleted run keep their text.
pub fn purge_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    let other = diesel::alias!(runs as latest_runs);
    let latest = other
        .group_by(other.field(runs::repository_id))
        .select(diesel::dsl::max(other.field(runs::id)));
    let ids: Vec<i64> = runs::table
        .filter(runs::finished_at.lt(cutoff))
        .filter(runs::id.nullable().ne_all(latest))
        .select(runs::id)
        .limit(10_000)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(runs::table.filter(runs::id.eq_any(&ids))).execute(conn)
}
