//! Which records may be stored at all: a valid table name and times, a
//! table the peer may write, a size within the limit. A record refused here
//! is kept for review with its element (shortened when huge) and the reason.

use super::{ImportOptions, is_valid_table_name};
use crate::s3xml::{Field, Record, Writer};

/// How much of a refused record's element is kept for review.
const MAX_RAW_ELEMENT_BYTES: usize = 64 * 1024;

/// Why a record cannot be stored, if it cannot.
pub(super) fn refusal(record: &Record, options: &ImportOptions) -> Option<String> {
    check(record)
        .or_else(|| out_of_scope(record, options.table_scope.as_deref()))
        .or_else(|| too_large(record, options.max_record_bytes))
}

/// Whether the peer may write records of `table`.
pub(super) fn in_scope(table: &str, options: &ImportOptions) -> bool {
    options
        .table_scope
        .as_ref()
        .is_none_or(|scope| scope.iter().any(|t| t == table))
}

/// Why the peer may not write this record, if it may not.
fn out_of_scope(record: &Record, scope: Option<&[String]>) -> Option<String> {
    let scope = scope?;
    (!scope.contains(&record.table)).then(|| {
        format!(
            "this peer may not write the table {} (its repository is limited to {})",
            record.table,
            scope.join(", ")
        )
    })
}

/// The record's S3XML, for review: at most 64 KiB of it (the rest is not
/// even written out).
pub(super) fn raw_element(record: &Record) -> String {
    let mut raw = Capped {
        kept: Vec::new(),
        total: 0,
    };
    let _ = Writer::start(&mut raw, 1, &[]).and_then(|mut w| w.record(record).map(|_| w));
    let kept = String::from_utf8_lossy(&raw.kept).into_owned();
    if raw.total <= MAX_RAW_ELEMENT_BYTES {
        return kept;
    }
    format!(
        "{kept}… ({} bytes, the first {MAX_RAW_ELEMENT_BYTES} kept)",
        raw.total
    )
}

/// Keeps the first [`MAX_RAW_ELEMENT_BYTES`] written, counts the rest.
struct Capped {
    kept: Vec<u8>,
    total: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = MAX_RAW_ELEMENT_BYTES.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&buf[..buf.len().min(room)]);
        self.total += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

/// Why a record is too large to keep, if it is: its fields and attributes
/// (components are records of their own).
fn too_large(record: &Record, limit: u64) -> Option<String> {
    let pairs = |attributes: &[(String, String)]| -> usize {
        attributes.iter().map(|(k, v)| k.len() + v.len()).sum()
    };
    let fields: usize = record
        .fields
        .iter()
        .map(|field| match field {
            Field::Data(d) => {
                d.field.len()
                    + d.text.len()
                    + [&d.value, &d.url, &d.filename]
                        .into_iter()
                        .flatten()
                        .map(String::len)
                        .sum::<usize>()
                    + pairs(&d.attributes)
            }
            Field::Reference(r) => {
                r.field.len()
                    + r.text.len()
                    + r.uuid.as_ref().map_or(0, String::len)
                    + pairs(&r.attributes)
            }
        })
        .sum();
    let size = (fields + pairs(&record.attributes)) as u64;
    (size > limit)
        .then(|| format!("the record is {size} bytes, over the limit of {limit} bytes per record"))
}

/// Eden's `auth_user` exports carry password hashes: never store them.
pub(super) fn is_dropped_field(table: &str, field: &Field) -> bool {
    table == "auth_user" && matches!(field, Field::Data(d) if d.field == "password")
}
