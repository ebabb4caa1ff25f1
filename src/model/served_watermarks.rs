//! The pull answers served to each peer, so that an Eden peer's next
//! `msince` can be mapped back to exactly the seq it has seen.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::served_watermarks;

/// Answers kept per peer and table; older ones are dropped.
const KEEP: i64 = 20;

/// The seq covered by an answer whose implied `msince` is this one. When
/// several answers imply the same time, the lowest seq wins: sending a
/// record twice is harmless, skipping one is not.
pub fn find(
    conn: &mut DbConnection,
    repository_id: i64,
    table: &str,
    implied_msince: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    served_watermarks::table
        .filter(served_watermarks::repository_id.eq(repository_id))
        .filter(served_watermarks::table_name.eq(table))
        .filter(served_watermarks::implied_msince.eq(implied_msince))
        .select(diesel::dsl::min(served_watermarks::max_seq))
        .first(conn)
}

pub fn record(
    conn: &mut DbConnection,
    repository_id: i64,
    table: &str,
    implied_msince: NaiveDateTime,
    max_seq: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(served_watermarks::table)
        .values((
            served_watermarks::repository_id.eq(repository_id),
            served_watermarks::table_name.eq(table),
            served_watermarks::implied_msince.eq(implied_msince),
            served_watermarks::max_seq.eq(max_seq),
            served_watermarks::served_at.eq(now),
        ))
        .execute(conn)?;
    let keep: Vec<i64> = served_watermarks::table
        .filter(served_watermarks::repository_id.eq(repository_id))
        .filter(served_watermarks::table_name.eq(table))
        .order(served_watermarks::id.desc())
        .limit(KEEP)
        .select(served_watermarks::id)
        .load(conn)?;
    if let Some(oldest_kept) = keep.last() {
        diesel::delete(
            served_watermarks::table
                .filter(served_watermarks::repository_id.eq(repository_id))
                .filter(served_watermarks::table_name.eq(table))
                .filter(served_watermarks::id.lt(oldest_kept)),
        )
        .execute(conn)?;
    }
    Ok(())
}
