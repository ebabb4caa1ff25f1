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
