//! Records moved per hour across the node, kept as they move (a run's
//! records when it finishes, a peer's push or pull when it is logged), so
//! the dashboard's chart reads a day of rows however many runs there were.

use chrono::{DateTime, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::db::schema::hourly_records;
use crate::db::{DbConnection, on_each_backend};

/// The hour of `at` as stored: Unix hours.
fn hour_of(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp().div_euclid(3600)
}

/// Add records that came in and went out at `at` to their hour.
pub fn add(
    conn: &mut DbConnection,
    at: NaiveDateTime,
    records_in: i64,
    records_out: i64,
) -> QueryResult<()> {
    if records_in == 0 && records_out == 0 {
        return Ok(());
    }
    let row = (
        hourly_records::hour.eq(hour_of(at)),
        hourly_records::records_in.eq(records_in),
        hourly_records::records_out.eq(records_out),
    );
    // One statement, so processes sharing PostgreSQL add without losing
    // each other's counts.
    on_each_backend!(conn, |c| diesel::insert_into(hourly_records::table)
        .values(row)
        .on_conflict(hourly_records::hour)
        .do_update()
        .set((
            hourly_records::records_in
                .eq(hourly_records::records_in + excluded(hourly_records::records_in)),
            hourly_records::records_out
                .eq(hourly_records::records_out + excluded(hourly_records::records_out)),
        ))
        .execute(c))?;
    Ok(())
}

/// The hours from the one holding `since` on, oldest first: (start of the
/// hour, records in, records out).
pub fn since(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, i64, i64)>> {
    let rows: Vec<(i64, i64, i64)> = hourly_records::table
        .filter(hourly_records::hour.ge(hour_of(since)))
        .order(hourly_records::hour.asc())
        .select((
            hourly_records::hour,
            hourly_records::records_in,
            hourly_records::records_out,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(hour, i, o)| {
            Some((DateTime::from_timestamp(hour * 3600, 0)?.naive_utc(), i, o))
        })
        .collect())
}

/// Forget the hours before the one holding `cutoff`.
pub fn purge_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(hourly_records::table.filter(hourly_records::hour.lt(hour_of(cutoff))))
        .execute(conn)
}
