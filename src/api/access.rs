//! Who may do what on the sync API (README, "The sync API"), in one
//! place: the table a request names, the repository it acts as, a sync
//! account's binding, a repository's allowed tables.

use super::error::ProtocolError;
use crate::db::DbConnection;
use crate::model;
use crate::model::repositories::Repository;
use crate::model::users::{Role, User};
use crate::store;

/// The table a pull or push names; Eden's answers for a missing, mixed or
/// invalid one.
pub fn table(resource: Option<&str>) -> Result<String, ProtocolError> {
    match resource {
        None | Some("mixed") => Err(ProtocolError::BadRequest(
            "Mixed resource synchronization not supported".into(),
        )),
        Some(t) if !store::is_valid_table_name(t) => Err(ProtocolError::BadRequest(format!(
            "Invalid resource name '{t}'"
        ))),
        Some(t) => Ok(t.to_string()),
    }
}

/// The repository a request names by its peer uuid, if we know it.
pub fn repository(
    conn: &mut DbConnection,
    peer_uuid: Option<&str>,
) -> Result<Option<Repository>, ProtocolError> {
    Ok(match peer_uuid {
        Some(uuid) => model::repositories::find_by_peer_uuid(conn, uuid)?,
        None => None,
    })
}

/// A `sync` account acts only as the repositories bound to it;
/// administrators act as any.
pub fn ensure_acts_as(
    conn: &mut DbConnection,
    account: &User,
    repository: Option<&Repository>,
    named: Option<&str>,
) -> Result<(), ProtocolError> {
    if account.role() != Some(Role::Sync) {
        return Ok(());
    }
    let bound = match repository {
        Some(r) => model::repositories::is_bound(conn, r.id, account.id)?,
        None => false,
    };
    if bound {
        return Ok(());
    }
    Err(ProtocolError::Forbidden(format!(
        "The account {} may not act as the repository {}",
        account.email,
        named.unwrap_or("(none given)")
    )))
}

/// A repository's allowed tables (all, or a comma-separated list) limit
/// what it may pull and push.
pub fn ensure_table_allowed(repository: &Repository, table: &str) -> Result<(), ProtocolError> {
    if repository.may_touch(table) {
        Ok(())
    } else {
        Err(ProtocolError::Forbidden(format!(
            "The repository {} may not sync the table {table}",
            repository.name
        )))
    }
}
