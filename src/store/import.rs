//! Importing S3XML records into the store with Eden's semantics: match by
//! (table, uuid), strategy, conflicts, update and conflict policies, soft
//! deletes, merges, components and document-local `tuid` references.
//! Records are committed in batches, one transaction each; every real change
//! takes the next node-wide `seq`, an unchanged record keeps its own.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::Connection;
use serde::Serialize;

use super::body::Body;
use super::policy::{self, Incoming, Local, Method, Policy, Strategy};
use super::{StoreError, is_valid_table_name};
use crate::db::{self, DbConnection};
use crate::model;
use crate::model::records::{NewRecordRef, NewRejectedItem, RecordChange, StoredRecord};
use crate::s3xml::{Field, ReadError, Record, Writer};

/// Eden's default `mci` for an element without one.
const DEFAULT_MCI: i32 = 2;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub strategy: Strategy,
    pub update_policy: Policy,
    /// `None`: conflicts are accepted (no task for this peer and table).
    pub conflict_policy: Option<Policy>,
    /// Conflicts are changes on both sides at or after this time.
    pub last_sync: Option<NaiveDateTime>,
    /// The peer the records come from (`None` for a local file).
    pub repository_id: Option<i64>,
    pub run_id: Option<i64>,
    /// The table whose top-level records are the masters counted in the
    /// summary; other top-level records are dependencies. `None`: all.
    pub resource: Option<String>,
    /// Records per transaction.
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            strategy: Strategy::ALL,
            update_policy: Policy::Newer,
            conflict_policy: Some(Policy::Newer),
            last_sync: None,
            repository_id: None,
            run_id: None,
            resource: None,
            batch_size: 2000,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub table: String,
    pub uuid: Option<String>,
    pub reason: String,
}

/// What an import did, shaped like Eden's import result: `created`,
/// `updated` and `deleted` hold local record ids of master records
/// (`updated` also lists masters left unchanged by policy, as Eden does).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub records: u64,
    pub created: Vec<i64>,
    pub updated: Vec<i64>,
    pub deleted: Vec<i64>,
    /// Items (of any table) not written because the strategy does not
    /// allow their method or a conflict kept the local copy.
    pub skipped: u64,
    /// Items (of any table) that changed nothing.
    pub unchanged: u64,
    /// Items (of any table) that were written.
    pub written: u64,
    pub rejected: Vec<Rejection>,
    /// The youngest `modified_on` among committed master records: the next
    /// pull's watermark.
    #[serde(skip)]
    pub youngest_master_mtime: Option<NaiveDateTime>,
    /// The highest seq written.
    #[serde(skip)]
    pub max_seq: Option<i64>,
}

impl ImportSummary {
    /// The rejected records as Eden lists invalid items in its log and
    /// messages: `(UID: <uuid>) <table>: <reason>, …`.
    pub fn rejection_text(&self) -> String {
        self.rejected
            .iter()
            .map(|r| {
                format!(
                    "(UID: {}) {}: {}",
                    r.uuid.as_deref().unwrap_or("-"),
                    r.table,
                    r.reason
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One record to store, taken out of its document.
struct Item {
    record: Record,
    /// The master record this component belongs to.
    parent: Option<(String, String)>,
    is_master: bool,
}

/// Import every record the reader yields. Batches already committed stay
/// committed if the document turns out broken later (callers that need
/// all-or-nothing parse the document completely first).
pub fn import<I>(
    conn: &mut DbConnection,
    records: I,
    options: &ImportOptions,
) -> Result<ImportSummary, StoreError>
where
    I: IntoIterator<Item = Result<Record, ReadError>>,
{
    let mut importer = Importer {
        options,
        summary: ImportSummary::default(),
        tuids: HashMap::new(),
        now: model::now(),
    };
    let mut batch: Vec<Item> = Vec::new();
    for record in records {
        let record = record?;
        importer.flatten(record, None, true, &mut batch);
        if batch.len() >= options.batch_size.max(1) {
            importer.commit(conn, std::mem::take(&mut batch))?;
        }
    }
    if !batch.is_empty() {
        importer.commit(conn, batch)?;
    }
    Ok(importer.summary)
}

struct Importer<'a> {
    options: &'a ImportOptions,
    summary: ImportSummary,
    /// Document-local ids: (table, tuid) → uuid.
    tuids: HashMap<(String, String), String>,
    now: NaiveDateTime,
}

fn new_uuid() -> String {
    format!("urn:uuid:{}", uuid::Uuid::new_v4())
}

impl Importer<'_> {
    /// Split a top-level record into items: inline referenced records first
    /// (they must exist before what references them), then the record, then
    /// its components. `tuid`s become uuids.
    fn flatten(
        &mut self,
        mut record: Record,
        parent: Option<(String, String)>,
        top_level: bool,
        out: &mut Vec<Item>,
    ) {
        if self.assign_uuid(&mut record).is_none() {
            return self.reject_deleted_without_uuid(&record);
        }
        for field in &mut record.fields {
            let Field::Reference(reference) = field else {
                continue;
            };
            if let Some(inline) = reference.inline.take() {
                let mut inline = *inline;
                reference.uuid = self.assign_uuid(&mut inline);
                reference.resource = Some(inline.table.clone());
                self.flatten(inline, None, false, out);
            } else if reference.uuid.is_none()
                && let (Some(tuid), Some(table)) =
                    (reference.tuid.take(), reference.resource.clone())
            {
                reference.uuid = Some(
                    self.tuids
                        .entry((table, tuid))
                        .or_insert_with(new_uuid)
                        .clone(),
                );
            }
        }
        let components = std::mem::take(&mut record.components);
        let identity = (
            record.table.clone(),
            record.uuid.clone().unwrap_or_default(),
        );
        let is_master = top_level
            && parent.is_none()
            && self
                .options
                .resource
                .as_deref()
                .is_none_or(|r| r == record.table);
        out.push(Item {
            record,
            parent,
            is_master,
        });
        for component in components {
            self.flatten(component, Some(identity.clone()), false, out);
        }
    }

    /// Give a record its uuid: its own, the one its `tuid` stands for in this
    /// document, or a new one. A deleted record without either gets none.
    fn assign_uuid(&mut self, record: &mut Record) -> Option<String> {
        if record.uuid.is_none() {
            record.uuid = match record.tuid.take() {
                Some(tuid) => Some(
                    self.tuids
                        .entry((record.table.clone(), tuid))
                        .or_insert_with(new_uuid)
                        .clone(),
                ),
                None if record.deleted => None,
                None => Some(new_uuid()),
            };
        }
        record.tuid = None;
        record.uuid.clone()
    }

    fn reject_deleted_without_uuid(&mut self, record: &Record) {
        self.summary.rejected.push(Rejection {
            table: record.table.clone(),
            uuid: None,
            reason: "a deleted record without uuid cannot be matched".into(),
        });
    }

    fn commit(&mut self, conn: &mut DbConnection, batch: Vec<Item>) -> Result<(), StoreError> {
        let mut summary = self.summary.clone();
        let options = self.options;
        let now = self.now;
        let work = |conn: &mut DbConnection| {
            // The counter's lock first: importers commit in seq order, and
            // what we read below cannot change under us.
            model::records::lock_seq(conn)?;
            let mut state = BatchState::load(conn, &batch)?;
            let count = batch.len();
            for (i, item) in batch.into_iter().enumerate() {
                state.remaining = count - i;
                apply(conn, item, options, now, &mut summary, &mut state)?;
            }
            state.flush(conn)
        };
        // Inside the caller's transaction (all or nothing) the batch is part
        // of it: a savepoint per batch would only copy every page it touches
        // to the statement journal.
        if db::in_transaction(conn) {
            work(conn)?;
        } else {
            conn.transaction::<_, StoreError, _>(work)?;
        }
        self.summary = summary;
        Ok(())
    }
}

/// The batch's view of the store: the stored records its items name (read
/// in one query per table), kept current as the batch writes.
struct BatchState {
    /// table → uuid → record.
    known: HashMap<String, HashMap<String, Slot>>,
    /// Reserved seq values not yet used: `next..end`.
    next_seq: i64,
    end_seq: i64,
    /// Items left in the batch, including the current one.
    remaining: usize,
    /// The id the next new record gets (we hold the seq lock: no other
    /// writer inserts records meanwhile).
    next_id: i64,
    /// New records and their references, inserted together by `flush`.
    pending: Vec<StoredRecord>,
    pending_refs: Vec<NewRecordRef>,
}

impl BatchState {
    fn load(conn: &mut DbConnection, batch: &[Item]) -> Result<BatchState, StoreError> {
        let mut wanted: HashMap<&str, Vec<&str>> = HashMap::new();
        for item in batch {
            let record = &item.record;
            wanted
                .entry(&record.table)
                .or_default()
                .push(record.uuid.as_deref().unwrap_or_default());
            if let Some((table, uuid)) = &item.parent {
                wanted.entry(table).or_default().push(uuid);
            }
        }
        let mut known: HashMap<String, HashMap<String, Slot>> = HashMap::new();
        for (table, mut uuids) in wanted {
            uuids.sort_unstable();
            uuids.dedup();
            for stored in model::records::find_many(conn, table, &uuids)? {
                known
                    .entry(stored.table_name.clone())
                    .or_default()
                    .insert(stored.uuid.clone(), Slot::Stored(Box::new(stored)));
            }
        }
        Ok(BatchState {
            known,
            next_seq: 0,
            end_seq: 0,
            remaining: batch.len(),
            next_id: model::records::max_id(conn)? + 1,
            pending: Vec::new(),
            pending_refs: Vec::new(),
        })
    }

    /// Insert the new records gathered so far (before anything else
    /// touches the records table, and at the end of the batch).
    fn flush(&mut self, conn: &mut DbConnection) -> Result<(), StoreError> {
        if !self.pending.is_empty() || !self.pending_refs.is_empty() {
            model::records::insert_many(conn, &self.pending, &self.pending_refs)?;
            self.pending_refs.clear();
            for record in std::mem::take(&mut self.pending) {
                if let Some(slot) = self
                    .known
                    .get_mut(&record.table_name)
                    .and_then(|m| m.get_mut(&record.uuid))
                {
                    *slot = Slot::Stored(Box::new(record));
                }
            }
        }
        Ok(())
    }

    fn get(&self, table: &str, uuid: &str) -> Option<&StoredRecord> {
        match self.known.get(table)?.get(uuid)? {
            Slot::Stored(record) => Some(record.as_ref()),
            Slot::Pending(index) => self.pending.get(*index),
        }
    }

    /// A new record, inserted at the next `flush`.
    fn add(&mut self, record: StoredRecord) {
        let slot = Slot::Pending(self.pending.len());
        self.known
            .entry(record.table_name.clone())
            .or_default()
            .insert(record.uuid.clone(), slot);
        self.pending.push(record);
    }

    /// The next seq, reserving a block for the rest of the batch when the
    /// current one is used up (unused values leave harmless gaps).
    fn take_seq(
        &mut self,
        conn: &mut DbConnection,
        summary: &mut ImportSummary,
    ) -> Result<i64, StoreError> {
        if self.next_seq >= self.end_seq {
            let want = self.remaining.max(1) as i64;
            self.next_seq = model::records::reserve_seqs(conn, want)?;
            self.end_seq = self.next_seq + want;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        summary.written += 1;
        summary.max_seq = Some(summary.max_seq.map_or(seq, |s| s.max(seq)));
        Ok(seq)
    }

    fn remember(&mut self, record: StoredRecord) {
        self.known
            .entry(record.table_name.clone())
            .or_default()
            .insert(record.uuid.clone(), Slot::Stored(Box::new(record)));
    }
}

/// Where the batch keeps a record it knows: as stored, or new and waiting
/// in `pending` (so a new record is not copied twice).
enum Slot {
    Stored(Box<StoredRecord>),
    Pending(usize),
}

/// What one item does to the store.
enum Outcome {
    Written { id: i64, method: Method },
    Unchanged { id: i64, method: Method },
    Skipped,
    Rejected(String),
}

fn apply(
    conn: &mut DbConnection,
    item: Item,
    options: &ImportOptions,
    now: NaiveDateTime,
    summary: &mut ImportSummary,
    state: &mut BatchState,
) -> Result<(), StoreError> {
    let Item {
        mut record,
        parent,
        is_master,
    } = item;
    let outcome = match check(&record) {
        Some(reason) => Outcome::Rejected(reason),
        None => {
            let mut fields = std::mem::take(&mut record.fields);
            fields.retain(|f| !is_dropped_field(&record.table, f));
            decide_and_write(
                conn,
                &record,
                fields,
                parent.as_ref(),
                options,
                now,
                summary,
                state,
            )?
        }
    };
    let record = &record;
    match outcome {
        Outcome::Written { id, method } | Outcome::Unchanged { id, method } => {
            if is_master {
                summary.records += 1;
                match method {
                    Method::Create => summary.created.push(id),
                    Method::Update => summary.updated.push(id),
                    Method::Delete | Method::Merge => summary.deleted.push(id),
                }
                let mtime = record.modified_on.unwrap_or(now);
                if summary.youngest_master_mtime.is_none_or(|t| mtime > t) {
                    summary.youngest_master_mtime = Some(mtime);
                }
            }
        }
        Outcome::Skipped => summary.skipped += 1,
        Outcome::Rejected(reason) => {
            let mut raw = Vec::new();
            let _ = Writer::start(&mut raw, 1, &[]).and_then(|mut w| w.record(record).map(|_| w));
            let raw = String::from_utf8_lossy(&raw).into_owned();
            model::records::insert_rejected(
                conn,
                &NewRejectedItem {
                    run_id: options.run_id,
                    repository_id: options.repository_id,
                    table_name: &record.table,
                    uuid: record.uuid.as_deref(),
                    reason: &reason,
                    raw_element: &raw,
                    created_at: now,
                },
            )?;
            summary.rejected.push(Rejection {
                table: record.table.clone(),
                uuid: record.uuid.clone(),
                reason,
            });
        }
    }
    Ok(())
}

/// Why a record cannot be stored at all, if it cannot.
fn check(record: &Record) -> Option<String> {
    if !is_valid_table_name(&record.table) {
        return Some(format!("'{}' is not a valid table name", record.table));
    }
    if !record.problems.is_empty() {
        return Some(record.problems.join("; "));
    }
    None
}

/// Eden's `auth_user` exports carry password hashes: never store them.
fn is_dropped_field(table: &str, field: &Field) -> bool {
    table == "auth_user" && matches!(field, Field::Data(d) if d.field == "password")
}

#[allow(clippy::too_many_arguments)]
fn decide_and_write(
    conn: &mut DbConnection,
    record: &Record,
    fields: Vec<Field>,
    parent: Option<&(String, String)>,
    options: &ImportOptions,
    now: NaiveDateTime,
    summary: &mut ImportSummary,
    state: &mut BatchState,
) -> Result<Outcome, StoreError> {
    let uuid = record.uuid.as_deref().unwrap_or_default();
    let existing = state.get(&record.table, uuid).cloned();
    let parent_id = match parent {
        Some((table, parent_uuid)) => state.get(table, parent_uuid).map(|p| p.id),
        None => existing.as_ref().and_then(|e| e.parent_id),
    };
    let method = match (&existing, record.deleted, &record.replaced_by) {
        (_, true, Some(_)) => Method::Merge,
        (_, true, None) => Method::Delete,
        (Some(_), false, _) => Method::Update,
        (None, false, _) => Method::Create,
    };
    if !options.strategy.allows(method) {
        return Ok(Outcome::Skipped);
    }
    let incoming = Incoming {
        mtime: record.modified_on.unwrap_or(now),
        mci: record.mci.unwrap_or(DEFAULT_MCI),
    };

    let Some(existing) = existing else {
        // A new record; a delete of a record we never had is kept as a
        // tombstone so that relays pass it on.
        let body = Body {
            attributes: record.attributes.clone(),
            fields,
        };
        let seq = state.take_seq(conn, summary)?;
        let id = state.next_id;
        state.next_id += 1;
        state.pending_refs.extend(index_entries(id, &body));
        let stored = StoredRecord {
            id,
            table_name: record.table.clone(),
            uuid: uuid.to_string(),
            mci: incoming.mci,
            created_on: record.created_on.or(record.modified_on),
            modified_on: Some(incoming.mtime),
            deleted: record.deleted,
            replaced_by: record.replaced_by.clone(),
            parent_id,
            alias: record.alias.clone(),
            body: body.to_json(),
            seq,
            stored_at: now,
            origin_repository_id: options.repository_id,
            changed_by_repository_id: options.repository_id,
        };
        state.add(stored);
        return Ok(Outcome::Written { id, method });
    };

    let local = Local {
        modified_on: existing.modified_on.unwrap_or(existing.stored_at),
        mci: existing.mci,
        deleted: existing.deleted,
        from_this_peer: options.repository_id.is_some()
            && existing.changed_by_repository_id == options.repository_id,
    };
    let in_conflict = policy::is_conflict(&local, &incoming, options.last_sync)
        && !policy::conflict_accepts(options.conflict_policy, &local, &incoming);

    match method {
        // (`Create` only ever comes with no existing record, handled above.)
        Method::Create | Method::Update => {
            let method = Method::Update;
            if in_conflict {
                // Kept local, but listed as updated, as Eden does.
                summary.skipped += 1;
                return Ok(Outcome::Unchanged {
                    id: existing.id,
                    method,
                });
            }
            // Bringing a deleted record back follows the update policy too.
            let undelete =
                local.deleted && policy::update_accepts(options.update_policy, &local, &incoming);
            if local.deleted && !undelete {
                summary.unchanged += 1;
                return Ok(Outcome::Unchanged {
                    id: existing.id,
                    method,
                });
            }
            let accept_fields = policy::update_accepts(options.update_policy, &local, &incoming);
            let mut body = Body::from_json(&existing.body)?;
            let changed_fields = accept_fields && body.merge_fields(&fields);
            let moved = parent_id != existing.parent_id;
            if !changed_fields && !undelete && !moved {
                summary.unchanged += 1;
                return Ok(Outcome::Unchanged {
                    id: existing.id,
                    method,
                });
            }
            if changed_fields {
                body.attributes = record.attributes.clone();
            }
            let body_json = body.to_json();
            let seq = state.take_seq(conn, summary)?;
            let alias = record.alias.clone().or(existing.alias.clone());
            state.flush(conn)?;
            model::records::update(
                conn,
                existing.id,
                &RecordChange {
                    modified_on: Some(incoming.mtime),
                    deleted: false,
                    replaced_by: None,
                    parent_id,
                    alias: alias.as_deref(),
                    body: &body_json,
                    seq,
                    stored_at: now,
                    changed_by_repository_id: options.repository_id,
                },
            )?;
            model::records::replace_refs(conn, existing.id, &index_entries(existing.id, &body))?;
            let id = existing.id;
            state.remember(StoredRecord {
                modified_on: Some(incoming.mtime),
                deleted: false,
                replaced_by: None,
                parent_id,
                alias,
                body: body_json,
                seq,
                stored_at: now,
                changed_by_repository_id: options.repository_id,
                ..existing
            });
            Ok(Outcome::Written { id, method })
        }
        Method::Delete | Method::Merge => {
            if in_conflict || !policy::delete_accepts(options.update_policy, &local, &incoming) {
                return Ok(Outcome::Skipped);
            }
            if existing.deleted && existing.replaced_by == record.replaced_by {
                summary.unchanged += 1;
                return Ok(Outcome::Unchanged {
                    id: existing.id,
                    method,
                });
            }
            let seq = state.take_seq(conn, summary)?;
            state.flush(conn)?;
            model::records::update(
                conn,
                existing.id,
                &RecordChange {
                    modified_on: Some(incoming.mtime),
                    deleted: true,
                    replaced_by: record.replaced_by.as_deref(),
                    parent_id: existing.parent_id,
                    alias: existing.alias.as_deref(),
                    // The last body stays: filters still see it after deletion.
                    body: &existing.body,
                    seq,
                    stored_at: now,
                    changed_by_repository_id: options.repository_id,
                },
            )?;
            if let Some(survivor) = &record.replaced_by {
                repoint_references(conn, &existing, survivor, options, now, summary, state)?;
            }
            let id = existing.id;
            state.remember(StoredRecord {
                modified_on: Some(incoming.mtime),
                deleted: true,
                replaced_by: record.replaced_by.clone(),
                seq,
                stored_at: now,
                changed_by_repository_id: options.repository_id,
                ..existing
            });
            Ok(Outcome::Written { id, method })
        }
    }
}

fn index_entries(record_id: i64, body: &Body) -> Vec<NewRecordRef> {
    body.references()
        .into_iter()
        .map(|(field, ref_table, ref_uuid)| NewRecordRef {
            record_id,
            field,
            ref_table,
            ref_uuid,
        })
        .collect()
}

/// After a merge, references to the duplicate point to the survivor. Each
/// record changed that way takes a new seq (it really changed).
fn repoint_references(
    conn: &mut DbConnection,
    duplicate: &StoredRecord,
    survivor: &str,
    options: &ImportOptions,
    now: NaiveDateTime,
    summary: &mut ImportSummary,
    state: &mut BatchState,
) -> Result<(), StoreError> {
    for record_id in model::records::referencing(conn, &duplicate.table_name, &duplicate.uuid)? {
        let Some(referrer) = model::records::find_by_id(conn, record_id)? else {
            continue;
        };
        let mut body = Body::from_json(&referrer.body)?;
        if !body.replace_reference(&duplicate.table_name, &duplicate.uuid, survivor) {
            continue;
        }
        let body_json = body.to_json();
        let seq = state.take_seq(conn, summary)?;
        model::records::update(
            conn,
            referrer.id,
            &RecordChange {
                modified_on: referrer.modified_on,
                deleted: referrer.deleted,
                replaced_by: referrer.replaced_by.as_deref(),
                parent_id: referrer.parent_id,
                alias: referrer.alias.as_deref(),
                body: &body_json,
                seq,
                stored_at: now,
                changed_by_repository_id: options
                    .repository_id
                    .or(referrer.changed_by_repository_id),
            },
        )?;
        model::records::replace_refs(conn, referrer.id, &index_entries(referrer.id, &body))?;
        if state.get(&referrer.table_name, &referrer.uuid).is_some() {
            state.remember(StoredRecord {
                body: body_json,
                seq,
                stored_at: now,
                ..referrer
            });
        }
    }
    Ok(())
}
