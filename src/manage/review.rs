//! An administrator's decisions on the review queue, the same from the
//! console and the command line: accept a conflict's other version, import
//! or send a refused record again, or dismiss an item. Each is audited.

use diesel::Connection;

use super::ManageError;
use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::model;
use crate::model::review_items::ReviewItem;
use crate::store::{self, ImportOptions};
use crate::vocabulary::{Resolution, ReviewAction, ReviewKind};

/// What a decision did, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub id: i64,
    /// Whether the item left the queue.
    pub resolved: bool,
    pub message: String,
}

pub fn find(conn: &mut DbConnection, id: i64) -> Result<ReviewItem, ManageError> {
    model::review_items::find(conn, id)?
        .ok_or_else(|| ManageError::NotFound(format!("there is no review item {id}")))
}

/// Carry out `action` on item `id`. `max_record_bytes` is the node's
/// record limit (a retry applies the limits as they stand now).
pub fn decide(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    action: ReviewAction,
    max_record_bytes: u64,
) -> Result<Decided, ManageError> {
    conn.transaction(|conn| {
        let item = find(conn, id)?;
        // Claimed first (the update takes the row): of two decisions at
        // once only one goes on, and the import below cannot mark this
        // item superseded by the version it stores itself.
        let now = model::now();
        let claimed =
            model::review_items::resolve(conn, id, Resolution::Dismissed, &actor.name, now)?;
        if !claimed {
            return Err(ManageError::invalid(
                "item",
                format!("item {id} was resolved already"),
            ));
        }
        let (resolution, message) = match (action, item.kind) {
            (ReviewAction::Dismiss, _) => (Some(Resolution::Dismissed), "dismissed".to_string()),
            (ReviewAction::Accept, ReviewKind::Conflict) => {
                let options = import_options(conn, &item, max_record_bytes)?;
                store::review::accept_other_version(conn, &item, &options).map_err(refused)?;
                (
                    Some(Resolution::Accepted),
                    "the other version is now the stored one".to_string(),
                )
            }
            (ReviewAction::Retry, ReviewKind::RefusedHere) => {
                let options = import_options(conn, &item, max_record_bytes)?;
                match store::review::import_again(conn, &item, &options).map_err(refused)? {
                    None => (Some(Resolution::Retried), "imported and stored".to_string()),
                    Some(reason) => (None, format!("refused again: {reason}")),
                }
            }
            (ReviewAction::Retry, ReviewKind::RefusedByPeer) => {
                if store::review::send_again(conn, &item).map_err(refused)? {
                    (
                        Some(Resolution::Retried),
                        "the record goes to the peer again with the next push".to_string(),
                    )
                } else {
                    (None, "the record is no longer held here".to_string())
                }
            }
            (ReviewAction::Accept, kind) => {
                return Err(ManageError::invalid(
                    "action",
                    format!(
                        "a record {} has no other version to accept: retry or dismiss it",
                        kind.label()
                    ),
                ));
            }
            (ReviewAction::Retry, _) => {
                return Err(ManageError::invalid(
                    "action",
                    "a conflict is not retried: accept the other version or dismiss it",
                ));
            }
        };
        match resolution {
            Some(resolution) => {
                model::review_items::set_resolution(conn, id, resolution)?;
            }
            // Still waiting, with the latest reason when it was refused again.
            None => {
                let reason = message.strip_prefix("refused again: ");
                model::review_items::reopen(conn, id, reason)?;
            }
        }
        audit::record(
            conn,
            actor,
            &format!("review.{}", action.as_str()),
            Some(&format!(
                "review item {id} ({} {})",
                item.table_name,
                item.uuid.as_deref().unwrap_or("without uuid")
            )),
            Some(&message),
        )?;
        Ok(Decided {
            id,
            resolved: resolution.is_some(),
            message,
        })
    })
}

/// How an item's record is imported (again, or accepted): as its
/// repository's task for that table imports (policies, scope), with the
/// limits as they are now.
fn import_options(
    conn: &mut DbConnection,
    item: &ReviewItem,
    max_record_bytes: u64,
) -> Result<ImportOptions, ManageError> {
    let mut options = ImportOptions {
        repository_id: item.repository_id,
        max_record_bytes,
        ..ImportOptions::default()
    };
    let Some(repository_id) = item.repository_id else {
        return Ok(options);
    };
    if let Some(repository) = model::repositories::find(conn, repository_id)? {
        options.table_scope = repository.table_scope();
    }
    if let Some(task) = model::tasks::find(conn, repository_id, &item.table_name)? {
        options.strategy = task.strategy;
        options.update_policy = task.update_policy;
        options.conflict_policy = Some(task.conflict_policy);
        options.last_sync = task.last_pull;
    }
    Ok(options)
}

fn refused(e: store::StoreError) -> ManageError {
    ManageError::invalid("item", e.to_string())
}
