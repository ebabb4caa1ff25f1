//! Importing S3XML records into the store with Eden's semantics: match by
//! (table, uuid), strategy, conflicts, update and conflict policies, soft
//! deletes, merges, components and document-local `tuid` references.
//! Records are committed in batches, one transaction each; every real change
//! takes the next node-wide `seq`, an unchanged record keeps its own.
//! Here the rules decide; `batch` carries the writes out.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::Connection;

use super::StoreError;
use super::admission;
use super::batch::{BatchState, Version};
use super::body::{Body, Difference};
use super::policy::{self, Incoming, Local, Method, Policy, Strategy};
use super::review::BatchQueue;
pub use super::summary::{ImportSummary, MasterCounts, Rejection};
use crate::db::{self, DbConnection};
use crate::model;
use crate::model::records::StoredRecord;
use crate::s3xml::{Field, ReadError, Record};
use crate::vocabulary::ConflictWinner;

/// Eden's default `mci` for an element without one.
const DEFAULT_MCI: i32 = 2;

/// The largest record kept unless configured otherwise: a real Eden record
/// is about a kilobyte; 4 MiB is far above any.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 4 << 20;

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
    /// The tables the peer may write (`None`: all). A record of another
    /// table, at any depth, is refused and kept among the rejected items.
    pub table_scope: Option<Vec<String>>,
    /// The largest record kept, in bytes of its fields and attributes.
    pub max_record_bytes: u64,
    /// Incoming versions the update policy does not take wait in the
    /// review queue (the task's switch; conflicts always do).
    pub review_kept_updates: bool,
}

impl ImportOptions {
    /// Whether top-level records of `table` are the import's masters.
    fn is_master_table(&self, table: &str) -> bool {
        self.resource.as_deref().is_none_or(|r| r == table)
    }
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
            table_scope: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            review_kept_updates: false,
        }
    }
}

/// One record to store, taken out of its document.
pub(super) struct Item {
    pub(super) record: Record,
    /// The master record this component belongs to.
    pub(super) parent: Option<(String, String)>,
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
        if options.is_master_table(&record.table) {
            importer.summary.read_master(record.modified_on);
        }
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
        let is_master =
            top_level && parent.is_none() && self.options.is_master_table(&record.table);
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
        let options = self.options;
        let now = self.now;
        let work = |conn: &mut DbConnection| {
            // The counter's lock first: importers commit in seq order, and
            // what we read below cannot change under us.
            model::records::lock_seq(conn)?;
            let state = BatchState::load(conn, &batch, now, options.repository_id)?;
            let writer = BatchWriter {
                options,
                now,
                queue: BatchQueue::default(),
                // A copy: it becomes ours only once the batch is written.
                summary: self.summary.clone(),
                state,
            };
            writer.write_all(conn, batch)
        };
        // Inside the caller's transaction (all or nothing) the batch is part
        // of it: a savepoint per batch would only copy every page it touches
        // to the statement journal.
        self.summary = if db::in_transaction(conn) {
            work(conn)?
        } else {
            conn.transaction(work)?
        };
        Ok(())
    }
}

/// Writes one batch by Eden's rules.
struct BatchWriter<'a> {
    options: &'a ImportOptions,
    now: NaiveDateTime,
    /// What the batch adds to the review queue, and resolves in it.
    queue: BatchQueue,
    summary: ImportSummary,
    state: BatchState,
}

/// One valid incoming record, as the rules see it.
pub(super) struct Change<'r> {
    pub(super) record: &'r Record,
    /// Its fields, less those never stored.
    pub(super) fields: Vec<Field>,
    /// Its parent's local id: the master it comes with, else the one it has.
    pub(super) parent_id: Option<i64>,
    method: Method,
    pub(super) incoming: Incoming,
}

/// What the policies make of an incoming copy of a record we hold.
enum Decision {
    /// Refused: counted as skipped, not listed.
    Skip,
    /// The policies keep the local copy: counted as skipped, but listed as
    /// updated, as Eden does.
    KeepLocal,
    /// Nothing changes: counted as unchanged, listed.
    Unchanged,
    /// A new version: write this body (the incoming fields merged in) with
    /// the incoming `modified_on`; a deleted record comes back.
    Update(Body),
    /// The same version, shown differently by its origin (display texts
    /// of references, attributes): write this body and keep the stored
    /// version (`modified_on`, where it came from), so no policy takes it
    /// for a newer one.
    Refresh(Body),
    /// Mark the record deleted (or merged into `replaced_by`).
    Delete,
}

/// What one item does to the store.
enum Outcome {
    Written { id: i64, method: Method },
    Unchanged { id: i64, method: Method },
    KeptLocal { id: i64, method: Method },
    Skipped,
}

impl BatchWriter<'_> {
    fn write_all(
        mut self,
        conn: &mut DbConnection,
        batch: Vec<Item>,
    ) -> Result<ImportSummary, StoreError> {
        let count = batch.len();
        for (i, item) in batch.into_iter().enumerate() {
            self.state.remaining = count - i;
            self.apply(conn, item)?;
        }
        self.state.finish(conn, &mut self.summary)?;
        Ok(self.summary)
    }

    fn apply(&mut self, conn: &mut DbConnection, item: Item) -> Result<(), StoreError> {
        let Item {
            mut record,
            parent,
            is_master,
        } = item;
        if let Some(reason) = admission::refusal(&record, self.options) {
            return self.reject(conn, &record, reason);
        }
        let mut fields = std::mem::take(&mut record.fields);
        fields.retain(|f| !admission::is_dropped_field(&record.table, f));
        let outcome = self.write(conn, &record, fields, parent.as_ref())?;
        if !is_master {
            if matches!(outcome, Outcome::Skipped) {
                self.summary.skipped += 1;
            }
            return Ok(());
        }
        let counts = &mut self.summary.masters;
        match outcome {
            Outcome::Written { id, method } => {
                match method {
                    Method::Create => counts.created += 1,
                    Method::Update => counts.updated += 1,
                    Method::Delete | Method::Merge => counts.deleted += 1,
                }
                self.list_master(&record, id, method);
            }
            Outcome::Unchanged { id, method } => {
                counts.unchanged += 1;
                self.list_master(&record, id, method);
            }
            Outcome::KeptLocal { id, method } => self.list_master(&record, id, method),
            Outcome::Skipped => self.summary.skipped += 1,
        }
        Ok(())
    }

    /// List a master record in the summary, under its method, as Eden's
    /// reply does.
    fn list_master(&mut self, record: &Record, id: i64, method: Method) {
        let summary = &mut self.summary;
        summary.records += 1;
        match method {
            Method::Create => summary.created.push(id),
            Method::Update => summary.updated.push(id),
            Method::Delete | Method::Merge => summary.deleted.push(id),
        }
        let mtime = record.modified_on.unwrap_or(self.now);
        if summary.youngest_master_mtime.is_none_or(|t| mtime > t) {
            summary.youngest_master_mtime = Some(mtime);
        }
    }

    /// Keep a record that cannot be stored (with its S3XML) in the review
    /// queue, and list it.
    fn reject(
        &mut self,
        conn: &mut DbConnection,
        record: &Record,
        reason: String,
    ) -> Result<(), StoreError> {
        self.queue
            .refused(conn, self.options, record, &reason, self.now)?;
        self.summary.rejected.push(Rejection {
            table: record.table.clone(),
            uuid: record.uuid.clone(),
            reason,
        });
        Ok(())
    }

    /// Match a valid record with the store, decide, and write.
    fn write(
        &mut self,
        conn: &mut DbConnection,
        record: &Record,
        fields: Vec<Field>,
        parent: Option<&(String, String)>,
    ) -> Result<Outcome, StoreError> {
        let existing = self.existing(record);
        let method = match (&existing, record.deleted, &record.replaced_by) {
            (_, true, Some(_)) => Method::Merge,
            (_, true, None) => Method::Delete,
            (Some(_), false, _) => Method::Update,
            (None, false, _) => Method::Create,
        };
        if !self.options.strategy.allows(method) {
            return Ok(Outcome::Skipped);
        }
        let change = Change {
            record,
            fields,
            parent_id: self.resolve_parent(parent, existing.as_ref()),
            method,
            incoming: Incoming {
                mtime: record.modified_on.unwrap_or(self.now),
                mci: record.mci.unwrap_or(DEFAULT_MCI),
            },
        };
        let Some(existing) = existing else {
            // A new record; a delete of a record we never had is kept as a
            // tombstone so that relays pass it on. (It may have been
            // refused before: that item is resolved by it.)
            self.queue.supersede(conn, record, self.now)?;
            let id = self.state.write_new(conn, change)?;
            return Ok(Outcome::Written { id, method });
        };
        let id = existing.id;
        let (decision, conflict) = self.decide(&change, &existing)?;
        if matches!(decision, Decision::Update(_) | Decision::Delete) {
            self.queue.supersede(conn, record, self.now)?;
        }
        if let Some((winner, in_conflict)) = conflict {
            self.queue.versions(
                conn,
                self.options,
                record,
                &change.fields,
                &existing,
                winner,
                in_conflict,
                self.now,
            )?;
        }
        match decision {
            Decision::Skip => Ok(Outcome::Skipped),
            Decision::KeepLocal => {
                self.summary.skipped += 1;
                Ok(Outcome::KeptLocal { id, method })
            }
            Decision::Unchanged => {
                self.summary.unchanged += 1;
                Ok(Outcome::Unchanged { id, method })
            }
            Decision::Update(body) => {
                self.state
                    .write_update(conn, &change, existing, body, Version::Incoming)?;
                Ok(Outcome::Written { id, method })
            }
            Decision::Refresh(body) => {
                self.state
                    .write_update(conn, &change, existing, body, Version::Kept)?;
                Ok(Outcome::Written { id, method })
            }
            Decision::Delete => {
                let scope = self.options.table_scope.as_deref();
                self.state.write_delete(conn, &change, existing, scope)?;
                Ok(Outcome::Written { id, method })
            }
        }
    }

    /// The stored record (table, uuid) names, as this batch knows it.
    fn existing(&self, record: &Record) -> Option<StoredRecord> {
        let uuid = record.uuid.as_deref().unwrap_or_default();
        self.state.get(&record.table, uuid).cloned()
    }

    /// A component belongs to the master it comes with (when we hold it);
    /// any other record keeps the parent it has.
    fn resolve_parent(
        &self,
        parent: Option<&(String, String)>,
        existing: Option<&StoredRecord>,
    ) -> Option<i64> {
        match parent {
            // A master of a table the peer may not write was refused: its
            // components do not attach to a record of that table we hold.
            Some((table, _)) if !admission::in_scope(table, self.options) => None,
            Some((table, parent_uuid)) => self.state.get(table, parent_uuid).map(|p| p.id),
            None => existing.and_then(|e| e.parent_id),
        }
    }

    /// Apply the conflict and update policies to an incoming copy of a
    /// record we hold; and, for two different versions one of which was
    /// kept out, which one was kept and whether it was a conflict (changed
    /// on both sides since the last sync) rather than the update policy.
    fn decide(
        &self,
        change: &Change,
        existing: &StoredRecord,
    ) -> Result<(Decision, Option<(ConflictWinner, bool)>), StoreError> {
        let options = self.options;
        let incoming = &change.incoming;
        let local = Local {
            modified_on: existing.modified_on.unwrap_or(existing.stored_at),
            mci: existing.mci,
            deleted: existing.deleted,
            from_this_peer: options.repository_id.is_some()
                && existing.changed_by_repository_id == options.repository_id,
        };
        // Only what a peer sends can conflict (a local file has no last sync).
        let conflict = options.repository_id.is_some()
            && policy::is_conflict(&local, incoming, options.last_sync);
        let in_conflict =
            conflict && !policy::conflict_accepts(options.conflict_policy, &local, incoming);
        match change.method {
            // (`Create` only ever comes with no existing record, handled
            // before.)
            Method::Create | Method::Update => {
                let mut body = Body::from_json(&existing.body)?;
                let difference = body.difference(&change.fields);
                let moved = change.parent_id != existing.parent_id;
                if !local.deleted
                    && !moved
                    && difference != Difference::Values
                    && change.record.modified_on == existing.modified_on
                {
                    return Ok((same_version(change, &local, body, difference), None));
                }
                // Two versions, not one shown twice: an identical copy is
                // never kept for review, and never a conflict is a newer
                // copy of what this peer sent us before (nothing changed
                // here).
                let two_versions =
                    local.deleted || matches!(difference, Difference::Values | Difference::Added);
                let differs = two_versions && !local.from_this_peer;
                // Bringing a deleted record back follows the update policy too.
                if !in_conflict && policy::update_accepts(options.update_policy, &local, incoming) {
                    body.merge_fields(&change.fields);
                    body.attributes = change.record.attributes.clone();
                    body.without_mci = change.record.mci.is_none();
                    let lost = (conflict && differs).then_some((ConflictWinner::Peer, true));
                    return Ok((Decision::Update(body), lost));
                }
                let older = incoming.mtime < local.modified_on;
                if !local.deleted && !moved && difference == Difference::None && older {
                    // An older copy of the values we hold.
                    return Ok((Decision::Unchanged, None));
                }
                // A conflict the policy decided, or (when the task asks) a
                // newer version the update policy kept out.
                let kept_out = options.review_kept_updates && !older;
                let kept = ((in_conflict && differs) || (kept_out && two_versions))
                    .then_some((ConflictWinner::Local, in_conflict));
                Ok((Decision::KeepLocal, kept))
            }
            Method::Delete | Method::Merge => {
                if existing.deleted && existing.replaced_by == change.record.replaced_by {
                    return Ok((Decision::Unchanged, None));
                }
                let ours = !local.from_this_peer;
                if in_conflict {
                    return Ok((
                        Decision::Skip,
                        ours.then_some((ConflictWinner::Local, true)),
                    ));
                }
                if !policy::delete_accepts(options.update_policy, &local, incoming) {
                    return Ok((Decision::Skip, None));
                }
                Ok((
                    Decision::Delete,
                    (conflict && ours).then_some((ConflictWinner::Peer, true)),
                ))
            }
        }
    }
}

/// The version we hold (same `modified_on`, same values), perhaps shown
/// differently: display texts follow the peer's current view of what
/// the record references, attributes the peer's own stamps. Only the
/// origin (`mci` 1) or the peer our version came from is followed:
/// another relay shows the same version its own way (its language, its
/// owners), and following each in turn would rewrite and resend the
/// record on every one of their re-pushes.
fn same_version(
    change: &Change,
    local: &Local,
    mut body: Body,
    difference: Difference,
) -> Decision {
    let record = change.record;
    let exact = difference == Difference::None
        && record.attributes == body.attributes
        && record.mci.is_none() == body.without_mci;
    let authoritative = record.mci == Some(1) || local.from_this_peer;
    // A fuller copy of the version (`Added`: a reference Eden's windowed
    // answer left out) completes it, from the same sources.
    if exact || !authoritative {
        return Decision::Unchanged;
    }
    body.merge_fields(&change.fields);
    body.attributes = record.attributes.clone();
    body.without_mci = record.mci.is_none();
    Decision::Refresh(body)
}
