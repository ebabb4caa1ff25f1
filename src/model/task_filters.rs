use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::task_filters;

/// One filter of a task, in Eden's URL syntax (`~.acronym__like=RO*`), for
/// the task's table or one of its component tables.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = task_filters)]
pub struct TaskFilter {
    pub id: i64,
    pub task_id: i64,
    pub table_name: String,
    pub filter_string: String,
}

/// A task's filters in the order they were given.
pub fn list_for_task(conn: &mut DbConnection, task_id: i64) -> QueryResult<Vec<TaskFilter>> {
    task_filters::table
        .filter(task_filters::task_id.eq(task_id))
        .order(task_filters::id.asc())
        .select(TaskFilter::as_select())
        .load(conn)
}

/// Replace a task's filters with these (table, filter string) pairs.
pub fn replace(
    conn: &mut DbConnection,
    task_id: i64,
    filters: &[(String, String)],
) -> QueryResult<()> {
    diesel::delete(task_filters::table.filter(task_filters::task_id.eq(task_id))).execute(conn)?;
    for (table, filter) in filters {
        diesel::insert_into(task_filters::table)
            .values((
                task_filters::task_id.eq(task_id),
                task_filters::table_name.eq(table),
                task_filters::filter_string.eq(filter),
            ))
            .execute(conn)?;
    }
    Ok(())
}
