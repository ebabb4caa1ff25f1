//! The record store: Eden's import semantics and the exports peers pull.
//! Protocol rules live here; the SQL they need lives in `model::records`.

mod admission;
mod batch;
pub mod body;
pub mod document;
pub mod export;
pub mod filter;
pub mod import;
pub mod policy;
pub mod review;
mod summary;

pub use document::{SpooledDocument, import_document};
pub use export::{ExportOutcome, ExportRequest, export, serve_pull};
pub use filter::Filter;
pub use import::{DEFAULT_MAX_RECORD_BYTES, ImportOptions, ImportSummary, import};

use crate::db::DbError;
use crate::s3xml::ReadError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("a stored record body cannot be read: {0}")]
    Body(String),
    #[error("{0}")]
    Filter(String),
    /// A record the rules refused (its reason), where one was to be stored.
    #[error("the record was refused: {0}")]
    Refused(String),
    #[error("writing the document failed: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Nothing could be written for want of space.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Db(e) => e.is_disk_full(),
            StoreError::Io(e) => is_disk_full(e),
            _ => false,
        }
    }
}

/// An I/O error for want of space (ENOSPC).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::Db(e.into())
    }
}

/// Eden table names: `prefix_name`, lower-case letters, digits and `_`.
pub fn is_valid_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 64
        && name.contains('_')
        && !name.ends_with('_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
