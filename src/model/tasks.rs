use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::tasks;

/// One table to sync with a repository, with its policies and watermarks.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tasks)]
pub struct Task {
    pub id: i64,
    pub repository_id: i64,
    pub position: i32,
    pub resource_name: String,
    pub mode: String,
    pub strategy: String,
    pub update_policy: String,
    pub conflict_policy: String,
    pub components: bool,
    pub last_pull: Option<NaiveDateTime>,
    pub last_push: Option<NaiveDateTime>,
    pub last_pull_seq: Option<i64>,
    pub last_push_seq: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn find(
    conn: &mut DbConnection,
    repository_id: i64,
    resource: &str,
) -> QueryResult<Option<Task>> {
    tasks::table
        .filter(tasks::repository_id.eq(repository_id))
        .filter(tasks::resource_name.eq(resource))
        .select(Task::as_select())
        .first(conn)
        .optional()
}

/// A repository's tasks in the order they run.
pub fn for_repository(conn: &mut DbConnection, repository_id: i64) -> QueryResult<Vec<Task>> {
    tasks::table
        .filter(tasks::repository_id.eq(repository_id))
        .order((tasks::position.asc(), tasks::id.asc()))
        .select(Task::as_select())
        .load(conn)
}

/// After a committed pull: the youngest `modified_on` received (a pull from
/// Eden) and the seq to continue from (a pull from edensync).
pub fn set_pull_watermark(
    conn: &mut DbConnection,
    id: i64,
    last_pull: Option<NaiveDateTime>,
    last_pull_seq: Option<i64>,
) -> QueryResult<usize> {
    if let Some(time) = last_pull {
        diesel::update(tasks::table.find(id))
            .set(tasks::last_pull.eq(Some(time)))
            .execute(conn)?;
    }
    if let Some(seq) = last_pull_seq {
        diesel::update(tasks::table.find(id))
            .set(tasks::last_pull_seq.eq(Some(seq)))
            .execute(conn)?;
    }
    Ok(1)
}

/// After the peer confirmed a push: our seq it covered and when it started.
pub fn set_push_watermark(
    conn: &mut DbConnection,
    id: i64,
    last_push: NaiveDateTime,
    last_push_seq: i64,
) -> QueryResult<usize> {
    diesel::update(tasks::table.find(id))
        .set((
            tasks::last_push.eq(Some(last_push)),
            tasks::last_push_seq.eq(Some(last_push_seq)),
        ))
        .execute(conn)
}

/// The filters of a task: (table, filter string such as `~.acronym__like=RO*`).
pub fn filters_of(conn: &mut DbConnection, task_id: i64) -> QueryResult<Vec<(String, String)>> {
    use crate::db::schema::task_filters;
    task_filters::table
        .filter(task_filters::task_id.eq(task_id))
        .order(task_filters::id.asc())
        .select((task_filters::table_name, task_filters::filter_string))
        .load(conn)
}
