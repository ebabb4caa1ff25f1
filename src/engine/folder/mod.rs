//! A folder as a repository (sneakernet), compatible with Eden's
//! `filesync`: a task's pull imports the files matching its input pattern,
//! oldest first; its push writes what changed since the last push into one
//! S3XML file named by its output pattern. Beyond Eden: files are written
//! whole or not at all; a file still being written, or broken, is left
//! for a later run and imports nothing; every file handled is recorded, so
//! the same bytes are never imported twice, whatever their name or time;
//! edensync's files say which site wrote them, for which table and which
//! changes, and a file from another site than the repository's is kept
//! out and reported; `.gz` names are gzip.

mod files;

use std::path::Path;
use std::time::Duration;

use super::error::SyncError;
use super::run::Run;
use crate::model;
use crate::model::folder_files::NewFolderFile;
use crate::model::repositories::Repository;
use crate::model::tasks::Task;
use crate::s3xml::{Format, Limits, Reader};
use crate::store::{self, ExportRequest, SpooledDocument};
use crate::vocabulary::LogResult;

pub use files::{check_input_pattern, check_output_pattern, digest, output_name, write_whole};

/// Root attributes of the files edensync writes (Eden ignores them).
const SITE: &str = "edensync_site";
const TABLE: &str = "edensync_table";
const SEQ_FROM: &str = "edensync_seq_from";
const SEQ_TO: &str = "edensync_seq_to";

/// A file younger than this may still be being written by a program that
/// does not write whole files (Eden): it waits for the next run.
const SETTLE: Duration = Duration::from_secs(2);

/// An input file, opened.
struct Source<'a> {
    handle: std::fs::File,
    gzip: bool,
    digest: &'a str,
}

/// What became of one input file.
enum Handled {
    Imported(store::ImportSummary),
    /// Not imported, for the reason given (logged, recorded).
    Left(&'static str, LogResult, String),
}

impl Run<'_> {
    /// Import the files matching the task's input pattern; returns the
    /// master records received.
    pub(super) async fn pull_folder(
        &mut self,
        repository: &Repository,
        folder: &Path,
        task: &Task,
    ) -> Result<u64, SyncError> {
        let table = task.resource_name.clone();
        let Some(pattern) = task.infile_pattern.clone().filter(|p| !p.trim().is_empty()) else {
            return Err(SyncError::permanent(format!(
                "the task {table} of {} pulls but has no input file pattern (such as {table}-*.xml)",
                repository.name
            )));
        };
        files::check_present(folder).map_err(SyncError::transient)?;
        let found = files::matching(folder, &pattern).map_err(SyncError::permanent)?;
        // The site behind the folder, once a file of edensync's names it.
        let mut known_site = repository.peer_uuid.clone();
        let mut total = 0;
        let mut imported_files = 0;
        for file in found {
            let repository_id = repository.id;
            let (name, bytes, mtime) = (file.name.clone(), file.bytes as i64, file.mtime);
            let seen = self
                .engine
                .db(move |conn| {
                    Ok(model::folder_files::seen(
                        conn,
                        repository_id,
                        &name,
                        bytes,
                        mtime,
                    )?)
                })
                .await?;
            if seen.is_some() {
                continue;
            }
            // Changed in the last seconds: perhaps still being written. (A
            // time further ahead is a stick's or a writer's clock, not a
            // write in progress.)
            let age = (model::now() - file.mtime)
                .num_milliseconds()
                .unsigned_abs();
            if age < SETTLE.as_millis() as u64 {
                self.say(&format!(
                    "{table}: {} is still being written; next run",
                    file.name
                ));
                continue;
            }
            self.say(&format!("{table}: importing {}", file.name));
            self.progress
                .bytes_in
                .fetch_add(file.bytes as i64, std::sync::atomic::Ordering::Relaxed);
            // A file gone or unreadable since it was listed (a stick pulled
            // out): tried again at the next run, the other files go on.
            let opened = files::digest(&file.path).and_then(|digest| {
                let mut handle = std::fs::File::open(&file.path)?;
                let gzip = files::is_gzip(&mut handle)?;
                Ok((digest, handle, gzip))
            });
            let (digest, handle, gzip) = match opened {
                Ok(opened) => opened,
                Err(e) => {
                    self.log(
                        Some(&table),
                        "pull/outgoing",
                        "import",
                        LogResult::Warning,
                        false,
                        format!(
                            "{} could not be read ({e}); it is tried again at the next run",
                            file.name
                        ),
                    )
                    .await;
                    continue;
                }
            };
            let source = Source {
                handle,
                gzip,
                digest: &digest,
            };
            let (handled, site) = self
                .import_file(repository, task, source, &mut known_site)
                .await?;
            let (outcome, records, message) = match &handled {
                Handled::Imported(summary) => {
                    total += summary.records;
                    imported_files += 1;
                    let message = super::pull::import_message(summary);
                    self.log(
                        Some(&table),
                        "pull/outgoing",
                        "import",
                        if summary.rejected.is_empty() {
                            LogResult::Success
                        } else {
                            LogResult::Warning
                        },
                        false,
                        format!("{}: {message}", file.name),
                    )
                    .await;
                    ("imported", summary.records as i64, message)
                }
                Handled::Left(outcome, result, message) => {
                    self.log(
                        Some(&table),
                        "pull/outgoing",
                        "import",
                        *result,
                        false,
                        format!("{}: {message}", file.name),
                    )
                    .await;
                    (*outcome, 0, message.clone())
                }
            };
            let row = (task.id, self.run_id, file.clone(), site, digest);
            self.engine
                .db(move |conn| {
                    let (task_id, run_id, file, site, digest) = row;
                    model::folder_files::insert(
                        conn,
                        &NewFolderFile {
                            repository_id,
                            task_id: Some(task_id),
                            direction: "read",
                            name: &file.name,
                            bytes: file.bytes as i64,
                            file_mtime: file.mtime,
                            digest: &digest,
                            site_uuid: site.as_deref(),
                            records,
                            outcome,
                            message: Some(&message),
                            handled_at: model::now(),
                            run_id: Some(run_id),
                        },
                    )?;
                    if outcome == "imported" {
                        model::tasks::set_pull_watermark(conn, task_id, Some(file.mtime), None)?;
                    }
                    Ok(())
                })
                .await?;
            if outcome == "imported"
                && task.delete_input_files
                && let Err(e) = std::fs::remove_file(&file.path)
            {
                self.log(
                    Some(&table),
                    "pull/outgoing",
                    "delete",
                    LogResult::Warning,
                    false,
                    format!("{} was imported but could not be deleted: {e}", file.name),
                )
                .await;
            }
            self.page_committed(records as u64);
        }
        if imported_files == 0 {
            self.log(
                Some(&table),
                "pull/outgoing",
                "none",
                LogResult::Success,
                false,
                format!(
                    "No files to import (pattern {pattern} in {})",
                    folder.display()
                ),
            )
            .await;
        }
        Ok(total)
    }

    /// Import one file unless it is a copy of one imported before, comes
    /// from another site, or cannot be read whole. Returns what happened
    /// and the site the file says wrote it.
    async fn import_file(
        &mut self,
        repository: &Repository,
        task: &Task,
        source: Source<'_>,
        known_site: &mut Option<String>,
    ) -> Result<(Handled, Option<String>), SyncError> {
        let Source {
            handle,
            gzip,
            digest,
        } = source;
        let (repository_id, digest_owned) = (repository.id, digest.to_string());
        let copy = self
            .engine
            .db(move |conn| {
                Ok(model::folder_files::with_digest(
                    conn,
                    repository_id,
                    &digest_owned,
                )?)
            })
            .await?;
        if let Some(earlier) = copy {
            return Ok((
                Handled::Left(
                    "copy",
                    LogResult::Success,
                    format!(
                        "the same bytes as {}, handled at {} UTC: nothing to import again",
                        earlier.name,
                        earlier.handled_at.format("%Y-%m-%d %H:%M:%S")
                    ),
                ),
                earlier.site_uuid,
            ));
        }
        let root = match read_root(&handle, gzip) {
            Ok(root) => root,
            Err(e) => return Ok((unreadable(&e), None)),
        };
        let site = root.attribute(SITE).map(str::to_string);
        if let Some(site) = &site {
            if *site == self.engine.site_uuid {
                return Ok((
                    Handled::Left(
                        "own",
                        LogResult::Success,
                        "written by this node: not imported".into(),
                    ),
                    Some(site.clone()),
                ));
            }
            match known_site {
                Some(peer) if peer != site => {
                    return Ok((
                        Handled::Left(
                            "foreign",
                            LogResult::Warning,
                            format!(
                                "written by the site {site}, not by {} ({peer}): kept in the folder, not imported. Move it to the folder of that site's repository",
                                repository.name
                            ),
                        ),
                        Some(site.clone()),
                    ));
                }
                Some(_) => {}
                None => {
                    // The first file names the site behind this folder.
                    *known_site = Some(site.clone());
                    let (id, site) = (repository.id, site.clone());
                    self.engine
                        .db(move |conn| Ok(model::repositories::set_peer_uuid(conn, id, &site)?))
                        .await?;
                }
            }
        }
        let options = self.import_options(repository, task);
        let document = SpooledDocument {
            file: handle,
            format: Format::Xml,
            gzip,
            // A file imports whole or not at all: one cut short by a
            // program writing it in place imports nothing.
            atomic: true,
            limits: Limits {
                max_document_bytes: u64::MAX,
                max_record_bytes: self.engine.max_record_bytes.saturating_mul(4),
                ..Limits::default()
            },
        };
        let imported = self
            .engine
            .db(move |conn| Ok(store::import_document(conn, document, &options, |_| {})))
            .await?;
        let summary = match imported {
            Ok((summary, _)) => summary,
            Err(store::StoreError::Read(e)) => return Ok((unreadable(&e.to_string()), site)),
            Err(e) => return Err(e.into()),
        };
        self.count_pulled(&summary);
        Ok((Handled::Imported(summary), site))
    }

    /// Write what changed since the last push into one file named by the
    /// task's output pattern; returns the master records written.
    pub(super) async fn push_folder(
        &mut self,
        repository: &Repository,
        folder: &Path,
        task: &Task,
    ) -> Result<u64, SyncError> {
        let table = task.resource_name.clone();
        let Some(pattern) = task
            .outfile_pattern
            .clone()
            .filter(|p| !p.trim().is_empty())
        else {
            return Err(SyncError::permanent(format!(
                "the task {table} of {} pushes but has no output file pattern (such as {table}-$timestamp.xml)",
                repository.name
            )));
        };
        check_output_pattern(&pattern).map_err(SyncError::permanent)?;
        files::check_present(folder).map_err(SyncError::transient)?;
        let started = model::now();
        let name = output_name(&pattern, started);
        let since_seq = task.last_push_seq.unwrap_or(0);
        let filters = self.filters(task).await?;
        let site = self.engine.site_uuid.clone();
        let url = self.engine.public_url.clone();
        let mut request = ExportRequest {
            table: table.clone(),
            since_seq: Some(since_seq),
            filters: filters.into_iter().map(|(_, _, _, f)| f).collect(),
            // What came from the folder does not go back into it.
            exclude_changed_by: Some(repository.id),
            components: task.components,
            table_scope: repository.table_scope(),
            format: Format::Xml,
            ..ExportRequest::default()
        };
        self.say(&format!("{table}: writing {name}"));
        let gzip = name.ends_with(".gz");
        let written = self
            .engine
            .db(move |conn| {
                let seq_to = model::records::current_seq(conn)?;
                if let Some(url) = url {
                    let url = url.trim_end_matches('/').to_string();
                    request.root_attributes.push(("url".into(), url));
                }
                request.root_attributes.extend([
                    (SITE.to_string(), site),
                    (TABLE.to_string(), request.table.clone()),
                    (SEQ_FROM.to_string(), since_seq.to_string()),
                    (SEQ_TO.to_string(), seq_to.to_string()),
                ]);
                super::push::export_to_file(conn, &request, gzip)
            })
            .await?;
        let (outcome, mut file, length) = written;
        let task_id = task.id;
        if outcome.results == 0 {
            let covered = outcome.snapshot_seq;
            self.engine
                .db(move |conn| {
                    Ok(model::tasks::set_push_watermark(
                        conn,
                        task_id,
                        Some(started),
                        covered,
                    )?)
                })
                .await?;
            self.log(
                Some(&table),
                "push/outgoing",
                "none",
                LogResult::Success,
                false,
                "No changes to write".into(),
            )
            .await;
            return Ok(0);
        }
        let folder_owned = folder.to_path_buf();
        let written_name = tokio::task::spawn_blocking(move || {
            files::write_whole(&folder_owned, &name, &mut file)
        })
        .await
        .map_err(|e| SyncError::transient(format!("internal error: {e}")))?
        .map_err(|e| {
            SyncError::permanent(format!(
                "the file could not be written into {}: {e}",
                folder.display()
            ))
        })?;
        let path = folder.join(&written_name);
        let digest = files::digest(&path)?;
        // Eden reads only files younger than its last pull, which is the
        // youngest record it imported plus a second: a file must not look
        // older than the records in it.
        let mtime = files::not_older_than(&path, outcome.youngest_modified_on)?;
        let (repository_id, run_id, covered) = (repository.id, self.run_id, outcome.snapshot_seq);
        let records = outcome.results as i64;
        let message = format!(
            "Data successfully written to {} ({} records)",
            path.display(),
            outcome.results
        );
        let row_message = message.clone();
        let site = self.engine.site_uuid.clone();
        self.engine
            .db(move |conn| {
                model::folder_files::insert(
                    conn,
                    &NewFolderFile {
                        repository_id,
                        task_id: Some(task_id),
                        direction: "written",
                        name: &written_name,
                        bytes: length as i64,
                        file_mtime: mtime,
                        digest: &digest,
                        site_uuid: Some(&site),
                        records,
                        outcome: "written",
                        message: Some(&row_message),
                        handled_at: model::now(),
                        run_id: Some(run_id),
                    },
                )?;
                Ok(model::tasks::set_push_watermark(
                    conn,
                    task_id,
                    Some(started),
                    covered,
                )?)
            })
            .await?;
        self.progress.count(|c| c.pushed_created += records);
        self.progress
            .bytes_out
            .fetch_add(length as i64, std::sync::atomic::Ordering::Relaxed);
        self.page_committed(outcome.results);
        self.log(
            Some(&table),
            "push/outgoing",
            "write",
            LogResult::Success,
            false,
            message,
        )
        .await;
        Ok(outcome.results)
    }
}

/// The document's root, read without its records.
fn read_root(file: &std::fs::File, gzip: bool) -> Result<crate::s3xml::Root, String> {
    let source = std::io::BufReader::new(file.try_clone().map_err(|e| e.to_string())?);
    let reader: Result<Reader<Box<dyn std::io::Read>>, _> = if gzip {
        Reader::new(
            Box::new(flate2::read::GzDecoder::new(source)),
            Limits::default(),
        )
    } else {
        Reader::new(Box::new(source), Limits::default())
    };
    let root = reader.map_err(|e| e.to_string())?.root().clone();
    use std::io::Seek;
    let mut file = file;
    file.rewind().map_err(|e| e.to_string())?;
    Ok(root)
}

fn unreadable(error: &str) -> Handled {
    Handled::Left(
        "unreadable",
        LogResult::Error,
        format!(
            "cannot be read whole ({error}); nothing of it is imported. It is tried again when it changes (a file still being copied) or can be removed"
        ),
    )
}
