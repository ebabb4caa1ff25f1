//! Eden's synchronization log: one row per step, with Eden's vocabulary.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{repositories, sync_log};
use crate::vocabulary::LogResult;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sync_log)]
pub struct LogEntry {
    pub id: i64,
    pub logged_at: NaiveDateTime,
    pub repository_id: Option<i64>,
    pub run_id: Option<i64>,
    pub resource_name: Option<String>,
    pub mode: String,
    pub action: String,
    #[diesel(deserialize_as = String)]
    pub result: LogResult,
    pub remote: bool,
    pub message: String,
}

#[derive(Debug)]
pub struct NewLogEntry<'a> {
    pub logged_at: NaiveDateTime,
    pub repository_id: Option<i64>,
    pub run_id: Option<i64>,
    pub resource_name: Option<&'a str>,
    /// `<method>/<transmission>`, e.g. `register/incoming`.
    pub mode: &'a str,
    pub action: &'a str,
    pub result: LogResult,
    pub remote: bool,
    pub message: &'a str,
}

pub fn insert(conn: &mut DbConnection, entry: &NewLogEntry) -> QueryResult<usize> {
    insert_counted(conn, entry, None)
}

/// A row of a peer's call that moved `records` (a push received, a pull
/// served), counted in its hour too; a peer's call is counted among its
/// calls.
pub fn insert_counted(
    conn: &mut DbConnection,
    entry: &NewLogEntry,
    records: Option<i64>,
) -> QueryResult<usize> {
    match (entry.mode, records) {
        ("push/incoming", Some(n)) => super::hourly_records::add(conn, entry.logged_at, n, 0)?,
        ("pull/incoming", Some(n)) => super::hourly_records::add(conn, entry.logged_at, 0, n)?,
        _ => {}
    }
    super::peer_calls::count(conn, entry)?;
    diesel::insert_into(sync_log::table)
        .values((
            sync_log::logged_at.eq(entry.logged_at),
            sync_log::repository_id.eq(entry.repository_id),
            sync_log::run_id.eq(entry.run_id),
            sync_log::resource_name.eq(entry.resource_name),
            sync_log::mode.eq(entry.mode),
            sync_log::action.eq(entry.action),
            sync_log::result.eq(entry.result.as_str()),
            sync_log::remote.eq(entry.remote),
            sync_log::message.eq(entry.message),
            sync_log::records.eq(records),
        ))
        .execute(conn)
}

/// Newest first.
pub fn recent(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<LogEntry>> {
    sync_log::table
        .order(sync_log::id.desc())
        .limit(limit)
        .select(LogEntry::as_select())
        .load(conn)
}

/// The log rows a run wrote, in order.
pub fn for_run(conn: &mut DbConnection, run_id: i64) -> QueryResult<Vec<LogEntry>> {
    sync_log::table
        .filter(sync_log::run_id.eq(run_id))
        .order(sync_log::id.asc())
        .limit(1000)
        .select(LogEntry::as_select())
        .load(conn)
}

/// The latest errors and fatal failures, newest first, leaving out those of
/// a repository that has succeeded since (it recovered; the rows stay in
/// the log).
pub fn recent_failures(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<LogEntry>> {
    let recovered_since = repositories::table
        .filter(repositories::id.nullable().eq(sync_log::repository_id))
        .filter(repositories::last_success_at.ge(sync_log::logged_at.nullable()));
    sync_log::table
        .filter(sync_log::result.eq_any([LogResult::Error.as_str(), LogResult::Fatal.as_str()]))
        .filter(diesel::dsl::not(diesel::dsl::exists(recovered_since)))
        .order(sync_log::id.desc())
        .limit(limit)
        .select(LogEntry::as_select())
        .load(conn)
}

/// What the log viewer asks for; every part optional.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub repository_id: Option<i64>,
    pub table: Option<String>,
    pub mode: Option<String>,
    pub result: Option<LogResult>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Part of the message.
    pub text: Option<String>,
    /// Rows older than this id (keyset pagination).
    pub before_id: Option<i64>,
}

/// Log rows matching the query, newest first.
pub fn search(conn: &mut DbConnection, q: &LogQuery, limit: i64) -> QueryResult<Vec<LogEntry>> {
    let mut query = sync_log::table
        .order(sync_log::id.desc())
        .limit(limit)
        .select(LogEntry::as_select())
        .into_boxed();
    if let Some(id) = q.repository_id {
        query = query.filter(sync_log::repository_id.eq(id));
    }
    if let Some(table) = &q.table {
        query = query.filter(sync_log::resource_name.eq(table.clone()));
    }
    if let Some(mode) = &q.mode {
        query = query.filter(sync_log::mode.eq(mode.clone()));
    }
    if let Some(result) = &q.result {
        query = query.filter(sync_log::result.eq(result.as_str()));
    }
    if let Some(from) = q.from {
        query = query.filter(sync_log::logged_at.ge(from));
    }
    if let Some(until) = q.until {
        query = query.filter(sync_log::logged_at.le(until));
    }
    if let Some(text) = &q.text {
        query = query.filter(
            sync_log::message
                .like(super::like_pattern(text))
                .escape('\\'),
        );
    }
    if let Some(before) = q.before_id {
        query = query.filter(sync_log::id.lt(before));
    }
    query.load(conn)
}

/// Rewrite the row logged at `logged_at` for (`mode`, `resource`): what
/// was logged before the outcome was known (an answer then cut).
pub fn amend(
    conn: &mut DbConnection,
    logged_at: NaiveDateTime,
    mode: &str,
    resource: &str,
    result: LogResult,
    message: &str,
) -> QueryResult<usize> {
    diesel::update(
        sync_log::table
            .filter(sync_log::logged_at.eq(logged_at))
            .filter(sync_log::mode.eq(mode))
            .filter(sync_log::resource_name.eq(resource)),
    )
    .set((
        sync_log::result.eq(result.as_str()),
        sync_log::remote.eq(true),
        sync_log::message.eq(message),
    ))
    .execute(conn)
}

/// Log rows of `mode` with exactly `message` since `since`.
pub fn count_since(
    conn: &mut DbConnection,
    mode: &str,
    message: &str,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    sync_log::table
        .filter(sync_log::mode.eq(mode))
        .filter(sync_log::message.eq(message))
        .filter(sync_log::logged_at.ge(since))
        .count()
        .get_result(conn)
}

/// The action of a push refused before its body was read (pushes from
/// that peer are not accepted yet).
pub const REFUSED_PUSH: &str = "refuse";

/// Delete rows logged before `cutoff`; how many went.
pub fn purge_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sync_log::table.filter(sync_log::logged_at.lt(cutoff))).execute(conn)
}
