//! Eden's log rows (`sync_log`), written by every step of the active side.

use diesel::Connection;

use super::error::SyncError;
use super::run::Run;
use crate::db::{DbConnection, DbError};
use crate::model;
use crate::model::sync_log::NewLogEntry;
use crate::vocabulary::LogResult;

impl Run<'_> {
    /// Write one of Eden's log rows for this run.
    pub(super) async fn log(
        &self,
        table: Option<&str>,
        mode: &'static str,
        action: &'static str,
        result: LogResult,
        remote: bool,
        message: String,
    ) {
        let (repository_id, run_id) = (self.repository_id, self.run_id);
        let table = table.map(str::to_string);
        let progress = self.progress.clone();
        let written = self
            .engine
            .db(move |conn| {
                conn.transaction(|conn| {
                    log(
                        conn,
                        repository_id,
                        Some(run_id),
                        table.as_deref(),
                        mode,
                        action,
                        result,
                        remote,
                        &message,
                    )?;
                    // The counters go with the row: the run page never shows
                    // a log ahead of them.
                    progress.save(conn, run_id)?;
                    Ok::<_, SyncError>(())
                })
            })
            .await;
        if let Err(e) = written {
            tracing::error!(run_id, error = %e, "could not write a sync log row");
        }
    }
}

/// One of Eden's log rows.
#[allow(clippy::too_many_arguments)]
pub(super) fn log(
    conn: &mut DbConnection,
    repository_id: i64,
    run_id: Option<i64>,
    table: Option<&str>,
    mode: &str,
    action: &str,
    result: LogResult,
    remote: bool,
    message: &str,
) -> Result<(), DbError> {
    model::sync_log::insert(
        conn,
        &NewLogEntry {
            logged_at: model::now(),
            repository_id: Some(repository_id),
            run_id,
            resource_name: table,
            mode,
            action,
            result,
            remote,
            message,
        },
    )?;
    Ok(())
}
