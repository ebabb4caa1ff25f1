//! The review queue's rules: what goes in (a record refused here, a
//! conflict a policy decided) and what an administrator's decision does
//! to the store (accept the other version, import again, send again).
//! Accepting is an ordinary local change: a new seq and `modified_on`, so
//! it propagates; the version that came from a peer is not sent back to
//! that peer, which has it already.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::Connection;

use super::StoreError;
use super::admission;
use super::body::Body;
use super::import::{ImportOptions, import};
use super::policy::Policy;
use crate::db::DbConnection;
use crate::model;
use crate::model::records::StoredRecord;
use crate::model::review_items::{NewReviewItem, ReviewItem};
use crate::s3xml::{Field, Record, reader::read_all};
use crate::vocabulary::{ConflictWinner, ReviewKind};

/// One import batch's view of the review queue: what it adds (records
/// refused, versions kept out) and what a new version resolves. It knows per
/// table whether anything waits, so a new version looks for items to
/// resolve only where some do.
#[derive(Default)]
pub(super) struct BatchQueue {
    waiting: HashMap<String, bool>,
}

impl BatchQueue {
    /// Keep a record we could not store, with why.
    pub(super) fn refused(
        &mut self,
        conn: &mut DbConnection,
        options: &ImportOptions,
        record: &Record,
        reason: &str,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        self.add(conn, options, record, reason, now, Kept::Refused)
    }

    /// Keep both versions of a record, `fields` being the incoming ones:
    /// changed here and on the peer since the last sync (`in_conflict`), or
    /// a newer version the update policy kept out. The incoming one as it
    /// arrived, ours as it stood.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn versions(
        &mut self,
        conn: &mut DbConnection,
        options: &ImportOptions,
        record: &Record,
        fields: &[Field],
        existing: &StoredRecord,
        winner: ConflictWinner,
        in_conflict: bool,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let (reason, policy) = if in_conflict {
            let policy = options.conflict_policy.map(Policy::as_str);
            let kept = match winner {
                ConflictWinner::Local => "ours was kept",
                ConflictWinner::Peer => "the peer's replaced ours",
            };
            let reason = format!(
                "changed here and on the peer since the last sync; the conflict policy {} decided: {kept}",
                policy.unwrap_or("(none)")
            );
            (reason, policy)
        } else {
            let policy = options.update_policy.as_str();
            let reason =
                format!("a newer version from the peer; the update policy {policy} kept ours");
            (reason, Some(policy))
        };
        let whole = Record {
            fields: fields.to_vec(),
            ..record.clone()
        };
        let kept = Kept::Versions {
            winner,
            policy,
            stored: &existing.body,
        };
        self.add(conn, options, &whole, &reason, now, kept)
    }

    fn add(
        &mut self,
        conn: &mut DbConnection,
        options: &ImportOptions,
        record: &Record,
        reason: &str,
        now: NaiveDateTime,
        kept: Kept,
    ) -> Result<(), StoreError> {
        let raw = admission::raw_element(record);
        let (kind, winner, policy, stored_version) = match kept {
            Kept::Refused => (ReviewKind::RefusedHere, None, None, None),
            Kept::Versions {
                winner,
                policy,
                stored,
            } => (
                ReviewKind::Conflict,
                Some(winner.as_str()),
                policy,
                Some(stored),
            ),
        };
        model::review_items::queue(
            conn,
            &NewReviewItem {
                run_id: options.run_id,
                repository_id: options.repository_id,
                table_name: &record.table,
                uuid: record.uuid.as_deref(),
                reason,
                raw_element: &raw,
                created_at: now,
                kind: kind.as_str(),
                winner,
                policy,
                stored_version,
            },
        )?;
        self.waiting.insert(record.table.clone(), true);
        Ok(())
    }

    /// A new version of a record (or its delete) resolves what waits for it.
    pub(super) fn supersede(
        &mut self,
        conn: &mut DbConnection,
        record: &Record,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let waiting = match self.waiting.get(&record.table) {
            Some(waiting) => *waiting,
            None => {
                let waiting = model::review_items::any_waiting_in(conn, &record.table)?;
                self.waiting.insert(record.table.clone(), waiting);
                waiting
            }
        };
        if waiting && let Some(uuid) = &record.uuid {
            model::review_items::supersede(conn, &record.table, uuid, now)?;
        }
        Ok(())
    }
}

/// What an item keeps: a refused record, or two versions.
enum Kept<'a> {
    Refused,
    Versions {
        winner: ConflictWinner,
        policy: Option<&'static str>,
        stored: &'a str,
    },
}

/// The record an item holds as it came from the peer (or as we sent it).
pub fn item_record(item: &ReviewItem) -> Result<Record, StoreError> {
    if item.raw_element.ends_with(" kept)") {
        return Err(StoreError::Body(
            "only the first part of this record was kept (it is too large): it cannot be imported from here"
                .into(),
        ));
    }
    // The element as the writer starts a document: the root is left open.
    let document = format!("{}</s3xml>", item.raw_element);
    let (_, mut records) = read_all(document.as_bytes())?;
    records
        .pop()
        .ok_or_else(|| StoreError::Body("the item holds no record".into()))
}

/// Our version of a conflict as it stood before the policy replaced it.
pub fn stored_body(item: &ReviewItem) -> Result<Option<Body>, StoreError> {
    item.stored_version
        .as_deref()
        .map(Body::from_json)
        .transpose()
}

/// Make a conflict's losing version the stored one: the peer's when ours
/// was kept, ours (as it stood) when the peer's replaced it. `options` are
/// the repository's (scope, limits); the policies are set here. A merge the
/// peer won is not undone here: the references it moved stay moved.
pub fn accept_other_version(
    conn: &mut DbConnection,
    item: &ReviewItem,
    options: &ImportOptions,
) -> Result<(), StoreError> {
    let now = model::now();
    let mut record = item_record(item)?;
    if item.winner() == Some(ConflictWinner::Peer) && record.replaced_by.is_some() {
        return Err(StoreError::Refused(
            "the peer merged this record into another; a merge is not undone here (restore the record by hand if it must come back)".into(),
        ));
    }
    let from = match item.winner() {
        // The peer's version: it came from there, so it is not sent back.
        Some(ConflictWinner::Local) => item.repository_id,
        // Ours as it stood: a local change, sent to every peer.
        Some(ConflictWinner::Peer) | None => {
            let body = stored_body(item)?
                .ok_or_else(|| StoreError::Body("the item holds no stored version".into()))?;
            record.fields = body.fields;
            record.attributes = body.attributes;
            record.deleted = false;
            record.replaced_by = None;
            record.components.clear();
            None
        }
    };
    record.modified_on = Some(now);
    let options = ImportOptions {
        strategy: super::policy::Strategy::ALL,
        update_policy: Policy::Other,
        conflict_policy: None,
        repository_id: from,
        run_id: None,
        ..options.clone()
    };
    let summary = import(conn, [Ok(record)], &options)?;
    if let Some(refused) = summary.rejected.first() {
        return Err(StoreError::Refused(format!(
            "the other version cannot be stored: {}",
            refused.reason
        )));
    }
    Ok(())
}

/// Import a record refused here again with `options` (the task's, as the
/// limits and the records held stand now). `Ok(None)` when it is stored
/// (or what is stored already equals it); `Ok(Some(reason))` when it is
/// refused again or the policies keep what we hold, and nothing changed.
pub fn import_again(
    conn: &mut DbConnection,
    item: &ReviewItem,
    options: &ImportOptions,
) -> Result<Option<String>, StoreError> {
    let record = item_record(item)?;
    let outcome = conn.transaction::<_, StoreError, _>(|conn| {
        let summary = import(conn, [Ok(record)], options)?;
        let masters = summary.masters;
        match summary.rejected.first() {
            // Refused again: roll back, so the item is not queued twice.
            Some(refused) => Err(StoreError::Refused(refused.reason.clone())),
            // Taken in: created, changed or deleted (or already so).
            None if masters.created + masters.updated + masters.deleted + masters.unchanged > 0 => {
                Ok(())
            }
            // The task's strategy or update policy kept what we hold.
            None => Err(StoreError::Refused(
                "the task's strategy or update policy did not take it (what is stored here is kept)"
                    .into(),
            )),
        }
    });
    match outcome {
        Ok(()) => Ok(None),
        Err(StoreError::Refused(reason)) => Ok(Some(reason)),
        Err(e) => Err(e),
    }
}

/// Send a record a peer refused again: it takes the next seq, so the next
/// push carries it. False when the record is no longer held.
pub fn send_again(conn: &mut DbConnection, item: &ReviewItem) -> Result<bool, StoreError> {
    let Some(uuid) = item.uuid.as_deref() else {
        return Ok(false);
    };
    conn.transaction::<_, StoreError, _>(|conn| {
        match model::records::find(conn, &item.table_name, uuid)? {
            Some(record) => {
                model::records::bump_seq(conn, record.id)?;
                Ok(true)
            }
            None => Ok(false),
        }
    })
}
