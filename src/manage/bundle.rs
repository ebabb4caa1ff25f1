//! Bundles: every task's changes for one peer in one file, for a stick when
//! there is no link. A bundle is a gzip'd tar: `manifest.json` (who wrote
//! it, for which peer, and per table how many records and which changes),
//! then one S3XML document per table. Reading shows the manifest first;
//! each document imports all or nothing with the policies of the receiving
//! repository's task for its table; a bundle read before (the same bytes)
//! changes nothing. A bundle has its own watermark per task: the next
//! bundle carries what changed since this one; pushes over a link are not
//! affected (they send again what a bundle carried, which changes nothing
//! at the other end).

use std::fs::File;
use std::io::{Read as _, Seek, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ManageError, ManageErrorExt};
use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::engine::folder::{digest, write_whole};
use crate::model;
use crate::model::folder_files::NewFolderFile;
use crate::model::repositories::Repository;
use crate::s3xml::{Format, Limits};
use crate::store::{self, ExportRequest, ImportOptions, ImportSummary, SpooledDocument};

const FORMAT: &str = "edensync-bundle/1";
const MANIFEST: &str = "manifest.json";

/// What a bundle holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// The site that wrote it.
    pub site_uuid: String,
    /// The repository (peer) it was written for, as the writer names it,
    /// and that peer's site uuid when known.
    pub for_repository: String,
    pub for_site_uuid: Option<String>,
    pub written_at: chrono::NaiveDateTime,
    pub tables: Vec<BundleTable>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleTable {
    pub table: String,
    /// Master records in its document.
    pub records: u64,
    /// The writer's changes after this seq, up to `seq_to`.
    pub seq_from: i64,
    pub seq_to: i64,
    /// The document's name in the bundle.
    pub entry: String,
}

impl Manifest {
    /// The manifest in words, for the operator before the import.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "bundle from site {} for {}{}, written {} UTC:",
            self.site_uuid,
            self.for_repository,
            self.for_site_uuid
                .as_deref()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default(),
            self.written_at.format("%Y-%m-%d %H:%M:%S"),
        );
        if self.tables.is_empty() {
            text.push_str(" no changes");
        }
        for t in &self.tables {
            text.push_str(&format!(
                "\n  {}: {} record(s), changes {}–{}",
                t.table, t.records, t.seq_from, t.seq_to
            ));
        }
        text
    }
}

/// Write the changes of every pushing task of `repository` since its last
/// bundle into `path`. Returns what the bundle holds.
pub fn write(
    conn: &mut DbConnection,
    actor: &Actor,
    site_uuid: &str,
    repository: &Repository,
    path: &Path,
) -> Result<Manifest, ManageError> {
    let tasks = model::tasks::list_for_repository(conn, repository.id)?;
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        tempfile::tempfile().failed("a temporary file")?,
        flate2::Compression::default(),
    ));
    let mut manifest = Manifest {
        format: FORMAT.into(),
        site_uuid: site_uuid.into(),
        for_repository: repository.name.clone(),
        for_site_uuid: repository.peer_uuid.clone(),
        written_at: model::now(),
        tables: Vec::new(),
    };
    let mut covered = Vec::new();
    for task in tasks.iter().filter(|t| t.mode.pushes()) {
        let since = task
            .last_push_seq
            .unwrap_or(0)
            .max(task.last_bundle_seq.unwrap_or(0));
        // A filter that cannot be read stops the bundle: without it the
        // bundle would carry more than the task selects.
        let mut filters = Vec::new();
        for row in model::task_filters::list_for_task(conn, task.id)? {
            let (_, _, _, filter) =
                store::Filter::of_task(&task.resource_name, &row.table_name, &row.filter_string)
                    .map_err(ManageError::Failed)?;
            filters.push(filter);
        }
        let request = ExportRequest {
            table: task.resource_name.clone(),
            since_seq: Some(since),
            filters,
            exclude_changed_by: Some(repository.id),
            components: task.components,
            table_scope: repository.table_scope(),
            format: Format::Xml,
            root_attributes: vec![("edensync_site".into(), site_uuid.into())],
            ..ExportRequest::default()
        };
        let spool = tempfile::tempfile().failed("a temporary file")?;
        let (outcome, out) = store::export(conn, &request, std::io::BufWriter::new(spool))
            .map_err(|e| ManageError::Failed(e.to_string()))?;
        let mut document = out
            .into_inner()
            .map_err(|e| ManageError::Failed(e.to_string()))?;
        covered.push((task.id, outcome.snapshot_seq));
        if outcome.results == 0 {
            continue;
        }
        let entry = format!("{}.xml", task.resource_name);
        let length = document.stream_position().failed("the bundle")?;
        document.rewind().failed("the bundle")?;
        let mut header = tar::Header::new_gnu();
        header.set_size(length);
        header.set_mode(0o644);
        header.set_mtime(manifest.written_at.and_utc().timestamp().max(0) as u64);
        archive
            .append_data(&mut header, &entry, &mut document)
            .failed("the bundle")?;
        manifest.tables.push(BundleTable {
            table: task.resource_name.clone(),
            records: outcome.results,
            seq_from: since,
            seq_to: outcome.snapshot_seq,
            entry,
        });
    }
    let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(manifest.written_at.and_utc().timestamp().max(0) as u64);
    archive
        .append_data(&mut header, MANIFEST, json.as_slice())
        .failed("the bundle")?;
    let mut bundle = archive
        .into_inner()
        .and_then(|gz| gz.finish())
        .failed("the bundle")?;
    bundle.flush().failed("the bundle")?;
    bundle.rewind().failed("the bundle")?;
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| ManageError::Failed(format!("{} names no file", path.display())))?
        .to_string_lossy()
        .into_owned();
    if folder.join(&name).exists() {
        return Err(ManageError::Failed(format!(
            "{} exists already: name another file (a bundle is never written over one)",
            path.display()
        )));
    }
    write_whole(folder, &name, &mut bundle).failed(&path.display().to_string())?;
    for (task_id, seq) in covered {
        model::tasks::set_bundle_watermark(conn, task_id, seq)?;
    }
    let detail = format!(
        "{}: {} table(s), {} record(s)",
        path.display(),
        manifest.tables.len(),
        manifest.tables.iter().map(|t| t.records).sum::<u64>()
    );
    audit::record(
        conn,
        actor,
        "bundle.write",
        Some(&repository.name),
        Some(&detail),
    )?;
    Ok(manifest)
}

/// The manifest of the bundle at `path`.
pub fn show(path: &Path) -> Result<Manifest, ManageError> {
    let (manifest, _) = open(path, false)?;
    Ok(manifest)
}

/// What reading a bundle did.
pub enum Outcome {
    /// Imported now: the summary per table, and the tables left out
    /// because no task of the repository pulls them.
    Imported {
        manifest: Manifest,
        tables: Vec<(String, ImportSummary)>,
        skipped: Vec<String>,
    },
    /// The same bytes were read before, at that time: nothing changed.
    ReadBefore(Manifest, chrono::NaiveDateTime),
}

/// Import the bundle at `path`, as from `repository` (by default the one
/// whose peer wrote it). Each table's document imports all or nothing.
pub fn read(
    conn: &mut DbConnection,
    actor: &Actor,
    site_uuid: &str,
    path: &Path,
    repository: Option<&Repository>,
    max_record_bytes: u64,
) -> Result<Outcome, ManageError> {
    let (manifest, documents) = open(path, true)?;
    let repository = match repository {
        Some(r) => r.clone(),
        None => model::repositories::find_by_peer_uuid(conn, &manifest.site_uuid)?.ok_or_else(
            || {
                ManageError::Failed(format!(
                    "the bundle comes from the site {}, which no repository here has as its peer: name the repository it comes from with --repository",
                    manifest.site_uuid
                ))
            },
        )?,
    };
    check_addressed(&manifest, site_uuid, path)?;
    if repository
        .peer_uuid
        .as_deref()
        .is_some_and(|peer| peer != manifest.site_uuid)
    {
        return Err(ManageError::Failed(format!(
            "the bundle comes from the site {}, but {} is the site {}: it is not imported",
            manifest.site_uuid,
            repository.name,
            repository.peer_uuid.as_deref().unwrap_or_default()
        )));
    }
    let sum = digest(path).failed(&path.display().to_string())?;
    if let Some(earlier) = model::folder_files::with_digest(conn, repository.id, &sum)? {
        return Ok(Outcome::ReadBefore(manifest, earlier.handled_at));
    }
    let mut results = Vec::new();
    let mut skipped = Vec::new();
    for (table, file) in documents {
        // Only what this repository's tasks pull from it comes in.
        let Some(task) =
            model::tasks::find(conn, repository.id, &table)?.filter(|t| t.mode.pulls())
        else {
            skipped.push(table);
            continue;
        };
        let options = ImportOptions {
            strategy: task.strategy,
            update_policy: task.update_policy,
            conflict_policy: Some(task.conflict_policy),
            review_kept_updates: task.review_kept_updates,
            last_sync: task.last_pull,
            repository_id: Some(repository.id),
            resource: Some(table.clone()),
            table_scope: repository.table_scope(),
            max_record_bytes,
            ..ImportOptions::default()
        };
        let document = SpooledDocument {
            file,
            format: Format::Xml,
            gzip: false,
            atomic: true,
            limits: Limits {
                max_document_bytes: u64::MAX,
                ..Limits::default()
            },
        };
        let (summary, _) = store::import_document(conn, document, &options, |_| {})
            .map_err(|e| ManageError::Failed(format!("{table} in {}: {e}", path.display())))?;
        results.push((table, summary));
    }
    let records: u64 = results.iter().map(|(_, s)| s.records).sum();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    model::folder_files::insert(
        conn,
        &NewFolderFile {
            repository_id: repository.id,
            task_id: None,
            direction: "read",
            name: &path.display().to_string(),
            bytes: size as i64,
            file_mtime: manifest.written_at,
            digest: &sum,
            site_uuid: Some(&manifest.site_uuid),
            records: records as i64,
            outcome: "imported",
            message: Some("bundle"),
            handled_at: model::now(),
            run_id: None,
        },
    )?;
    if repository.peer_uuid.is_none() {
        model::repositories::set_peer_uuid(conn, repository.id, &manifest.site_uuid)?;
    }
    let detail = format!("{}: {records} record(s)", path.display());
    audit::record(
        conn,
        actor,
        "bundle.read",
        Some(&repository.name),
        Some(&detail),
    )?;
    Ok(Outcome::Imported {
        manifest,
        tables: results,
        skipped,
    })
}

/// A bundle is read at the other end: not by the node that wrote it, and
/// not by another node than the one it was written for.
pub fn check_addressed(
    manifest: &Manifest,
    site_uuid: &str,
    path: &Path,
) -> Result<(), ManageError> {
    if manifest.site_uuid == site_uuid {
        return Err(ManageError::Failed(format!(
            "{} was written by this node: it is for {}, not to be read here",
            path.display(),
            manifest.for_repository
        )));
    }
    if manifest
        .for_site_uuid
        .as_deref()
        .is_some_and(|for_site| for_site != site_uuid)
    {
        return Err(ManageError::Failed(format!(
            "the bundle was written for the site {}, not for this node ({site_uuid}): it is not imported",
            manifest.for_site_uuid.as_deref().unwrap_or_default()
        )));
    }
    Ok(())
}

/// The manifest, and (when `documents`) each table's document extracted
/// to a temporary file, in the manifest's order.
fn open(path: &Path, documents: bool) -> Result<(Manifest, Vec<(String, File)>), ManageError> {
    let display = path.display().to_string();
    let file = File::open(path).failed(&display)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut manifest: Option<Manifest> = None;
    let mut extracted: Vec<(String, File)> = Vec::new();
    let not_a_bundle =
        |why: String| ManageError::Failed(format!("{display} is not an edensync bundle: {why}"));
    for entry in archive.entries().map_err(|e| not_a_bundle(e.to_string()))? {
        let mut entry = entry.map_err(|e| not_a_bundle(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| not_a_bundle(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if name == MANIFEST {
            let mut text = String::new();
            entry
                .by_ref()
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| not_a_bundle(e.to_string()))?;
            let read: Manifest = serde_json::from_str(&text)
                .map_err(|e| not_a_bundle(format!("its manifest: {e}")))?;
            if read.format != FORMAT {
                return Err(not_a_bundle(format!(
                    "format {} (this version reads {FORMAT})",
                    read.format
                )));
            }
            manifest = Some(read);
        } else if documents {
            let mut spool = tempfile::tempfile().failed("a temporary file")?;
            std::io::copy(&mut entry, &mut spool).map_err(|e| not_a_bundle(e.to_string()))?;
            spool.rewind().failed("a temporary file")?;
            extracted.push((name, spool));
        }
    }
    let manifest = manifest.ok_or_else(|| not_a_bundle("it holds no manifest".into()))?;
    let mut ordered = Vec::new();
    for table in &manifest.tables {
        let position = extracted.iter().position(|(name, _)| *name == table.entry);
        match position {
            Some(i) => ordered.push((table.table.clone(), extracted.swap_remove(i).1)),
            None if documents => {
                return Err(not_a_bundle(format!("{} is missing from it", table.entry)));
            }
            None => {}
        }
    }
    Ok((manifest, ordered))
}
