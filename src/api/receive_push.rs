//! A peer pushing a table (`POST|PUT sync.xml`): who may push, which
//! policies apply, the import, the answer Eden gives, and the log row.

use std::fs::File;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::Connection;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::body::PacedBody;
use super::error::{ProtocolError, eden_json};
use super::query::PeerQuery;
use super::{access, authenticate, header_text, with_conn};
use crate::db::DbConnection;
use crate::model;
use crate::model::repositories::Repository;
use crate::model::sync_log::NewLogEntry;
use crate::model::users::User;
use crate::s3xml::{Format, Limits, time};
use crate::state::AppState;
use crate::state::seen_pushes::{PushKey, changed_nothing, masters_of};
use crate::store::policy::{self, Policy, Strategy};
use crate::store::{self, ImportOptions, ImportSummary, SpooledDocument};
use crate::vocabulary::LogResult;

/// `POST|PUT sync.xml`: a peer pushes a table. The body is read whatever its
/// Content-Type says, spooled to a temporary file as it arrives, and
/// imported in one transaction: a document broken at its end, a crash or a
/// full disk changes nothing.
pub(super) async fn receive_push(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ProtocolError> {
    let account = authenticate(&req, &state).await?;
    let query = PeerQuery::parse(req.query_string());
    let limit = state.max_push_bytes;
    let declared = header_text(&req, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let format = Format::of_content_type(header_text(&req, header::CONTENT_TYPE));
    // Who may push is settled before the body is read.
    let (repository, table) = {
        let query = query.clone();
        with_conn(&state, move |conn, _| authorize(conn, &account, &query)).await?
    };

    // edensync peers send gzip. The body is spooled as it came and inflated
    // only as the import reads it, where the limit counts inflated bytes:
    // a small bomb never grows in memory.
    let gzip = match header_text(&req, header::CONTENT_ENCODING).map(str::trim) {
        None | Some("") => false,
        Some(e) if e.eq_ignore_ascii_case("identity") => false,
        Some(e) if e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("x-gzip") => true,
        Some(other) => {
            return Err(ProtocolError::UnsupportedEncoding(format!(
                "Content-Encoding {other} is not accepted: send the document as it is or gzip-compressed"
            )));
        }
    };
    let max_record_bytes = state.max_record_bytes;
    let (repository_id, pushed_table) = (repository.id, table.clone());
    let spool_dir = state.spool_dir.clone();
    let imported = async {
        let (body, digest) = spool(payload, limit, &spool_dir).await?;
        let settled = with_conn(&state, move |conn, state| {
            let mut options = options(conn, &repository, &table, query.msince.as_deref())?;
            options.max_record_bytes = max_record_bytes;
            let key = PushKey {
                body: digest,
                how: format!("{format:?} gzip={gzip} {options:?}"),
            };
            let answered = answer_again(conn, state, &repository, &table, &key)?;
            Ok((repository, table, options, key, answered))
        })
        .await?;
        let (repository, table, options, key, answered) = settled;
        if let Some(summary) = answered {
            return Ok((summary, repository.name));
        }
        // Only a few pushes are read at once; the others wait here, with
        // their bodies on disk. The import holds the permit to its end,
        // even if this request is dropped meanwhile.
        let permit = state
            .imports
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ProtocolError::Internal("the import queue is closed".into()))?;
        with_conn(&state, move |conn, state| {
            let _permit = permit;
            // The seq a later identical push is compared with is read in the
            // import's transaction: a change another writer commits after
            // it must make that push read in full.
            let (summary, seq) = conn.transaction(|conn| {
                let summary = receive(conn, body, format, gzip, limit, &options)?;
                let seq = match changed_nothing(&summary) {
                    true => Some(model::records::latest_seq_of(conn, &masters_of(&summary))?),
                    false => None,
                };
                Ok::<_, ProtocolError>((summary, seq))
            })?;
            log_push(conn, &repository, &table, &summary, false)?;
            state
                .seen_pushes
                .note(repository.id, &table, key, seq, &summary);
            Ok((summary, repository.name))
        })
        .await
    }
    .await;
    let (summary, peer_name) = match imported {
        Ok(imported) => imported,
        Err(ProtocolError::InsufficientStorage(message)) => {
            state
                .engine
                .metrics
                .note_disk_full(chrono::Utc::now().timestamp());
            tracing::error!(repository = repository_id, table = %pushed_table, "a push failed: the disk is full");
            // Best effort: the log may not be writable either.
            let logged = message.clone();
            let _ = with_conn(&state, move |conn, _| {
                log_failure(conn, repository_id, &pushed_table, &logged)
            })
            .await;
            return Err(ProtocolError::InsufficientStorage(message));
        }
        Err(e) => return Err(e),
    };
    state
        .engine
        .metrics
        .observe_received_push(&peer_name, &summary);
    Ok(HttpResponse::Ok().json(answer(&summary)))
}

/// The answer to the same body as the last push, which changed nothing,
/// when none of its records was stored since: the import would change
/// nothing again, so the body is not read (and the push is logged).
fn answer_again(
    conn: &mut DbConnection,
    state: &AppState,
    repository: &Repository,
    table: &str,
    key: &PushKey,
) -> Result<Option<ImportSummary>, ProtocolError> {
    let seen = &state.seen_pushes;
    let Some(records) = seen.records_of(repository.id, table, key) else {
        return Ok(None);
    };
    let seq = model::records::latest_seq_of(conn, &records)?;
    let summary = seen.unchanged(repository.id, table, key, seq);
    if let Some(summary) = &summary {
        log_push(conn, repository, table, summary, true)?;
    }
    Ok(summary)
}

/// Spool the body, as it comes (gzip stays gzip), to a file in the data
/// directory: at most `limit` bytes, at the pace every body must keep.
/// The body's SHA-256 comes with it, for telling an identical re-push.
async fn spool(
    payload: web::Payload,
    limit: u64,
    dir: &std::path::Path,
) -> Result<(File, [u8; 32]), ProtocolError> {
    let mut body = PacedBody::new(payload);
    let mut spool = tokio::fs::File::from_std(tempfile::tempfile_in(dir)?);
    let mut digest = Sha256::new();
    let mut received: u64 = 0;
    while let Some(chunk) = body.next().await? {
        received += chunk.len() as u64;
        if received > limit {
            return Err(too_large(limit));
        }
        digest.update(&chunk);
        spool.write_all(&chunk).await?;
    }
    spool.flush().await?;
    Ok((spool.into_std().await, digest.finalize().into()))
}

fn too_large(limit: u64) -> ProtocolError {
    ProtocolError::TooLarge(format!(
        "The document is larger than the limit of {limit} bytes"
    ))
}

/// The repository a push comes from, once it may push this table.
fn authorize(
    conn: &mut DbConnection,
    account: &User,
    query: &PeerQuery,
) -> Result<(Repository, String), ProtocolError> {
    let table = access::table(query.resource.as_deref())?;
    let repository = access::repository(conn, query.repository.as_deref())?
        .ok_or_else(|| ProtocolError::Forbidden("Registration required".into()))?;
    access::ensure_acts_as(
        conn,
        account,
        Some(&repository),
        query.repository.as_deref(),
    )?;
    if !repository.accept_push {
        let message = format!(
            "Pushes from the repository {} are not accepted yet: an administrator must allow them",
            repository.name
        );
        // The refusal leaves a trace here: the console lists the peer as
        // waiting, with Accept next to it.
        log_refusal(conn, &repository, &table, LogResult::Warning, &message)?;
        return Err(ProtocolError::Forbidden(message));
    }
    if let Err(refused) = access::ensure_table_allowed(&repository, &table) {
        // A table it may not sync: an error the dashboard lists.
        log_refusal(
            conn,
            &repository,
            &table,
            LogResult::Error,
            &refused.to_string(),
        )?;
        return Err(refused);
    }
    Ok((repository, table))
}

/// Note a push refused before its body was read, and the peer's contact.
/// A warning is a push waiting for Accept; an error is one refused for good.
fn log_refusal(
    conn: &mut DbConnection,
    repository: &Repository,
    table: &str,
    result: LogResult,
    message: &str,
) -> Result<(), ProtocolError> {
    log_incoming(
        conn,
        repository.id,
        table,
        model::sync_log::REFUSED_PUSH,
        result,
        message,
    )?;
    model::repositories::touch_connected(conn, repository.id, model::now())?;
    Ok(())
}

/// One of Eden's `push/incoming` log rows.
fn log_incoming(
    conn: &mut DbConnection,
    repository_id: i64,
    table: &str,
    action: &str,
    result: LogResult,
    message: &str,
) -> Result<(), ProtocolError> {
    model::sync_log::insert(
        conn,
        &NewLogEntry {
            logged_at: model::now(),
            repository_id: Some(repository_id),
            run_id: None,
            resource_name: Some(table),
            mode: "push/incoming",
            action,
            result,
            remote: false,
            message,
        },
    )?;
    Ok(())
}

/// The receiver's policies: our task for this peer and table if there is
/// one (its policies; last sync = its last pull), else what Eden effectively
/// does (update NEWER, conflicts accepted, all methods, last sync = msince).
fn options(
    conn: &mut DbConnection,
    repository: &Repository,
    table: &str,
    msince: Option<&str>,
) -> Result<ImportOptions, ProtocolError> {
    let base = ImportOptions {
        repository_id: Some(repository.id),
        resource: Some(table.to_string()),
        table_scope: repository.table_scope(),
        ..ImportOptions::default()
    };
    let task = match model::tasks::find(conn, repository.id, table) {
        Ok(task) => task,
        // The task row holds a word we do not know (the database was edited
        // by hand): its policies are unknown, so the push is refused rather
        // than imported under guessed ones.
        Err(diesel::result::Error::DeserializationError(e)) => {
            return Err(ProtocolError::Forbidden(format!(
                "Pushes of {table} are refused until an administrator corrects this node's task for it: {e}"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(match task {
        Some(task) => ImportOptions {
            strategy: task.strategy,
            update_policy: task.update_policy,
            conflict_policy: Some(task.conflict_policy),
            review_kept_updates: task.review_kept_updates,
            last_sync: task
                .last_pull
                .filter(|_| policy::compares_times(task.update_policy)),
            ..base
        },
        None => ImportOptions {
            strategy: Strategy::ALL,
            update_policy: Policy::Newer,
            conflict_policy: None,
            last_sync: msince.and_then(time::parse_strict),
            ..base
        },
    })
}

/// Import the spooled document all or nothing: nothing is written if it is
/// broken anywhere.
fn receive(
    conn: &mut DbConnection,
    body: File,
    format: Format,
    gzip: bool,
    limit: u64,
    options: &ImportOptions,
) -> Result<ImportSummary, ProtocolError> {
    let document = SpooledDocument {
        file: body,
        format,
        gzip,
        // A push is all or nothing at any size: one transaction.
        atomic: true,
        limits: Limits {
            max_document_bytes: limit,
            // Beyond four times the record limit (written out, with its
            // markup) a record is not even held while it is read.
            max_record_bytes: options.max_record_bytes.saturating_mul(4),
            ..Limits::default()
        },
    };
    match store::import_document(conn, document, options, |_| {}) {
        Ok((summary, _root)) => Ok(summary),
        Err(store::StoreError::Read(e)) if e.is_over_limit() => Err(ProtocolError::TooLarge(
            format!("The document is larger than the limit of {limit} bytes (after decompression)"),
        )),
        Err(store::StoreError::Read(e)) => {
            let what = match format {
                Format::Xml => "XML Parse error",
                Format::Lines => "JSON lines parse error",
            };
            Err(ProtocolError::BadRequest(format!("{what}: {e}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Eden's answer: `records`, `created`, `updated`, `deleted` (omitted when
/// empty) and, for rejected records, a `message` and an error `tree`.
fn answer(summary: &ImportSummary) -> Map<String, Value> {
    let mut body = eden_json(true, 200, "");
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

/// Note a push that could not be imported in Eden's log.
fn log_failure(
    conn: &mut DbConnection,
    repository_id: i64,
    table: &str,
    message: &str,
) -> Result<(), ProtocolError> {
    log_incoming(
        conn,
        repository_id,
        table,
        "receive",
        LogResult::Error,
        message,
    )
}

/// Note the push in Eden's log and the repository's last contact;
/// `again`: the same body as the last push, answered without reading it.
fn log_push(
    conn: &mut DbConnection,
    repository: &Repository,
    table: &str,
    summary: &ImportSummary,
    again: bool,
) -> Result<(), ProtocolError> {
    let now = model::now();
    model::repositories::touch_connected(conn, repository.id, now)?;
    let (result, message) = if summary.rejected.is_empty() {
        let m = summary.masters;
        (
            LogResult::Success,
            format!(
                "Data received from peer ({} records: {} new, {} changed, {} deleted, {} unchanged){}",
                summary.records,
                m.created,
                m.updated,
                m.deleted,
                m.unchanged,
                if again {
                    "; the same document as its last push, which changed nothing: not read again"
                } else {
                    ""
                }
            ),
        )
    } else {
        (LogResult::Warning, summary.rejection_text())
    };
    let m = summary.masters;
    let changed = (m.created + m.updated + m.deleted) as i64;
    model::sync_log::insert_counted(
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
        Some(changed),
    )?;
    Ok(())
}
