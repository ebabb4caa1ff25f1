//! A task's pull: time windows from Eden (windows.rs: one document when the
//! link allows), pages from edensync (the next page fetched while the
//! current one is imported); the watermark moves only after a page or a
//! window is committed.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::client::{self, Answer, Peer, PeerKind, SyncQuery};
use super::cuts::Cuts;
use super::error::{FailureKind, SyncError};
use super::pace::Pace;
use super::progress::Progress;
use super::run::Run;
use super::windows::Windows;
use crate::model;
use crate::model::repositories::Repository;
use crate::model::tasks::Task;
use crate::s3xml::{Limits, Root};
use crate::store::{self, ImportOptions, SpooledDocument, policy};
use crate::vocabulary::LogResult;

impl Run<'_> {
    /// Pull a task's table: one document from Eden, pages from edensync.
    /// Returns the number of master records received.
    pub(super) async fn pull(
        &mut self,
        peer: &mut Peer,
        repository: &Repository,
        task: &Task,
        margin: i64,
    ) -> Result<u64, SyncError> {
        let table = task.resource_name.clone();
        let filters = self.filters(task).await?;
        let mut query = SyncQuery {
            resource: table.clone(),
            no_components: !task.components,
            include_deleted: true,
            filters: filters
                .iter()
                .map(|(p, v, x, _)| (p.clone(), v.clone(), x.clone()))
                .collect(),
            ..SyncQuery::default()
        };
        let with_msince = policy::compares_times(task.update_policy);
        let options = self.import_options(repository, task);
        let mut total: u64 = 0;
        let mut since_seq = task.last_pull_seq.unwrap_or(0);
        let mut youngest = task.last_pull;
        let mut prefetched: Option<Prefetch> = None;
        let mut pace = Pace::new(self.engine.page_size, self.engine.page_time);
        // A watermark set past the clocks (before it was capped) would ask
        // for nothing ever again.
        let eden_from = task
            .last_pull
            .filter(|_| with_msince)
            .map(|t| t.min(model::now() + chrono::Duration::seconds(margin)));
        let mut windows = Windows::new(eden_from, self.engine.page_time);
        // Windows end before the peer's clock: what we knew of it, until
        // its answers say.
        let mut skew = repository.clock_skew_secs.unwrap_or(0);
        loop {
            // Eden: the next time window; edensync: the next page by seq.
            let mut window = None;
            match peer.kind {
                PeerKind::Eden => {
                    let next = windows.next(peer_now(skew, margin));
                    query.msince = next.from;
                    query.before = next.before;
                    window = Some(next);
                }
                PeerKind::Edensync => {
                    query.since_seq = Some(since_seq);
                    query.limit = Some(pace.size());
                    // The first page says how many follow it.
                    query.count_remaining = self.committed.pages == 0;
                }
            }
            self.say(&format!("{table}: pulling from {}", repository.name));
            // The page from where the last committed one ended; a dropped
            // link is ridden out (cuts.rs), going on from where the answer
            // stopped when the peer keeps it; an Eden window too large for
            // the link is asked again smaller.
            let mut cuts = Cuts::new();
            let mut partial: Option<client::Partial> = None;
            // Bytes of the cut answer kept so far: lost if it cannot go on.
            let mut kept_bytes = 0;
            let spooled = loop {
                let moved_before = self.progress.bytes_in.load(Ordering::Relaxed);
                let resuming = partial.is_some();
                let fetched = match (prefetched.take(), partial.take()) {
                    (Some(page), _) => self.stop.guard(page.wait()).await.map(Answer::Spooled),
                    (None, Some(cut)) => {
                        self.stop
                            .guard(peer.pull_rest(&query, &self.progress.bytes_in, cut))
                            .await
                    }
                    (None, None) => {
                        let budget = window.as_ref().and_then(|w| windows.budget(w));
                        self.stop
                            .guard(peer.pull_within(&query, &self.progress.bytes_in, budget))
                            .await
                    }
                };
                let moved = self.progress.bytes_in.load(Ordering::Relaxed) - moved_before;
                cuts.goes_on = matches!(fetched, Ok(Answer::Cut { .. }));
                match fetched {
                    Ok(Answer::Spooled(spooled)) => break spooled,
                    // What came is kept: the rest is asked for next.
                    Ok(Answer::Cut {
                        partial: cut,
                        error,
                    }) => {
                        if !self.ride_out(&error, &table, "pull", &mut cuts).await? {
                            return Err(error);
                        }
                        partial = Some(cut);
                        kept_bytes += moved;
                    }
                    // The peer no longer keeps the answer: the page again.
                    Err(e) if resuming && !e.link_dropped && e.kind != FailureKind::Cancelled => {
                        tracing::info!(peer = %repository.name, error = %e.full_text(), "asking for the page again");
                        self.progress
                            .bytes_lost
                            .fetch_add(kept_bytes + moved, Ordering::Relaxed);
                        kept_bytes = 0;
                    }
                    Ok(Answer::TooLarge {
                        length,
                        received,
                        body_took,
                        clock_skew,
                    }) => {
                        let Some(w) = window else {
                            return Err(SyncError::transient(
                                "internal error: a page without a budget was too large",
                            ));
                        };
                        if let Some(s) = clock_skew {
                            skew = s;
                        }
                        self.progress.bytes_lost.fetch_add(moved, Ordering::Relaxed);
                        if w.before.is_none() {
                            // The whole rest of the table: its size is what
                            // the windows will bring, for the time left.
                            self.progress.table_total(None, length);
                        }
                        windows.paced(received, body_took);
                        windows.halve(&w, peer_now(skew, margin));
                        let next = windows.next(peer_now(skew, margin));
                        self.say(&format!(
                            "{table}: the answer for records {} ({}) is too large for the link; asking for {}",
                            w.describe(),
                            length.map_or("size not announced".to_string(), |l| format!("{l} bytes")),
                            next.describe()
                        ));
                        query.before = next.before;
                        window = Some(next);
                    }
                    Err(e) if self.ride_out(&e, &table, "pull", &mut cuts).await? => {
                        self.progress.bytes_lost.fetch_add(moved, Ordering::Relaxed);
                        match window {
                            Some(w) => {
                                windows.halve(&w, peer_now(skew, margin));
                                let next = windows.next(peer_now(skew, margin));
                                query.before = next.before;
                                window = Some(next);
                            }
                            None => {
                                pace.cut();
                                query.limit = Some(pace.size());
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
            };
            self.contacted = true;
            let spooled_skew = spooled.clock_skew;
            let (asked, took) = (spooled.asked, spooled.took);
            let (bytes, body_took) = (spooled.bytes, spooled.body_took);
            if let Some(s) = spooled_skew {
                skew = s;
            }
            self.note_clock(&table, spooled_skew, margin).await;
            self.say(&format!(
                "{table}: importing {} bytes from {}",
                spooled.bytes, repository.name
            ));
            // The import runs on the blocking pool; as soon as it has read
            // the page's root, the next page is fetched meanwhile (its
            // import, and the watermark, still wait for this one).
            let (root_tx, root_rx) = tokio::sync::oneshot::channel();
            let import = {
                let (engine, options) = (self.engine.clone(), options.clone());
                tokio::spawn(async move {
                    engine
                        .db(move |conn| {
                            let document = SpooledDocument {
                                file: spooled.file,
                                format: spooled.format,
                                gzip: spooled.gzip,
                                atomic: spooled.asked.is_some(),
                                // Our own peer's answer, already on disk: no
                                // size limit, the other limits still apply.
                                limits: Limits {
                                    max_document_bytes: u64::MAX,
                                    max_record_bytes: options.max_record_bytes.saturating_mul(4),
                                    ..Limits::default()
                                },
                            };
                            let root_seen = |root: &Root| {
                                let _ = root_tx.send(root.clone());
                            };
                            Ok(store::import_document(conn, document, &options, root_seen)?)
                        })
                        .await
                })
            };
            if peer.kind == PeerKind::Edensync
                && let Ok(root) = root_rx.await
                && let Some(next) = next_page(&root, since_seq)
            {
                let mut next_query = query.clone();
                next_query.since_seq = Some(next);
                next_query.count_remaining = false;
                prefetched = Some(Prefetch::start(
                    peer.clone(),
                    next_query,
                    self.progress.clone(),
                ));
            }
            let (summary, root) = import
                .await
                .map_err(|e| SyncError::transient(format!("internal error: {e}")))??;
            let received = summary.records;
            total += received;
            pace.transferred(summary.masters_read, took);
            if peer.kind == PeerKind::Edensync {
                self.records_per_sec = pace.records_per_sec().or(self.records_per_sec);
            }
            self.count_pulled(&summary);
            if let Some(mtime) = summary.youngest_master_mtime {
                youngest = Some(youngest.map_or(mtime, |y| y.max(mtime)));
                let ahead = (mtime - model::now()).num_seconds();
                if ahead > margin {
                    let warning = format!(
                        "records from {} carry modified_on up to {ahead} s in the future: the peer's clock or data is ahead of ours",
                        repository.name
                    );
                    self.log(
                        Some(&table),
                        "pull/outgoing",
                        "check clock",
                        LogResult::Warning,
                        false,
                        warning,
                    )
                    .await;
                }
            }
            // The page is committed: now the watermark may move.
            let next_seq = match peer.kind {
                PeerKind::Edensync => root
                    .attribute("next_seq")
                    .and_then(|s| s.parse::<i64>().ok()),
                PeerKind::Eden => None,
            };
            // An Eden peer that ignored the window sent the whole rest of
            // the table: imported like one document, and the pull is done.
            let honoured = window.is_none_or(|w| w.kept_to(summary.master_mtimes));
            if !honoured {
                self.log(
                    Some(&table),
                    "pull/outgoing",
                    "import",
                    LogResult::Warning,
                    false,
                    format!(
                        "{} ignored the time window (records {}) and sent every record since; they are imported as one document",
                        repository.name,
                        window.map(|w| w.describe()).unwrap_or_default()
                    ),
                )
                .await;
            }
            windows.paced(bytes, body_took);
            let more = match peer.kind {
                PeerKind::Edensync => next_page(&root, since_seq).is_some(),
                PeerKind::Eden => honoured && window.is_some_and(|w| windows.done(&w, body_took)),
            };
            let task_id = task.id;
            // Never past the peer's own clock: one record dated 2099 would
            // otherwise stop every later pull. It is stored, and the
            // dashboard lists it.
            // (The peer's time when it answered, from its Date header: a
            // margin on top would skip what it changes meanwhile.)
            let peer_clock = model::now() + chrono::Duration::seconds(spooled_skew.unwrap_or(0));
            // A window read whole: the next asks from where it ended (never
            // past the peer's clock, or what it stamps next is skipped).
            let watermark_time = match window.and_then(|w| w.before) {
                Some(before) if honoured => Some(before.min(peer_clock)),
                _ => summary
                    .youngest_master_mtime
                    .and(youngest)
                    .map(|t| t.min(peer_clock)),
            };
            self.engine
                .db(move |conn| {
                    Ok(model::tasks::set_pull_watermark(
                        conn,
                        task_id,
                        watermark_time,
                        next_seq,
                    )?)
                })
                .await?;
            if let Some(next) = next_seq {
                since_seq = next;
            }
            self.page_committed(summary.masters_read);
            // What the pull holds in all: an edensync peer counts what
            // follows its first page; an Eden answer for the whole rest of
            // the table is all of it.
            let announced = match peer.kind {
                PeerKind::Edensync => root
                    .attribute("remaining")
                    .and_then(|n| n.parse::<u64>().ok())
                    .map(|rest| self.committed.records + rest),
                PeerKind::Eden => window
                    .filter(|w| w.before.is_none() || !honoured)
                    .map(|_| self.committed.records),
            };
            self.progress.table_total(announced, None);
            let (result, message) = if !summary.rejected.is_empty() {
                (
                    LogResult::Warning,
                    format!(
                        "{} - invalid items ignored, {}",
                        summary.rejected.len(),
                        summary.rejection_text()
                    ),
                )
            } else if received == 0 {
                (
                    LogResult::Success,
                    "No data to import (already up-to-date)".to_string(),
                )
            } else {
                (LogResult::Success, import_message(&summary))
            };
            let message = match window.filter(|w| w.before.is_some() && honoured) {
                Some(w) => format!("{message}; records {}", w.describe()),
                None => message,
            };
            self.log(
                Some(&table),
                "pull/outgoing",
                "import",
                result,
                false,
                message,
            )
            .await;
            self.progress.steps_ok.fetch_add(1, Ordering::Relaxed);
            if !more {
                return Ok(total);
            }
            if peer.kind == PeerKind::Edensync {
                check_paging(&repository.name, asked, summary.masters_read)?;
            }
        }
    }
}

impl Run<'_> {
    /// Count what an imported page or file did, in the run's counters.
    pub(super) fn count_pulled(&mut self, summary: &store::ImportSummary) {
        self.progress.count(|c| {
            let m = summary.masters;
            c.pulled_created += m.created as i64;
            c.pulled_updated += m.updated as i64;
            c.pulled_deleted += m.deleted as i64;
            c.pulled_unchanged += m.unchanged as i64;
            c.pulled_skipped += summary.skipped as i64;
            c.pulled_rejected += summary.rejected.len() as i64;
        });
        self.rejected += summary.rejected.len() as u64;
    }

    /// How a task's pull imports what it receives: the task's policies,
    /// attributed to the repository and this run.
    pub(super) fn import_options(&self, repository: &Repository, task: &Task) -> ImportOptions {
        ImportOptions {
            strategy: task.strategy,
            update_policy: task.update_policy,
            conflict_policy: Some(task.conflict_policy),
            review_kept_updates: task.review_kept_updates,
            // Eden's client passes its last pull whatever the policy.
            last_sync: task.last_pull,
            repository_id: Some(repository.id),
            run_id: Some(self.run_id),
            resource: Some(task.resource_name.clone()),
            table_scope: repository.table_scope(),
            max_record_bytes: self.engine.max_record_bytes,
            ..ImportOptions::default()
        }
    }
}

/// The peer's clock as far as windows may reach: a minute (or the clock
/// margin) short of it, so what the peer changes during the pull lands in a
/// window still to come.
fn peer_now(skew: i64, margin: i64) -> chrono::NaiveDateTime {
    model::now() + chrono::Duration::seconds(skew - margin.max(60))
}

/// A peer that says more follows sends full pages: one that sends less
/// (a page of one record, over and over) would keep the run going for ever.
/// What it sent is kept; the run stops. The masters read count, not what
/// the peer says it sent.
fn check_paging(peer: &str, asked: Option<u64>, received: u64) -> Result<(), SyncError> {
    let asked = asked.unwrap_or(0);
    if received >= asked.max(1) {
        return Ok(());
    }
    Err(SyncError::permanent(format!(
        "{peer} says more records follow, but its page holds {received} of the {asked} asked for: a peer paging like this does not make progress, so the run stops here (what it sent is kept)"
    ))
    .from_peer())
}

/// Where the page after this one starts, when the peer says there is one.
fn next_page(root: &Root, since_seq: i64) -> Option<i64> {
    let next = root.attribute("next_seq")?.parse::<i64>().ok()?;
    (root.attribute("more") == Some("true") && next > since_seq).then_some(next)
}

/// The next page of a pull, fetched while the current one is imported; the
/// transfer stops if the run drops it.
struct Prefetch(tokio_util::task::AbortOnDropHandle<Result<client::Spooled, SyncError>>);

impl Prefetch {
    fn start(peer: Peer, query: SyncQuery, progress: Arc<Progress>) -> Prefetch {
        Prefetch(tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
            async move { peer.pull(&query, &progress.bytes_in).await },
        )))
    }

    async fn wait(self) -> Result<client::Spooled, SyncError> {
        self.0
            .await
            .map_err(|e| SyncError::transient(format!("internal error: {e}")))?
    }
}

/// A page's import in the log: what changed, and what arrived as we hold it.
pub(super) fn import_message(summary: &store::ImportSummary) -> String {
    let m = summary.masters;
    let received = summary.records;
    if m.changed() == 0 {
        return format!("{received} records received, none changed (already up-to-date)");
    }
    format!(
        "Data imported successfully ({received} records: {} new, {} changed, {} deleted, {} unchanged)",
        m.created, m.updated, m.deleted, m.unchanged
    )
}
