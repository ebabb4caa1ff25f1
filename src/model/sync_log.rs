//! Eden's synchronization log: one row per step, with Eden's vocabulary.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::sync_log;

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
    pub result: String,
    pub remote: bool,
    pub message: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sync_log)]
pub struct NewLogEntry<'a> {
    pub logged_at: NaiveDateTime,
    pub repository_id: Option<i64>,
    pub run_id: Option<i64>,
    pub resource_name: Option<&'a str>,
    /// `<method>/<transmission>`, e.g. `register/incoming`.
    pub mode: &'a str,
    pub action: &'a str,
    /// success, warning, error or fatal.
    pub result: &'a str,
    pub remote: bool,
    pub message: &'a str,
}

pub fn insert(conn: &mut DbConnection, entry: &NewLogEntry) -> QueryResult<usize> {
    diesel::insert_into(sync_log::table)
        .values(entry)
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

/// The latest errors and fatal failures, newest first.
pub fn recent_failures(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<LogEntry>> {
    sync_log::table
        .filter(sync_log::result.eq_any(["error", "fatal"]))
        .order(sync_log::id.desc())
        .limit(limit)
        .select(LogEntry::as_select())
        .load(conn)
}
