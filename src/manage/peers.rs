//! What an administrator decides about a peer that calls this node.

use diesel::Connection;

use super::ManageError;
use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::model;
use crate::model::repositories::Repository;

/// Accept pushes from a repository's peer (one click on the console); the
/// audit row names the peer's uuid, which identifies it, beside its name.
pub fn accept_pushes(
    conn: &mut DbConnection,
    actor: &Actor,
    repository: &Repository,
) -> Result<(), ManageError> {
    conn.transaction(|conn| {
        model::repositories::set_accept_push(conn, repository.id, true)?;
        let detail = format!(
            "pushes from the peer {} accepted",
            repository.peer_uuid.as_deref().unwrap_or("(no uuid yet)")
        );
        audit::record(
            conn,
            actor,
            "repository.accept_push",
            Some(&repository.name),
            Some(&detail),
        )?;
        Ok(())
    })
}
