//! `import` and `export`: S3XML documents in and out of the store, by hand.

use super::CliError;
use crate::app::Node;
use crate::db::DbError;
use crate::s3xml::{self, Format, Limits};
use crate::store::policy::Policy;
use crate::store::{self, ExportRequest, ImportOptions, SpooledDocument};

pub(super) fn parse_policy(text: &str) -> Result<Policy, CliError> {
    Policy::parse(text).map_err(|e| CliError::Usage(e.to_string()))
}

/// Import a document all or nothing (`store::import_document`): one that
/// is broken anywhere changes nothing.
pub(super) fn import(
    node: Node,
    file: &str,
    options: &ImportOptions,
    as_json: bool,
) -> Result<(), CliError> {
    let source = if file == "-" {
        let mut spool = tempfile::tempfile()
            .map_err(|e| CliError::Failed(format!("cannot create a temporary file: {e}")))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut spool)
            .map_err(|e| CliError::Failed(format!("cannot read standard input: {e}")))?;
        spool
    } else {
        std::fs::File::open(file)
            .map_err(|e| CliError::Usage(format!("cannot open {file}: {e}")))?
    };
    let document = SpooledDocument {
        file: source,
        format: Format::Xml,
        gzip: false,
        atomic: false,
        // A local document is the operator's own: no limit on its size.
        limits: Limits {
            max_document_bytes: u64::MAX,
            ..Limits::default()
        },
    };
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let summary = match store::import_document(&mut conn, document, options, |_| {}) {
        Ok((summary, _root)) => summary,
        Err(store::StoreError::Read(e)) => return Err(CliError::Failed(format!("{file}: {e}"))),
        Err(e) => return Err(CliError::Failed(e.to_string())),
    };
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        println!(
            "{} record(s): {} created, {} updated, {} deleted; {} written, {} unchanged, {} skipped, {} rejected",
            summary.records,
            summary.masters.created,
            summary.masters.updated,
            summary.masters.deleted,
            summary.written,
            summary.unchanged,
            summary.skipped,
            summary.rejected.len()
        );
        for rejection in &summary.rejected {
            println!(
                "rejected {} {}: {}",
                rejection.table,
                rejection.uuid.as_deref().unwrap_or("(no uuid)"),
                rejection.reason
            );
        }
    }
    if summary.rejected.is_empty() {
        Ok(())
    } else {
        Err(CliError::Partial(format!(
            "{} record(s) rejected",
            summary.rejected.len()
        )))
    }
}

pub(super) fn export_request(
    table: String,
    msince: Option<String>,
    since_seq: Option<i64>,
    filters: &[String],
) -> Result<ExportRequest, CliError> {
    if !store::is_valid_table_name(&table) {
        return Err(CliError::Usage(format!(
            "'{table}' is not a table name (like org_organisation)"
        )));
    }
    let msince = msince
        .map(|m| {
            s3xml::time::parse(&m).ok_or_else(|| {
                CliError::Usage(format!(
                    "--msince '{m}' is not a date and time (2026-11-26T06:00:00)"
                ))
            })
        })
        .transpose()?;
    let filters = filters
        .iter()
        .map(|f| store::Filter::parse(f).map_err(|e| CliError::Usage(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ExportRequest {
        table,
        msince,
        since_seq,
        filters,
        components: true,
        ..ExportRequest::default()
    })
}

pub(super) fn export(node: Node, request: &ExportRequest) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let (outcome, _) =
        store::export(&mut conn, request, out).map_err(|e| CliError::Failed(e.to_string()))?;
    if outcome.not_exportable > 0 {
        eprintln!(
            "edensync: {} record(s) of {} are held only as components (their link to the master is unknown) and were not exported",
            outcome.not_exportable, request.table
        );
    }
    Ok(())
}
