//! A task's push: what changed here since the last confirmed push, page by
//! page (the next page exported while the peer imports this one); the
//! watermark moves only when the peer confirms.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Engine;
use super::client::{Peer, PeerKind, SyncQuery};
use super::cuts::Cuts;
use super::error::SyncError;
use super::pace::Pace;
use super::run::Run;
use crate::db::DbConnection;
use crate::model;
use crate::model::repositories::Repository;
use crate::model::tasks::Task;
use crate::s3xml::Format;
use crate::store::{self, ExportRequest, Filter, policy};
use crate::vocabulary::{LogResult, ReviewKind};

/// Masters in a push's first page to an edensync peer when nothing is
/// known of the link yet (about 40 KB: seconds on a 2G link).
const FIRST_PUSH_PAGE: u64 = 500;

impl Run<'_> {
    /// Push a task's table: what changed here since the last confirmed push
    /// (by our seq), leaving out what came from this same peer.
    pub(super) async fn push(
        &mut self,
        peer: &mut Peer,
        repository: &Repository,
        task: &Task,
        margin: i64,
    ) -> Result<u64, SyncError> {
        let table = task.resource_name.clone();
        let filters = self.filters(task).await?;
        let gzip = peer.kind == PeerKind::Edensync;
        let format = if peer.speaks_lines {
            Format::Lines
        } else {
            Format::Xml
        };
        let since_seq = task.last_push_seq.unwrap_or(0);
        // Eden's conflict detection compares with our last push: the same
        // for every page of this run; the next run compares with this start.
        let pushed_since = task.last_push;
        let started = model::now();
        let mut total = 0;
        let export = PushExport {
            table: table.clone(),
            eden: peer.kind == PeerKind::Eden,
            filters: filters.iter().map(|(_, _, _, f)| f.clone()).collect(),
            peer: repository.id,
            table_scope: repository.table_scope(),
            components: task.components,
            url: self.engine.public_url.clone(),
            gzip,
            format,
        };
        // Eden commits each document on its own: fixed documents. Pages
        // to edensync peers follow the link (pace.rs), at half a pull
        // page's time: a cut upload cannot go on, it goes again whole.
        let mut pace = match peer.kind {
            PeerKind::Edensync => Pace::new(self.engine.page_size, self.engine.page_time / 2),
            PeerKind::Eden => Pace::new(self.engine.eden_push_size, Duration::MAX),
        };
        // The first page fits what the pull before it showed of the link;
        // with nothing known it starts small and grows twofold per page: a
        // cut upload goes again whole, and the largest page is minutes on
        // a 2G link.
        if peer.kind == PeerKind::Edensync {
            match self.records_per_sec {
                Some(per_second) => pace.fit(per_second),
                None => pace.begin_with(FIRST_PUSH_PAGE),
            }
        }
        self.say(&format!(
            "{table}: preparing the push to {}",
            repository.name
        ));
        let mut page_since = since_seq;
        let mut page = Some(export.start(self.engine, page_since, pace.size(), true));
        while let Some(current) = page.take() {
            let (outcome, file, length) = current
                .await
                .map_err(|e| SyncError::transient(format!("internal error: {e}")))??;
            if let Some(rest) = outcome.remaining {
                // What this push holds in all, for the run's progress.
                let total = self.committed.records + outcome.results + rest;
                self.progress.table_total(Some(total), None);
            }
            let covered = if outcome.more {
                outcome.max_seq.unwrap_or(outcome.snapshot_seq)
            } else {
                outcome.snapshot_seq
            };
            if outcome.more {
                // The next page is exported while the peer imports this one.
                page = Some(export.start(self.engine, covered, pace.size(), false));
            }
            if outcome.results == 0 {
                let task_id = task.id;
                let at = pushed_since.unwrap_or(started);
                self.engine
                    .db(move |conn| {
                        Ok(model::tasks::set_push_watermark(
                            conn,
                            task_id,
                            Some(at),
                            covered,
                        )?)
                    })
                    .await?;
                if total == 0 {
                    self.log(
                        Some(&table),
                        "push/outgoing",
                        "send",
                        LogResult::Warning,
                        false,
                        "No data to send".into(),
                    )
                    .await;
                }
                self.progress.steps_ok.fetch_add(1, Ordering::Relaxed);
                return Ok(total);
            }
            let query = SyncQuery {
                resource: table.clone(),
                msince: pushed_since.filter(|_| policy::compares_times(task.update_policy)),
                policies: Some((task.strategy, task.update_policy, task.conflict_policy)),
                ..SyncQuery::default()
            };
            self.say(&format!(
                "{table}: pushing {} records ({length} bytes) to {}",
                outcome.results, repository.name
            ));
            // A dropped link is ridden out (cuts.rs): the same document
            // again, which the peer imports all or nothing, or a smaller one
            // from the same place when the link is too slow for this one.
            let mut cuts = Cuts::new();
            let sending = std::time::Instant::now();
            let sent = loop {
                let sent = self
                    .stop
                    .guard(peer.push(
                        &query,
                        &file,
                        length,
                        gzip,
                        format,
                        &self.progress.bytes_out,
                    ))
                    .await;
                match sent {
                    Ok(reply) => break Some(reply),
                    Err(e) if self.ride_out(&e, &table, "push", &mut cuts).await? => {
                        // The page goes again, whole (smaller, if it is
                        // prepared again).
                        self.progress
                            .bytes_lost
                            .fetch_add(length as i64, Ordering::Relaxed);
                        if peer.kind == PeerKind::Edensync
                            && pace.cut()
                            && outcome.results > pace.size()
                        {
                            break None;
                        }
                    }
                    Err(e) => return Err(e),
                }
            };
            let Some(reply) = sent else {
                if let Some(next) = page.take() {
                    next.abort();
                }
                page = Some(export.start(self.engine, page_since, pace.size(), false));
                continue;
            };
            if peer.kind == PeerKind::Edensync {
                pace.transferred(outcome.results, sending.elapsed());
            }
            page_since = covered;
            self.contacted = true;
            self.note_clock(&table, reply.clock_skew, margin).await;
            // Confirmed by the peer: the watermark moves past what it holds.
            // The time moves only with the last page: until then the next
            // try compares conflicts with the same time as this one.
            let task_id = task.id;
            let last_push = if outcome.more {
                pushed_since
            } else {
                Some(started)
            };
            let rejected = reply.rejected.clone();
            let (repository_id, run_id) = (repository.id, self.run_id);
            self.engine
                .db(move |conn| {
                    let now = model::now();
                    for (table, uuid, reason, raw) in &rejected {
                        model::review_items::queue(
                            conn,
                            &model::review_items::NewReviewItem {
                                run_id: Some(run_id),
                                repository_id: Some(repository_id),
                                table_name: table,
                                uuid: uuid.as_deref(),
                                reason,
                                raw_element: raw,
                                created_at: now,
                                kind: ReviewKind::RefusedByPeer.as_str(),
                                winner: None,
                                policy: None,
                                stored_version: None,
                            },
                        )?;
                    }
                    Ok(model::tasks::set_push_watermark(
                        conn, task_id, last_push, covered,
                    )?)
                })
                .await?;
            total += outcome.results;
            self.page_committed(outcome.results);
            self.progress.count(|c| {
                c.pushed_created += reply.created as i64;
                c.pushed_updated += reply.updated as i64;
                c.pushed_deleted += reply.deleted as i64;
                c.pushed_rejected += reply.rejected.len() as i64;
            });
            self.rejected += reply.rejected.len() as u64;
            let (result, message) = if reply.rejected.is_empty() {
                (
                    LogResult::Success,
                    format!("data sent successfully ({} records)", outcome.results),
                )
            } else {
                (
                    LogResult::Warning,
                    format!(
                        "data sent ({} records); the peer refused {}: {}",
                        outcome.results,
                        reply.rejected.len(),
                        reply.message.clone().unwrap_or_default()
                    ),
                )
            };
            self.log(
                Some(&table),
                "push/outgoing",
                "send",
                result,
                !reply.rejected.is_empty(),
                message,
            )
            .await;
            self.progress.steps_ok.fetch_add(1, Ordering::Relaxed);
        }
        Ok(total)
    }
}

/// What a push exports, page after page.
struct PushExport {
    table: String,
    /// The peer is Eden: a document like Eden's own, no paging attributes.
    eden: bool,
    filters: Vec<Filter>,
    /// The peer: its own changes are not sent back.
    peer: i64,
    /// The tables the peer may receive.
    table_scope: Option<Vec<String>>,
    components: bool,
    /// Our base URL, the document's `url` root attribute.
    url: Option<String>,
    gzip: bool,
    format: Format,
}

type ExportedPage = Result<(store::ExportOutcome, std::fs::File, u64), SyncError>;

impl PushExport {
    /// Export the page of at most `limit` masters after `since_seq` to a
    /// file on the blocking pool; `count`: also count the masters after it.
    fn start(
        &self,
        engine: &Engine,
        since_seq: i64,
        limit: u64,
        count: bool,
    ) -> tokio::task::JoinHandle<ExportedPage> {
        let request = ExportRequest {
            table: self.table.clone(),
            since_seq: Some(since_seq),
            limit: Some(limit),
            paged_reader: !self.eden,
            count_remaining: count,
            filters: self.filters.clone(),
            exclude_changed_by: Some(self.peer),
            components: self.components,
            table_scope: self.table_scope.clone(),
            root_attributes: self
                .url
                .iter()
                .map(|u| ("url".to_string(), u.trim_end_matches('/').to_string()))
                .collect(),
            format: self.format,
            ..ExportRequest::default()
        };
        let (engine, gzip) = (engine.clone(), self.gzip);
        tokio::spawn(async move {
            engine
                .db(move |conn| export_to_file(conn, &request, gzip))
                .await
        })
    }
}

/// Export to a temporary file (gzip for edensync peers): the push body.
pub(super) fn export_to_file(
    conn: &mut DbConnection,
    request: &ExportRequest,
    gzip: bool,
) -> Result<(store::ExportOutcome, std::fs::File, u64), SyncError> {
    use std::io::{Seek, Write};
    let file = tempfile::tempfile()?;
    let (outcome, mut file) = if gzip {
        // Buffered before the compressor: every write into it is a call
        // into deflate, and the writers write a few bytes at a time.
        let out = std::io::BufWriter::with_capacity(
            64 * 1024,
            flate2::write::GzEncoder::new(file, flate2::Compression::fast()),
        );
        let (outcome, out) = store::export(conn, request, out)?;
        let compressor = out.into_inner().map_err(|e| e.into_error())?;
        (outcome, compressor.finish()?)
    } else {
        let out = std::io::BufWriter::with_capacity(64 * 1024, file);
        let (outcome, out) = store::export(conn, request, out)?;
        (outcome, out.into_inner().map_err(|e| e.into_error())?)
    };
    file.flush()?;
    let length = file.stream_position()?;
    file.rewind()?;
    Ok((outcome, file, length))
}
