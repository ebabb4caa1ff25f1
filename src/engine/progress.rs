//! A run's live counters and current step, read by the heartbeat (which
//! writes them to the run row) and by the report at the end.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use super::run::TaskReport;
use crate::model;
use crate::model::runs::{RunCounts, TableProgress};
use crate::vocabulary::Direction;

/// Receives a run's progress lines (the CLI prints them on stderr).
pub type ProgressSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Live counters, read by the heartbeat.
#[derive(Default)]
pub(super) struct Progress {
    /// What became of the records; its byte counts stay zero, the bytes are
    /// counted apart as they arrive and leave.
    records: Mutex<RunCounts>,
    pub bytes_in: AtomicI64,
    pub bytes_out: AtomicI64,
    /// Bytes of transfers the link cut or that were dropped as too large
    /// for it: what a bad link costs on top.
    pub bytes_lost: AtomicI64,
    pub steps_ok: AtomicI64,
    pub step: Mutex<Option<String>>,
    pub task_reports: Mutex<Vec<TaskReport>>,
    /// Each table's pull or push so far, with the byte counter's value
    /// when it began (its bytes are counted from there while it goes on).
    tables: Mutex<Vec<(TableProgress, i64)>>,
}

impl Progress {
    /// Count what a page did: `add` updates the record counters.
    pub fn count(&self, add: impl FnOnce(&mut RunCounts)) {
        add(&mut self.records.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn counts(&self) -> RunCounts {
        let records = *self.records.lock().unwrap_or_else(|e| e.into_inner());
        RunCounts {
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            bytes_lost: self.bytes_lost.load(Ordering::Relaxed),
            ..records
        }
    }

    /// Write the counters, step and tables to the run row (the heartbeat,
    /// and each log row of the run, so the page never shows a log ahead of
    /// its counters).
    pub fn save(
        &self,
        conn: &mut crate::db::DbConnection,
        run_id: i64,
    ) -> diesel::QueryResult<usize> {
        let step = self.step();
        model::runs::update_progress(
            conn,
            run_id,
            &self.counts(),
            step.as_deref(),
            &self.tables(),
            model::now(),
        )
    }

    pub fn step(&self) -> Option<String> {
        self.step.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_step(&self, step: Option<String>) {
        *self.step.lock().unwrap_or_else(|e| e.into_inner()) = step;
    }

    pub fn task_reports(&self) -> Vec<TaskReport> {
        self.task_reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A table's pull or push begins.
    pub fn begin_table(&self, table: &str, direction: Direction) {
        let counter = self.bytes_counter(direction);
        let entry = TableProgress {
            table: table.to_string(),
            direction,
            done: 0,
            total: None,
            total_bytes: None,
            bytes: 0,
            started_at: model::now(),
            finished_at: None,
        };
        self.lock_tables().push((entry, counter));
    }

    /// What the current table's pull or push holds in all, as far as the
    /// peer (or our store) said: records, or only bytes.
    pub fn table_total(&self, total: Option<u64>, total_bytes: Option<u64>) {
        if let Some((entry, _)) = self.lock_tables().last_mut() {
            entry.total = total.or(entry.total);
            entry.total_bytes = total_bytes.or(entry.total_bytes);
        }
    }

    /// Master records of the current table committed.
    pub fn table_done(&self, records: u64) {
        if let Some((entry, _)) = self.lock_tables().last_mut() {
            entry.done += records;
        }
    }

    /// The current table's pull or push is over (done or failed).
    pub fn end_table(&self) {
        let mut tables = self.lock_tables();
        if let Some((entry, start)) = tables.last_mut()
            && entry.finished_at.is_none()
        {
            entry.bytes = (self.bytes_counter(entry.direction) - *start).max(0) as u64;
            entry.finished_at = Some(model::now());
        }
    }

    /// Every table so far, the current one with its bytes up to now.
    pub fn tables(&self) -> Vec<TableProgress> {
        self.lock_tables()
            .iter()
            .map(|(entry, start)| {
                let mut entry = entry.clone();
                if entry.finished_at.is_none() {
                    entry.bytes = (self.bytes_counter(entry.direction) - start).max(0) as u64;
                }
                entry
            })
            .collect()
    }

    fn bytes_counter(&self, direction: Direction) -> i64 {
        match direction {
            Direction::Pull => self.bytes_in.load(Ordering::Relaxed),
            Direction::Push => self.bytes_out.load(Ordering::Relaxed),
        }
    }

    fn lock_tables(&self) -> std::sync::MutexGuard<'_, Vec<(TableProgress, i64)>> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn report(&self, report: TaskReport) {
        self.task_reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report);
    }
}
