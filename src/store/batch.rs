//! The store as one import batch sees and changes it: the records it read,
//! the seq values and ids it hands out, and the writes `import` decided on.
//! New records are inserted together; every real change takes a new seq.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::StoreError;
use super::body::Body;
use super::import::{Change, ImportSummary, Item};
use crate::db::DbConnection;
use crate::model;
use crate::model::records::{NewRecordRef, RecordChange, StoredRecord};

/// The batch's view of the store: the stored records its items name (read
/// in one query per table), kept current as the batch writes.
pub(super) struct BatchState {
    /// table → uuid → record.
    known: HashMap<String, HashMap<String, Slot>>,
    /// Reserved seq values not yet used: `next..end`.
    next_seq: i64,
    end_seq: i64,
    /// Items left in the batch, including the current one.
    pub(super) remaining: usize,
    /// The id the next new record gets (we hold the seq lock: no other
    /// writer inserts records meanwhile).
    next_id: i64,
    /// New records and their references, inserted together by `flush`.
    pending: Vec<StoredRecord>,
    pending_refs: Vec<NewRecordRef>,
    /// Every write is stamped with the import's time and the peer the
    /// records come from.
    now: NaiveDateTime,
    repository_id: Option<i64>,
    /// Records written (one seq each) and the highest seq, for the summary.
    written: u64,
    max_seq: Option<i64>,
}

/// Which version an update writes.
pub(super) enum Version {
    /// The incoming one: its `modified_on`, from the peer it came from.
    Incoming,
    /// The stored one, shown anew: `modified_on` and source stay.
    Kept,
}

/// Where the batch keeps a record it knows: as stored, or new and waiting
/// in `pending` (so a new record is not copied twice).
enum Slot {
    Stored(Box<StoredRecord>),
    Pending(usize),
}

impl BatchState {
    pub(super) fn load(
        conn: &mut DbConnection,
        batch: &[Item],
        now: NaiveDateTime,
        repository_id: Option<i64>,
    ) -> Result<BatchState, StoreError> {
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
            now,
            repository_id,
            written: 0,
            max_seq: None,
        })
    }

    /// Insert what is still pending and count the batch's writes in the
    /// summary.
    pub(super) fn finish(
        mut self,
        conn: &mut DbConnection,
        summary: &mut ImportSummary,
    ) -> Result<(), StoreError> {
        self.flush(conn)?;
        summary.written += self.written;
        summary.max_seq = summary.max_seq.max(self.max_seq);
        Ok(())
    }

    pub(super) fn get(&self, table: &str, uuid: &str) -> Option<&StoredRecord> {
        match self.known.get(table)?.get(uuid)? {
            Slot::Stored(record) => Some(record.as_ref()),
            Slot::Pending(index) => self.pending.get(*index),
        }
    }

    /// Store a record we do not hold (inserted with the next flush);
    /// returns its id.
    pub(super) fn write_new(
        &mut self,
        conn: &mut DbConnection,
        change: Change,
    ) -> Result<i64, StoreError> {
        let Change {
            record,
            fields,
            parent_id,
            incoming,
            ..
        } = change;
        let body = Body {
            attributes: record.attributes.clone(),
            fields,
            without_mci: record.mci.is_none(),
        };
        let seq = self.take_seq(conn)?;
        let id = self.next_id;
        self.next_id += 1;
        self.pending_refs.extend(index_entries(id, &body));
        self.add(StoredRecord {
            id,
            table_name: record.table.clone(),
            uuid: record.uuid.clone().unwrap_or_default(),
            mci: incoming.mci,
            // As received: what the peer did not send is not invented.
            created_on: record.created_on,
            modified_on: record.modified_on,
            deleted: record.deleted,
            replaced_by: record.replaced_by.clone(),
            parent_id,
            alias: record.alias.clone(),
            body: body.to_json(),
            seq,
            stored_at: self.now,
            origin_repository_id: self.repository_id,
            changed_by_repository_id: self.repository_id,
        });
        Ok(id)
    }

    /// Update a record we hold to `body`, as `version` (a deleted one
    /// comes back).
    pub(super) fn write_update(
        &mut self,
        conn: &mut DbConnection,
        change: &Change,
        existing: StoredRecord,
        body: Body,
        version: Version,
    ) -> Result<i64, StoreError> {
        let (modified_on, changed_by) = match version {
            Version::Incoming => (change.record.modified_on, self.repository_id),
            Version::Kept => (existing.modified_on, existing.changed_by_repository_id),
        };
        let body_json = body.to_json();
        let seq = self.take_seq(conn)?;
        let alias = change.record.alias.clone().or(existing.alias.clone());
        self.flush(conn)?;
        model::records::update(
            conn,
            existing.id,
            &RecordChange {
                modified_on,
                deleted: false,
                replaced_by: None,
                parent_id: change.parent_id,
                alias: alias.as_deref(),
                body: &body_json,
                seq,
                stored_at: self.now,
                changed_by_repository_id: changed_by,
            },
        )?;
        model::records::replace_refs(conn, existing.id, &index_entries(existing.id, &body))?;
        let id = existing.id;
        self.remember(StoredRecord {
            modified_on,
            deleted: false,
            replaced_by: None,
            parent_id: change.parent_id,
            alias,
            body: body_json,
            seq,
            stored_at: self.now,
            changed_by_repository_id: changed_by,
            ..existing
        });
        Ok(id)
    }

    /// Mark a record we hold deleted, or merged into the survivor the
    /// change names.
    pub(super) fn write_delete(
        &mut self,
        conn: &mut DbConnection,
        change: &Change,
        existing: StoredRecord,
        // The tables the peer may write: references elsewhere stay.
        scope: Option<&[String]>,
    ) -> Result<i64, StoreError> {
        let replaced_by = &change.record.replaced_by;
        let seq = self.take_seq(conn)?;
        self.flush(conn)?;
        model::records::update(
            conn,
            existing.id,
            &RecordChange {
                modified_on: change.record.modified_on,
                deleted: true,
                replaced_by: replaced_by.as_deref(),
                parent_id: existing.parent_id,
                alias: existing.alias.as_deref(),
                // The last body stays: filters still see it after deletion.
                body: &existing.body,
                seq,
                stored_at: self.now,
                changed_by_repository_id: self.repository_id,
            },
        )?;
        if let Some(survivor) = replaced_by {
            self.repoint_references(conn, &existing, survivor, scope)?;
        }
        let id = existing.id;
        self.remember(StoredRecord {
            modified_on: change.record.modified_on,
            deleted: true,
            replaced_by: replaced_by.clone(),
            seq,
            stored_at: self.now,
            changed_by_repository_id: self.repository_id,
            ..existing
        });
        Ok(id)
    }

    /// After a merge, references to the duplicate point to the survivor. Each
    /// record changed that way takes a new seq (it really changed).
    fn repoint_references(
        &mut self,
        conn: &mut DbConnection,
        duplicate: &StoredRecord,
        survivor: &str,
        scope: Option<&[String]>,
    ) -> Result<(), StoreError> {
        for record_id in model::records::referencing(conn, &duplicate.table_name, &duplicate.uuid)?
        {
            let Some(referrer) = model::records::find_by_id(conn, record_id)? else {
                continue;
            };
            if scope.is_some_and(|tables| !tables.contains(&referrer.table_name)) {
                continue;
            }
            let mut body = Body::from_json(&referrer.body)?;
            if !body.replace_reference(&duplicate.table_name, &duplicate.uuid, survivor) {
                continue;
            }
            let body_json = body.to_json();
            let seq = self.take_seq(conn)?;
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
                    stored_at: self.now,
                    changed_by_repository_id: self
                        .repository_id
                        .or(referrer.changed_by_repository_id),
                },
            )?;
            model::records::replace_refs(conn, referrer.id, &index_entries(referrer.id, &body))?;
            if self.get(&referrer.table_name, &referrer.uuid).is_some() {
                self.remember(StoredRecord {
                    body: body_json,
                    seq,
                    stored_at: self.now,
                    ..referrer
                });
            }
        }
        Ok(())
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
    fn take_seq(&mut self, conn: &mut DbConnection) -> Result<i64, StoreError> {
        if self.next_seq >= self.end_seq {
            let want = self.remaining.max(1) as i64;
            self.next_seq = model::records::reserve_seqs(conn, want)?;
            self.end_seq = self.next_seq + want;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.written += 1;
        self.max_seq = self.max_seq.max(Some(seq));
        Ok(seq)
    }

    /// A stored record as the batch changed it.
    fn remember(&mut self, record: StoredRecord) {
        self.known
            .entry(record.table_name.clone())
            .or_default()
            .insert(record.uuid.clone(), Slot::Stored(Box::new(record)));
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
