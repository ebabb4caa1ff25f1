//! Exporting a table as S3XML: masters selected by `msince` or by seq
//! (`since_seq` + `limit`), sync filters, components nested under their
//! master, referenced records appended as top-level dependencies. Records
//! are read page by page and written as they come.

use std::io::Write;

use chrono::{NaiveDateTime, SubsecRound};

use super::StoreError;
use super::body::Body;
use super::filter::Filter;
use crate::db::{self, DbConnection};
use crate::model;
use crate::model::records::StoredRecord;
use crate::s3xml::{DocumentWriter, Format, Record};

/// Records read per query.
const PAGE: i64 = 500;
/// How far references are followed (Eden's MAXDEPTH for dependencies).
const MAX_DEPENDENCY_DEPTH: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    pub table: String,
    /// Masters modified (or stored here) at or after this time.
    pub msince: Option<NaiveDateTime>,
    /// Masters with a seq above this one.
    pub since_seq: Option<i64>,
    /// At most this many masters (paged exports between edensync nodes,
    /// documents pushed to Eden).
    pub limit: Option<u64>,
    /// The reader pages by seq (an edensync peer): the root says whether
    /// more follows (`more`, `next_seq`). Eden gets Eden's root.
    pub paged_reader: bool,
    /// The paged reader asked how many masters follow this page: the root
    /// says (`remaining`), counted exactly, once per pull.
    pub count_remaining: bool,
    pub filters: Vec<Filter>,
    /// Leave out masters whose current version came from this repository
    /// (a push never sends a peer its own changes back).
    pub exclude_changed_by: Option<i64>,
    /// Nest components under their masters.
    pub components: bool,
    /// The tables the reader may receive (`None`: all): components and
    /// dependencies of other tables are left out.
    pub table_scope: Option<Vec<String>>,
    /// Root attributes after `results` (`domain`, `url`).
    pub root_attributes: Vec<(String, String)>,
    /// S3XML, or JSON lines for an edensync peer that asked for them.
    pub format: Format,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportOutcome {
    /// Masters written.
    pub results: u64,
    pub dependencies: u64,
    /// The highest seq among the masters written.
    pub max_seq: Option<i64>,
    /// The youngest `modified_on` among the masters written.
    pub youngest_modified_on: Option<NaiveDateTime>,
    /// More masters are selected than `limit` let through.
    pub more: bool,
    /// Masters selected after this page, when the request counted them.
    pub remaining: Option<u64>,
    /// Records of the table held only as components (no join reference
    /// known), which cannot be exported as masters.
    pub not_exportable: u64,
    /// The node's seq when the export was read: everything up to it was
    /// considered.
    pub snapshot_seq: i64,
    /// The answer was selected exactly, by seq, from an earlier answer.
    pub exact: bool,
}

/// Export a pull answer for a peer: when the
/// peer's `msince` is the one an earlier answer to it implies (its youngest
/// `modified_on` plus Eden's extra second), select by seq after that
/// answer, exactly and independent of clocks; otherwise fall back to
/// `msince`. Every answer is remembered for the next request.
pub fn serve_pull<W: Write>(
    conn: &mut DbConnection,
    request: &ExportRequest,
    peer: Option<i64>,
    out: W,
) -> Result<(ExportOutcome, W), StoreError> {
    let mut request = request.clone();
    let mut exact = false;
    if let (Some(peer), Some(msince)) = (peer, request.msince)
        && let Some(seen) = model::served_watermarks::find(conn, peer, &request.table, msince)?
    {
        request.msince = None;
        request.since_seq = Some(seen.max(request.since_seq.unwrap_or(0)));
        exact = true;
    }
    let asked_msince = request.msince;
    let (mut outcome, out) = export(conn, &request, out)?;
    outcome.exact = exact;
    if let Some(peer) = peer {
        // What Eden will send next: the youngest modified_on it received,
        // to the second, plus one second; unchanged if it received nothing.
        let implied = match outcome.youngest_modified_on {
            Some(youngest) => Some(youngest.trunc_subsecs(0) + chrono::Duration::seconds(1)),
            None if exact => None,
            None => asked_msince,
        };
        let covered = if outcome.more {
            outcome.max_seq
        } else {
            Some(outcome.snapshot_seq)
        };
        if let (Some(implied), Some(covered)) = (implied, covered) {
            model::served_watermarks::record(
                conn,
                peer,
                &request.table,
                implied,
                covered,
                model::now(),
            )?;
        }
    }
    Ok((outcome, out))
}

impl ExportRequest {
    /// Whether the reader may receive records of `table`.
    fn may_receive(&self, table: &str) -> bool {
        self.table_scope
            .as_ref()
            .is_none_or(|scope| scope.iter().any(|t| t == table))
    }
}

/// Write the export to `out` and report what it held.
pub fn export<W: Write>(
    conn: &mut DbConnection,
    request: &ExportRequest,
    out: W,
) -> Result<(ExportOutcome, W), StoreError> {
    // Both passes must see the same records.
    db::snapshot_transaction(conn, |conn| {
        let mut outcome = ExportOutcome {
            snapshot_seq: model::records::current_seq(conn)?,
            ..ExportOutcome::default()
        };
        let last_seq = count_masters(conn, request, &mut outcome)?;
        let mut root: Vec<(&str, &str)> = request
            .root_attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let more = outcome.more.to_string();
        // Where the next page starts: after the last master sent, or, when
        // this page is the last, after everything this export considered.
        let next = if outcome.more {
            last_seq.unwrap_or(outcome.snapshot_seq)
        } else {
            outcome.snapshot_seq
        }
        .to_string();
        let remaining = outcome.remaining.map(|n| n.to_string());
        if request.paged_reader {
            root.push(("more", &more));
            root.push(("next_seq", &next));
            if let Some(remaining) = &remaining {
                root.push(("remaining", remaining));
            }
        }
        if outcome.results == 0 {
            return Ok((outcome, DocumentWriter::empty(request.format, out, &root)?));
        }
        let mut writer = DocumentWriter::start(request.format, out, outcome.results, &root)?;
        model::export_dependencies::prepare(conn)?;
        let mut position = 0;
        for_each_master(conn, request, last_seq, |conn, master| {
            let mut refs = Vec::new();
            let record = to_record(conn, request, &master, request.components, &mut refs)?;
            model::export_dependencies::queue(conn, &refs, 1, &mut position)?;
            writer.record(&record)?;
            Ok(())
        })?;
        loop {
            let next = model::export_dependencies::take(conn, PAGE)?;
            if next.is_empty() {
                break;
            }
            for (table, uuid, depth) in next {
                let Some(stored) = model::records::find(conn, &table, &uuid)? else {
                    continue;
                };
                let written_as_master =
                    table == request.table && is_selected_master(conn, request, last_seq, &stored)?;
                if written_as_master
                    || !request.may_receive(&table)
                    || !passes_filters(&request.filters, Some(&table), &stored)?
                {
                    continue;
                }
                let mut refs = Vec::new();
                let record = to_record(conn, request, &stored, false, &mut refs)?;
                if (depth as usize) < MAX_DEPENDENCY_DEPTH {
                    model::export_dependencies::queue(conn, &refs, depth + 1, &mut position)?;
                }
                writer.record(&record)?;
                outcome.dependencies += 1;
            }
        }
        model::export_dependencies::clear(conn)?;
        let out = writer.finish()?;
        Ok((outcome, out))
    })
}

/// First pass: count the masters the export will hold and find the last
/// seq it reaches (the bound of the second pass); when asked, count on to
/// the end the masters after it.
fn count_masters(
    conn: &mut DbConnection,
    request: &ExportRequest,
    outcome: &mut ExportOutcome,
) -> Result<Option<i64>, StoreError> {
    if request.count_remaining {
        outcome.remaining = Some(0);
    }
    let mut last_seq = None;
    let mut scratch = ExportOutcome::default();
    let limit = request.limit.unwrap_or(u64::MAX);
    let mut after = request.since_seq.unwrap_or(0);
    loop {
        let page = model::records::page_of_table(
            conn,
            &request.table,
            after,
            request.msince,
            None,
            request.exclude_changed_by,
            PAGE,
        )?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in page {
            // Past the page, only counted: what is found there is not this
            // page's.
            let counted = if outcome.more {
                &mut scratch
            } else {
                &mut *outcome
            };
            if !is_master(conn, &record, counted)?
                || !passes_filters(&request.filters, None, &record)?
            {
                continue;
            }
            if outcome.more || outcome.results == limit {
                outcome.more = true;
                match &mut outcome.remaining {
                    Some(n) => *n += 1,
                    None => return Ok(last_seq),
                }
                continue;
            }
            outcome.results += 1;
            last_seq = Some(record.seq);
            outcome.max_seq = Some(record.seq);
            if let Some(modified_on) = record.modified_on
                && outcome.youngest_modified_on.is_none_or(|t| modified_on > t)
            {
                outcome.youngest_modified_on = Some(modified_on);
            }
        }
    }
    Ok(last_seq)
}

/// Whether a record is one of the masters this export wrote.
fn is_selected_master(
    conn: &mut DbConnection,
    request: &ExportRequest,
    last_seq: Option<i64>,
    record: &StoredRecord,
) -> Result<bool, StoreError> {
    let in_range = record.seq > request.since_seq.unwrap_or(0)
        && last_seq.is_some_and(|last| record.seq <= last)
        && request
            .exclude_changed_by
            .is_none_or(|peer| record.changed_by_repository_id != Some(peer));
    let recent = request.msince.is_none_or(|since| {
        record.modified_on.is_some_and(|m| m >= since) || record.stored_at >= since
    });
    Ok(in_range
        && recent
        && is_master(conn, record, &mut ExportOutcome::default())?
        && passes_filters(&request.filters, None, record)?)
}

/// Second pass: every selected master up to `last_seq`, in seq order.
fn for_each_master(
    conn: &mut DbConnection,
    request: &ExportRequest,
    last_seq: Option<i64>,
    mut write: impl FnMut(&mut DbConnection, StoredRecord) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let Some(last_seq) = last_seq else {
        return Ok(());
    };
    let mut after = request.since_seq.unwrap_or(0);
    let mut ignored = ExportOutcome::default();
    loop {
        let page = model::records::page_of_table(
            conn,
            &request.table,
            after,
            request.msince,
            Some(last_seq),
            request.exclude_changed_by,
            PAGE,
        )?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in page {
            if is_master(conn, &record, &mut ignored)?
                && passes_filters(&request.filters, None, &record)?
            {
                write(conn, record)?;
            }
        }
    }
    Ok(())
}

/// A record can be a master unless we hold it only as a component: then
/// its join reference to the parent is unknown.
fn is_master(
    conn: &mut DbConnection,
    record: &StoredRecord,
    outcome: &mut ExportOutcome,
) -> Result<bool, StoreError> {
    let Some(parent_id) = record.parent_id else {
        return Ok(true);
    };
    let Some(parent) = model::records::find_by_id(conn, parent_id)? else {
        return Ok(true);
    };
    let joined = Body::from_json(&record.body)?
        .references()
        .iter()
        .any(|(_, table, uuid)| *table == parent.table_name && *uuid == parent.uuid);
    if !joined {
        outcome.not_exportable += 1;
    }
    Ok(joined)
}

/// Filters of `table` (`None`: the master table) applied to a record.
fn passes_filters(
    filters: &[Filter],
    table: Option<&str>,
    record: &StoredRecord,
) -> Result<bool, StoreError> {
    let relevant: Vec<&Filter> = filters
        .iter()
        .filter(|f| f.table.as_deref() == table)
        .collect();
    if relevant.is_empty() {
        return Ok(true);
    }
    let body = Body::from_json(&record.body)?;
    Ok(relevant
        .iter()
        .all(|f| f.matches(record.deleted, &body.fields)))
}

/// The S3XML form of a stored record: `mci` + 1 as Eden exports it (none
/// when none came), the times as received, its
/// components nested, and its references queued as dependencies.
fn to_record(
    conn: &mut DbConnection,
    request: &ExportRequest,
    stored: &StoredRecord,
    with_components: bool,
    dependencies: &mut Vec<(String, String)>,
) -> Result<Record, StoreError> {
    let body = Body::from_json(&stored.body)?;
    if !stored.deleted {
        // A record referring to itself (a root organisation) is no dependency.
        dependencies.extend(
            body.references()
                .into_iter()
                .filter(|(_, table, uuid)| *table != stored.table_name || *uuid != stored.uuid)
                .map(|(_, table, uuid)| (table, uuid)),
        );
    }
    let mut record = Record {
        table: stored.table_name.clone(),
        alias: stored.alias.clone(),
        uuid: Some(stored.uuid.clone()),
        // Left out when it came without one, as Eden's super-entity rows do.
        mci: (!body.without_mci).then_some(stored.mci + 1),
        deleted: stored.deleted,
        replaced_by: stored.replaced_by.clone(),
        created_on: stored.created_on,
        modified_on: stored.modified_on,
        attributes: body.attributes,
        fields: body.fields,
        ..Record::default()
    };
    if with_components && !stored.deleted {
        for component in model::records::components_of(conn, stored.id)? {
            if request.may_receive(&component.table_name) {
                record
                    .components
                    .push(to_record(conn, request, &component, true, dependencies)?);
            }
        }
    }
    Ok(record)
}
