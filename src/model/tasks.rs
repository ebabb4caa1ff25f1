use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::tasks;
use crate::vocabulary::{Policy, Strategy, TaskMode};

/// One table to sync with a repository, with its policies and watermarks.
/// The mode, strategy and policies are read typed: a row holding a word
/// edensync does not know fails to load (diesel's deserialization error)
/// rather than being guessed at.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tasks)]
pub struct Task {
    pub id: i64,
    pub repository_id: i64,
    pub position: i32,
    pub resource_name: String,
    #[diesel(deserialize_as = String)]
    pub mode: TaskMode,
    #[diesel(deserialize_as = String)]
    pub strategy: Strategy,
    #[diesel(deserialize_as = String)]
    pub update_policy: Policy,
    #[diesel(deserialize_as = String)]
    pub conflict_policy: Policy,
    pub components: bool,
    pub last_pull: Option<NaiveDateTime>,
    pub last_push: Option<NaiveDateTime>,
    pub last_pull_seq: Option<i64>,
    pub last_push_seq: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Incoming versions the update policy did not take wait for review.
    pub review_kept_updates: bool,
    /// Folder repositories: the files to import (a glob in the folder).
    pub infile_pattern: Option<String>,
    /// Folder repositories: the name of the file a push writes
    /// (`$year $month $day $hour $minute $second $timestamp`).
    pub outfile_pattern: Option<String>,
    /// Where the last bundle for this task's repository ended (our seq).
    pub last_bundle_seq: Option<i64>,
    /// Folder repositories: delete a file once it is imported.
    pub delete_input_files: bool,
    /// The filters changed after the task had pulled: records they newly
    /// select that did not change since are not pulled until a re-pull.
    pub filters_changed_at: Option<NaiveDateTime>,
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

/// A task's settings, as an administrator sets them.
#[derive(Debug, Clone)]
pub struct TaskSettings {
    pub mode: TaskMode,
    pub strategy: Strategy,
    pub update_policy: Policy,
    pub conflict_policy: Policy,
    pub components: bool,
    pub review_kept_updates: bool,
    pub infile_pattern: Option<String>,
    pub outfile_pattern: Option<String>,
    pub delete_input_files: bool,
    pub updated_at: NaiveDateTime,
}

impl TaskSettings {
    /// The columns, the words as their stored text.
    #[allow(clippy::type_complexity)]
    fn columns(
        &self,
    ) -> (
        diesel::dsl::Eq<tasks::mode, &'static str>,
        diesel::dsl::Eq<tasks::strategy, String>,
        diesel::dsl::Eq<tasks::update_policy, &'static str>,
        diesel::dsl::Eq<tasks::conflict_policy, &'static str>,
        diesel::dsl::Eq<tasks::components, bool>,
        diesel::dsl::Eq<tasks::review_kept_updates, bool>,
        diesel::dsl::Eq<tasks::infile_pattern, Option<String>>,
        diesel::dsl::Eq<tasks::outfile_pattern, Option<String>>,
        diesel::dsl::Eq<tasks::delete_input_files, bool>,
        diesel::dsl::Eq<tasks::updated_at, NaiveDateTime>,
    ) {
        (
            tasks::mode.eq(self.mode.as_str()),
            tasks::strategy.eq(self.strategy.to_text()),
            tasks::update_policy.eq(self.update_policy.as_str()),
            tasks::conflict_policy.eq(self.conflict_policy.as_str()),
            tasks::components.eq(self.components),
            tasks::review_kept_updates.eq(self.review_kept_updates),
            tasks::infile_pattern.eq(self.infile_pattern.clone()),
            tasks::outfile_pattern.eq(self.outfile_pattern.clone()),
            tasks::delete_input_files.eq(self.delete_input_files),
            tasks::updated_at.eq(self.updated_at),
        )
    }
}

pub fn find_by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Task>> {
    tasks::table
        .find(id)
        .select(Task::as_select())
        .first(conn)
        .optional()
}

/// A repository's tasks in the order they run.
pub fn list_for_repository(conn: &mut DbConnection, repository_id: i64) -> QueryResult<Vec<Task>> {
    tasks::table
        .filter(tasks::repository_id.eq(repository_id))
        .order((tasks::position.asc(), tasks::id.asc()))
        .select(Task::as_select())
        .load(conn)
}

/// The position after the repository's last task (1 for the first).
pub fn next_position(conn: &mut DbConnection, repository_id: i64) -> QueryResult<i32> {
    let last: Option<i32> = tasks::table
        .filter(tasks::repository_id.eq(repository_id))
        .select(diesel::dsl::max(tasks::position))
        .first(conn)?;
    Ok(last.unwrap_or(0) + 1)
}

/// Insert a task; (repository, table) is unique, so it is read back by them.
pub fn insert(
    conn: &mut DbConnection,
    repository_id: i64,
    resource: &str,
    position: i32,
    settings: &TaskSettings,
    now: NaiveDateTime,
) -> QueryResult<Task> {
    diesel::insert_into(tasks::table)
        .values((
            settings.columns(),
            tasks::repository_id.eq(repository_id),
            tasks::resource_name.eq(resource),
            tasks::position.eq(position),
            tasks::created_at.eq(now),
        ))
        .execute(conn)?;
    tasks::table
        .filter(tasks::repository_id.eq(repository_id))
        .filter(tasks::resource_name.eq(resource))
        .select(Task::as_select())
        .first(conn)
}

pub fn update_settings(
    conn: &mut DbConnection,
    id: i64,
    settings: &TaskSettings,
) -> QueryResult<usize> {
    diesel::update(tasks::table.find(id))
        .set(settings.columns())
        .execute(conn)
}

/// Forget what was pulled: the next pull fetches everything again.
pub fn clear_pull_watermark(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(tasks::table.find(id))
        .set((
            tasks::last_pull.eq(None::<NaiveDateTime>),
            tasks::last_pull_seq.eq(None::<i64>),
            tasks::filters_changed_at.eq(None::<NaiveDateTime>),
            tasks::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Note that the filters changed after the task had pulled.
pub fn mark_filters_changed(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(tasks::table.find(id))
        .set(tasks::filters_changed_at.eq(Some(now)))
        .execute(conn)
}

/// Forget what was pushed: the next push sends everything again.
pub fn clear_push_watermark(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(tasks::table.find(id))
        .set((
            tasks::last_push.eq(None::<NaiveDateTime>),
            tasks::last_push_seq.eq(None::<i64>),
            tasks::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Delete a task; the database removes its filters with it.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(tasks::table.find(id)).execute(conn)
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

/// A bundle carried our changes up to `seq`.
pub fn set_bundle_watermark(conn: &mut DbConnection, id: i64, seq: i64) -> QueryResult<usize> {
    diesel::update(tasks::table.find(id))
        .set(tasks::last_bundle_seq.eq(Some(seq)))
        .execute(conn)
}

/// After the peer confirmed a push: our seq it covered and when it started.
pub fn set_push_watermark(
    conn: &mut DbConnection,
    id: i64,
    last_push: Option<NaiveDateTime>,
    last_push_seq: i64,
) -> QueryResult<usize> {
    diesel::update(tasks::table.find(id))
        .set((
            tasks::last_push.eq(last_push),
            tasks::last_push_seq.eq(Some(last_push_seq)),
        ))
        .execute(conn)
}

/// Every task of every repository (the dashboard groups them).
pub fn list_all(conn: &mut DbConnection) -> QueryResult<Vec<Task>> {
    tasks::table
        .order((tasks::repository_id.asc(), tasks::position.asc()))
        .select(Task::as_select())
        .load(conn)
}
