//! The queue of records an export still has to append as dependencies, in
//! a temporary table: bounded memory whatever the size of the export.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::schema::export_dependencies;
use crate::db::{DbConnection, on_each_backend};

/// Create (or empty) the queue for this connection's export. Must run inside
/// the export's transaction (PostgreSQL drops the table at commit).
pub fn prepare(conn: &mut DbConnection) -> QueryResult<()> {
    let create = "CREATE TEMP TABLE IF NOT EXISTS export_dependencies (\
                  ref_table TEXT NOT NULL, ref_uuid TEXT NOT NULL, depth INTEGER NOT NULL, \
                  position BIGINT NOT NULL, done BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (ref_table, ref_uuid))";
    match conn {
        DbConnection::Sqlite(c) => c.batch_execute(create)?,
        DbConnection::Pg(c) => c.batch_execute(&format!("{create} ON COMMIT DROP"))?,
    }
    diesel::delete(export_dependencies::table).execute(conn)?;
    Ok(())
}

/// Queue references (a reference already queued or done is ignored);
/// `position` numbers them so they are appended in the order they were met.
pub fn queue(
    conn: &mut DbConnection,
    refs: &[(String, String)],
    depth: i32,
    position: &mut i64,
) -> QueryResult<()> {
    for (table, uuid) in refs {
        *position += 1;
        let row = (
            export_dependencies::ref_table.eq(table),
            export_dependencies::ref_uuid.eq(uuid),
            export_dependencies::depth.eq(depth),
            export_dependencies::position.eq(*position),
            export_dependencies::done.eq(false),
        );
        on_each_backend!(conn, |c| diesel::insert_into(export_dependencies::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// The next references to follow, shallowest first; they are marked done.
pub fn take(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<(String, String, i32)>> {
    let next: Vec<(String, String, i32, i64)> = export_dependencies::table
        .filter(export_dependencies::done.eq(false))
        .order((export_dependencies::depth, export_dependencies::position))
        .limit(limit)
        .select((
            export_dependencies::ref_table,
            export_dependencies::ref_uuid,
            export_dependencies::depth,
            export_dependencies::position,
        ))
        .load(conn)?;
    // The page is a prefix in (depth, position) order: one statement marks it.
    if let Some((_, _, depth, position)) = next.last() {
        diesel::update(
            export_dependencies::table
                .filter(export_dependencies::done.eq(false))
                .filter(
                    export_dependencies::depth
                        .lt(depth)
                        .or(export_dependencies::depth
                            .eq(depth)
                            .and(export_dependencies::position.le(position))),
                ),
        )
        .set(export_dependencies::done.eq(true))
        .execute(conn)?;
    }
    Ok(next
        .into_iter()
        .map(|(table, uuid, depth, _)| (table, uuid, depth))
        .collect())
}

/// Empty the queue (SQLite keeps temporary tables for the connection).
pub fn clear(conn: &mut DbConnection) -> QueryResult<()> {
    if matches!(conn, DbConnection::Sqlite(_)) {
        diesel::delete(export_dependencies::table).execute(conn)?;
    }
    Ok(())
}
