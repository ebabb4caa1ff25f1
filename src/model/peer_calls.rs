//! Peers' calls here, counted per repository, day, mode and action as they
//! are logged: what the console says of each peer ("12 pushes in 30 days,
//! last 40 s ago") reads a month of these rows, not a month of log.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::sync_log::NewLogEntry;
use crate::db::schema::peer_calls;
use crate::db::{DbConnection, on_each_backend};
use crate::vocabulary::LogResult;

/// The modes of a peer's calls here.
const INCOMING: [&str; 3] = ["register/incoming", "pull/incoming", "push/incoming"];

/// What peers did here (registered, pulled, pushed, had a push refused):
/// per repository and kind, how often and when last.
#[derive(Debug, Clone, Queryable)]
pub struct IncomingContact {
    pub repository_id: i64,
    pub mode: String,
    pub action: String,
    pub last_at: Option<NaiveDateTime>,
    pub count: i64,
}

fn day_of(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp().div_euclid(86_400)
}

/// Count a log row if it is a peer's call that went through, or a push
/// refused for not being accepted (a push that failed, say on a full disk,
/// is no push received).
pub fn count(conn: &mut DbConnection, entry: &NewLogEntry) -> QueryResult<()> {
    let Some(repository_id) = entry.repository_id else {
        return Ok(());
    };
    if !INCOMING.contains(&entry.mode)
        || !matches!(entry.result, LogResult::Success | LogResult::Warning)
    {
        return Ok(());
    }
    let row = (
        peer_calls::repository_id.eq(repository_id),
        peer_calls::day.eq(day_of(entry.logged_at)),
        peer_calls::mode.eq(entry.mode),
        peer_calls::action.eq(entry.action),
        peer_calls::calls.eq(1_i64),
        peer_calls::last_at.eq(entry.logged_at),
    );
    // One statement, so processes sharing PostgreSQL count every call.
    on_each_backend!(conn, |c| diesel::insert_into(peer_calls::table)
        .values(row)
        .on_conflict((
            peer_calls::repository_id,
            peer_calls::day,
            peer_calls::mode,
            peer_calls::action,
        ))
        .do_update()
        .set((
            peer_calls::calls.eq(peer_calls::calls + 1_i64),
            peer_calls::last_at.eq(excluded(peer_calls::last_at)),
        ))
        .execute(c))?;
    Ok(())
}

/// The calls of the days from the one holding `since` on, per repository,
/// mode and action.
pub fn since(conn: &mut DbConnection, since: NaiveDateTime) -> QueryResult<Vec<IncomingContact>> {
    use diesel::dsl::{max, sql};
    use diesel::sql_types::BigInt;
    peer_calls::table
        .filter(peer_calls::day.ge(day_of(since)))
        .group_by((
            peer_calls::repository_id,
            peer_calls::mode,
            peer_calls::action,
        ))
        .select((
            peer_calls::repository_id,
            peer_calls::mode,
            peer_calls::action,
            max(peer_calls::last_at),
            // A sum of BIGINT is NUMERIC on PostgreSQL: back to BIGINT.
            sql::<BigInt>("CAST(SUM(calls) AS BIGINT)"),
        ))
        .load(conn)
}

/// Forget the days before the one holding `cutoff`.
pub fn purge_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(peer_calls::table.filter(peer_calls::day.lt(day_of(cutoff)))).execute(conn)
}
