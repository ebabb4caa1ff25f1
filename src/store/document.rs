//! Importing a whole document that was spooled to a file: the one way in for
//! a peer's pull answer, a peer's push and `edensync import`. All or
//! nothing: a document broken anywhere changes nothing.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use diesel::Connection;

use super::{ImportOptions, ImportSummary, StoreError, import};
use crate::db::{self, DbConnection};
use crate::s3xml::{DocumentReader, Format, Limits, Root};

/// Documents up to this size on disk are imported in one transaction,
/// rolled back whole if they turn out broken; larger ones that need not be
/// atomic (a whole table pulled from Eden, `edensync import`) are parsed
/// completely first and then written batch by batch, so that no long
/// transaction holds the store.
pub const ONE_TRANSACTION_BYTES: u64 = 16 * 1024 * 1024;

/// A document on disk, as it arrived.
pub struct SpooledDocument {
    pub file: File,
    pub format: Format,
    /// The file holds the document gzip-compressed.
    pub gzip: bool,
    /// Imported in one transaction whatever its size: a push (all or
    /// nothing, also after a crash or on a full disk), or one bounded page
    /// of a paged pull (written once instead of once per batch).
    pub atomic: bool,
    pub limits: Limits,
}

/// Import `document` all or nothing. `root_seen` gets the document's root
/// as soon as it is read (a pull fetches its next page meanwhile).
pub fn import_document(
    conn: &mut DbConnection,
    mut document: SpooledDocument,
    options: &ImportOptions,
    root_seen: impl FnOnce(&Root),
) -> Result<(ImportSummary, Root), StoreError> {
    let size = document.file.seek(SeekFrom::End(0))?;
    document.file.rewind()?;
    if document.atomic || size <= ONE_TRANSACTION_BYTES {
        let reader = open(&document)?;
        let root = reader.root().clone();
        root_seen(&root);
        // Inside the caller's transaction the import is part of it.
        let summary = if db::in_transaction(conn) {
            import(conn, reader, options)?
        } else {
            conn.transaction(|conn| import(conn, reader, options))?
        };
        return Ok((summary, root));
    }
    for record in open(&document)? {
        record?;
    }
    document.file.rewind()?;
    let reader = open(&document)?;
    let root = reader.root().clone();
    root_seen(&root);
    Ok((import(conn, reader, options)?, root))
}

/// A reader over the file from where it stands (the caller rewinds).
fn open(document: &SpooledDocument) -> Result<DocumentReader<Box<dyn Read + Send>>, StoreError> {
    let file = BufReader::new(document.file.try_clone()?);
    let source: Box<dyn Read + Send> = if document.gzip {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(DocumentReader::open(
        document.format,
        source,
        document.limits,
    )?)
}
