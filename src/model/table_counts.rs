//! How many records this node holds per table, and which tables it holds
//! only as components of another (what an edensync peer tells a node that
//! is choosing the tables to sync).

use diesel::dsl::{count, count_star};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::db::schema::records;

/// One table as held here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    pub table: String,
    /// Records, deleted ones included.
    pub records: i64,
    pub deleted: i64,
    /// Records held as components of a master record.
    pub components: i64,
    /// When every record is a component: the master table they belong to.
    pub component_of: Option<String>,
}

/// Every table with at least one record, by name.
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<TableCount>> {
    let totals: Vec<(String, i64, i64)> = records::table
        .group_by(records::table_name)
        .select((records::table_name, count_star(), count(records::parent_id)))
        .order(records::table_name)
        .load(conn)?;
    let deleted: Vec<(String, i64)> = records::table
        .filter(records::deleted.eq(true))
        .group_by(records::table_name)
        .select((records::table_name, count_star()))
        .load(conn)?;
    let mut tables = Vec::with_capacity(totals.len());
    for (table, records, components) in totals {
        let component_of = if components == records {
            master_table_of(conn, &table)?
        } else {
            None
        };
        tables.push(TableCount {
            deleted: deleted
                .iter()
                .find(|(t, _)| *t == table)
                .map_or(0, |(_, n)| *n),
            table,
            records,
            components,
            component_of,
        });
    }
    Ok(tables)
}

/// The table of the master of one of `table`'s component records.
fn master_table_of(conn: &mut DbConnection, table: &str) -> QueryResult<Option<String>> {
    let parent_id: Option<i64> = records::table
        .filter(records::table_name.eq(table))
        .filter(records::parent_id.is_not_null())
        .select(records::parent_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten();
    let Some(parent_id) = parent_id else {
        return Ok(None);
    };
    records::table
        .find(parent_id)
        .select(records::table_name)
        .first(conn)
        .optional()
}
