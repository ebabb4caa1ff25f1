//! What can go wrong on the sync API, in the protocol's own terms. How each
//! case is answered over HTTP (Eden's JSON message, its status) is decided
//! in one place, the crate's `error` module.

use crate::accounts::peer_auth::PeerAuthError;
use crate::db::DbError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// No or wrong credentials: Eden's plain 401 with a Basic challenge.
    #[error("Authentication Required")]
    Unauthorized,
    /// Too many failed logins from this address.
    #[error("{message}")]
    Throttled {
        message: String,
        retry_after_secs: u64,
    },
    /// The request itself is wrong: a parameter, a filter, the body.
    #[error("{0}")]
    BadRequest(String),
    /// The peer may not do this (act as that repository, push, that table).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("Unsupported method!")]
    MethodNotAllowed,
    #[error("Unsupported data format!")]
    UnsupportedFormat,
    /// A Content-Encoding we do not read.
    #[error("{0}")]
    UnsupportedEncoding(String),
    #[error("{0}")]
    TooLarge(String),
    /// This node's disk is full: nothing was kept.
    #[error("{0}")]
    InsufficientStorage(String),
    /// The body did not keep the minimum pace.
    #[error("{0}")]
    TooSlow(String),
    /// Details go to the server log, not to the peer.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for ProtocolError {
    fn from(e: DbError) -> Self {
        ProtocolError::Internal(e.to_string())
    }
}

impl From<PeerAuthError> for ProtocolError {
    fn from(e: PeerAuthError) -> Self {
        match e {
            PeerAuthError::Unauthorized => ProtocolError::Unauthorized,
            PeerAuthError::Throttled { wait } => ProtocolError::Throttled {
                message: format!(
                    "Too many failed logins from your address; try again in {} minute(s)",
                    wait.as_secs().div_ceil(60).max(1)
                ),
                retry_after_secs: wait.as_secs().max(1),
            },
            PeerAuthError::Db(e) => e.into(),
        }
    }
}

impl From<diesel::result::Error> for ProtocolError {
    fn from(e: diesel::result::Error) -> Self {
        ProtocolError::Internal(e.to_string())
    }
}

impl From<StoreError> for ProtocolError {
    fn from(e: StoreError) -> Self {
        match e {
            e if e.is_disk_full() => disk_full(),
            StoreError::Filter(message) => ProtocolError::BadRequest(message),
            StoreError::Read(e) => ProtocolError::BadRequest(format!("XML Parse error: {e}")),
            other => ProtocolError::Internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for ProtocolError {
    fn from(e: std::io::Error) -> Self {
        if crate::store::is_disk_full(&e) {
            return disk_full();
        }
        ProtocolError::Internal(format!("spool file: {e}"))
    }
}

fn disk_full() -> ProtocolError {
    ProtocolError::InsufficientStorage(
        "This node's disk is full: nothing of this push was kept. Send it again once an administrator has freed space".into(),
    )
}

/// Eden's JSON message: status, statuscode as a string, then the rest.
pub fn eden_json(
    success: bool,
    statuscode: u16,
    message: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::Map::new();
    body.insert(
        "status".into(),
        (if success { "success" } else { "failed" }).into(),
    );
    body.insert("statuscode".into(), statuscode.to_string().into());
    body.insert("message".into(), message.into());
    body
}
