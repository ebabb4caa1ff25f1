//! SQL, one file per table: row structs and the queries on that table.
//! Nothing here knows about HTTP or the sync protocol.

pub mod audit_log;
pub mod export_dependencies;
pub mod folder_files;
pub mod hourly_records;
pub mod jobs;
pub mod peer_calls;
pub mod records;
pub mod repositories;
pub mod review_items;
pub mod runs;
pub mod served_watermarks;
pub mod sessions;
pub mod setup_tokens;
pub mod sync_config;
pub mod sync_log;
pub mod table_counts;
pub mod task_filters;
pub mod tasks;
pub mod trusted_addresses;
pub mod users;

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current time as stored: naive UTC, microsecond precision (what both
/// SQLite text and PostgreSQL `timestamp` keep exactly).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A LIKE pattern (escape character `\`) matching `text` anywhere.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
