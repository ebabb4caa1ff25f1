//! Why a step of an active run failed, and whether waiting helps.

use crate::db::DbError;
use crate::store::StoreError;

/// Transient failures (the peer is down, slow, cut the connection, answered
/// 5xx) are retried later with backoff. Permanent ones (credentials refused,
/// bad URL, bad configuration) fail at once and wait for an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Transient,
    Permanent,
    /// The run was cancelled (timeout or shutdown) between two steps.
    Cancelled,
}

/// A failure with a message written for the administrator: which peer, what
/// it said, what to check. Never contains a password.
#[derive(Debug, Clone)]
pub struct SyncError {
    pub kind: FailureKind,
    pub message: String,
    /// The technical chain (the HTTP stack's error, the URL): shown last,
    /// for whoever digs deeper.
    pub details: Option<String>,
    /// The peer sent the message (Eden's `remote` flag in the log).
    pub remote: bool,
    /// The other tasks of the run cannot work either (the peer cannot be
    /// reached, or refuses our credentials): the run stops here.
    pub stops_run: bool,
    /// The link dropped in the middle of an exchange: worth trying again
    /// within the run.
    pub link_dropped: bool,
}

impl SyncError {
    pub fn transient(message: impl Into<String>) -> SyncError {
        SyncError {
            kind: FailureKind::Transient,
            message: message.into(),
            details: None,
            remote: false,
            stops_run: false,
            link_dropped: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> SyncError {
        SyncError {
            kind: FailureKind::Permanent,
            message: message.into(),
            details: None,
            remote: false,
            stops_run: false,
            link_dropped: false,
        }
    }

    pub fn cancelled(message: impl Into<String>) -> SyncError {
        SyncError {
            kind: FailureKind::Cancelled,
            message: message.into(),
            details: None,
            remote: false,
            stops_run: false,
            link_dropped: false,
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> SyncError {
        self.details = Some(details.into());
        self
    }

    /// The message, then the details.
    pub fn full_text(&self) -> String {
        match &self.details {
            Some(details) => format!("{} (details: {details})", self.message),
            None => self.message.clone(),
        }
    }

    pub fn from_peer(mut self) -> SyncError {
        self.remote = true;
        self
    }

    pub fn stopping_the_run(mut self) -> SyncError {
        self.stops_run = true;
        self
    }

    pub fn link_dropped(mut self) -> SyncError {
        self.link_dropped = true;
        self
    }
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full_text())
    }
}

impl std::error::Error for SyncError {}

impl From<DbError> for SyncError {
    fn from(e: DbError) -> Self {
        match e {
            // A row holding a word we do not know (say, a task's policy
            // edited by hand) stays wrong until an administrator fixes it.
            DbError::Query(diesel::result::Error::DeserializationError(cause)) => {
                SyncError::permanent(format!(
                    "the database holds a value this version does not understand: {cause}"
                ))
            }
            // A busy or unreachable database is worth another try.
            e => SyncError::transient(format!("database error: {e}")),
        }
    }
}

impl From<diesel::result::Error> for SyncError {
    fn from(e: diesel::result::Error) -> Self {
        SyncError::from(DbError::from(e))
    }
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Read(read) => {
                SyncError::transient(format!("the peer's document could not be read: {read}"))
                    .from_peer()
            }
            other => SyncError::transient(other.to_string()),
        }
    }
}

impl From<std::io::Error> for SyncError {
    fn from(e: std::io::Error) -> Self {
        SyncError::transient(format!("local file error: {e}"))
    }
}
