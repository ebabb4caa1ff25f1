//! The files a folder repository read or wrote: what each held, and what
//! became of it. A file is known again by its name, size and time (cheap),
//! or by its digest (the same bytes copied under another name).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::folder_files;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = folder_files)]
pub struct FolderFile {
    pub id: i64,
    pub repository_id: i64,
    pub task_id: Option<i64>,
    /// `read` or `written`.
    pub direction: String,
    pub name: String,
    pub bytes: i64,
    pub file_mtime: NaiveDateTime,
    pub digest: String,
    pub site_uuid: Option<String>,
    pub records: i64,
    /// `imported`, `unreadable`, `foreign` (from another site), `written`.
    pub outcome: String,
    pub message: Option<String>,
    pub handled_at: NaiveDateTime,
    pub run_id: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = folder_files)]
pub struct NewFolderFile<'a> {
    pub repository_id: i64,
    pub task_id: Option<i64>,
    pub direction: &'a str,
    pub name: &'a str,
    pub bytes: i64,
    pub file_mtime: NaiveDateTime,
    pub digest: &'a str,
    pub site_uuid: Option<&'a str>,
    pub records: i64,
    pub outcome: &'a str,
    pub message: Option<&'a str>,
    pub handled_at: NaiveDateTime,
    pub run_id: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, file: &NewFolderFile) -> QueryResult<usize> {
    diesel::insert_into(folder_files::table)
        .values(file)
        .execute(conn)
}

/// The file as it was last handled, known by name, size and time.
pub fn seen(
    conn: &mut DbConnection,
    repository_id: i64,
    name: &str,
    bytes: i64,
    mtime: NaiveDateTime,
) -> QueryResult<Option<FolderFile>> {
    folder_files::table
        .filter(folder_files::repository_id.eq(repository_id))
        .filter(folder_files::name.eq(name))
        .filter(folder_files::bytes.eq(bytes))
        .filter(folder_files::file_mtime.eq(mtime))
        .order(folder_files::id.desc())
        .select(FolderFile::as_select())
        .first(conn)
        .optional()
}

/// A file with these bytes this repository imported or wrote before.
pub fn with_digest(
    conn: &mut DbConnection,
    repository_id: i64,
    digest: &str,
) -> QueryResult<Option<FolderFile>> {
    folder_files::table
        .filter(folder_files::repository_id.eq(repository_id))
        .filter(folder_files::digest.eq(digest))
        .filter(folder_files::outcome.eq_any(["imported", "written"]))
        .order(folder_files::id.desc())
        .select(FolderFile::as_select())
        .first(conn)
        .optional()
}

/// The newest files a repository handled, newest first.
pub fn recent(
    conn: &mut DbConnection,
    repository_id: i64,
    limit: i64,
) -> QueryResult<Vec<FolderFile>> {
    folder_files::table
        .filter(folder_files::repository_id.eq(repository_id))
        .order(folder_files::id.desc())
        .limit(limit)
        .select(FolderFile::as_select())
        .load(conn)
}
