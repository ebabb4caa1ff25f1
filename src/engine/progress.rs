//! A run's live counters and current step, read by the heartbeat (which
//! writes them to the run row) and by the report at the end.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use super::run::TaskReport;
use crate::model::runs::RunCounts;

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

    pub fn step(&self) -> Option<String> {
        self.step.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_step(&self, step: Option<String>) {
        *self.step.lock().unwrap_or_else(|e| e.into_inner()) = step;
    }

    pub fn tasks(&self) -> Vec<TaskReport> {
        self.task_reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn report(&self, report: TaskReport) {
        self.task_reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report);
    }
}
