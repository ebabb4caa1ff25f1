//! A peer pushing a table (`POST|PUT sync.xml`): who may push, which
//! policies apply, the import, the answer Eden gives, and the log row.

use std::fs::File;
use std::io::{Seek, SeekFrom};

use actix_web::http::StatusCode;
use diesel::Connection;
use serde_json::{Map, Value, json};

use super::access;
use super::pull::PullQuery;
use crate::db::DbConnection;
use crate::error::{ApiError, eden_json};
use crate::model;
use crate::model::repositories::Repository;
use crate::model::sync_log::NewLogEntry;
use crate::model::users::User;
use crate::s3xml::{DocumentReader, Format, Limits, time};
use crate::store::policy::{Policy, Strategy};
use crate::store::{self, ImportOptions, ImportSummary};

/// The repository a push comes from, once it may push this table.
pub fn authorize(
    conn: &mut DbConnection,
    account: &User,
    query: &PullQuery,
) -> Result<(Repository, String), ApiError> {
    let table = access::table(query.resource.as_deref())?;
    let repository = access::repository(conn, query.repository.as_deref())?
        .ok_or_else(|| ApiError::failed(StatusCode::FORBIDDEN, "Registration required"))?;
    access::ensure_acts_as(
        conn,
        account,
        Some(&repository),
        query.repository.as_deref(),
    )?;
    if !repository.accept_push {
        return Err(ApiError::failed(
            StatusCode::FORBIDDEN,
            format!(
                "Pushes from the repository {} are not accepted yet: an administrator must allow them",
                repository.name
            ),
        ));
    }
    access::ensure_table_allowed(&repository, &table)?;
    Ok((repository, table))
}

/// The receiver's policies: our task for this peer and table if there is
/// one (its policies; last sync = its last pull), else what Eden effectively
/// does (update NEWER, conflicts accepted, all methods, last sync = msince).
pub fn options(
    conn: &mut DbConnection,
    repository: &Repository,
    table: &str,
    msince: Option<&str>,
) -> Result<ImportOptions, ApiError> {
    let base = ImportOptions {
        repository_id: Some(repository.id),
        resource: Some(table.to_string()),
        ..ImportOptions::default()
    };
    Ok(match model::tasks::find(conn, repository.id, table)? {
        Some(task) => {
            let update_policy = Policy::parse(&task.update_policy).unwrap_or(Policy::Newer);
            ImportOptions {
                strategy: Strategy::parse(&task.strategy).unwrap_or(Strategy::ALL),
                update_policy,
                conflict_policy: Some(
                    Policy::parse(&task.conflict_policy).unwrap_or(Policy::Master),
                ),
                last_sync: task
                    .last_pull
                    .filter(|_| !matches!(update_policy, Policy::This | Policy::Other)),
                ..base
            }
        }
        None => ImportOptions {
            strategy: Strategy::ALL,
            update_policy: Policy::Newer,
            conflict_policy: None,
            last_sync: msince.and_then(time::parse_strict),
            ..base
        },
    })
}

/// Documents up to this size are imported in one transaction, rolled back
/// whole if they turn out broken; larger ones are parsed completely first,
/// so that no long transaction holds the store (pages between edensync
/// nodes are far smaller).
const ONE_TRANSACTION_BYTES: u64 = 16 * 1024 * 1024;

/// Import the spooled document all or nothing: nothing is written if it is
/// broken anywhere.
pub fn receive(
    conn: &mut DbConnection,
    mut body: File,
    format: Format,
    limit: u64,
    options: &ImportOptions,
) -> Result<ImportSummary, ApiError> {
    let limits = Limits {
        max_document_bytes: limit,
        ..Limits::default()
    };
    let parse_error = |e: crate::s3xml::ReadError| {
        let what = match format {
            Format::Xml => "XML Parse error",
            Format::Lines => "JSON lines parse error",
        };
        ApiError::failed(StatusCode::BAD_REQUEST, format!("{what}: {e}"))
    };
    let size = body.seek(SeekFrom::End(0))?;
    body.seek(SeekFrom::Start(0))?;
    if size <= ONE_TRANSACTION_BYTES {
        let reader = DocumentReader::open(format, body, limits).map_err(parse_error)?;
        return conn.transaction(|conn| match store::import(conn, reader, options) {
            Ok(summary) => Ok(summary),
            Err(store::StoreError::Read(e)) => Err(parse_error(e)),
            Err(e) => Err(e.into()),
        });
    }
    for record in DocumentReader::open(format, &mut body, limits).map_err(parse_error)? {
        record.map_err(parse_error)?;
    }
    body.seek(SeekFrom::Start(0))?;
    let reader = DocumentReader::open(format, body, limits).map_err(parse_error)?;
    Ok(store::import(conn, reader, options)?)
}

/// Eden's answer: `records`, `created`, `updated`, `deleted` (omitted when
/// empty) and, for rejected records, a `message` and an error `tree`.
pub fn answer(summary: &ImportSummary) -> Map<String, Value> {
    let mut body = eden_json(true, StatusCode::OK, "");
    body.remove("message");
    body.insert("records".into(), summary.records.into());
    for (key, ids) in [
        ("created", &summary.created),
        ("updated", &summary.updated),
        ("deleted", &summary.deleted),
    ] {
        if !ids.is_empty() {
            body.insert(key.into(), ids.clone().into());
        }
    }
    if !summary.rejected.is_empty() {
        body.insert(
            "message".into(),
            format!("{} - invalid items ignored", summary.rejection_text()).into(),
        );
        let mut tree = Map::new();
        for rejection in &summary.rejected {
            let entry = json!({"@uuid": rejection.uuid, "@error": rejection.reason});
            if let Some(items) = tree
                .entry(format!("$_{}", rejection.table))
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
            {
                items.push(entry);
            }
        }
        body.insert("tree".into(), Value::Object(tree));
    }
    body
}

/// Note the push in Eden's log and the repository's last contact.
pub fn log_push(
    conn: &mut DbConnection,
    repository: &Repository,
    table: &str,
    summary: &ImportSummary,
) -> Result<(), ApiError> {
    let now = model::now();
    model::repositories::touch_connected(conn, repository.id, now)?;
    let (result, message) = if summary.rejected.is_empty() {
        ("success", "Data received from peer".to_string())
    } else {
        ("warning", summary.rejection_text())
    };
    model::sync_log::insert(
        conn,
        &NewLogEntry {
            logged_at: now,
            repository_id: Some(repository.id),
            run_id: None,
            resource_name: Some(table),
            mode: "push/incoming",
            action: "receive",
            result,
            remote: !summary.rejected.is_empty(),
            message: &message,
        },
    )?;
    Ok(())
}
