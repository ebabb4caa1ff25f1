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
    pub pulled_created: AtomicI64,
    pub pulled_updated: AtomicI64,
    pub pulled_deleted: AtomicI64,
    pub pulled_skipped: AtomicI64,
    pub pulled_rejected: AtomicI64,
    pub pushed_created: AtomicI64,
    pub pushed_updated: AtomicI64,
    pub pushed_deleted: AtomicI64,
    pub pushed_skipped: AtomicI64,
    pub pushed_rejected: AtomicI64,
    pub bytes_in: AtomicI64,
    pub bytes_out: AtomicI64,
    pub steps_ok: AtomicI64,
    pub step: Mutex<Option<String>>,
    pub task_reports: Mutex<Vec<TaskReport>>,
}

impl Progress {
    pub fn counts(&self) -> RunCounts {
        let get = |a: &AtomicI64| a.load(Ordering::Relaxed);
        RunCounts {
            pulled_created: get(&self.pulled_created),
            pulled_updated: get(&self.pulled_updated),
            pulled_deleted: get(&self.pulled_deleted),
            pulled_skipped: get(&self.pulled_skipped),
            pulled_rejected: get(&self.pulled_rejected),
            pushed_created: get(&self.pushed_created),
            pushed_updated: get(&self.pushed_updated),
            pushed_deleted: get(&self.pushed_deleted),
            pushed_skipped: get(&self.pushed_skipped),
            pushed_rejected: get(&self.pushed_rejected),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
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

pub(super) fn add(counter: &AtomicI64, n: u64) {
    counter.fetch_add(n as i64, Ordering::Relaxed);
}
